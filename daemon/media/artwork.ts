// Cover thumbnails for DLNA clients: JPEG_TN (≤ 160×160) and JPEG_SM (≤ 640×480), made once with ffmpeg
// from the embedded picture or the folder's cover file and kept under <data-dir>/state/art/.
// Renderers ask for the same covers again and again while a user scrolls; ffmpeg runs once per
// cover and size, at most two at a time, and never for the same output twice at once.
import { randomBytes, createHash } from 'node:crypto';
import { stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { StoredTrack } from '../library/track.js';
import { mkdirDurable, writeFileDurable } from '../library/durable.js';
import { readEmbeddedArt } from '../library/tags.js';
import type { Ffmpeg } from './ffmpeg.js';

export type ArtSize = 'tn' | 'sm';

/** DLNA image profiles: JPEG_TN at most 160×160, JPEG_SM at most 640×480. */
export const ART_LIMITS: Readonly<Record<ArtSize, { width: number; height: number; profile: 'JPEG_TN' | 'JPEG_SM' }>> = {
  tn: { width: 160, height: 160, profile: 'JPEG_TN' },
  sm: { width: 640, height: 480, profile: 'JPEG_SM' },
};

export interface ArtworkDeps {
  /** <data-dir>/state/art */
  cacheDir: string;
  ffmpeg: Ffmpeg | null;
  /** The audio file of a track (library.fileOf). */
  fileOf(t: StoredTrack): string;
  /** The folder cover of a track, or null (library.folderArtFile). */
  folderArtFile(t: StoredTrack): string | null;
  log: Logger;
}

const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const FFMPEG_TIMEOUT_MS = 15_000;
const CONCURRENCY = 2;

interface Source {
  /** an image file ffmpeg can read, or the embedded bytes */
  file: string | null;
  data: Uint8Array | null;
  ext: string;
}

export class Artwork {
  private readonly inFlight = new Map<string, Promise<string | null>>();
  /** Outputs ffmpeg could not make (broken pictures): not retried until restart. */
  private readonly failed = new Set<string>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private warnedNoFfmpeg = false;
  private dirReady = false;

  constructor(private readonly deps: ArtworkDeps) {}

  get available(): boolean {
    return this.deps.ffmpeg !== null;
  }

  /** The cached JPEG for this track and size, made now if needed; null when there is no art (or no ffmpeg). */
  async file(t: StoredTrack, size: ArtSize): Promise<string | null> {
    if (!this.deps.ffmpeg) {
      if (!this.warnedNoFfmpeg) {
        this.warnedNoFfmpeg = true;
        this.deps.log.warn('ffmpeg not found: no cover thumbnails for DLNA clients (tn/sm art answers 404)');
      }
      return null;
    }
    if (t.hasArt) {
      const file = this.deps.fileOf(t);
      // Keyed by the audio file's identity: a retagged file (new mtime or size) gets a new thumbnail.
      const out = this.outFile(hashKey(`embedded\0${file}\0${t.mtimeMs}\0${t.size}`), size);
      const made = await this.cached(out);
      if (made !== undefined) return made;
      // Only read the picture when the thumbnail is not made yet.
      const pic = await readEmbeddedArt(file);
      if (pic && pic.data.length > 0 && pic.data.length <= MAX_IMAGE_BYTES) {
        return this.once(out, () => this.make({ file: null, data: pic.data, ext: /png/i.test(pic.format) ? 'png' : 'jpg' }, size, out));
      }
    }
    const cover = this.deps.folderArtFile(t);
    if (!cover) return null;
    const st = await stat(cover).catch(() => null);
    if (!st?.isFile() || st.size > MAX_IMAGE_BYTES) return null;
    // Keyed by the cover file, so every track of an album shares one thumbnail.
    const out = this.outFile(hashKey(`folder\0${cover}\0${st.mtimeMs}\0${st.size}`), size);
    const made = await this.cached(out);
    if (made !== undefined) return made;
    return this.once(out, () => this.make({ file: cover, data: null, ext: path.extname(cover).slice(1) || 'jpg' }, size, out));
  }

  private outFile(key: string, size: ArtSize): string {
    return path.join(this.deps.cacheDir, `${key}.${size}.jpg`);
  }

  /** The finished file, null for a known failure, undefined when it still has to be made. */
  private async cached(out: string): Promise<string | null | undefined> {
    if (this.failed.has(out)) return null;
    return (await stat(out).then((s) => s.isFile(), () => false)) ? out : undefined;
  }

  /** Runs `make` once per output file even when many requests want it at the same time. */
  private once(out: string, make: () => Promise<string | null>): Promise<string | null> {
    let p = this.inFlight.get(out);
    if (!p) {
      p = make().finally(() => this.inFlight.delete(out));
      this.inFlight.set(out, p);
    }
    return p;
  }

  private async make(src: Source, size: ArtSize, out: string): Promise<string | null> {
    await this.acquire();
    let tmpSrc: string | null = null;
    try {
      if (!this.dirReady) {
        await mkdirDurable(this.deps.cacheDir);
        this.dirReady = true;
      }
      let input = src.file;
      if (!input) {
        tmpSrc = path.join(this.deps.cacheDir, `.src.${process.pid}.${randomBytes(6).toString('hex')}.${src.ext}`);
        await writeFile(tmpSrc, src.data!, { flag: 'wx' });
        input = tmpSrc;
      }
      const jpeg = await this.scale(input, size);
      if (!jpeg) {
        this.failed.add(out);
        return null;
      }
      await writeFileDurable(out, jpeg);
      return out;
    } finally {
      if (tmpSrc) await unlink(tmpSrc).catch(() => undefined);
      this.release();
    }
  }

  /** One ffmpeg run: first frame, scaled down (never up) to fit the profile's box, baseline JPEG. */
  private scale(input: string, size: ArtSize): Promise<Buffer | null> {
    const { width: w, height: h } = ART_LIMITS[size];
    const args = [
      '-v', 'error',
      '-i', input,
      '-frames:v', '1',
      '-vf', `scale=w='min(${w},iw)':h='min(${h},ih)':force_original_aspect_ratio=decrease,format=yuvj420p`,
      '-q:v', '4',
      '-f', 'mjpeg',
      'pipe:1',
    ];
    const child = this.deps.ffmpeg!.spawn(args);
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), FFMPEG_TIMEOUT_MS);
      child.stdout?.on('data', (b: Buffer) => {
        bytes += b.length;
        if (bytes > MAX_IMAGE_BYTES) child.kill('SIGKILL');
        else chunks.push(b);
      });
      child.stderr?.on('data', (b: Buffer) => {
        if (stderr.length < 2000) stderr += b.toString();
      });
      child.on('error', () => {
        clearTimeout(timer);
        resolve(null);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const out = Buffer.concat(chunks);
        if (code === 0 && out.length > 0) resolve(out);
        else {
          this.deps.log.debug({ input, code, stderr: stderr.trim().slice(0, 300) }, 'cover thumbnail failed');
          resolve(null);
        }
      });
    });
  }

  private async acquire(): Promise<void> {
    if (this.running < CONCURRENCY) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function hashKey(s: string): string {
  return createHash('sha1').update(s).digest('hex').slice(0, 24);
}
