// SSDP discovery and the device description, against the real daemon in the test LAN: a real
// third-party client (gssdp-discover), a Node control point (upnp-device-client), and raw datagrams.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { testLan } from '../helpers/lan.js';
import { ControlPoint, mSearch, rawRequest, SsdpListener, SsdpProbe, waitFor, xmlText } from '../helpers/upnp.js';

const MEDIA_SERVER = 'urn:schemas-upnp-org:device:MediaServer:1';
const CM = 'urn:schemas-upnp-org:service:ConnectionManager:1';
const MSR = 'urn:microsoft.com:service:X_MS_MediaReceiverRegistrar:1';

/** Width and height of a PNG (IHDR) or baseline/progressive JPEG (SOFn). */
function imageSize(b: Buffer): { width: number; height: number } | null {
  if (b.subarray(1, 4).toString('latin1') === 'PNG') return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let i = 2; i + 9 < b.length; ) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1]!;
      if (marker >= 0xc0 && marker <= 0xc3) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      i += 2 + b.readUInt16BE(i + 2);
    }
  }
  return null;
}

/** Runs gssdp-discover on the phone's interface until it reports a LOCATION for `target`. */
function gssdpDiscover(target: string, timeoutSeconds: number): Promise<{ location: string | null; usn: string | null; ms: number; output: string }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // phone0 is the phone's end of the veth pair scripts/test-lan.sh makes.
    const p = spawn('gssdp-discover', ['-i', 'phone0', `--timeout=${timeoutSeconds}`, `--target=${target}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let found: { location: string; usn: string | null; ms: number } | null = null;
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const loc = /Location:\s*(\S+)/.exec(out);
      if (loc && !found) {
        found = { location: loc[1]!, usn: /USN:\s*(\S+)/.exec(out)?.[1] ?? null, ms: Date.now() - started };
        p.kill('SIGTERM');
      }
    });
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('exit', () => resolve({ location: found?.location ?? null, usn: found?.usn ?? null, ms: found?.ms ?? Date.now() - started, output: out }));
  });
}

describe('UPnP discovery and description', function () {
  let d: TestDaemon;
  let lan: ReturnType<typeof testLan>;
  let descriptionUrl: string;
  let udn: string;
  let services: string[];

  before(async () => {
    lan = testLan();
    d = await TestDaemon.start();
    descriptionUrl = `${d.url}/upnp/description.xml`;
    const desc = await rawRequest(descriptionUrl);
    udn = xmlText(desc.body, 'UDN')!;
    services = [...desc.body.matchAll(/<serviceType>([^<]+)<\/serviceType>/g)].map((m) => m[1]!);
  });
  after(async () => d.dispose());

  describe('gssdp-discover (gupnp-tools) on the phone', () => {
    it('finds the MediaServer by M-SEARCH, with a LOCATION on the stereo address', async () => {
      // After the start-up NOTIFYs (0 s and 1 s), so what it finds comes from answering its search.
      await new Promise((r) => setTimeout(r, 1200));
      const r = await gssdpDiscover(MEDIA_SERVER, 8);
      assert.equal(r.location, `http://${lan.stereo}:${d.port}/upnp/description.xml`, r.output);
      assert.equal(r.usn, `${udn}::${MEDIA_SERVER}`);
      await d.waitForLog('SSDP: answering search', 1000, (e) => String(e.from).startsWith(`${lan.phone}:`) && e.st === MEDIA_SERVER);
      console.log(`      gssdp-discover found the server after ${r.ms} ms`);
    });

    it('finds it under ssdp:all too (one answer per advertised type)', async () => {
      const r = await gssdpDiscover('ssdp:all', 8);
      assert.equal(r.location, `http://${lan.stereo}:${d.port}/upnp/description.xml`, r.output);
    });
  });

  describe('upnp-device-client as the control point', () => {
    it('reads the description: name, UDN kept in state/udn, model, services', async () => {
      const desc = await new ControlPoint(descriptionUrl).description();
      assert.equal(desc.deviceType, MEDIA_SERVER);
      assert.equal(desc.friendlyName, 'Living-room Hi-Fi');
      assert.equal(desc.manufacturer, 'hifid project');
      assert.equal(desc.modelName, 'hifid');
      assert.match(desc.modelNumber, /^\d+\.\d+\.\d+/);
      assert.match(desc.UDN, /^uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(readFileSync(path.join(d.dataDir, 'state', 'udn'), 'utf8').trim(), desc.UDN);
      const types = Object.values(desc.services).map((s) => s.serviceType);
      assert.ok(types.includes(CM) && types.includes(MSR), types.join(' '));
    });

    it('declares DLNA DMS-1.50, a serial number and the web page', async () => {
      const r = await rawRequest(descriptionUrl);
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^text\/xml/);
      assert.match(r.body, /<dlna:X_DLNADOC xmlns:dlna="urn:schemas-dlna-org:device-1-0">DMS-1\.50<\/dlna:X_DLNADOC>/);
      assert.match(r.body, /<serialNumber>[0-9A-F]{32}<\/serialNumber>/);
      assert.match(r.body, /<presentationURL>\/<\/presentationURL>/);
    });

    it('serves each icon with its content type and size', async () => {
      const desc = await new ControlPoint(descriptionUrl).description();
      assert.equal(desc.icons.length, 4);
      const seen = new Set<string>();
      for (const icon of desc.icons) {
        const res = await fetch(icon.url);
        assert.equal(res.status, 200, icon.url);
        assert.equal(res.headers.get('content-type'), icon.mimetype);
        const size = imageSize(Buffer.from(await res.arrayBuffer()));
        assert.deepEqual(size, { width: Number(icon.width), height: Number(icon.height) }, icon.url);
        seen.add(`${icon.mimetype} ${icon.width}`);
      }
      assert.deepEqual([...seen].sort(), ['image/jpeg 120', 'image/jpeg 48', 'image/png 120', 'image/png 48']);
    });

    it('serves every SCPD as XML', async () => {
      const desc = await new ControlPoint(descriptionUrl).description();
      for (const s of Object.values(desc.services)) {
        const r = await rawRequest(s.SCPDURL);
        assert.equal(r.status, 200, s.SCPDURL);
        assert.match(r.body, /<scpd xmlns="urn:schemas-upnp-org:service-1-0">/);
      }
    });

    it('ConnectionManager: GetProtocolInfo lists what the server serves, Sink empty', async () => {
      const r = await new ControlPoint(descriptionUrl).call('ConnectionManager', 'GetProtocolInfo');
      const source = r.Source!.split(',');
      for (const p of ['http-get:*:audio/mpeg:DLNA.ORG_PN=MP3', 'http-get:*:audio/flac:*', 'http-get:*:image/jpeg:DLNA.ORG_PN=JPEG_TN']) assert.ok(source.includes(p), p);
      assert.ok(source.some((p) => p.startsWith('http-get:*:audio/L16;rate=44100;channels=2:DLNA.ORG_PN=LPCM')));
      assert.equal(r.Sink ?? '', '');
    });

    it('ConnectionManager: connection 0 only', async () => {
      const cp = new ControlPoint(descriptionUrl);
      assert.equal((await cp.call('ConnectionManager', 'GetCurrentConnectionIDs')).ConnectionIDs, '0');
      const info = await cp.call('ConnectionManager', 'GetCurrentConnectionInfo', { ConnectionID: 0 });
      assert.deepEqual(info, { RcsID: '-1', AVTransportID: '-1', ProtocolInfo: '', PeerConnectionManager: '', PeerConnectionID: '-1', Direction: 'Output', Status: 'OK' });
      await assert.rejects(cp.call('ConnectionManager', 'GetCurrentConnectionInfo', { ConnectionID: 7 }), (err: Error & { errorCode?: string }) => err.errorCode === '706');
      await assert.rejects(cp.call('ConnectionManager', 'GetCurrentConnectionInfo', { ConnectionID: 'x' }), (err: Error & { errorCode?: string }) => err.errorCode === '402');
    });

    it('X_MS_MediaReceiverRegistrar: authorises and validates everyone', async () => {
      const cp = new ControlPoint(descriptionUrl);
      const msr = 'urn:microsoft.com:serviceId:X_MS_MediaReceiverRegistrar';
      assert.equal((await cp.call(msr, 'IsAuthorized', { DeviceID: '' })).Result, '1');
      assert.equal((await cp.call(msr, 'IsValidated', { DeviceID: 'uuid:x' })).Result, '1');
      assert.equal((await cp.call(msr, 'RegisterDevice', { RegistrationReqMsg: '' })).RegistrationRespMsg ?? '', '');
    });
  });

  describe('M-SEARCH handling (raw datagrams from the phone)', () => {
    let probe: SsdpProbe;
    beforeEach(async () => {
      probe = await SsdpProbe.open(lan.phone);
    });
    afterEach(() => probe.close());
    const location = () => `http://${lan.stereo}:${d.port}/upnp/description.xml`;

    it('answers each advertised type, and ssdp:all with one reply per type', async () => {
      const targets = ['upnp:rootdevice', udn, MEDIA_SERVER, ...services];
      for (const st of targets) await probe.send(mSearch(st, { mx: '1' }));
      await waitFor(() => probe.replies.length >= targets.length, 2500, 'a reply per target');
      for (const st of targets) {
        const r = probe.replies.find((x) => x.headers.ST === st);
        assert.ok(r, `reply for ${st}`);
        assert.equal(r.start, 'HTTP/1.1 200 OK');
        assert.equal(r.headers.LOCATION, location());
        assert.equal(r.headers.USN, st === udn ? udn : `${udn}::${st}`);
        assert.equal(r.headers['CACHE-CONTROL'], 'max-age=1800');
        assert.equal(r.headers.EXT, '');
        assert.match(r.headers.SERVER!, / UPnP\/1\.0 .*hifid\//);
      }
      probe.clear();
      const all = mSearch('ssdp:all', { mx: '1' });
      await probe.send(all);
      await waitFor(() => probe.replies.length >= targets.length, 2500, 'ssdp:all replies');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(probe.replies.map((r) => r.headers.ST).sort(), [...targets].sort(), 'exactly one reply per advertised type');
      assert.ok(probe.replies.every((r) => r.headers.LOCATION === location()));
      const replied = probe.replies.reduce((n, r) => n + r.bytes, 0);
      console.log(`      ssdp:all: ${all.length} bytes in, ${probe.replies.length} replies, ${replied} bytes out (×${(replied / all.length).toFixed(1)})`);
    });

    it('ignores a bad MAN, a bad or missing MX, a missing ST and foreign types', async () => {
      const bad = [
        mSearch('ssdp:all', { man: null }),
        mSearch('ssdp:all', { man: 'ssdp:discover' }), // unquoted
        mSearch('ssdp:all', { man: '"ssdp:update"' }),
        mSearch('ssdp:all', { mx: 'abc' }),
        mSearch('ssdp:all', { mx: '0' }),
        mSearch('ssdp:all', { mx: '-1' }),
        mSearch('ssdp:all', { mx: null }),
        mSearch(null),
        mSearch(''),
        mSearch('urn:schemas-upnp-org:device:MediaRenderer:1'),
        mSearch('urn:schemas-upnp-org:device:MediaServer:2'),
      ];
      for (const b of bad) await probe.send(b);
      await new Promise((r) => setTimeout(r, 1500)); // longer than MX 1
      assert.equal(probe.replies.length, 0, JSON.stringify(probe.replies));
      await probe.send(mSearch('upnp:rootdevice'));
      await waitFor(() => probe.replies.length === 1, 2000, 'an answer to a good search');
    });

    it('clamps MX 120 to 5 seconds', async () => {
      const sent = Date.now();
      await probe.send(mSearch('upnp:rootdevice', { mx: '120' }));
      const r = await waitFor(() => probe.replies[0], 6000, 'a reply');
      assert.ok(r.at - sent <= 5200, `replied after ${r.at - sent} ms`);
    });

    it('answers a unicast search without MX at once', async () => {
      const sent = Date.now();
      await probe.send(mSearch(MEDIA_SERVER, { mx: null, host: `${lan.stereo}:1900` }), lan.stereo);
      const r = await waitFor(() => probe.replies[0], 2000, 'a reply');
      assert.ok(r.at - sent < 300, `replied after ${r.at - sent} ms`);
      assert.equal(r.headers.LOCATION, location());
    });

    it('does not answer a source outside the interface subnet (loopback here)', async () => {
      const off = await SsdpProbe.open('127.0.0.1');
      try {
        await off.send(mSearch(MEDIA_SERVER, { mx: null, host: `${lan.stereo}:1900` }), lan.stereo);
        await off.send(mSearch('ssdp:all', { mx: '1' }), '127.0.0.1');
        await new Promise((r) => setTimeout(r, 1300));
        assert.equal(off.replies.length, 0);
      } finally {
        off.close();
      }
    });

    it('rate-limits replies per source (about 20 a second)', async () => {
      const started = Date.now();
      // Each datagram differs, so only the rate limit (not duplicate suppression) can hold them back.
      for (let i = 0; i < 600; i++) {
        await probe.send(mSearch('upnp:rootdevice', { mx: null, host: `${lan.stereo}:1900`, extra: [`X-N: ${i}`] }), lan.stereo);
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 300));
      const seconds = (Date.now() - started) / 1000;
      const n = probe.replies.length;
      console.log(`      600 searches in ${seconds.toFixed(2)} s → ${n} replies`);
      assert.ok(n >= 20, `at least the burst is answered (${n})`);
      assert.ok(n <= 20 + 20 * seconds + 2, `${n} replies in ${seconds} s`);
    });

    it('survives malformed datagrams and still answers', async () => {
      const junk = [
        Buffer.alloc(65507, 0x41),
        Buffer.concat([Buffer.from('M-SEARCH * HTTP/1.1\r\n'), Buffer.alloc(65000, 0x41)]),
        Buffer.from('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\0\r\nMX: 1\r\nST: ssdp:all\r\n\r\n'),
        Buffer.from('M-SEARCH * HTTP/1.1\r\nno colon here\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n'),
        Buffer.from('M-SEARCH * HTTP/1.1\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: (\r\n\r\n'),
        Buffer.from('M-SEARCH * HTTP/1.1\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: .*\r\n\r\n'),
        Buffer.from([0x4d, 0x2d, 0x53, 0x45, 0x41, 0x52, 0x43, 0x48, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x0d, 0x0a, 0xe2, 0x82]),
        Buffer.from('M-SEARCH'),
        Buffer.from(''),
        Buffer.from('NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\n\r\n'),
        Buffer.from('HTTP/1.1 200 OK\r\n\r\n'),
      ];
      for (const j of junk) await probe.send(j).catch(() => undefined); // the 64 KB one may exceed the veth MTU path; sent or not
      for (const j of junk) await probe.send(j, lan.stereo).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1300));
      assert.equal(probe.replies.length, 0);
      await probe.send(mSearch('upnp:rootdevice'));
      await waitFor(() => probe.replies.length === 1, 2000, 'an answer after the junk');
      assert.equal(d.proc.exitCode, null, 'daemon still running');
    });
  });
});

describe('UPnP device lifecycle', function () {
  let lan: ReturnType<typeof testLan>;
  let dataDir: string;
  before(() => {
    lan = testLan();
    dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-upnp-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('announces ssdp:alive at start and ssdp:byebye on SIGTERM, for every type', async () => {
    const listener = await SsdpListener.open(lan.phone);
    let d: TestDaemon | null = null;
    try {
      const started = Date.now();
      d = await TestDaemon.start({ dataDir });
      const desc = (await rawRequest(`${d.url}/upnp/description.xml`)).body;
      const udn = xmlText(desc, 'UDN')!;
      const types = ['upnp:rootdevice', udn, MEDIA_SERVER, ...[...desc.matchAll(/<serviceType>([^<]+)<\/serviceType>/g)].map((m) => m[1]!)];
      const mine = (nts: string) => listener.notifies.filter((n) => n.headers.NTS === nts && n.headers.USN?.startsWith(udn));
      await waitFor(() => new Set(mine('ssdp:alive').map((n) => n.headers.NT)).size === types.length, 3000, 'alive for each type');
      const firstAlive = Math.min(...mine('ssdp:alive').map((n) => n.at));
      console.log(`      first NOTIFY alive ${firstAlive - started} ms after spawn`);
      for (const n of mine('ssdp:alive')) {
        assert.equal(n.headers.LOCATION, `http://${lan.stereo}:${d.port}/upnp/description.xml`);
        assert.equal(n.headers['CACHE-CONTROL'], 'max-age=1800');
        assert.equal(n.headers.USN, n.headers.NT === udn ? udn : `${udn}::${n.headers.NT}`);
      }
      assert.equal(await d.stop(), 0);
      await waitFor(() => new Set(mine('ssdp:byebye').map((n) => n.headers.NT)).size === types.length, 2000, 'byebye for each type');
    } finally {
      listener.close();
      await d?.stop();
    }
  });

  it('keeps the same UDN across restarts with the same data dir', async () => {
    const udns: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await TestDaemon.start({ dataDir });
      try {
        udns.push(xmlText((await rawRequest(`${d.url}/upnp/description.xml`)).body, 'UDN')!);
      } finally {
        await d.stop();
      }
    }
    assert.equal(udns[0], udns[1]);
    assert.equal(readFileSync(path.join(dataDir, 'state', 'udn'), 'utf8').trim(), udns[0]);
  });

  it('refuses the description to a foreign Host header (DNS rebinding)', async () => {
    const d = await TestDaemon.start({ dataDir });
    try {
      for (const host of ['evil.example', `${lan.stereo}.evil.example:${d.port}`, `2130706433:${d.port}`]) {
        const r = await rawRequest(`${d.url}/upnp/description.xml`, { headers: { Host: host } });
        assert.equal(r.status, 400, host);
        assert.doesNotMatch(r.body, /UDN/);
      }
    } finally {
      await d.stop();
    }
  });
});
