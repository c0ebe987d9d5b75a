// Transcode benchmark (not a test). Runs inside scripts/test-lan.sh:  npm run bench:transcode [-- --runs 5]
// A 60 s FLAC 24/96 is pushed to a daemon in the test LAN (transcode cache off, so every request
// runs ffmpeg), then fetched over HTTP as MP3 320 and as LPCM 16/44.1, each `runs` times:
//   time to first byte, speed (audio seconds / wall seconds of the whole response), ffmpeg CPU
//   seconds (the daemon's reaped-children CPU time from /proc/<pid>/stat, before and after).
// "warm" is the normal case after the first track: a spare ffmpeg was started ahead. "cold" starts
// a fresh ffmpeg (a time seek to 0.001 s always does), as the first track of a session does.
// Goals: time to first byte < 300 ms and ≥ 20× real time. Medians are reported.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TestDaemon } from '../../test/helpers/daemon.js';
import { pushFile } from '../../test/helpers/api.js';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Math.max(1, Number(opts.runs));
const SECONDS = 60;
const TICKS = 100; // USER_HZ: /proc times are in clock ticks, 100 per second on Linux

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** CPU seconds of the daemon's children that have exited and been reaped (cutime + cstime). */
function childCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, so cutime (16) and cstime (17) are at 13 and 14 here.
  return (Number(fields[13]) + Number(fields[14])) / TICKS;
}

/** Waits until the daemon runs no transcode (its ffmpeg has exited and been reaped). */
async function settle(base: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await fetch(`${base}/api/v1/transcodes`);
    const s = (await r.json()) as { active: unknown[] };
    if (s.active.length === 0) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error('a transcode did not finish');
}

function fetchTimed(url: string, headers: Record<string, string> = {}): Promise<{ ttfbMs: number; totalMs: number; bytes: number; status: number }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    let ttfb = -1;
    let bytes = 0;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, agent: false, headers: { 'User-Agent': 'UPnP/1.0 DLNADOC/1.50 hifid-bench', ...headers } }, (res) => {
      res.on('data', (c: Buffer) => {
        if (ttfb < 0) ttfb = ms();
        bytes += c.length;
      });
      res.on('end', () => resolve({ ttfbMs: ttfb, totalMs: ms(), bytes, status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Wall time of `ffmpeg -version`: the part of a cold start no option can shorten. */
function ffmpegStartMs(): number {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore' });
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(xs);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hifid-bench-transcode-'));
  const flac = path.join(dir, 'hires.flac');
  // Music-like content for the encoders: a chord with vibrato, a noise floor, 24-bit 96 kHz stereo.
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `aevalsrc=0.2*sin(2*PI*220*t+2*sin(2*PI*5*t))+0.12*sin(2*PI*277.2*t)+0.1*sin(2*PI*329.6*t)+0.05*sin(2*PI*3520*t)+0.003*(2*random(0)-1)|0.2*sin(2*PI*220.5*t)+0.12*sin(2*PI*330*t)+0.01*sin(2*PI*7040*t)+0.003*(2*random(1)-1):s=96000:d=${SECONDS}`, '-c:a', 'flac', '-sample_fmt', 's32', '-metadata', 'title=Bench', flac]);
  const d = await TestDaemon.start({ args: ['--transcode-cache-mb', '0'] });
  try {
    await d.idle();
    const pushed = await pushFile(d.url, 'hires.flac', readFileSync(flac));
    if (pushed.status !== 201) throw new Error(`push failed: ${JSON.stringify(pushed.body)}`);
    const id = (pushed.body.track as { id: string }).id;
    const pid = d.proc.pid!;
    const ffVersion = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
    const cpus = (await import('node:os')).cpus();
    console.log(`# hifid transcode benchmark: ${SECONDS} s FLAC 24/96 stereo (${(readFileSync(flac).length / 1048576).toFixed(1)} MB), ${RUNS} runs each, medians`);
    console.log(`# ${ffVersion}; ${cpus.length} × ${cpus[0]?.model ?? '?'}; over HTTP in the test LAN (${d.url}), transcode cache off`);
    console.log('');
    console.log('target          path   TTFB ms   wall s   speed ×RT   ffmpeg CPU s   CPU ×RT   bytes');
    const rows: Array<{ target: string; ttfb: number; speed: number }> = [];
    for (const [target, file] of [['mp3-320', 'mp3-320.mp3'], ['lpcm-16-44100', 'lpcm-16-44100.l16']] as const) {
      for (const mode of ['cold', 'warm'] as const) {
        const ttfb: number[] = [];
        const wall: number[] = [];
        const cpu: number[] = [];
        let bytes = 0;
        const headers: Record<string, string> = mode === 'cold' ? { 'TimeSeekRange.dlna.org': 'npt=0.001-' } : {};
        // One request first, not counted: page cache, and (warm) a spare for the runs to start on.
        await fetchTimed(`${d.url}/media/${id}/${file}`, headers);
        await settle(d.url);
        for (let i = 0; i < RUNS; i++) {
          const before = childCpuSeconds(pid);
          const r = await fetchTimed(`${d.url}/media/${id}/${file}`, headers);
          if (r.status !== 200) throw new Error(`${target}: HTTP ${r.status}`);
          await settle(d.url);
          cpu.push(childCpuSeconds(pid) - before);
          ttfb.push(r.ttfbMs);
          wall.push(r.totalMs / 1000);
          bytes = r.bytes;
        }
        const w = median(wall);
        const c = median(cpu);
        rows.push({ target: `${target} (${mode})`, ttfb: median(ttfb), speed: SECONDS / w });
        console.log(`${target.padEnd(14)}  ${mode}  ${median(ttfb).toFixed(0).padStart(7)} ${w.toFixed(2).padStart(8)} ${(SECONDS / w).toFixed(1).padStart(11)} ${c.toFixed(2).padStart(14)} ${(SECONDS / c).toFixed(1).padStart(9)}   ${bytes}`);
      }
    }
    const idle = ffmpegStartMs();
    console.log('');
    console.log(`ffmpeg start-up alone (ffmpeg -version, median of 5): ${idle.toFixed(0)} ms; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log('');
    const ok = rows.every((r) => r.ttfb < 300 && r.speed >= 20);
    console.log(`goals (TTFB < 300 ms, ≥ 20× real time): ${ok ? 'met' : 'NOT met'}${ok ? '' : ` — ${rows.filter((r) => !(r.ttfb < 300 && r.speed >= 20)).map((r) => r.target).join(', ')}`}`);
  } finally {
    await d.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
