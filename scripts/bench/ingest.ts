// Ingest benchmark (not a test). Runs inside scripts/test-lan.sh:  npm run bench:ingest [-- --quick] [-- --only big|many|catalogue] [-- --runs N]
//  1. one 300 MB push vs `cp` (and `cp`+sync) of the same file to the same disk, and vs a bare Node
//     receiver doing only what a durable push must (HTTP, SHA-256, write, fsync): throughput, ratios, RSS growth
//  2. 1000 pushes of 3 MB tracks (concurrency 4): tracks/s, catalogue document writes, journal fsyncs
//  3. a 50 000-track catalogue (a generated --music-dir library): time to indexed, start-up time, steady RSS
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MEMORY_SETTLES_MS } from '../../daemon/memory.js';
import { DEFAULT_SERVICES, TestDaemon } from '../../test/helpers/daemon.js';
import { testLan } from '../../test/helpers/lan.js';
import { makeWav } from '../../test/helpers/fixtures.js';
import { generateLibrary } from '../gen-library.js';

const { values: opts } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, runs: { type: 'string', default: '3' } } });
const QUICK = opts.quick;
const RUNS = Math.max(1, Number(opts.runs) || 3);
const MB = 1024 * 1024;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number, d = 1) => n.toFixed(d);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) a process has used so far; the machine has 2 cores for bench, client and daemon. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Samples a process's RSS every 10 ms until stopped; returns the peak. */
function rssSampler(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 10);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, rssMb(pid));
    },
  };
}

/** A valid PCM WAV of about `bytes` bytes, written in 1 MB steps (never held in memory whole). */
function writeBigWav(file: string, bytes: number, seed: number): void {
  const rate = 44100;
  const channels = 2;
  const dataBytes = Math.floor((bytes - 44) / 4) * 4;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  const fd = openSync(file, 'w');
  writeSync(fd, h);
  const chunk = Buffer.alloc(MB);
  for (let i = 0; i < chunk.length; i += 2) chunk.writeInt16LE(Math.round(Math.sin((i + seed) / 30) * 6000), i);
  for (let left = dataBytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  closeSync(fd);
}

function pushFileRaw(url: string, file: string): Promise<{ status: number; body: { track?: { id: string } } }> {
  const u = new URL(`${url}/api/v1/tracks`);
  const size = statSync(file).size;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'Content-Type': 'audio/wav', 'Content-Length': size, 'X-Filename': path.basename(file) } }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { track?: { id: string } } }));
    });
    req.on('error', reject);
    // A plain streamed body, as a phone sends it; 1 MB reads keep this client's CPU share small
    // (it shares the machine with the daemon here; a phone does not).
    createReadStream(file, { highWaterMark: MB }).pipe(req);
  });
}

function pushBuffer(url: string, body: Buffer, name: string): Promise<number> {
  return fetch(`${url}/api/v1/tracks`, { method: 'POST', body, headers: { 'Content-Type': 'audio/wav', 'X-Filename': name } }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });
}

function timeCommand(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function status(url: string): Promise<{ tracks: number; catalogWrites: { documentWrites: number; journalSyncs: number } }> {
  return (await (await fetch(`${url}/api/v1/status`)).json()) as { tracks: number; catalogWrites: { documentWrites: number; journalSyncs: number } };
}

/**
 * The floor for a durable push here: a bare Node HTTP server, in its own process as the daemon is,
 * that streams the body to a file while hashing it, fsyncs the file and answers. No tags, no decode
 * check, no catalogue: what is left of a push's time once every hifid feature is taken away.
 */
const BARE_RECEIVER = `
import http from 'node:http';
import { createHash } from 'node:crypto';
import { createWriteStream, openSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
const [host, file] = process.argv.slice(1);
const server = http.createServer(async (req, res) => {
  const hash = createHash('sha256');
  await pipeline(req, new Transform({ transform(c, _e, done) { hash.update(c); done(null, c); } }), createWriteStream(file));
  const fd = openSync(file, 'r+');
  fsyncSync(fd);
  closeSync(fd);
  rmSync(file);
  res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ sha256: hash.digest('hex') }));
});
server.listen(0, host, () => console.log(server.address().port));
`;

async function startBareReceiver(file: string): Promise<{ url: string; stop(): void }> {
  const host = testLan().stereo;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', BARE_RECEIVER, host, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
    proc.once('exit', (code) => reject(new Error(`bare receiver exited with ${code}`)));
  });
  return { url: `http://${host}:${port}`, stop: () => proc.kill() };
}

async function bigPush(work: string): Promise<void> {
  const size = (QUICK ? 60 : 300) * MB;
  const runs = RUNS;
  const src = path.join(work, 'big.wav');
  writeBigWav(src, size, 1);
  const cp: number[] = [];
  const cpSync: number[] = [];
  const push: number[] = [];
  const bare: number[] = [];
  const growth: number[] = [];
  const daemonCpu: number[] = [];
  const clientCpu: number[] = [];
  // Debug level for the daemon's own "push timing" line: where each push's time went.
  const d = await TestDaemon.start({ dataDir: path.join(work, 'data-big'), args: ['--log-level', 'debug'] });
  const receiver = await startBareReceiver(path.join(work, 'bare.wav'));
  try {
    for (let i = 0; i < runs; i++) {
      execFileSync('sync');
      const tb = process.hrtime.bigint();
      if ((await pushFileRaw(receiver.url, src)).status !== 201) throw new Error('the bare receiver failed');
      bare.push(Number(process.hrtime.bigint() - tb) / 1e9);
      execFileSync('sync');
      cp.push(timeCommand('cp', [src, path.join(work, 'copy.wav')]));
      rmSync(path.join(work, 'copy.wav'));
      execFileSync('sync');
      cpSync.push(timeCommand('sh', ['-c', `cp "${src}" "${work}/copy.wav" && sync "${work}/copy.wav"`]));
      rmSync(path.join(work, 'copy.wav'));
      execFileSync('sync');
      const base = rssMb(d.proc.pid!);
      const sampler = rssSampler(d.proc.pid!);
      const cpu0 = cpuSeconds(d.proc.pid!);
      const own0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const r = await pushFileRaw(d.url, src);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      daemonCpu.push(cpuSeconds(d.proc.pid!) - cpu0);
      const own = process.cpuUsage(own0);
      clientCpu.push((own.user + own.system) / 1e6);
      const peak = sampler.stop();
      if (r.status !== 201) throw new Error(`push answered ${r.status}`);
      push.push(secs);
      growth.push(peak - base);
      await fetch(`${d.url}/api/v1/tracks/${r.body.track!.id}`, { method: 'DELETE' });
    }
  } finally {
    receiver.stop();
    await d.stop();
  }
  const phases = d.logs.filter((l) => l.msg === 'push timing') as Array<Record<string, number>>;
  const sizeMb = size / MB;
  console.log(`\n## One ${sizeMb} MB push (median of ${runs})`);
  console.log(`cp:            ${fmt(median(cp), 2)} s  ${fmt(sizeMb / median(cp))} MB/s`);
  console.log(`cp + sync:     ${fmt(median(cpSync), 2)} s  ${fmt(sizeMb / median(cpSync))} MB/s`);
  console.log(`hifid push:    ${fmt(median(push), 2)} s  ${fmt(sizeMb / median(push))} MB/s  (HTTP over the test LAN, SHA-256, fsync, tags, decode check)`);
  console.log(`ratio vs cp:        ${fmt(median(cp) / median(push), 2)}   (goal ≥ 0.8)`);
  console.log(`ratio vs cp + sync: ${fmt(median(cpSync) / median(push), 2)}`);
  console.log(`bare Node receiver: ${fmt(median(bare), 2)} s  ${fmt(sizeMb / median(bare))} MB/s  (HTTP, SHA-256, write, fsync; nothing else)`);
  console.log(`ratio vs bare receiver: ${fmt(median(bare) / median(push), 2)}`);
  console.log(`daemon RSS growth during the push: ${fmt(median(growth))} MB (max ${fmt(Math.max(...growth))} MB; goal < 50 MB)`);
  const phase = (k: string) => fmt(median(phases.map((p) => p[k] ?? NaN)) / 1000, 2);
  console.log(`in the daemon (medians): receive+hash+write ${phase('receiveMs')} s, tags+decode check ${phase('inspectMs')} s, final fsync ${phase('syncMs')} s (both after receive, in parallel), place+catalogue ${phase('commitMs')} s`);
  console.log(`CPU per push (medians): daemon ${fmt(median(daemonCpu), 2)} s, bench client ${fmt(median(clientCpu), 2)} s (includes its RSS sampler)`);
  console.log(`runs (push s): ${push.map((x) => fmt(x, 2)).join(', ')}; cp+sync: ${cpSync.map((x) => fmt(x, 2)).join(', ')}; bare receiver: ${bare.map((x) => fmt(x, 2)).join(', ')}`);
  rmSync(src);
}

async function manyPushes(work: string): Promise<void> {
  const count = QUICK ? 200 : 1000;
  const concurrency = 4;
  // ~3 MB: 34 s of 44.1 kHz mono 16-bit PCM; each push differs in its samples, so none deduplicates.
  const base = makeWav(0, { seconds: 34, rate: 44100 });
  const d = await TestDaemon.start({ dataDir: path.join(work, 'data-many'), args: ['--log-level', 'info'] });
  try {
    const before = await status(d.url);
    let next = 0;
    const t0 = process.hrtime.bigint();
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++;
          const body = Buffer.from(base);
          body.writeUInt32LE(i + 1, body.length - 8);
          statuses.push(await pushBuffer(d.url, body, `t${i}.wav`));
        }
      }),
    );
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await new Promise((r) => setTimeout(r, 1500)); // let the last coalesced write happen
    const after = await status(d.url);
    const ok = statuses.filter((s) => s === 201).length;
    console.log(`\n## ${count} pushes of ${fmt(base.length / MB, 2)} MB (concurrency ${concurrency})`);
    console.log(`stored: ${ok}/${count} in ${fmt(secs, 1)} s → ${fmt(ok / secs)} tracks/s, ${fmt((ok * base.length) / MB / secs)} MB/s`);
    console.log(`catalogue document writes: ${after.catalogWrites.documentWrites - before.catalogWrites.documentWrites} (${fmt((after.catalogWrites.documentWrites - before.catalogWrites.documentWrites) / secs, 2)}/s); journal fsyncs (group commits): ${after.catalogWrites.journalSyncs - before.catalogWrites.journalSyncs}`);
  } finally {
    await d.stop();
  }
}

async function bigCatalogue(work: string): Promise<void> {
  const tracks = QUICK ? 10_000 : 50_000;
  const lib = path.join(work, 'library');
  const t0 = Date.now();
  generateLibrary(lib, tracks);
  console.log(`\n## ${tracks}-track catalogue (generated MP3 library in ${Date.now() - t0} ms)`);
  const dataDir = path.join(work, 'data-50k');
  const first = Date.now();
  let d = await TestDaemon.start({ dataDir, args: ['--music-dir', lib, '--log-level', 'info', ...DEFAULT_SERVICES] });
  await d.idle(600_000);
  const indexed = (Date.now() - first) / 1000;
  const s = await status(d.url);
  console.log(`first start, time until every track is indexed: ${fmt(indexed, 1)} s (${s.tracks} tracks, ${fmt(s.tracks / indexed, 0)} tracks/s)`);
  await d.stop();
  const starts: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    d = await TestDaemon.start({ dataDir, args: ['--music-dir', lib, '--log-level', 'info', ...DEFAULT_SERVICES] });
    starts.push(Number(process.hrtime.bigint() - t) / 1e6);
    await d.idle(600_000);
    await new Promise((r) => setTimeout(r, MEMORY_SETTLES_MS));
    rss.push(rssMb(d.proc.pid!));
    await d.stop();
  }
  console.log(`start-up to listening with ${tracks} tracks: median ${fmt(median(starts), 0)} ms (runs: ${starts.map((x) => fmt(x, 0)).join(', ')}; goal < 1500 ms)`);
  console.log(`steady RSS after the start-up scan: median ${fmt(median(rss))} MB (goal ≤ 100 MB)`);
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(process.env.HIFID_BENCH_DIR ?? tmpdir(), 'hifid-bench-'));
  console.log(`# hifid ingest benchmark${QUICK ? ' (quick)' : ''} — ${new Date().toISOString()}, node ${process.version}, work dir ${work}`);
  try {
    if (!opts.only || opts.only === 'big') await bigPush(work);
    if (!opts.only || opts.only === 'many') await manyPushes(work);
    if (!opts.only || opts.only === 'catalogue') await bigCatalogue(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(process.stdout.fd, '');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
