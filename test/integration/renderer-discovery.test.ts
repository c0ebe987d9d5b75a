// MediaRenderers on the LAN, as the stereo learns them: a real third-party UPnP stack (GUPnP 1.6 through
// python3-gi, on the phone's interface) announces a Sony Bravia; the daemon reads its description,
// and Browse requests from that address get the Bravia's DIDL; the renderer is listed in
// /api/v1/devices and leaves on byebye. Crafted NOTIFYs show which LOCATIONs are never fetched
// (recording listeners prove no connection) and that huge or slow descriptions are cut.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, REPO_ROOT } from '../helpers/fixtures.js';
import { getJson, pushFile } from '../helpers/api.js';
import { testLan } from '../helpers/lan.js';
import { soap, SsdpProbe, xmlText } from '../helpers/upnp.js';
import { eventually } from '../helpers/wait.js';
import type { RendererJson } from '../../daemon/upnp/renderer-discovery.js';

const CDS = 'urn:schemas-upnp-org:service:ContentDirectory:1';
const RENDERER = 'urn:schemas-upnp-org:device:MediaRenderer:1';
/** What a control point app on the phone might send: matches no profile by itself. */
const GENERIC_UA = { 'User-Agent': 'Linux/6.1 UPnP/1.0 Platinum/1.0.5.13' };

function description(udn: string, fields: { friendlyName: string; manufacturer: string; modelName: string }): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>${RENDERER}</deviceType>
    <friendlyName>${fields.friendlyName}</friendlyName>
    <manufacturer>${fields.manufacturer}</manufacturer>
    <modelName>${fields.modelName}</modelName>
    <UDN>${udn}</UDN>
    <serviceList>
      <service>
        <serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType>
        <serviceId>urn:upnp-org:serviceId:AVTransport</serviceId>
        <SCPDURL>/AVTransport.xml</SCPDURL>
        <controlURL>/upnp/control/AVTransport</controlURL>
        <eventSubURL>/upnp/event/AVTransport</eventSubURL>
      </service>
    </serviceList>
  </device>
</root>
`;
}

const BRAVIA = { friendlyName: 'Living room TV', manufacturer: 'Sony Corporation', modelName: 'KDL-40W600B' };

/** A GUPnP RootDevice (test/helpers/gupnp-renderer.py) on the phone's interface. */
class GupnpRenderer {
  readonly events: Array<Record<string, string>> = [];
  private stderr = '';
  private readonly exited: Promise<void>;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {
    createInterface({ input: proc.stdout! }).on('line', (line) => this.events.push(JSON.parse(line) as Record<string, string>));
    proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  static async start(udn: string, fields: typeof BRAVIA): Promise<GupnpRenderer & { location: string }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'hifid-renderer-'));
    writeFileSync(path.join(dir, 'description.xml'), description(udn, fields));
    // phone0 is the phone's end of the veth pair scripts/test-lan.sh makes.
    const proc = spawn('/usr/bin/python3', [path.join(REPO_ROOT, 'test', 'helpers', 'gupnp-renderer.py'), 'phone0', dir, 'description.xml'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const r = new GupnpRenderer(proc, dir);
    const ready = await r.waitFor('ready');
    return Object.assign(r, { location: ready.location! });
  }

  async waitFor(event: string, timeoutMs = 10_000): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.event === event);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`gupnp-renderer.py did not say ${event}: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async bye(): Promise<void> {
    this.proc.stdin!.write('bye\n');
    await this.waitFor('bye');
  }

  async close(): Promise<void> {
    this.proc.stdin!.end();
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** The protocolInfo of each <res> of the hi-res FLAC ("Tone 5") in a Browse from the phone's address. */
async function flacResFromPhone(d: TestDaemon): Promise<string[]> {
  const r = await soap(`${d.url}/upnp/control/cds`, CDS, 'Browse', { headers: GENERIC_UA, localAddress: testLan().phone, args: { ObjectID: 'm/all', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' } });
  assert.equal(r.status, 200, r.body);
  const didl = unescapeXml(xmlText(r.body, 'Result') ?? '');
  const item = didl
    .split('<item ')
    .slice(1)
    .find((i) => i.includes('<dc:title>Tone 5</dc:title>'));
  assert.ok(item, 'the FLAC is listed');
  return [...item.matchAll(/<res [^>]*protocolInfo="([^"]+)"/g)].map((m) => m[1]!);
}

async function renderersOf(d: TestDaemon): Promise<RendererJson[]> {
  const r = await getJson(`${d.url}/api/v1/devices`);
  assert.equal(r.status, 200);
  return (r.body as { renderers: RendererJson[] }).renderers;
}

function notify(fields: { udn: string; location: string; nts?: string }): Buffer {
  const nts = fields.nts ?? 'ssdp:alive';
  const lines = ['NOTIFY * HTTP/1.1', 'HOST: 239.255.255.250:1900', 'CACHE-CONTROL: max-age=1800', `NT: ${RENDERER}`, `NTS: ${nts}`, 'SERVER: Linux/4.9 UPnP/1.0 TestRenderer/1.0', `USN: ${fields.udn}::${RENDERER}`];
  if (nts === 'ssdp:alive') lines.push(`LOCATION: ${fields.location}`);
  return Buffer.from([...lines, '', ''].join('\r\n'), 'latin1');
}

/** An HTTP listener that records every connection and answers as `mode` says. */
class Recorder {
  connections = 0;
  requests = 0;
  closed = 0;
  bytesSent = 0;
  private readonly sockets = new Set<import('node:net').Socket>();
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(address: string, mode: 'ok' | 'huge' | 'slow', body = ''): Promise<Recorder> {
    let self: Recorder | null = null;
    const server = http.createServer((req, res) => {
      self!.requests++;
      if (mode === 'slow') return; // accepts, never answers
      if (mode === 'ok') {
        res.setHeader('Content-Type', 'text/xml');
        res.end(body);
        return;
      }
      // A description that does not end (64 MB in 16 KB chunks, no Content-Length), sent as fast as it is read.
      res.setHeader('Content-Type', 'text/xml');
      const chunk = Buffer.alloc(16 * 1024, '<!-- padding -->');
      let left = 4096;
      const write = () => {
        while (left > 0 && !res.destroyed) {
          left--;
          self!.bytesSent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        if (!res.destroyed) res.end();
      };
      write();
    });
    server.on('connection', (s) => {
      self!.connections++;
      self!.sockets.add(s);
      s.on('close', () => {
        self!.closed++;
        self!.sockets.delete(s);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    self = new Recorder(server, `http://${address}:${(server.address() as AddressInfo).port}`);
    return self;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('renderer discovery (GUPnP renderer on the phone)', function () {
  this.timeout(60_000);
  let lan: ReturnType<typeof testLan>;
  const cleanups: Array<() => Promise<void>> = [];
  const later = <T extends { close(): unknown } | { dispose(): Promise<void> }>(x: T): T => {
    cleanups.push(async () => {
      await ('dispose' in x ? x.dispose() : x.close());
    });
    return x;
  };

  before(() => {
    lan = testLan();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('matches Browse requests from a renderer by its description, lists it, and drops it on byebye', async () => {
    const d = later(await TestDaemon.start());
    assert.equal((await pushFile(d.url, 'hires.flac', fixture('hires.flac'))).status, 201);
    await d.idle();
    // Before it is announced, the phone's address is an unknown client: the generic profile, original FLAC first.
    const before = await flacResFromPhone(d);
    assert.match(before[0]!, /^http-get:\*:audio\/flac:/, before.join(' | '));
    assert.deepEqual(await renderersOf(d), []);

    const udn = 'uuid:5e2b0c1a-7d55-4c39-9f0e-2b1f0a6c0001';
    const renderer = later(await GupnpRenderer.start(udn, BRAVIA));
    assert.match(renderer.location, new RegExp(`^http://${lan.phone.replace(/\./g, '\\.')}:\\d+/`));
    const found = await d.waitForLog('renderer found', 10_000, (e) => e.udn === udn);
    assert.equal(found.profile, 'sony-bravia');
    assert.equal(found.via, 'alive');

    // The same request now gets the Bravia's list: it plays no FLAC, so only transcodes it does play.
    const after = await flacResFromPhone(d);
    assert.ok(after.length >= 1);
    assert.ok(after.every((p) => !/audio\/(x-)?flac/.test(p)), after.join(' | '));
    assert.match(after[0]!, /^http-get:\*:(audio\/wav|audio\/L16|audio\/mpeg)/);

    const list = await renderersOf(d);
    const port = new URL(renderer.location).port;
    assert.deepEqual(
      list.map(({ udn, friendlyName, manufacturer, modelName, address, avTransportControlUrl, profile }) => ({ udn, friendlyName, manufacturer, modelName, address, avTransportControlUrl, profile })),
      [{ udn, ...BRAVIA, address: lan.phone, avTransportControlUrl: `http://${lan.phone}:${port}/upnp/control/AVTransport`, profile: 'sony-bravia' }],
    );

    await renderer.bye();
    await d.waitForLog('renderer left', 10_000, (e) => e.udn === udn);
    assert.deepEqual(await renderersOf(d), []);
  });

  it('finds a renderer that was there before the daemon started, by its M-SEARCH', async () => {
    const udn = 'uuid:5e2b0c1a-7d55-4c39-9f0e-2b1f0a6c0002';
    later(await GupnpRenderer.start(udn, { friendlyName: 'Den', manufacturer: 'Denon', modelName: 'AVR-X2700H' }));
    // Let GUPnP's start-up NOTIFYs pass, so what the daemon learns comes from its search.
    await new Promise((r) => setTimeout(r, 1500));
    const d = later(await TestDaemon.start());
    await d.waitForLog('SSDP: searching', 5000, (e) => e.st === RENDERER);
    const found = await d.waitForLog('renderer found', 10_000, (e) => e.udn === udn);
    assert.equal(found.via, 'response');
    assert.equal(found.profile, 'denon-marantz-heos');
    const list = await eventually(async () => {
      const l = await renderersOf(d);
      return l.length === 1 && l;
    });
    assert.equal(list[0]!.friendlyName, 'Den');
  });

  it('never fetches a LOCATION on another host than the sender, a host name, or the stereo itself', async () => {
    const d = later(await TestDaemon.start());
    const phone = later(await SsdpProbe.open(lan.phone));
    const stereoSide = later(await SsdpProbe.open(lan.stereo));
    const onPhone = later(await Recorder.start(lan.phone, 'ok', description('uuid:x', BRAVIA)));
    const onStereo = later(await Recorder.start(lan.stereo, 'ok', description('uuid:x', BRAVIA)));
    const onLoopback = later(await Recorder.start('127.0.0.1', 'ok', description('uuid:x', BRAVIA)));
    const cases: Array<{ udn: string; probe: SsdpProbe; location: string; reason: RegExp }> = [
      // Sent from one address (here the stereo's), pointing at another host (a listener on the phone).
      { udn: 'uuid:aaaaaaaa-0000-0000-0000-000000000001', probe: stereoSide, location: `${onPhone.url}/description.xml`, reason: /is not the announcing address/ },
      // A host name: never resolved.
      { udn: 'uuid:aaaaaaaa-0000-0000-0000-000000000002', probe: phone, location: `http://localhost:${new URL(onLoopback.url).port}/description.xml`, reason: /IPv4 address/ },
      // From the phone, at the stereo itself.
      { udn: 'uuid:aaaaaaaa-0000-0000-0000-000000000003', probe: phone, location: `${onStereo.url}/description.xml`, reason: /own address/ },
      // Not http.
      { udn: 'uuid:aaaaaaaa-0000-0000-0000-000000000004', probe: phone, location: `https://${lan.phone}:${new URL(onPhone.url).port}/description.xml`, reason: /http:\/\// },
    ];
    for (const c of cases) {
      await c.probe.send(notify({ udn: c.udn, location: c.location }));
      const refused = await d.waitForLog('renderer LOCATION refused', 5000, (e) => e.udn === c.udn);
      assert.match(String(refused.reason), c.reason);
    }
    // Datagrams are handled in order: by now any fetch would have connected.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(onPhone.connections, 0);
    assert.equal(onStereo.connections, 0);
    assert.equal(onLoopback.connections, 0);
    assert.deepEqual(await renderersOf(d), []);
  });

  it('cuts a description that does not end at 64 KB', async () => {
    const d = later(await TestDaemon.start());
    const phone = later(await SsdpProbe.open(lan.phone));
    const huge = later(await Recorder.start(lan.phone, 'huge'));
    const udn = 'uuid:aaaaaaaa-0000-0000-0000-000000000010';
    await phone.send(notify({ udn, location: `${huge.url}/description.xml` }));
    const failed = await d.waitForLog('renderer description not read', 10_000, (e) => e.udn === udn);
    assert.match(String(failed.reason), /over 65536 bytes/);
    await eventually(async () => huge.closed === 1);
    assert.equal(huge.requests, 1);
    // What was written beyond 64 KB sat in the socket buffers when the stereo hung up.
    assert.ok(huge.bytesSent < 16 * 1024 * 1024, `${huge.bytesSent} bytes written before the stereo hung up`);
    assert.deepEqual(await renderersOf(d), []);
  });

  it('gives up on a slow description after 3 s, with one fetch per address at a time', async () => {
    const d = later(await TestDaemon.start());
    const phone = later(await SsdpProbe.open(lan.phone));
    const slow = later(await Recorder.start(lan.phone, 'slow'));
    const udn = 'uuid:aaaaaaaa-0000-0000-0000-000000000020';
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      await phone.send(notify({ udn, location: `${slow.url}/description.xml` }));
      await new Promise((r) => setTimeout(r, 200));
    }
    await d.waitForLog('renderer description not read', 10_000, (e) => e.udn === udn);
    const ms = Date.now() - started;
    assert.ok(ms >= 2900 && ms < 5000, `gave up after ${ms} ms`);
    await eventually(async () => slow.closed === 1);
    // Five announcements while the first fetch hung: one connection; and no retry right after.
    await phone.send(notify({ udn, location: `${slow.url}/description.xml` }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(slow.connections, 1);
    assert.deepEqual(await renderersOf(d), []);
  });

  it('reads a description once however often the renderer announces itself', async () => {
    const d = later(await TestDaemon.start());
    const phone = later(await SsdpProbe.open(lan.phone));
    const udn = 'uuid:aaaaaaaa-0000-0000-0000-000000000030';
    const ok = later(await Recorder.start(lan.phone, 'ok', description(udn, { friendlyName: 'Kitchen', manufacturer: 'Yamaha Corporation', modelName: 'WX-021' })));
    await phone.send(notify({ udn, location: `${ok.url}/description.xml` }));
    const found = await d.waitForLog('renderer found', 5000, (e) => e.udn === udn);
    assert.equal(found.profile, 'yamaha-musiccast');
    for (let i = 0; i < 5; i++) await phone.send(notify({ udn, location: `${ok.url}/description.xml` }));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(ok.requests, 1);
    const list = await renderersOf(d);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.avTransportControlUrl, `${ok.url}/upnp/control/AVTransport`);
    // A byebye from another address is not the renderer's own: it stays.
    const stereoSide = later(await SsdpProbe.open(lan.stereo));
    await stereoSide.send(notify({ udn, location: '', nts: 'ssdp:byebye' }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await renderersOf(d)).length, 1);
    await phone.send(notify({ udn, location: '', nts: 'ssdp:byebye' }));
    await d.waitForLog('renderer left', 5000, (e) => e.udn === udn);
  });
});
