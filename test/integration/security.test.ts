// What keeps the stereo safe on a home network: Host checks (DNS rebinding), who may write (LAN,
// same origin, PIN), upload limits, and requests built to hurt. Real daemons, raw HTTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, makeWav } from '../helpers/fixtures.js';
import { testLan } from '../helpers/lan.js';
import { filesUnder, getJson, pushFile, rawExchange, rawRequest, type RawResponse } from '../helpers/api.js';

let seed = 7000;
/** A WAV no test has pushed before (so a success is a 201, not a duplicate). */
const freshWav = () => makeWav(seed++, { seconds: 0.5 });

const json = (r: RawResponse) => JSON.parse(r.body.toString('utf8')) as { error?: { code: string; message: string }; track?: { id: string } };

async function trackCount(d: TestDaemon): Promise<number> {
  return ((await getJson(`${d.url}/api/v1/tracks?limit=1`)).body as { total: number }).total;
}

function noLeftovers(d: TestDaemon): void {
  assert.deepEqual(filesUnder(path.join(d.dataDir, 'incoming')), [], 'nothing left in incoming/');
}

/** POST a raw WAV body with full control over the headers. */
function postWav(d: TestDaemon, o: { path?: string; headers?: Record<string, string | number>; localAddress?: string; body?: Buffer } = {}) {
  const body = o.body ?? freshWav();
  return rawRequest(d.url, {
    method: 'POST',
    path: o.path ?? '/api/v1/tracks',
    headers: { 'Content-Type': 'audio/wav', 'Content-Length': body.length, ...o.headers },
    body,
    localAddress: o.localAddress,
  });
}

describe('security', function () {
  let d: TestDaemon;
  let hostPort: string;
  let streamPath: string;

  before(async () => {
    d = await TestDaemon.start();
    hostPort = `${testLan().stereo}:${d.port}`;
    const r = await pushFile(d.url, 'tone.mp3', fixture('tone.mp3'));
    assert.equal(r.status, 201);
    streamPath = `/api/v1/tracks/${r.body.track.id}/stream`;
  });
  after(async () => d?.dispose());

  describe('Host header (DNS rebinding)', () => {
    const allowed = (): string[] => [
      hostPort,
      testLan().stereo,
      `127.0.0.1:${d.port}`,
      `[::1]:${d.port}`,
      'localhost',
      `localhost:${d.port}`,
      `${hostname().toLowerCase()}.local`,
      `${hostname().toUpperCase()}.LOCAL:${d.port}`,
    ];
    const rejected = (): string[] => {
      const list = [
        'evil.example',
        `evil.example:${d.port}`,
        '127.0.0.1.evil.example',
        `${testLan().stereo}.evil.example:${d.port}`,
        'localhost.evil.example',
        'other-stereo.local',
        '0.0.0.0:8200',
        `0.0.0.0:${d.port}`,
        '2130706433',
        '0x7f.0.0.1',
        '127.0.0.1:99999',
        '127.0.0.1:0',
        '[fe80::1%25lo]',
        'a b',
        'host:1:2',
        'x'.repeat(300),
      ];
      // The stereo's own link-local address with a zone id must not pass either.
      const ll = (networkInterfaces()[testLan().iface] ?? []).find((a) => a.family === 'IPv6' && a.address.startsWith('fe80:'));
      if (ll) list.push(`[${ll.address}%25${testLan().iface}]:${d.port}`);
      return list;
    };

    it('serves the API, streams and pushes for every name the stereo really has', async () => {
      for (const host of allowed()) {
        const list = await rawRequest(d.url, { path: '/api/v1/tracks', headers: { Host: host } });
        assert.equal(list.status, 200, `GET /tracks, Host ${host}: ${list.body}`);
        const stream = await rawRequest(d.url, { path: streamPath, headers: { Host: host, Range: 'bytes=0-9' } });
        assert.equal(stream.status, 206, `stream, Host ${host}`);
        const push = await postWav(d, { headers: { Host: host } });
        assert.equal(push.status, 201, `POST, Host ${host}: ${push.body}`);
      }
    });

    it('refuses every other Host with 400 bad_host, for reads, streams and pushes alike', async () => {
      const before = await trackCount(d);
      for (const host of rejected()) {
        const list = await rawRequest(d.url, { path: '/api/v1/tracks', headers: { Host: host } });
        assert.equal(list.status, 400, `GET /tracks, Host ${host.slice(0, 40)}`);
        assert.equal(json(list).error?.code, 'bad_host');
        const stream = await rawRequest(d.url, { path: streamPath, headers: { Host: host } });
        assert.equal(stream.status, 400, `stream, Host ${host.slice(0, 40)}`);
        assert.ok(!stream.body.includes(Buffer.from('ID3')), 'no audio bytes');
        const push = await postWav(d, { headers: { Host: host } });
        assert.equal(push.status, 400, `POST, Host ${host.slice(0, 40)}`);
      }
      assert.equal(await trackCount(d), before, 'no push got through');
      noLeftovers(d);
    });

    it('refuses an empty Host and a missing Host on HTTP/1.1 (A4) with 400', async () => {
      for (const hostLine of ['Host: \r\n', 'Host:\r\n', '']) {
        const reply = await rawExchange(d.url, `GET /api/v1/tracks HTTP/1.1\r\n${hostLine}Connection: close\r\n\r\n`);
        assert.match(reply, /^HTTP\/1\.1 400 /, JSON.stringify(hostLine));
      }
      const noHost = await rawRequest(d.url, { path: streamPath, noHost: true });
      assert.equal(noHost.status, 400);
    });

    it('serves an HTTP/1.0 request without Host (old renderers) but still checks a Host it sends', async () => {
      const plain = await rawExchange(d.url, `GET /api/v1/tracks HTTP/1.0\r\n\r\n`);
      assert.match(plain, /^HTTP\/1\.1 200 /);
      const evil = await rawExchange(d.url, `GET /api/v1/tracks HTTP/1.0\r\nHost: evil.example\r\n\r\n`);
      assert.match(evil, /^HTTP\/1\.1 400 /);
    });

    it('refuses a request with two Host lines, whichever comes first', async () => {
      for (const lines of [`Host: ${hostPort}\r\nHost: evil.example\r\n`, `Host: evil.example\r\nHost: ${hostPort}\r\n`]) {
        const reply = await rawExchange(d.url, `GET /api/v1/tracks HTTP/1.1\r\n${lines}Connection: close\r\n\r\n`);
        assert.match(reply, /^HTTP\/1\.1 400 /, lines);
      }
    });
  });

  describe('CSRF: a web page elsewhere posting to the stereo', () => {
    it('refuses a push with a foreign Origin with 403 and stores nothing', async () => {
      const before = await trackCount(d);
      for (const origin of ['http://evil.example', `http://evil.example:${d.port}`, 'null', `http://${testLan().stereo}.evil.example`]) {
        const r = await postWav(d, { headers: { Origin: origin } });
        assert.equal(r.status, 403, origin);
        assert.equal(json(r).error?.code, 'cross_origin', origin);
      }
      // The browser form case: multipart from a foreign page.
      const form = new FormData();
      form.append('file', new Blob([freshWav()]), 'x.wav');
      const res = await fetch(`${d.url}/api/v1/tracks`, { method: 'POST', body: form, headers: { Origin: 'http://evil.example' } });
      assert.equal(res.status, 403);
      assert.equal(await trackCount(d), before);
      noLeftovers(d);
    });

    it('refuses a delete with a foreign Origin and keeps the track', async () => {
      const r = await postWav(d);
      const id = json(r).track!.id;
      const del = await rawRequest(d.url, { method: 'DELETE', path: `/api/v1/tracks/${id}`, headers: { Origin: 'http://evil.example' } });
      assert.equal(del.status, 403);
      assert.equal((await fetch(`${d.url}/api/v1/tracks/${id}`)).status, 200, 'still there');
    });

    it('accepts a push from the stereo\'s own web page (same Origin)', async () => {
      const r = await postWav(d, { headers: { Origin: `http://${hostPort}` } });
      assert.equal(r.status, 201, r.body.toString());
    });
  });

  describe('writes from outside the home network', () => {
    const outsider = '203.0.113.5';
    before(() => {
      execFileSync('ip', ['addr', 'add', `${outsider}/32`, 'dev', 'phone0']);
    });
    after(() => {
      execFileSync('ip', ['addr', 'del', `${outsider}/32`, 'dev', 'phone0']);
    });

    it('refuses a push from a public address with 403 not_lan and stores nothing', async () => {
      const before = await trackCount(d);
      const r = await postWav(d, { localAddress: outsider });
      assert.equal(r.status, 403);
      assert.equal(json(r).error?.code, 'not_lan');
      assert.equal(await trackCount(d), before);
      noLeftovers(d);
    });

    it('refuses a delete from a public address', async () => {
      const id = json(await postWav(d)).track!.id;
      const del = await rawRequest(d.url, { method: 'DELETE', path: `/api/v1/tracks/${id}`, localAddress: outsider });
      assert.equal(del.status, 403);
      assert.equal((await fetch(`${d.url}/api/v1/tracks/${id}`)).status, 200);
    });

    it('still lets a public address read and stream', async () => {
      const list = await rawRequest(d.url, { path: '/api/v1/tracks', localAddress: outsider });
      assert.equal(list.status, 200);
      const stream = await rawRequest(d.url, { path: streamPath, localAddress: outsider });
      assert.equal(stream.status, 200);
      assert.deepEqual(stream.body, fixture('tone.mp3'));
    });

    it('accepts the same push from a LAN address', async () => {
      const r = await postWav(d, { localAddress: testLan().phone });
      assert.equal(r.status, 201);
    });
  });

  describe('request hygiene', () => {
    const traversal = [
      '/api/v1/tracks/..%2f..%2f..%2f..%2fetc%2fpasswd/stream',
      '/api/v1/tracks/..%2f..%2f..%2f..%2fetc%2fpasswd/art',
      '/api/v1/tracks/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd/stream',
      '/api/v1/tracks/..%5c..%5c..%5cetc%5cpasswd/stream',
      '/api/v1/tracks/../../../../etc/passwd',
      '/api/v1/tracks/x/../../../../../etc/passwd',
      '/api/v1/../../../../etc/passwd',
      '/../../../../etc/passwd',
      '//etc/passwd',
      '/api/v1/tracks/..%2f..%2fstate%2fhifid.lock/stream',
      '/api/v1/tracks/..%2fcatalog.json/stream',
      '/api/v1/tracks/%00/stream',
      '/api/v1/tracks/%/stream',
      '/api/v1/tracks/%c0%ae%c0%ae%2fetc%2fpasswd/stream',
    ];
    for (const p of traversal) {
      it(`never serves a file for ${p}`, async () => {
        const r = await rawRequest(d.url, { path: p });
        assert.ok(r.status === 404 || r.status === 400, `${r.status}`);
        const text = r.body.toString('latin1');
        assert.doesNotMatch(text, /root:|^\d+$|"tracks"\s*:/m, 'no file content');
        assert.ok(json(r).error, 'a JSON error');
      });
    }

    it('answers a POST to anything but /tracks with 404/405 and writes nothing', async () => {
      const before = await trackCount(d);
      const musicBefore = filesUnder(path.join(d.dataDir, 'music')).length;
      for (const p of ['/api/v1/upload', '/api/v1/tracks/abc', '/', '/upload', '/api/v1/tracks/x/stream', '/api/v1/status', '/api/v1/albums']) {
        const r = await postWav(d, { path: p });
        assert.ok(r.status === 404 || r.status === 405, `${p}: ${r.status}`);
        assert.ok(json(r).error, `${p}: JSON error`);
        if (r.status === 405) assert.ok(r.headers.allow, `${p}: Allow header`);
      }
      assert.equal(await trackCount(d), before);
      assert.equal(filesUnder(path.join(d.dataDir, 'music')).length, musicBefore);
      noLeftovers(d);
    });

    it('answers a 20 KiB header with 431', async () => {
      const reply = await rawExchange(d.url, `GET /api/v1/tracks HTTP/1.1\r\nHost: ${hostPort}\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
      assert.match(reply, /^HTTP\/1\.1 431 /);
    });

    it('keeps serving others while a slow client dribbles its headers (slowloris)', async () => {
      const slow: net.Socket[] = [];
      try {
        for (let i = 0; i < 20; i++) {
          const s = net.connect({ host: testLan().stereo, port: d.port });
          s.on('error', () => undefined);
          s.write(`GET /api/v1/status HTTP/1.1\r\nHost: ${hostPort}\r\nX-Slow: a`);
          slow.push(s);
        }
        await new Promise((r) => setTimeout(r, 100));
        const t0 = Date.now();
        const res = await fetch(`${d.url}/api/v1/tracks?limit=1`);
        assert.equal(res.status, 200);
        await res.json();
        const stream = await fetch(`${d.url}${streamPath}`);
        assert.deepEqual(Buffer.from(await stream.arrayBuffer()), fixture('tone.mp3'));
        assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
      } finally {
        for (const s of slow) s.destroy();
      }
    });

    const malformed: Array<[string, string, string]> = [
      ['no boundary', 'multipart/form-data', 'abc'],
      ['not multipart at all', 'multipart/form-data; boundary=XX', 'this is not a form'],
      ['empty body', 'multipart/form-data; boundary=XX', ''],
      ['cut off inside a file part', 'multipart/form-data; boundary=XX', '--XX\r\nContent-Disposition: form-data; name="f"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF\x24\x00\x00\x00WAVEfmt '],
      ['a broken part header', 'multipart/form-data; boundary=XX', '--XX\r\nthis is no header\r\n\r\nvalue\r\n--XX--\r\n'],
      ['a form without a file', 'multipart/form-data; boundary=XX', '--XX\r\nContent-Disposition: form-data; name="f"\r\n\r\nvalue\r\n--XX--\r\n'],
    ];
    for (const [what, type, body] of malformed) {
      it(`answers a malformed multipart body (${what}) with 400 and keeps running`, async () => {
        const before = await trackCount(d);
        const r = await postWav(d, { headers: { 'Content-Type': type }, body: Buffer.from(body, 'latin1') });
        assert.equal(r.status, 400, r.body.toString());
        assert.ok(json(r).error);
        noLeftovers(d);
        // The daemon is still alive and unchanged.
        assert.equal(await trackCount(d), before);
      });
    }
  });
});

describe('security: PIN', function () {
  let d: TestDaemon;
  const pin = '1234';
  before(async () => {
    d = await TestDaemon.start({ args: ['--pin', pin] });
  });
  after(async () => d?.dispose());

  it('says in /status that a PIN is required', async () => {
    assert.equal((await getJson(`${d.url}/api/v1/status`)).body.pinRequired, true);
  });

  it('refuses a push without a PIN with 401 and stores nothing', async () => {
    const r = await postWav(d);
    assert.equal(r.status, 401);
    assert.equal(json(r).error?.code, 'pin_required');
    assert.equal(await trackCount(d), 0);
    noLeftovers(d);
  });

  it('refuses a wrong PIN with 403', async () => {
    for (const wrong of ['0000', '12345', '123', '1234x']) {
      const r = await postWav(d, { headers: { 'X-Hifid-Pin': wrong } });
      assert.equal(r.status, 403, wrong);
      assert.equal(json(r).error?.code, 'wrong_pin');
    }
    for (const wrong of ['9999', encodeURIComponent('١٢٣٤'), '1234%00']) {
      const q = await postWav(d, { path: `/api/v1/tracks?pin=${wrong}` });
      assert.equal(q.status, 403, wrong);
    }
    assert.equal(await trackCount(d), 0);
  });

  it('accepts the right PIN in X-Hifid-Pin and in ?pin=, multipart too', async () => {
    assert.equal((await postWav(d, { headers: { 'X-Hifid-Pin': pin } })).status, 201);
    assert.equal((await postWav(d, { path: `/api/v1/tracks?pin=${pin}` })).status, 201);
    const r = await pushFile(d.url, 'tone.flac', fixture('tone.flac'), { 'X-Hifid-Pin': pin });
    assert.equal(r.status, 201);
    assert.equal(await trackCount(d), 3);
  });

  it('needs no PIN to read or stream', async () => {
    const list = await getJson(`${d.url}/api/v1/tracks`);
    assert.equal(list.status, 200);
    const res = await fetch(`${d.url}/api/v1/tracks/${list.body.items[0].id}/stream`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  it('applies the same rules to DELETE', async () => {
    const id = json(await postWav(d, { headers: { 'X-Hifid-Pin': pin } })).track!.id;
    const del = (headers: Record<string, string>, query = '') => rawRequest(d.url, { method: 'DELETE', path: `/api/v1/tracks/${id}${query}`, headers });
    assert.equal((await del({})).status, 401);
    assert.equal((await del({ 'X-Hifid-Pin': '0000' })).status, 403);
    assert.equal((await fetch(`${d.url}/api/v1/tracks/${id}`)).status, 200, 'still there after refused deletes');
    assert.equal((await del({}, `?pin=${pin}`)).status, 204);
    assert.equal((await fetch(`${d.url}/api/v1/tracks/${id}`)).status, 404);
  });

  it('locks a source out after 10 wrong PINs (429, even with the right one), not other devices', async () => {
    const phone = testLan().phone;
    for (let i = 1; i <= 10; i++) {
      const r = await postWav(d, { headers: { 'X-Hifid-Pin': `wrong${i}` }, localAddress: phone });
      assert.equal(r.status, 403, `try ${i}`);
    }
    const eleventh = await postWav(d, { headers: { 'X-Hifid-Pin': 'wrong11' }, localAddress: phone });
    assert.equal(eleventh.status, 429);
    assert.equal(json(eleventh).error?.code, 'too_many_attempts');
    const right = await postWav(d, { headers: { 'X-Hifid-Pin': pin }, localAddress: phone });
    assert.equal(right.status, 429, 'guessing right after the lock-out does not help');
    // Another device on the LAN is not locked out by the guesser.
    const other = await postWav(d, { headers: { 'X-Hifid-Pin': pin }, localAddress: testLan().stereo });
    assert.equal(other.status, 201);
    // Reading stays open to the locked-out phone.
    assert.equal((await rawRequest(d.url, { path: '/api/v1/tracks', localAddress: phone })).status, 200);
  });
});

describe('security: upload limits', function () {
  describe('--max-upload-mb 1', () => {
    let d: TestDaemon;
    before(async () => {
      d = await TestDaemon.start({ args: ['--max-upload-mb', '1'] });
    });
    after(async () => d?.dispose());
    const twoMb = () => Buffer.concat([makeWav(seed++, { seconds: 1 }), Buffer.alloc(2 * 1024 * 1024, 1)]);

    it('refuses a 2 MB body with Content-Length with 413 at once, storing nothing', async () => {
      const t0 = Date.now();
      const r = await postWav(d, { body: twoMb() });
      assert.equal(r.status, 413);
      assert.equal(json(r).error?.code, 'too_large');
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
      noLeftovers(d);
      assert.deepEqual(filesUnder(path.join(d.dataDir, 'music')), []);
    });

    it('answers "Expect: 100-continue" for a too-big push with 413 and no 100, so the body is never sent', async () => {
      const u = new URL(d.url);
      const head = `POST /api/v1/tracks HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: audio/wav\r\nContent-Length: ${5 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`;
      const reply = await rawExchange(d.url, head);
      assert.doesNotMatch(reply, /100 Continue/);
      assert.match(reply, /^HTTP\/1\.1 413 /);
    });

    it('sends 100 Continue for an acceptable push and stores it', async () => {
      const u = new URL(d.url);
      const wav = makeWav(seed++, { seconds: 1 });
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(Number(u.port), u.hostname);
        let text = '';
        sock.on('data', (b: Buffer) => {
          text += b.toString('latin1');
          if (text.startsWith('HTTP/1.1 100') && !text.includes('\r\n\r\nHTTP/')) sock.write(wav);
        });
        sock.on('end', () => resolve(text));
        sock.on('error', reject);
        sock.write(`POST /api/v1/tracks HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: audio/wav\r\nContent-Length: ${wav.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
      });
      assert.match(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
      const id = (JSON.parse(reply.slice(reply.indexOf('{'))) as { track: { id: string } }).track.id;
      assert.equal((await fetch(`${d.url}/api/v1/tracks/${id}`, { method: 'DELETE' })).status, 204);
    });

    it('answers "Expect: 100-continue" for a too-big playlist or SOAP body with an error and no 100', async () => {
      const u = new URL(d.url);
      const playlist = await rawExchange(d.url, `POST /api/v1/playlists HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: audio/x-mpegurl\r\nContent-Length: ${5 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`);
      assert.doesNotMatch(playlist, /100 Continue/);
      assert.match(playlist, /^HTTP\/1\.1 413 /);
      const soap = await rawExchange(d.url, `POST /upnp/control/cds HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: text/xml\r\nSOAPACTION: "urn:schemas-upnp-org:service:ContentDirectory:1#Browse"\r\nContent-Length: ${1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`);
      assert.doesNotMatch(soap, /100 Continue/);
      assert.match(soap, /^HTTP\/1\.1 413 /);
    });

    it('sends 100 Continue for a SOAP Browse that waits for it, then the answer', async () => {
      const u = new URL(d.url);
      const body = Buffer.from(
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:Browse xmlns:u="urn:schemas-upnp-org:service:ContentDirectory:1">' +
          '<ObjectID>0</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag><Filter>*</Filter><StartingIndex>0</StartingIndex><RequestedCount>0</RequestedCount><SortCriteria></SortCriteria></u:Browse></s:Body></s:Envelope>',
      );
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(Number(u.port), u.hostname);
        let text = '';
        sock.on('data', (b: Buffer) => {
          text += b.toString('latin1');
          if (text.startsWith('HTTP/1.1 100') && !text.includes('\r\n\r\nHTTP/')) sock.write(body);
        });
        sock.on('end', () => resolve(text));
        sock.on('error', reject);
        sock.write(`POST /upnp/control/cds HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: text/xml; charset="utf-8"\r\nSOAPACTION: "urn:schemas-upnp-org:service:ContentDirectory:1#Browse"\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
      });
      assert.match(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      assert.match(reply, /<u:BrowseResponse /);
    });

    it('refuses a chunked 2 MB body (no Content-Length) with 413, leaving nothing', async () => {
      const body = twoMb();
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: testLan().stereo, port: d.port, method: 'POST', path: '/api/v1/tracks', headers: { 'Content-Type': 'audio/wav', 'Transfer-Encoding': 'chunked' }, agent: false });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        let off = 0;
        const pump = () => {
          while (off < body.length) {
            const chunk = body.subarray(off, off + 64 * 1024);
            off += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      assert.equal(r.status, 413);
      assert.equal(JSON.parse(r.body).error.code, 'too_large');
      for (let i = 0; i < 40 && filesUnder(path.join(d.dataDir, 'incoming')).length; i++) await new Promise((res) => setTimeout(res, 50));
      noLeftovers(d);
      assert.deepEqual(filesUnder(path.join(d.dataDir, 'music')), []);
    });

    it('refuses a 2 MB file in a form with 413, leaving nothing', async () => {
      const r = await pushFile(d.url, 'big.wav', twoMb());
      assert.equal(r.status, 413);
      noLeftovers(d);
      assert.deepEqual(filesUnder(path.join(d.dataDir, 'music')), []);
    });

    it('stops reading a 40 MB push declared past the limit at once (413 or a cut connection), storing nothing', async () => {
      // The issue asks to stop reading at once rather than drain: a client that is still sending may
      // see the connection cut instead of the 413. Clients that send "Expect: 100-continue" (curl does
      // past 1 MB) get a clean 413 without sending the body (tested above); the web page checks sizes first.
      const big = Buffer.concat([makeWav(seed++, { seconds: 1 }), Buffer.alloc(40 * 1024 * 1024, 2)]);
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const status = await fetch(`${d.url}/api/v1/tracks`, { method: 'POST', body: big, headers: { 'Content-Type': 'audio/wav' } }).then(
          (r) => r.status,
          () => 'cut' as const,
        );
        assert.ok(status === 413 || status === 'cut', `try ${i}: ${status}`);
        assert.ok(Date.now() - t0 < 3000, `try ${i} took ${Date.now() - t0} ms`);
      }
      noLeftovers(d);
      assert.deepEqual(filesUnder(path.join(d.dataDir, 'music')), []);
    });

    it('still takes a file under the limit', async () => {
      assert.equal((await postWav(d)).status, 201);
    });
  });

  describe('--min-free-mb beyond the free space', () => {
    let d: TestDaemon;
    const reserveMb = 1_000_000_000; // 1 PB: more than any disk this runs on
    before(async function () {
      d = await TestDaemon.start({ args: ['--min-free-mb', String(reserveMb)] });
    });
    after(async () => d?.dispose());

    it('refuses a push with 507 disk_full and stores nothing', async () => {
      const r = await postWav(d);
      assert.equal(r.status, 507);
      assert.equal(json(r).error?.code, 'disk_full');
      const form = await pushFile(d.url, 'tone.mp3', fixture('tone.mp3'));
      assert.equal(form.status, 507);
      assert.equal(await trackCount(d), 0);
      noLeftovers(d);
    });

    it('keeps serving reads', async () => {
      assert.equal((await getJson(`${d.url}/api/v1/tracks`)).status, 200);
    });
  });
});
