// ImportResource makes the stereo fetch a URI a client names: an SSRF sink. These tests run real HTTP
// listeners on the phone (10.77.0.2), on loopback and on the stereo's own address, each counting the
// connections it gets, and check that every refused SourceURI is 714 with no connection at all; then
// redirects, timeouts, size limits, progress, StopTransferResource and the error codes.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { filesUnder, getJson } from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';
import { browse, cdsCall, createObject, elements } from '../helpers/dlna-upload.js';
import { ensureFixtures, fixture } from '../helpers/fixtures.js';
import { testLan } from '../helpers/lan.js';
import { eventually } from '../helpers/wait.js';

/** An HTTP server that records every connection and request it gets. */
class SourceServer {
  connections = 0;
  readonly requests: string[] = [];
  readonly closedResponses: string[] = [];
  private constructor(
    private readonly server: http.Server,
    readonly base: string,
  ) {}

  static async start(address: string, handle: (req: http.IncomingMessage, res: http.ServerResponse, self: SourceServer) => void = (_q, res) => res.end('nothing here')): Promise<SourceServer> {
    let self: SourceServer | null = null;
    const server = http.createServer((req, res) => {
      self!.requests.push(req.url ?? '');
      res.on('close', () => self!.closedResponses.push(req.url ?? ''));
      handle(req, res, self!);
    });
    server.on('connection', () => self!.connections++);
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    self = new SourceServer(server, `http://${address}:${(server.address() as AddressInfo).port}`);
    return self;
  }

  get port(): number {
    return Number(new URL(this.base).port);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const MAX_UPLOAD = 1024 * 1024; // --max-upload-mb 1

/** Writes `bytes` in `pieces` parts spread over about `ms`; stops when the client goes away. */
function trickle(res: http.ServerResponse, bytes: Buffer, pieces: number, ms: number): void {
  const size = Math.ceil(bytes.length / pieces);
  let at = 0;
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    res.write(bytes.subarray(at, at + size));
    at += size;
    if (at >= bytes.length) {
      clearInterval(timer);
      res.end();
    }
  }, ms / pieces);
  res.on('close', () => clearInterval(timer));
}

describe('DLNA upload: ImportResource', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let phone: SourceServer;
  let loop: SourceServer;
  let own: SourceServer;
  const hangs: http.ServerResponse[] = [];

  before(async () => {
    ensureFixtures();
    const lan = testLan();
    loop = await SourceServer.start('127.0.0.1', (_req, res) => res.end(fixture('tone.mp3')));
    own = await SourceServer.start(lan.stereo, (_req, res) => res.end(fixture('tone.mp3')));
    phone = await SourceServer.start(lan.phone, (req, res) => {
      const url = req.url ?? '';
      if (url === '/tone-v23.mp3') return res.end(fixture('tone-v23.mp3'));
      if (url === '/music/05%20Five%20%C3%A9.flac') {
        const b = fixture('hires.flac');
        res.writeHead(200, { 'Content-Type': 'audio/flac', 'Content-Length': b.length });
        return trickle(res, b, 20, 3000);
      }
      if (url === '/redirect') {
        res.writeHead(302, { Location: `${loop.base}/tone.mp3` });
        return res.end();
      }
      if (url === '/missing') {
        res.writeHead(404);
        return res.end();
      }
      if (url === '/forbidden') {
        res.writeHead(403);
        return res.end();
      }
      if (url === '/endless') {
        res.writeHead(200, { 'Content-Type': 'audio/mpeg' });
        const t = setInterval(() => res.write(Buffer.alloc(4096, 1)), 50);
        return res.on('close', () => clearInterval(t));
      }
      if (url === '/hang') return void hangs.push(res);
      if (url === '/stall') {
        res.writeHead(200, { 'Content-Length': 100_000 });
        res.write(fixture('tone.flac').subarray(0, 1000));
        return void hangs.push(res);
      }
      if (url === '/big-declared') {
        res.writeHead(200, { 'Content-Length': MAX_UPLOAD + 1 });
        res.flushHeaders();
        return void hangs.push(res);
      }
      if (url === '/big-chunked') {
        res.writeHead(200, { 'Content-Type': 'audio/wav' });
        return trickle(res, Buffer.concat([fixture('tone.wav'), Buffer.alloc(MAX_UPLOAD + 100_000, 7)]), 10, 500);
      }
      if (url === '/short') {
        res.writeHead(200, { 'Content-Length': 100_000 });
        res.write(fixture('tone.flac').subarray(0, 5000));
        return setTimeout(() => res.destroy(), 100);
      }
      res.writeHead(404);
      res.end();
    });
    d = await TestDaemon.start({ args: ['--max-upload-mb', '1'] });
    await d.idle();
  });

  after(async () => {
    for (const r of hangs) r.destroy();
    await d?.dispose();
    await Promise.all([phone?.close(), loop?.close(), own?.close()]);
  });

  const placeholder = (title = 'import.mp3') => createObject(d.url, 'u', elements({ title }));
  const importResource = (source: string, destination: string) => cdsCall(d.url, 'ImportResource', { SourceURI: source, DestinationURI: destination });
  const progress = async (id: string) => {
    const r = await cdsCall(d.url, 'GetTransferProgress', { TransferID: id });
    return { fault: r.fault, status: r.out('TransferStatus'), length: Number(r.out('TransferLength')), total: Number(r.out('TransferTotal')) };
  };
  const trackCount = async () => (await getJson(`${d.url}/api/v1/status`)).body.tracks as number;
  const nothingLeftBehind = () => assert.deepEqual(readdirSync(path.join(d.dataDir, 'incoming')), []);

  it('refuses every SourceURI but an IPv4 host on the requester\'s subnet with 714, and connects to nothing', async () => {
    const p = await placeholder();
    const pp = phone.port;
    const bad = [
      `http://localhost:${pp}/tone-v23.mp3`,
      `http://hifid.local:${pp}/tone-v23.mp3`,
      `http://living-room-hi-fi.local:${d.port}/`,
      `http://10.77.0.2.nip.io:${pp}/tone-v23.mp3`,
      `http://127.0.0.1:${loop.port}/tone.mp3`,
      `http://127.1:${loop.port}/tone.mp3`,
      `http://${testLan().stereo}:${own.port}/tone.mp3`, // the stereo itself
      `http://${testLan().stereo}:${d.port}/api/v1/status`,
      `http://0x7f.1:${loop.port}/`,
      `http://0x7f000001:${loop.port}/`,
      `http://2130706433:${loop.port}/`,
      `http://0177.0.0.1:${loop.port}/`,
      `http://010.077.000.002:${pp}/tone-v23.mp3`,
      `http://[::1]:${pp}/tone-v23.mp3`,
      `http://[::ffff:10.77.0.2]:${pp}/tone-v23.mp3`,
      'file:///etc/passwd',
      `ftp://10.77.0.2:${pp}/tone-v23.mp3`,
      `https://10.77.0.2:${pp}/tone-v23.mp3`,
      `http://10.77.0.2@127.0.0.1:${loop.port}/tone.mp3`,
      `http://user:pw@10.77.0.2:${pp}/tone-v23.mp3`,
      `http://10.77.0.2:${pp}@127.0.0.1:${loop.port}/`,
      `http://10.77.1.2:${pp}/tone-v23.mp3`, // another subnet
      `http://192.168.1.10:${pp}/tone-v23.mp3`,
      `http://10.77.0.255:${pp}/`, // this subnet's broadcast
      `http://10.77.0.0:${pp}/`,
      `http://224.0.0.251:${pp}/`,
      `http://255.255.255.255:${pp}/`,
      `http://0.0.0.0:${pp}/`,
      `http://10.77.0.2:0/`,
      `http://10.77.0.2:70000/`,
      `http://10.77.0.2:${pp}/a\r\nX-Injected: 1`,
      `http:/10.77.0.2:${pp}/tone-v23.mp3`,
      `//10.77.0.2:${pp}/tone-v23.mp3`,
      '',
      `http://10.77.0.2:${pp}/${'a'.repeat(3000)}`,
    ];
    for (const uri of bad) {
      const r = await importResource(uri, p.importUri);
      assert.equal(r.fault, 714, `${JSON.stringify(uri)} → ${r.fault}: ${r.body}`);
    }
    assert.equal(phone.connections, 0, 'a refused source was connected to (phone)');
    assert.equal(loop.connections, 0, 'a refused source was connected to (loopback)');
    assert.equal(own.connections, 0, "a refused source was connected to (the stereo's own address)");
    // The placeholder is still usable: refusals change nothing.
    const ok = await importResource(`${phone.base}/tone-v23.mp3`, p.importUri);
    assert.equal(ok.fault, null, ok.body);
    assert.match(ok.out('TransferID')!, /^\d+$/);
    await eventually(async () => (await progress(ok.out('TransferID')!)).status === 'COMPLETED', 10_000);
    assert.deepEqual(phone.requests, ['/tone-v23.mp3']);
  });

  it('does not follow a redirect (714); 404 is 714 and 403 is 715; the placeholder can be tried again', async () => {
    const p = await placeholder();
    const before = phone.requests.length;
    assert.equal((await importResource(`${phone.base}/redirect`, p.importUri)).fault, 714);
    assert.equal(loop.connections, 0, 'the redirect was followed');
    assert.equal((await importResource(`${phone.base}/missing`, p.importUri)).fault, 714);
    assert.equal((await importResource(`${phone.base}/forbidden`, p.importUri)).fault, 715);
    assert.deepEqual(phone.requests.slice(before), ['/redirect', '/missing', '/forbidden']);
    assert.equal((await browse(d.url, p.objectId, 'BrowseMetadata')).fault, null);
  });

  it('answers 718 for a DestinationURI that is not a fresh placeholder, 402 for missing or malformed arguments', async () => {
    const src = `${phone.base}/tone-v23.mp3`;
    const before = phone.connections;
    assert.equal((await importResource(src, `${d.url}/upload/0123456789abcdef`)).fault, 718);
    assert.equal((await importResource(src, `${d.url}/media/0123456789abcdef.mp3`)).fault, 718);
    assert.equal((await importResource(src, 'not a uri')).fault, 402);
    assert.equal((await cdsCall(d.url, 'ImportResource', { SourceURI: src })).fault, 402);
    assert.equal((await cdsCall(d.url, 'ImportResource', { DestinationURI: `${d.url}/upload/0123456789abcdef` })).fault, 402);
    assert.equal(phone.connections, before);
  });

  it('reports progress (IN_PROGRESS with TransferLength/TransferTotal, then COMPLETED) and stores the track', async () => {
    const p = await placeholder('05 Five é.flac');
    // Sent raw, as gupnp-upload does: the stereo percent-encodes what a request line cannot carry.
    const r = await importResource(`${phone.base}/music/05 Five é.flac`, p.importUri);
    assert.equal(r.fault, null, r.body);
    const id = r.out('TransferID')!;
    const size = fixture('hires.flac').length;
    const seen: Array<{ fault: number | null; status: string | null; length: number; total: number }> = [];
    await eventually(async () => {
      const s = await progress(id);
      seen.push(s);
      return s.status !== 'IN_PROGRESS';
    }, 20_000);
    const last = seen.at(-1)!;
    assert.deepEqual(last, { fault: null, status: 'COMPLETED', length: size, total: size });
    assert.ok(seen.some((s) => s.status === 'IN_PROGRESS' && s.total === size && s.length > 0 && s.length < size), JSON.stringify(seen));
    const list = await getJson(`${d.url}/api/v1/tracks?q=Tone%205`);
    const t = list.body.items.find((x: { title: string }) => x.title === 'Tone 5');
    assert.ok(t, JSON.stringify(list.body));
    assert.deepEqual(t.source, { kind: 'push', device: testLan().phone, via: 'dlna' });
    assert.equal((await browse(d.url, p.objectId, 'BrowseMetadata')).items[0]!.id, `u/t/${t.id}`);
    // Finished transfers can still be asked about.
    assert.equal((await progress(id)).status, 'COMPLETED');
  });

  it('StopTransferResource stops a transfer: STOPPED, the placeholder is gone, nothing is stored', async () => {
    const tracks = await trackCount();
    const p = await placeholder('endless.mp3');
    const r = await importResource(`${phone.base}/endless`, p.importUri);
    assert.equal(r.fault, null, r.body);
    const id = r.out('TransferID')!;
    await eventually(async () => (await progress(id)).length > 20_000, 10_000);
    const mid = await progress(id);
    assert.equal(mid.status, 'IN_PROGRESS');
    assert.equal(mid.total, mid.length, 'without a Content-Length the total is what has arrived');
    assert.equal((await cdsCall(d.url, 'StopTransferResource', { TransferID: id })).fault, null);
    assert.equal((await progress(id)).status, 'STOPPED');
    await eventually(async () => phone.closedResponses.includes('/endless'), 5000);
    assert.equal((await browse(d.url, p.objectId, 'BrowseMetadata')).fault, 701);
    await eventually(async () => readdirSync(path.join(d.dataDir, 'incoming')).length === 0, 5000);
    assert.equal(await trackCount(), tracks);
    // Stopping again changes nothing; unknown and malformed ids are errors.
    assert.equal((await cdsCall(d.url, 'StopTransferResource', { TransferID: id })).fault, null);
    assert.equal((await progress(id)).status, 'STOPPED');
    assert.equal((await cdsCall(d.url, 'StopTransferResource', { TransferID: '4000000000' })).fault, 717);
    assert.equal((await progress('4000000000')).fault, 717);
    assert.equal((await progress('abc')).fault, 402);
    assert.equal((await progress('-1')).fault, 402);
  });

  it('gives up on a source that never answers (714 after 10 s) and on a body that stalls (ERROR after 10 s idle)', async () => {
    const tracks = await trackCount();
    const [a, b] = await Promise.all([placeholder('hang.mp3'), placeholder('stall.flac')]);
    const started = Date.now();
    const [hang, stall] = await Promise.all([
      importResource(`${phone.base}/hang`, a.importUri).then((r) => ({ r, ms: Date.now() - started })),
      (async () => {
        const r = await importResource(`${phone.base}/stall`, b.importUri);
        assert.equal(r.fault, null, r.body);
        const id = r.out('TransferID')!;
        assert.equal((await progress(id)).status, 'IN_PROGRESS');
        await eventually(async () => (await progress(id)).status === 'ERROR', 20_000);
        return { ms: Date.now() - started, last: await progress(id) };
      })(),
    ]);
    assert.equal(hang.r.fault, 714);
    assert.ok(hang.ms >= 9_500 && hang.ms < 15_000, `header timeout after ${hang.ms} ms`);
    assert.ok(stall.ms >= 9_500, `idle timeout after ${stall.ms} ms`);
    assert.deepEqual([stall.last.length, stall.last.total], [1000, 100_000]);
    // The hung request's placeholder may be tried again; the stalled one is gone with its transfer.
    assert.equal((await browse(d.url, a.objectId, 'BrowseMetadata')).fault, null);
    assert.equal((await browse(d.url, b.objectId, 'BrowseMetadata')).fault, 701);
    assert.equal(await trackCount(), tracks);
    nothingLeftBehind();
  });

  it('refuses an oversized source: a declared size at once (720), an undeclared one cut at the limit (ERROR); nothing stored', async () => {
    const tracks = await trackCount();
    const files = filesUnder(path.join(d.dataDir, 'music')).length;
    const p = await placeholder('big.wav');
    const declared = await importResource(`${phone.base}/big-declared`, p.importUri);
    assert.equal(declared.fault, 720);
    assert.match(declared.body, /limit/);
    const r = await importResource(`${phone.base}/big-chunked`, p.importUri);
    assert.equal(r.fault, null, r.body);
    const id = r.out('TransferID')!;
    await eventually(async () => (await progress(id)).status === 'ERROR', 15_000);
    assert.ok((await progress(id)).length <= MAX_UPLOAD + 64 * 1024);
    assert.equal(await trackCount(), tracks);
    assert.equal(filesUnder(path.join(d.dataDir, 'music')).length, files);
    await eventually(async () => readdirSync(path.join(d.dataDir, 'incoming')).length === 0, 5000);
  });

  it('marks a source that ends early as ERROR and stores nothing', async () => {
    const tracks = await trackCount();
    const p = await placeholder('short.flac');
    const r = await importResource(`${phone.base}/short`, p.importUri);
    assert.equal(r.fault, null, r.body);
    const id = r.out('TransferID')!;
    await eventually(async () => (await progress(id)).status === 'ERROR', 10_000);
    assert.equal(await trackCount(), tracks);
    nothingLeftBehind();
  });
});
