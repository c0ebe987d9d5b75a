// Complete transcodes kept on disk under <data-dir>/state/transcode-cache/, bounded in size, least
// recently used evicted first. A file appears under its final name only once it is complete (temp
// file, fsync, rename), so whatever is in the cache can be served with Range and an exact length.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { TargetId } from './targets.js';

/** Bump when the bytes a target produces change, so old cache entries are not served. */
const FORMAT_VERSION = 1;

/** What identifies the source file: its id plus what changes when its content changes. */
export interface CacheSource {
  id: string;
  size: number;
  mtimeMs: number;
  sha256: string | null;
}

/** 'stream' = what /media/… sends (bare, no tags); 'export' = a download with tags and cover. */
export type CacheVariant = 'stream' | 'export';

/** The cache file name of one transcode: readable prefix, then a hash of everything that matters. */
export function cacheKey(src: CacheSource, target: TargetId, variant: CacheVariant, ext: string): string {
  const h = createHash('sha256').update(JSON.stringify([FORMAT_VERSION, src.id, src.size, Math.floor(src.mtimeMs), src.sha256, target, variant])).digest().toString('hex', 0, 8);
  return `${src.id}.${target}.${variant}.${h}.${ext}`;
}

export interface CachedFile {
  file: string;
  size: number;
}

interface Entry {
  size: number;
  usedAt: number;
  /** Kept as written: serveFile derives ETag and Last-Modified from it, so it must not move. */
  mtimeMs: number;
}

/** A transcode being written into the cache; commit() makes it visible, abort() drops it. */
export interface CacheWriter {
  write(chunk: Buffer): void;
  /** `patch` may rewrite bytes in place before the file becomes visible (a WAV header's sizes). */
  commit(patch?: (fd: FileHandle, size: number) => Promise<void>): Promise<CachedFile | null>;
  abort(): void;
}

export class TranscodeCache {
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  get sizeBytes(): number {
    return this.total;
  }

  /** Indexes what is on disk and removes temp files of transcodes interrupted by a stop or crash. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      const st = await stat(file).catch(() => null);
      if (!st?.isFile()) continue;
      // atime holds the last use (set explicitly by lookup, so relatime/noatime do not matter).
      this.entries.set(name, { size: st.size, usedAt: Math.max(st.atimeMs, st.mtimeMs), mtimeMs: st.mtimeMs });
      this.total += st.size;
    }
    await this.evict();
    this.log.debug({ files: this.entries.size, mb: Math.round(this.total / 1048576) }, 'transcode cache opened');
  }

  /** A complete transcode, marked as just used; null when there is none. */
  lookup(key: string): CachedFile | null {
    const e = this.entries.get(key);
    if (!e) return null;
    e.usedAt = Date.now();
    // Remember the use on disk too, in atime, so the order survives a restart; best effort.
    void utimes(path.join(this.dir, key), e.usedAt / 1000, e.mtimeMs / 1000).catch(() => undefined);
    return { file: path.join(this.dir, key), size: e.size };
  }

  /** Size of a complete transcode without marking it used (for describing resources). */
  peekSize(key: string): number | null {
    return this.entries.get(key)?.size ?? null;
  }

  /** A temp path in the cache folder (same file system, so the final rename is atomic). */
  tempPath(key: string): string {
    return path.join(this.dir, `${key}.${randomBytes(6).toString('hex')}.tmp`);
  }

  /** Starts writing a transcode; null when the cache is off. */
  begin(key: string): CacheWriter | null {
    if (!this.enabled) return null;
    const tmp = this.tempPath(key);
    const ws: WriteStream = createWriteStream(tmp, { highWaterMark: 256 * 1024 });
    let bytes = 0;
    let dead = false;
    ws.on('error', (err) => {
      if (!dead) this.log.warn({ err: err.message }, 'transcode cache write failed');
      dead = true;
    });
    const drop = () => {
      dead = true;
      // Unlink only once the stream is closed: destroyed before its open() finished, it would
      // still create the file afterwards, and a .tmp would be left until the next start.
      const remove = () => void unlink(tmp).catch(() => undefined);
      if (ws.closed) remove();
      else ws.once('close', remove);
      ws.destroy();
    };
    return {
      write: (chunk) => {
        if (dead) return;
        bytes += chunk.length;
        // Bigger than the whole cache: it would only evict everything else and then itself.
        if (bytes > this.maxBytes) return drop();
        ws.write(chunk);
      },
      abort: drop,
      commit: async (patch) => {
        if (dead) return null;
        await new Promise<void>((resolve, reject) => ws.end((err?: Error | null) => (err ? reject(err) : resolve()))).catch(() => {
          dead = true;
        });
        if (dead) {
          drop();
          return null;
        }
        return this.adopt(tmp, key, patch);
      },
    };
  }

  /**
   * Moves a finished temp file (from tempPath) into the cache under `key`: fsync first, so a power
   * cut never leaves a complete-looking file with missing bytes. Returns the cached file.
   */
  async adopt(tmp: string, key: string, patch?: (fd: FileHandle, size: number) => Promise<void>): Promise<CachedFile | null> {
    try {
      const fh = await open(tmp, 'r+');
      let size: number;
      try {
        size = (await fh.stat()).size;
        if (patch) await patch(fh, size);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (size > this.maxBytes) {
        await unlink(tmp).catch(() => undefined);
        return null;
      }
      const file = path.join(this.dir, key);
      await rename(tmp, file);
      // Whole seconds, which utimes can set back exactly when lookup() records a use in atime.
      const mtimeMs = Math.floor(Date.now() / 1000) * 1000;
      await utimes(file, mtimeMs / 1000, mtimeMs / 1000);
      const old = this.entries.get(key);
      if (old) this.total -= old.size;
      this.entries.set(key, { size, usedAt: Date.now(), mtimeMs });
      this.total += size;
      await this.evict(key);
      return this.entries.has(key) ? { file, size } : null;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, key }, 'could not store a transcode in the cache');
      await unlink(tmp).catch(() => undefined);
      return null;
    }
  }

  /** Removes least recently used files until the cache fits; `keep` (just added) goes last. */
  private async evict(keep?: string): Promise<void> {
    if (this.total <= this.maxBytes) return;
    const order = [...this.entries.entries()].filter(([k]) => k !== keep).sort((a, b) => a[1].usedAt - b[1].usedAt);
    if (keep && this.entries.has(keep)) order.push([keep, this.entries.get(keep)!]);
    for (const [key, e] of order) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(key);
      this.total -= e.size;
      // A file being served right now stays readable: unlink only drops the name.
      await unlink(path.join(this.dir, key)).catch(() => undefined);
    }
  }
}
