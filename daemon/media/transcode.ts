// ffmpeg behind one interface: transcode a file to a target as a stream (first byte fast, killed
// when the reader goes away), write an export file with tags and cover, probe, isAvailable. At
// most N ffmpeg processes run at once; the rest wait briefly, then are refused (TranscodeBusyError).
//
// Spares: Debian's ffmpeg links 215 shared libraries and needs 100–400 ms just to start, more than
// the whole first-byte budget. So after each transcode one ffmpeg with the same output options is
// started ahead and left waiting for its input: it reads a one-line concat list from stdin
// (`-f concat -i pipe:0`), so the next track (same target, same format) only has to name its file.
// The concat demuxer opens that file itself, seekable, so MP4 works too. At most MAX_SPARES wait,
// each for SPARE_IDLE_MS; time seeks (-ss) always start a fresh ffmpeg.
import type { ChildProcess } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { Ffmpeg, ProbeInfo } from './ffmpeg.js';
import { codecArgs, exportFormatOf, outputOf, streamMuxArgs, wavHeader, type OutputFormat, type SourceAudio, type TargetId } from './targets.js';

/** Every transcode slot is taken and none freed up in time: answer 503 with Retry-After. */
export class TranscodeBusyError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('too many transcodes at once');
    this.name = 'TranscodeBusyError';
  }
}

/** ffmpeg ended with an error (bad input, killed, missing encoder). */
export class TranscodeFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscodeFailedError';
  }
}

export interface TranscodeSource extends SourceAudio {
  file: string;
  durationMs: number;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Seconds into the source to start from (DLNA time seek). */
  startSeconds?: number;
  /** Seconds into the source to stop at; null = the end. */
  endSeconds?: number | null;
  /** For WAV outputs: the data size to write in the header; null = unknown (0xFFFFFFFF). */
  wavDataBytes?: number | null;
}

export interface ExportOptions {
  signal?: AbortSignal;
  /** A cover image to embed when the source has none of its own (a music folder's cover.jpg). */
  coverFile?: string | null;
}

export interface TranscoderOptions {
  maxConcurrent: number;
  /** How long a request waits for a free slot before it is refused. */
  waitMs?: number;
}

/** ffmpeg gets this long after SIGTERM (and its stdout closed) before SIGKILL. */
const KILL_GRACE_MS = 500;
/** Idle ffmpegs kept ready (about 9 MB private memory each). */
const MAX_SPARES = 2;
const SPARE_IDLE_MS = 10 * 60 * 1000;

/** What a running or waiting ffmpeg is for (diagnostics: /api/v1/transcodes). */
export interface TranscodeInfo {
  pid: number | null;
  target: TargetId;
  /** ms since it started working (active) or since it was started (spare) */
  ageMs: number;
  /** Started ahead of time (a spare) and then given this job. */
  warm?: boolean;
}

interface Spare {
  key: string;
  target: TargetId;
  child: ChildProcess;
  since: number;
  timer: NodeJS.Timeout;
}

/** ffconcat quoting: inside '…' everything is literal, so a ' is written '\''. A newline cannot be. */
function concatList(file: string): string | null {
  if (/[\r\n]/.test(file)) return null;
  return `ffconcat version 1.0\nfile 'file:${file.replace(/'/g, "'\\''")}'\n`;
}

/** A counting semaphore whose waiters give up after a deadline or on abort. */
class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly max: number) {}

  get inUse(): number {
    return this.used;
  }

  async acquire(waitMs: number, signal?: AbortSignal): Promise<() => void> {
    if (this.used >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const drop = (err: Error) => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        };
        const onAbort = () => drop(new TranscodeFailedError('aborted while waiting for a transcode slot'));
        const timer = setTimeout(() => drop(new TranscodeBusyError(Math.max(1, Math.ceil(waitMs / 1000)))), waitMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    } else {
      this.used++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the slot straight to the next waiter (used stays the same) or give it back.
      const next = this.waiters.shift();
      if (next) next();
      else this.used--;
    };
  }
}

export class Transcoder {
  private readonly slots: Slots;
  private readonly running = new Map<ChildProcess, { target: TargetId; since: number; warm: boolean }>();
  private readonly spares = new Map<string, Spare>();
  private resampler = 'swr';
  private readonly waitMs: number;
  private stopped = false;

  constructor(
    private readonly ffmpeg: Ffmpeg | null,
    opts: TranscoderOptions,
    private readonly log: Logger,
  ) {
    this.slots = new Slots(Math.max(1, opts.maxConcurrent));
    this.waitMs = opts.waitMs ?? 3000;
  }

  /** Whether transcoding is possible at all (ffmpeg was found). */
  isAvailable(): boolean {
    return this.ffmpeg !== null;
  }

  get activeCount(): number {
    return this.running.size;
  }

  /** Picks the better resampler when this ffmpeg build has it (Debian's does; some static builds do not). */
  async start(): Promise<void> {
    if (!this.ffmpeg) return;
    const r = await this.ffmpeg.run(['-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo', '-t', '0.05', '-af', 'aresample=44100:resampler=soxr', '-f', 'null', '-'], { timeoutMs: 10_000 }).catch(() => null);
    if (r?.code === 0) this.resampler = 'soxr';
    this.log.debug({ resampler: this.resampler }, 'transcoder ready');
  }

  /** What runs now and what waits ready. */
  snapshot(): { active: TranscodeInfo[]; spares: TranscodeInfo[] } {
    const now = Date.now();
    return {
      active: [...this.running].map(([c, r]) => ({ pid: c.pid ?? null, target: r.target, ageMs: now - r.since, warm: r.warm })),
      spares: [...this.spares.values()].map((s) => ({ pid: s.child.pid ?? null, target: s.target, ageMs: now - s.since })),
    };
  }

  /** Kills every ffmpeg still running or waiting (daemon shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.running.keys(), ...[...this.spares.values()].map((s) => s.child)];
    for (const s of this.spares.values()) clearTimeout(s.timer);
    this.spares.clear();
    await Promise.all(all.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('close', () => resolve());
      this.kill(c);
    })));
  }

  probe(file: string, signal?: AbortSignal): Promise<ProbeInfo | null> {
    return this.ffmpeg ? this.ffmpeg.probe(file, signal) : Promise.resolve(null);
  }

  /**
   * Starts ffmpeg and returns its output as a stream, as ffmpeg produces it. The stream ends when
   * ffmpeg exits cleanly and errors when it fails; destroying it (the client went away) kills ffmpeg.
   * Throws TranscodeBusyError when no slot frees up in time.
   */
  async transcode(src: TranscodeSource, target: TargetId, opts: StreamOptions = {}): Promise<Readable> {
    const ffmpeg = this.requireFfmpeg();
    const out = outputOf(target, src);
    const release = await this.slots.acquire(this.waitMs, opts.signal);
    const start = opts.startSeconds && opts.startSeconds > 0 ? opts.startSeconds : 0;
    const end = opts.endSeconds ?? null;
    const outArgs = ['-map', '0:a:0', '-vn', '-sn', '-dn', '-map_metadata', '-1', '-fflags', '+bitexact'];
    outArgs.push(...codecArgs(out, { resampler: this.resampler }), ...streamMuxArgs(out));
    // Hand every packet to the pipe at once instead of filling a 32 KB buffer first: fast first byte.
    outArgs.push('-flush_packets', '1', 'pipe:1');

    const list = start === 0 && end === null ? concatList(src.file) : null;
    let child: ChildProcess | null = list ? this.takeSpare(outArgs) : null;
    const warm = child !== null;
    try {
      if (child) {
        child.stdin!.end(list);
      } else {
        const args = ['-v', 'error'];
        // Input seeking (before -i): ffmpeg jumps near the point, then decodes and drops up to it exactly.
        if (start > 0) args.push('-ss', start.toFixed(3));
        args.push('-i', src.file);
        if (end !== null) args.push('-t', (end - start).toFixed(3));
        child = ffmpeg.spawn([...args, ...outArgs]);
      }
    } catch (err) {
      release();
      throw err;
    }
    this.track(child, release, target, warm);
    this.log.debug({ target, warm, startSeconds: start, pid: child.pid }, 'transcode started');
    // The next track is likely the same kind (an album): have an ffmpeg ready for it.
    if (list) setImmediate(() => this.spawnSpare(outArgs, target));
    return this.outputStream(child, out, opts);
  }

  private spawnSpare(outArgs: string[], target: TargetId): void {
    if (this.stopped || !this.ffmpeg) return;
    const key = outArgs.join('\u0000');
    if (this.spares.has(key)) return;
    if (this.spares.size >= MAX_SPARES) {
      const oldest = this.spares.values().next().value!;
      this.dropSpare(oldest);
    }
    let child: ChildProcess;
    try {
      child = this.ffmpeg.spawn(['-v', 'error', '-protocol_whitelist', 'file,pipe', '-f', 'concat', '-safe', '0', '-i', 'pipe:0', ...outArgs], 0, true);
    } catch {
      return;
    }
    child.stdin!.on('error', () => undefined); // it may die first; the write then fails harmlessly
    child.stdout!.on('data', () => undefined); // never expected while idle; must not block if it comes
    const spare: Spare = { key, target, child, since: Date.now(), timer: setTimeout(() => this.dropSpare(spare), SPARE_IDLE_MS) };
    spare.timer.unref();
    this.spares.set(key, spare);
    const forget = () => {
      clearTimeout(spare.timer);
      if (this.spares.get(key) === spare) this.spares.delete(key);
    };
    child.once('close', forget);
    child.once('error', forget);
  }

  /** A waiting ffmpeg with exactly these output options, taken out of the pool; null if none. */
  private takeSpare(outArgs: string[]): ChildProcess | null {
    const key = outArgs.join('\u0000');
    const s = this.spares.get(key);
    if (!s) return null;
    this.spares.delete(key);
    clearTimeout(s.timer);
    if (s.child.exitCode !== null || s.child.signalCode !== null || !s.child.stdin?.writable) return null;
    s.child.stdout!.removeAllListeners('data');
    return s.child;
  }

  private dropSpare(s: Spare): void {
    clearTimeout(s.timer);
    if (this.spares.get(s.key) === s) this.spares.delete(s.key);
    s.child.stdin?.destroy();
    this.kill(s.child);
  }

  /**
   * Writes `dest` in the target's export container with the source's tags and cover (where the
   * container can hold one). Resolves when ffmpeg has finished; rejects (and kills it) on abort.
   */
  async exportFile(src: TranscodeSource, target: TargetId, dest: string, opts: ExportOptions = {}): Promise<void> {
    const ffmpeg = this.requireFfmpeg();
    const out = outputOf(target, src);
    const fmt = exportFormatOf(target);
    const release = await this.slots.acquire(this.waitMs, opts.signal);
    const args = ['-v', 'error', '-i', src.file];
    if (fmt.cover && opts.coverFile) args.push('-i', opts.coverFile);
    args.push('-map', '0:a:0');
    if (fmt.cover) {
      // Embedded art is an attached-picture video stream to ffmpeg; `?` makes it optional.
      args.push('-map', opts.coverFile ? '1:v:0' : '0:v?', '-c:v', 'copy', '-disposition:v', 'attached_pic');
    } else {
      args.push('-vn');
    }
    args.push('-map_metadata', '0', ...codecArgs(out, { resampler: this.resampler }), '-f', fmt.muxer);
    // ID3v2.3: what older Walkmans and car stereos read; v2.4 frames are skipped by some of them.
    if (fmt.muxer === 'mp3') args.push('-id3v2_version', '3');
    if (fmt.muxer === 'ipod') args.push('-movflags', '+faststart');
    args.push('-y', dest);

    let child: ChildProcess;
    try {
      child = ffmpeg.spawn(args);
    } catch (err) {
      release();
      throw err;
    }
    this.track(child, release, target, false);
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString();
    });
    const onAbort = () => this.kill(child);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (c) => resolve(c));
      });
      if (opts.signal?.aborted) throw new TranscodeFailedError('export aborted');
      if (code !== 0) throw new TranscodeFailedError(`ffmpeg export failed (${code}): ${stderr.trim().split('\n')[0] ?? ''}`);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private requireFfmpeg(): Ffmpeg {
    if (!this.ffmpeg) throw new TranscodeFailedError('ffmpeg is not available');
    return this.ffmpeg;
  }

  private track(child: ChildProcess, release: () => void, target: TargetId, warm: boolean): void {
    this.running.set(child, { target, since: Date.now(), warm });
    const done = () => {
      this.running.delete(child);
      release();
    };
    child.once('close', done);
    child.once('error', done);
  }

  /** Closes our end of its stdout (so a blocked write fails at once), SIGTERM, then SIGKILL. */
  private kill(child: ChildProcess): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdout?.destroy();
    child.kill('SIGTERM');
    const t = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, KILL_GRACE_MS);
    child.once('close', () => clearTimeout(t));
  }

  private outputStream(child: ChildProcess, out: OutputFormat, opts: StreamOptions): Readable {
    // A small buffer: the renderer's reading pace should reach ffmpeg, not pile up in our memory.
    const stream = new PassThrough({ highWaterMark: 64 * 1024 });
    if (out.headerBytes > 0) stream.write(wavHeader(out, opts.wavDataBytes ?? null));
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString();
    });
    const stdout = child.stdout!;
    stdout.on('data', (chunk: Buffer) => {
      if (stream.destroyed) return;
      if (!stream.write(chunk)) stdout.pause();
    });
    stream.on('drain', () => stdout.resume());
    let exited = false;
    child.once('error', (err) => {
      exited = true;
      stream.destroy(new TranscodeFailedError(`ffmpeg failed to start: ${err.message}`));
    });
    child.once('close', (code, sig) => {
      exited = true;
      if (stream.destroyed) return;
      if (code === 0) stream.end();
      else {
        this.log.warn({ code, signal: sig, stderr: stderr.trim().split('\n').slice(0, 3) }, 'ffmpeg transcode failed');
        stream.destroy(new TranscodeFailedError(`ffmpeg exited with ${code ?? sig}`));
      }
    });
    // Whoever reads us went away (client disconnect, koa destroys the body): ffmpeg must not linger.
    stream.once('close', () => {
      if (!exited) this.kill(child);
    });
    const onAbort = () => stream.destroy();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
    return stream;
  }
}
