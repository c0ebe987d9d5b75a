// The one place that finds and spawns ffmpeg. Order: config/HIFID_FFMPEG, ffmpeg-static, PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from '../log.js';

export interface FfmpegLocation {
  path: string;
  source: 'config' | 'ffmpeg-static' | 'PATH';
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fromStaticPackage(): string | null {
  try {
    // ffmpeg-static is optional: its install-time download fails offline, leaving no package or no binary.
    const p = createRequire(import.meta.url)('ffmpeg-static') as string | null;
    return p && executable(p) ? p : null;
  } catch {
    return null;
  }
}

function fromPath(env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, 'ffmpeg');
    if (executable(p)) return p;
  }
  return null;
}

/** Finds ffmpeg; `configured` is the config value (already merged with HIFID_FFMPEG). */
export function locateFfmpeg(configured: string | null, env: NodeJS.ProcessEnv = process.env): FfmpegLocation | null {
  if (configured) return executable(configured) ? { path: configured, source: 'config' } : null;
  const s = fromStaticPackage();
  if (s) return { path: s, source: 'ffmpeg-static' };
  const p = fromPath(env);
  return p ? { path: p, source: 'PATH' } : null;
}

/** ffprobe beside the ffmpeg in use (a distribution or static build ships both), else on PATH. */
export function locateFfprobe(ffmpegPath: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const beside = path.join(path.dirname(ffmpegPath), 'ffprobe');
  if (executable(beside)) return beside;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, 'ffprobe'))) return path.join(dir, 'ffprobe');
  }
  return null;
}

/** What ffprobe says about a file's first audio stream. */
export interface ProbeInfo {
  formatName: string;
  codec: string;
  sampleRate: number | null;
  channels: number | null;
  bitsPerSample: number | null;
  durationSeconds: number | null;
  tags: Record<string, string>;
  hasCover: boolean;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Kill ffmpeg if it runs longer than this. */
  timeoutMs?: number;
  /** Extra output pipes after stdout/stderr (fd 3, 4…), each collected into a byte count. */
  extraPipes?: number;
}

export interface RunResult {
  code: number | null;
  stderr: string;
  /** Bytes written to stdout, then to each extra pipe in order. */
  outputBytes: number[];
}

export class Ffmpeg {
  constructor(
    readonly location: FfmpegLocation,
    private readonly log: Logger,
  ) {}

  /**
   * Spawns ffmpeg with `-nostdin -hide_banner` and the given args; the caller reads stdout. With
   * `stdinPipe` the caller may feed an input through stdin (`-i pipe:0`); -nostdin only turns off
   * ffmpeg's keyboard commands.
   */
  spawn(args: readonly string[], extraPipes = 0, stdinPipe = false): ChildProcess {
    const stdio: Array<'ignore' | 'pipe'> = [stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe', ...Array<'pipe'>(extraPipes).fill('pipe')];
    const child = spawn(this.location.path, ['-nostdin', '-hide_banner', ...args], { stdio });
    child.on('error', (err) => this.log.warn({ err: err.message }, 'ffmpeg failed to start'));
    return child;
  }

  /** ffprobe's view of a file, or null when there is no ffprobe or it cannot read the file. */
  async probe(file: string, signal?: AbortSignal): Promise<ProbeInfo | null> {
    const ffprobe = locateFfprobe(this.location.path);
    if (!ffprobe) return null;
    const child = spawn(ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { stdio: ['ignore', 'pipe', 'ignore'], signal });
    let text = '';
    child.stdout.on('data', (b: Buffer) => {
      if (text.length < 1 << 20) text += b.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(null));
      child.on('close', resolve);
    });
    if (code !== 0) return null;
    type Stream = { codec_type?: string; codec_name?: string; sample_rate?: string; channels?: number; bits_per_raw_sample?: string; bits_per_sample?: number; disposition?: { attached_pic?: number } };
    let parsed: { streams?: Stream[]; format?: { format_name?: string; duration?: string; tags?: Record<string, string> } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      return null;
    }
    const streams = parsed.streams ?? [];
    const a = streams.find((s) => s.codec_type === 'audio');
    if (!a) return null;
    const num = (v: string | number | undefined) => (v !== undefined && Number(v) > 0 ? Number(v) : null);
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.format?.tags ?? {})) tags[k.toLowerCase()] = v;
    return {
      formatName: parsed.format?.format_name ?? '',
      codec: a.codec_name ?? '',
      sampleRate: num(a.sample_rate),
      channels: num(a.channels),
      bitsPerSample: num(a.bits_per_raw_sample) ?? num(a.bits_per_sample),
      durationSeconds: num(parsed.format?.duration),
      tags,
      hasCover: streams.some((s) => s.codec_type === 'video' && s.disposition?.attached_pic === 1),
    };
  }

  /** Runs ffmpeg to completion, counting output bytes (not keeping them) and keeping stderr (bounded). */
  run(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const extra = opts.extraPipes ?? 0;
    const child = this.spawn(args, extra);
    const outputBytes = Array<number>(extra + 1).fill(0);
    const pipes = [child.stdio[1], ...child.stdio.slice(3)];
    pipes.forEach((p, i) => p?.on('data', (b: Buffer) => (outputBytes[i]! += b.length)));
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      if (stderr.length < 8192) stderr += b.toString();
    });
    return new Promise((resolve, reject) => {
      const kill = () => child.kill('SIGKILL');
      const timer = opts.timeoutMs ? setTimeout(kill, opts.timeoutMs) : null;
      opts.signal?.addEventListener('abort', kill, { once: true });
      child.on('error', (err) => {
        if (timer) clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', kill);
        resolve({ code, stderr, outputBytes });
      });
    });
  }
}
