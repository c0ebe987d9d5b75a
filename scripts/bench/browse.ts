// Browse benchmark (not a test): hifid side by side with MiniDLNA on the same generated library of
// tagged MP3s, both in the test LAN, both asked by the same raw-SOAP client over keep-alive HTTP.
//   npm run bench:browse [-- --tracks 10000,50000] [--pages 300] [--seconds 10]
// For each size: time until every track is browsable (hifid via --music-dir, polling All Tracks;
// MiniDLNA polling its All Music container, found by browsing 0 → Music → All Music), the first 50
// Browses on their own (cold), then Browse p50/p99 for 100-item pages at random offsets of that
// container, Browse throughput at concurrency 8,
// Search latency and hit counts, and steady RSS. Figures are medians/percentiles of single requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MEMORY_SETTLES_MS } from '../../daemon/memory.js';
import { DEFAULT_SERVICES, TestDaemon } from '../../test/helpers/daemon.js';
import { testLan } from '../../test/helpers/lan.js';
import { generateLibrary } from '../gen-library.js';

const { values: opts } = parseArgs({
  options: {
    tracks: { type: 'string', default: '10000,50000' },
    pages: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '10' },
    minidlna: { type: 'string', default: '/usr/sbin/minidlnad' },
  },
});
const SIZES = opts.tracks.split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
const PAGES = Number(opts.pages);
const SECONDS = Number(opts.seconds);
const PAGE = 100;
const COLD_PAGES = 50;
const CONCURRENCY = 8;
const SEARCH_RUNS = 15;
const CDS = 'urn:schemas-upnp-org:service:ContentDirectory:1';

const lan = testLan();

// ---- a raw SOAP client, the same for both servers ----

interface Target {
  name: string;
  host: string;
  port: number;
  controlPath: string;
  agent: http.Agent;
}


interface CdsAnswer {
  status: number;
  total: number;
  returned: number;
  /** The whole answer, decoded only when asked for: the client shares the CPU with the server it measures. */
  body(): string;
}

function soap(t: Target, action: string, args: Array<[string, string | number]>): Promise<CdsAnswer> {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const body = Buffer.from(
    `<?xml version="1.0" encoding="utf-8"?>\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action} xmlns:u="${CDS}">` +
      args.map(([k, v]) => `<${k}>${esc(String(v))}</${k}>`).join('') +
      `</u:${action}></s:Body></s:Envelope>`,
  );
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: t.host, port: t.port, path: t.controlPath, method: 'POST', agent: t.agent, headers: { 'Content-Type': 'text/xml; charset="utf-8"', 'Content-Length': body.length, SOAPACTION: `"${CDS}#${action}"` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          // The two counts sit after the Result, near the end: read them from the bytes, without
          // turning a 90 KB answer into a string and running a regular expression over it.
          const num = (tag: string) => {
            const at = bytes.lastIndexOf(`<${tag}>`);
            return at < 0 ? NaN : parseInt(bytes.toString('latin1', at + tag.length + 2, at + tag.length + 14), 10);
          };
          resolve({ status: res.statusCode ?? 0, total: num('TotalMatches'), returned: num('NumberReturned'), body: () => bytes.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`${t.name}: ${action} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

function browse(t: Target, id: string, start = 0, count = PAGE): Promise<CdsAnswer> {
  return soap(t, 'Browse', [['ObjectID', id], ['BrowseFlag', 'BrowseDirectChildren'], ['Filter', '*'], ['StartingIndex', start], ['RequestedCount', count], ['SortCriteria', '']]);
}

function search(t: Target, criteria: string): Promise<CdsAnswer> {
  return soap(t, 'Search', [['ContainerID', '0'], ['SearchCriteria', criteria], ['Filter', '*'], ['StartingIndex', 0], ['RequestedCount', PAGE], ['SortCriteria', '']]);
}

/** The container ids and titles in a Browse answer (the DIDL is entity-escaped inside the SOAP Result). */
function containersOf(a: CdsAnswer): Array<{ id: string; title: string }> {
  const didl = (/<Result>([\s\S]*)<\/Result>/.exec(a.body())?.[1] ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  return [...didl.matchAll(/<container [^>]*?id="([^"]*)"[\s\S]*?<dc:title>([^<]*)<\/dc:title>/g)].map((m) => ({ id: m[1]!, title: m[2]! }));
}

// ---- measuring ----

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => {
  const s = sorted(xs);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)]! : NaN;
};
const median = (xs: number[]) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Figures {
  indexedS: number;
  /** hifid only: RSS after a restart on the same data dir (catalogue from its store), before and after the same Browse load. */
  restartIdleRssMb?: number;
  restartRssMb?: number;
  /** hifid only: Browse p50/p99 in that run (no first scan finishing in the background). */
  restartP50?: number;
  restartP99?: number;
  /** The first COLD_PAGES Browses after indexing (code not yet optimised, caches being built). */
  coldP50: number;
  coldMax: number;
  browseP50: number;
  browseP99: number;
  throughput: number;
  search: Array<{ criteria: string; p50: number; hits: number }>;
  /** Once every track is browsable and the server has been left alone: before any load. */
  idleRssMb: number;
  rssMb: number;
}

const SEARCHES = ['dc:title contains "Love"', 'upnp:artist = "Artist 0042"'];

async function measureHere(t: Target, container: string, n: number, pid: number): Promise<Omit<Figures, 'indexedS'>> {
  // MiniDLNA has been seen to answer 0 for a moment right after it first showed every track (its
  // scanner finishing): give the count a few seconds to settle before calling the run broken.
  let first = await browse(t, container, 0, 1);
  for (let tries = 0; first.total !== n && tries < 20; tries++) {
    await sleep(500);
    first = await browse(t, container, 0, 1);
  }
  if (first.total !== n) throw new Error(`${t.name}: ${container} holds ${first.total}, expected ${n}`);
  await sleep(MEMORY_SETTLES_MS);
  const idleRssMb = rssMb(pid);
  // The first pages after indexing, reported on their own: a server with a JIT (hifid) is slower
  // until its code is optimised, and the percentiles below are of the steady state, as for any
  // latency benchmark. Both servers get the same pages.
  const cold: number[] = [];
  for (let i = 0; i < COLD_PAGES; i++) {
    const t0 = performance.now();
    const a = await browse(t, container, Math.floor(Math.random() * (n - PAGE)), PAGE);
    cold.push(performance.now() - t0);
    if (a.status !== 200 || a.returned !== PAGE) throw new Error(`${t.name}: Browse gave ${a.status}/${a.returned}`);
  }
  // Browse latency, sequential, 100-item pages at random offsets.
  const lat: number[] = [];
  for (let i = 0; i < PAGES; i++) {
    const start = Math.floor(Math.random() * (n - PAGE));
    const t0 = performance.now();
    const a = await browse(t, container, start, PAGE);
    lat.push(performance.now() - t0);
    if (a.status !== 200 || a.returned !== PAGE) throw new Error(`${t.name}: Browse at ${start} gave ${a.status}/${a.returned}`);
  }
  // Throughput at concurrency 8.
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const a = await browse(t, container, Math.floor(Math.random() * (n - PAGE)), PAGE);
        if (a.status !== 200) throw new Error(`${t.name}: Browse failed with ${a.status}`);
        done++;
      }
    }),
  );
  const throughput = done / ((performance.now() - t0) / 1000);
  // Search: each run differs by trailing spaces, which both servers ignore, so no result cache answers.
  const searches: Figures['search'] = [];
  for (const criteria of SEARCHES) {
    const times: number[] = [];
    let hits = NaN;
    for (let i = 0; i < SEARCH_RUNS; i++) {
      const s0 = performance.now();
      const a = await search(t, criteria + ' '.repeat(i));
      times.push(performance.now() - s0);
      if (a.status !== 200) throw new Error(`${t.name}: Search ${criteria} gave ${a.status}: ${a.body().slice(0, 300)}`);
      hits = a.total;
    }
    searches.push({ criteria, p50: median(times), hits });
  }
  // Both servers are left alone until hifid has given back what the burst took (daemon/memory.ts).
  await sleep(MEMORY_SETTLES_MS);
  return { coldP50: pct(cold, 0.5), coldMax: Math.max(...cold), browseP50: pct(lat, 0.5), browseP99: pct(lat, 0.99), throughput, search: searches, idleRssMb, rssMb: rssMb(pid) };
}

type Measured = Omit<Figures, 'indexedS'>;

/**
 * measureHere in a worker thread: the measuring client gets a heap of its own, so the collections of
 * the bench's own work (the library generator, the daemon's logs) never land inside a timed request.
 * A client in the bench's heap measured Browse p99 at 11–12 ms where a separate process saw 6–7 ms.
 */
function measure(t: Target, container: string, n: number, pid: number): Promise<Measured> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { host: t.host, port: t.port, name: t.name, controlPath: t.controlPath, container, n, pid }, argv: process.argv.slice(2) });
  return new Promise<Measured>((resolve, reject) => {
    worker.once('message', (m: Measured) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`${t.name}: the measuring worker exited with ${code}`)));
  });
}

interface MeasureJob {
  host: string;
  port: number;
  name: string;
  controlPath: string;
  container: string;
  n: number;
  pid: number;
}

async function measureInWorker(job: MeasureJob): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    parentPort!.postMessage(await measureHere({ name: job.name, host: job.host, port: job.port, controlPath: job.controlPath, agent }, job.container, job.n, job.pid));
  } finally {
    agent.destroy();
  }
}

/** Polls until `probe` says every track is there; returns seconds since `t0`. */
async function waitIndexed(name: string, t0: number, n: number, probe: () => Promise<number>): Promise<number> {
  for (;;) {
    const have = await probe().catch(() => -1);
    if (have === n) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 20 * 60_000) throw new Error(`${name}: not indexed after 20 min (${have}/${n})`);
    await sleep(500);
  }
}

// ---- hifid ----

async function benchHifid(lib: string, n: number): Promise<Figures> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-bench-data-'));
  const t0 = performance.now();
  const d = await TestDaemon.start({ dataDir, args: ['--music-dir', lib, '--log-level', 'info', ...DEFAULT_SERVICES] });
  const u = new URL(d.url);
  const t: Target = { name: 'hifid', host: u.hostname, port: Number(u.port), controlPath: '/upnp/control/cds', agent: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }) };
  let daemon = d;
  try {
    const indexedS = await waitIndexed('hifid', t0, n, async () => (await browse(t, 'm/all', 0, 1)).total);
    const figures = await measure(t, 'm/all', n, d.proc.pid!);
    // A stereo runs for weeks after its first scan: restart on the same data dir, let the start-up
    // reconciliation finish, put the same Browse load on it, and read RSS again.
    await d.stop();
    t.agent.destroy();
    daemon = await TestDaemon.start({ dataDir, port: d.port, args: ['--music-dir', lib, '--log-level', 'info', ...DEFAULT_SERVICES] });
    await daemon.idle(20 * 60_000);
    t.agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const again = await measure(t, 'm/all', n, daemon.proc.pid!);
    return { indexedS, ...figures, restartIdleRssMb: again.idleRssMb, restartRssMb: again.rssMb, restartP50: again.browseP50, restartP99: again.browseP99 };
  } finally {
    t.agent.destroy();
    await daemon.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- MiniDLNA ----

async function benchMiniDlna(lib: string, n: number): Promise<Figures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hifid-bench-minidlna-'));
  const port = 8299;
  mkdirSync(path.join(dir, 'db'));
  mkdirSync(path.join(dir, 'log'));
  const conf = path.join(dir, 'minidlna.conf');
  // Its own port, database, logs and media; only on the test LAN's stereo interface; no inotify
  // (hifid's watcher is not part of its time-to-indexed either); the scan starts at launch.
  writeFileSync(
    conf,
    [
      `port=${port}`,
      `network_interface=${lan.iface}`,
      `media_dir=A,${lib}`,
      `db_dir=${path.join(dir, 'db')}`,
      `log_dir=${path.join(dir, 'log')}`,
      'log_level=general,artwork,database,inotify,scanner,metadata,http,ssdp,tivo=warn',
      'friendly_name=MiniDLNA bench',
      'inotify=no',
      'notify_interval=900',
      'strict_dlna=no',
      '',
    ].join('\n'),
  );
  const t0 = performance.now();
  // -S: stay in the foreground (systemd mode); -R: rebuild the database. Started only here, inside
  // scripts/test-lan.sh's private namespace, never as a service.
  const proc: ChildProcess = spawn(opts.minidlna, ['-S', '-R', '-f', conf, '-P', path.join(dir, 'minidlna.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  const t: Target = { name: 'MiniDLNA', host: lan.stereo, port, controlPath: '/ctl/ContentDir', agent: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }) };
  try {
    // The container ids come from its own Browse: 0 → Music → All Music.
    let allMusic: string | null = null;
    const indexedS = await waitIndexed('MiniDLNA', t0, n, async () => {
      if (proc.exitCode !== null) throw new Error(`minidlnad exited: ${stderr}`);
      if (!allMusic) {
        const musicId = containersOf(await browse(t, '0', 0, 50)).find((c) => c.title === 'Music')?.id;
        if (!musicId) return -1;
        allMusic = containersOf(await browse(t, musicId, 0, 50)).find((c) => c.title === 'All Music')?.id ?? null;
        if (!allMusic) return -1;
      }
      return (await browse(t, allMusic, 0, 1)).total;
    });
    return { indexedS, ...(await measure(t, allMusic!, n, proc.pid!)) };
  } finally {
    t.agent.destroy();
    proc.kill('SIGTERM');
    const stop = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(stop);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- report ----

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

function report(n: number, h: Figures, m: Figures): void {
  const rows: Array<[string, string, string, string]> = [
    ['time until every track is browsable (s)', f1(h.indexedS), f1(m.indexedS), `${f2(h.indexedS / m.indexedS)}× (hifid/MiniDLNA)`],
    [`first ${COLD_PAGES} Browses after indexing: p50 (ms)`, f2(h.coldP50), f2(m.coldP50), `${f1(m.coldP50 / h.coldP50)}× faster`],
    [`first ${COLD_PAGES} Browses after indexing: slowest (ms)`, f2(h.coldMax), f2(m.coldMax), ''],
    [`Browse p50, ${PAGE}-item page at random offset (ms)`, f2(h.browseP50), f2(m.browseP50), `${f1(m.browseP50 / h.browseP50)}× faster`],
    [`Browse p99 (ms)`, f2(h.browseP99), f2(m.browseP99), `${f1(m.browseP99 / h.browseP99)}× faster`],
    [`Browse p50 / p99 after a restart (ms)`, `${f2(h.restartP50 ?? NaN)} / ${f2(h.restartP99 ?? NaN)}`, '', ''],
    [`Browse throughput, concurrency ${CONCURRENCY} (req/s)`, f1(h.throughput), f1(m.throughput), `${f1(h.throughput / m.throughput)}× MiniDLNA`],
    ...h.search.flatMap((s, i): Array<[string, string, string, string]> => [
      [`Search p50 ${s.criteria} (ms)`, f2(s.p50), f2(m.search[i]!.p50), `${f1(m.search[i]!.p50 / s.p50)}× faster`],
      [`  hits (TotalMatches)`, String(s.hits), String(m.search[i]!.hits), ''],
    ]),
    ['steady RSS once indexed, before any load (MB)', f1(h.idleRssMb), f1(m.idleRssMb), `${f2(h.idleRssMb / m.idleRssMb)}× (hifid/MiniDLNA)`],
    ['steady RSS after the first scan and the load (MB)', f1(h.rssMb), f1(m.rssMb), `${f2(h.rssMb / m.rssMb)}× (hifid/MiniDLNA)`],
    ['steady RSS after a restart, before / after the same load (MB)', `${f1(h.restartIdleRssMb ?? NaN)} / ${f1(h.restartRssMb ?? NaN)}`, '', ''],
  ];
  const w = [Math.max(...rows.map((r) => r[0].length)), 10, 10];
  process.stdout.write(`\n== ${n} tracks (${COLD_PAGES} + ${PAGES} sequential pages, ${SECONDS} s at concurrency ${CONCURRENCY}, ${SEARCH_RUNS} runs per search) ==\n`);
  process.stdout.write(`${'metric'.padEnd(w[0]!)}  ${'hifid'.padStart(w[1]!)}  ${'MiniDLNA'.padStart(w[2]!)}  ratio\n`);
  for (const r of rows) process.stdout.write(`${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}  ${r[3]}\n`);
}

async function main(): Promise<void> {
  for (const n of SIZES) {
    const lib = mkdtempSync(path.join(tmpdir(), 'hifid-bench-lib-'));
    try {
      const g0 = performance.now();
      const g = generateLibrary(lib, n);
      process.stdout.write(`generated ${g.tracks} tracks (${g.albums} albums, ${g.artists} artists) in ${f1((performance.now() - g0) / 1000)} s\n`);
      const h = await benchHifid(lib, n);
      process.stdout.write(`hifid done: indexed in ${f1(h.indexedS)} s\n`);
      const m = await benchMiniDlna(lib, n);
      process.stdout.write(`MiniDLNA done: indexed in ${f1(m.indexedS)} s\n`);
      report(n, h, m);
    } finally {
      rmSync(lib, { recursive: true, force: true });
    }
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:browse failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else {
  await measureInWorker(workerData as MeasureJob);
}
