// mDNS/DNS-SD as a phone sees it: Debian's python3-zeroconf, bound to the phone's address in the
// test LAN, browses for the web remote and the push API, resolves them, and watches names and goodbyes.
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TestDaemon } from '../helpers/daemon.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { rawRequest } from '../helpers/api.js';
import { testLan } from '../helpers/lan.js';

interface Seen {
  event: 'browsing' | 'added' | 'updated' | 'removed' | 'unresolved' | 'registered';
  type?: string;
  name?: string;
  server?: string;
  port?: number;
  addresses?: string[];
  txt?: Record<string, string>;
}

/** One python zeroconf process; its JSON lines are collected and can be waited for. */
class ZeroconfClient {
  readonly seen: Seen[] = [];
  private readonly exited: Promise<void>;
  private stderr = '';

  private constructor(private readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (line) => this.seen.push(JSON.parse(line) as Seen));
    proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  static start(...args: string[]): ZeroconfClient {
    const script = path.join(REPO_ROOT, 'test', 'helpers', 'mdns-client.py');
    return new ZeroconfClient(spawn('/usr/bin/python3', [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  static browse(): ZeroconfClient {
    return ZeroconfClient.start('browse', testLan().phone, '_http._tcp.local.', '_hifid._tcp.local.');
  }

  async waitFor(what: string, match: (s: Seen) => boolean, timeoutMs = 15_000): Promise<Seen> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.seen.find(match);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`zeroconf did not see ${what} within ${timeoutMs} ms; saw:\n${this.seen.map((s) => JSON.stringify(s)).join('\n')}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    this.proc.stdin!.end();
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }
}

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const HTTP = '_http._tcp.local.';
const HIFID = '_hifid._tcp.local.';
const instance = (name: string, type: string) => `${name}.${type}`;

describe('mDNS / DNS-SD (python zeroconf on the phone)', function () {
  this.timeout(60_000);
  const clients: ZeroconfClient[] = [];
  const daemons: TestDaemon[] = [];
  const dirs: string[] = [];
  const client = (c: ZeroconfClient) => (clients.push(c), c);
  const daemon = async (...args: Parameters<typeof TestDaemon.start>) => {
    const d = await TestDaemon.start(...args);
    daemons.push(d);
    return d;
  };

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.dispose()));
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('finds the web remote and the push API with port and TXT; the .local name passes the Host check; goodbye on SIGTERM', async () => {
    const browser = client(ZeroconfClient.browse());
    await browser.waitFor('its own start', (s) => s.event === 'browsing');
    // The UPnP server's UDN, made beforehand so the TXT record can be checked exactly.
    const dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-mdns-'));
    dirs.push(dataDir);
    mkdirSync(path.join(dataDir, 'state'));
    const udn = 'uuid:5d3c6a1e-0b7e-4b7a-9d55-1a2b3c4d5e6f';
    writeFileSync(path.join(dataDir, 'state', 'udn'), `${udn}\n`);
    const d = await daemon({ dataDir });

    const web = await browser.waitFor('the web remote', (s) => s.event === 'added' && s.name === instance('Living-room Hi-Fi', HTTP));
    assert.equal(web.port, d.port);
    assert.deepEqual(web.addresses, [testLan().stereo]);
    assert.deepEqual(web.txt, { path: '/', version: VERSION, udn });
    assert.equal(web.server, 'living-room-hi-fi.local.');
    const api = await browser.waitFor('the push API', (s) => s.event === 'added' && s.name === instance('Living-room Hi-Fi', HIFID));
    assert.equal(api.port, d.port);
    assert.deepEqual(api.addresses, [testLan().stereo]);
    assert.deepEqual(api.txt, { api: '/api/v1', version: VERSION });
    assert.equal(api.server, web.server);

    // A browser that followed the advertised name sends it as the Host: accepted. Another is not.
    const local = web.server!.replace(/\.$/, '');
    const ok = await rawRequest(d.url, { path: '/api/v1/status', headers: { Host: `${local}:${d.port}` } });
    assert.equal(ok.status, 200, ok.body.toString());
    const page = await rawRequest(d.url, { path: '/', headers: { Host: local } });
    assert.equal(page.status, 200);
    const other = await rawRequest(d.url, { path: '/api/v1/status', headers: { Host: `kitchen-hi-fi.local:${d.port}` } });
    assert.equal(other.status, 400);

    // SIGTERM: goodbye packets (TTL 0) make both disappear from the browser at once, not after the TTL.
    const stoppedAt = Date.now();
    assert.equal(await d.stop(), 0);
    await browser.waitFor('the web remote leave', (s) => s.event === 'removed' && s.name === instance('Living-room Hi-Fi', HTTP), 5000);
    await browser.waitFor('the push API leave', (s) => s.event === 'removed' && s.name === instance('Living-room Hi-Fi', HIFID), 5000);
    assert.ok(Date.now() - stoppedAt < 5000);
    assert.ok(d.logs.some((l) => l.msg === 'mdns: goodbye sent'));
  });

  it('renames to "Living-room Hi-Fi (2)" when the name is taken: found while probing, and claimed later', async () => {
    // Another device already holds the web remote's name when hifid starts.
    const other = client(ZeroconfClient.start('register', testLan().phone, HTTP, 'Living-room Hi-Fi', '9999'));
    await other.waitFor('its registration', (s) => s.event === 'registered');
    const browser = client(ZeroconfClient.browse());
    const d = await daemon();
    const renamed = await browser.waitFor('the renamed web remote', (s) => s.event === 'added' && s.name === instance('Living-room Hi-Fi (2)', HTTP));
    assert.equal(renamed.port, d.port);
    // Names are per service type: the push API keeps its name.
    const api = await browser.waitFor('the push API', (s) => s.event === 'added' && s.name === instance('Living-room Hi-Fi', HIFID));
    assert.equal(api.port, d.port);
    // The other device's service is still its own.
    const theirs = await browser.waitFor('the other device', (s) => s.event === 'added' && s.name === instance('Living-room Hi-Fi', HTTP));
    assert.equal(theirs.port, 9999);

    // Later a second responder announces the push API's name without probing: hifid probes again,
    // finds the name held, and moves to "(2)".
    const intruder = client(ZeroconfClient.start('register', testLan().phone, HIFID, 'Living-room Hi-Fi', '9998', 'cooperating'));
    await intruder.waitFor('its registration', (s) => s.event === 'registered');
    const moved = await browser.waitFor('the push API renamed', (s) => s.event === 'added' && s.name === instance('Living-room Hi-Fi (2)', HIFID));
    assert.equal(moved.port, d.port);
    assert.ok(d.logs.some((l) => l.msg === 'mdns: another responder claims our name; probing again'));
  });

  it('announces the new address when the interface address changes', async () => {
    const browser = client(ZeroconfClient.browse());
    await daemon();
    await browser.waitFor('the web remote', (s) => s.event === 'added' && s.name === instance('Living-room Hi-Fi', HTTP));
    const extra = '10.77.0.3';
    execFileSync('ip', ['addr', 'add', `${extra}/24`, 'dev', testLan().iface]);
    try {
      // The running browser learns the new address from the unsolicited announcement (no new query).
      const updated = await browser.waitFor('the new address', (s) => s.event === 'updated' && s.name === instance('Living-room Hi-Fi', HTTP) && !!s.addresses?.includes(extra), 15_000);
      assert.ok(updated.addresses!.includes(testLan().stereo));
      // Updated in place: no goodbye, so the stereo never vanished from the phone's list meanwhile.
      assert.deepEqual(browser.seen.filter((s) => s.event === 'removed'), []);
    } finally {
      execFileSync('ip', ['addr', 'del', `${extra}/24`, 'dev', testLan().iface]);
    }
  });
});
