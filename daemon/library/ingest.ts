// The one way in: stream to incoming/ while hashing and counting → read tags → refuse what is not
// audio → place under music/<Album Artist>/<Album>/<NN Title>.<ext> → fsync → catalogue.
// A push is acknowledged only after the file and its journal entry are on disk.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { link, unlink, rmdir, statfs, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log.js';
import type { Ffmpeg } from '../media/ffmpeg.js';
import { checkDecodable } from '../media/decode-check.js';
import type { Catalog } from './catalog.js';
import type { CatalogStore } from './store.js';
import { LibraryError, isDiskFull } from './errors.js';
import { mkdirDurable, syncDir, uniqueTempName, ignoreMissing } from './durable.js';
import { collisionVariant, storeRelativePath } from './paths.js';
import { readTags, NotAudioError, type TagInfo } from './tags.js';
import { STORE_ROOT, type StoredTrack, type TrackSource } from './track.js';
import { Mutex } from './mutex.js';
import { WriteBehindFile } from './write-behind.js';

export interface PushOrigin {
  /** Which device pushed (shown in "Pushed From"); null when unknown. */
  device: string | null;
  /** The file name the client gave, used only for a title when tags have none. */
  fileName: string | null;
  /** Size the client announced (Content-Length, LocalSend `size`): checked, and refused early if too big. */
  declaredSize?: number | null;
  /** Hash the client announced (LocalSend `sha256`): checked after the transfer. */
  expectedSha256?: string | null;
  /** 'dlna' for DLNA upload (recorded on the track, see TrackSource.via). */
  via?: 'dlna';
}

export interface IngestResult {
  track: StoredTrack;
  duplicate: boolean;
}

export interface IngestOptions {
  dataDir: string;
  maxBytes: number;
  minFreeBytes: number;
}

export function storeTrackId(sha256: string): string {
  return sha256.slice(0, 16);
}

export class Ingest {
  readonly musicDir: string;
  readonly incomingDir: string;
  /** Placement and dedup decisions happen one at a time; streaming and tag reading do not wait. */
  private readonly commitLock = new Mutex();

  constructor(
    private readonly opts: IngestOptions,
    private readonly catalog: Catalog,
    private readonly store: CatalogStore,
    private readonly ffmpeg: Ffmpeg | null,
    private readonly log: Logger,
  ) {
    this.musicDir = path.join(opts.dataDir, 'music');
    this.incomingDir = path.join(opts.dataDir, 'incoming');
  }

  /** Refuses early (before reading a byte) what cannot fit: over the limit, or past the free-space reserve. */
  async checkCapacity(declaredSize: number | null | undefined): Promise<void> {
    if (declaredSize != null && declaredSize > this.opts.maxBytes) {
      throw new LibraryError('too_large', `file is ${declaredSize} bytes; the limit is ${this.opts.maxBytes}`);
    }
    const fs = await statfs(this.opts.dataDir);
    const free = fs.bavail * fs.bsize;
    if (free - (declaredSize ?? 0) < this.opts.minFreeBytes) {
      throw new LibraryError('disk_full', `not enough free space on the stereo's disk (${Math.floor(free / 1048576)} MB free)`);
    }
  }

  /** Ingests one pushed byte stream. The stream is consumed or destroyed; nothing is left behind on failure. */
  async push(body: Readable, origin: PushOrigin): Promise<IngestResult> {
    await this.checkCapacity(origin.declaredSize);
    const tmp = uniqueTempName(this.incomingDir, 'push');
    let placed = false;
    let file: WriteBehindFile | null = null;
    const t0 = performance.now();
    try {
      const received = await this.receive(body, tmp);
      file = received.file;
      const { sha256, size } = received;
      const t1 = performance.now();
      if (origin.declaredSize != null && size !== origin.declaredSize) {
        throw new LibraryError('size_mismatch', `received ${size} bytes, ${origin.declaredSize} announced`);
      }
      if (origin.expectedSha256 && origin.expectedSha256.toLowerCase() !== sha256) {
        throw new LibraryError('checksum_mismatch', 'the file does not match the checksum the sender announced');
      }
      const existing = this.catalog.getByHash(sha256);
      if (existing && (await this.fileExists(existing))) return { track: existing, duplicate: true };
      // The decode check reads from the page cache while the last of the file goes to disk.
      const since = (t: number) => Math.round(performance.now() - t);
      let inspectMs = 0;
      let syncMs = 0;
      const [tags] = await Promise.all([
        this.inspect(tmp, origin.fileName).finally(() => (inspectMs = since(t1))),
        file.sync().finally(() => (syncMs = since(t1))),
      ]);
      await file.close();
      const t2 = performance.now();
      const result = await this.commit(tmp, sha256, size, tags, { kind: 'push', device: origin.device, ...(origin.via ? { via: origin.via } : {}) });
      placed = true;
      this.log.debug({ size, receiveMs: Math.round(t1 - t0), inspectMs, syncMs, commitMs: since(t2) }, 'push timing');
      return result;
    } catch (err) {
      if (isDiskFull(err)) throw new LibraryError('disk_full', "the stereo's disk is full");
      throw err;
    } finally {
      await file?.close();
      if (!placed) await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * Streams into a new temp file (never following a planted name), hashing and counting as it goes.
   * The file is returned open, its data mostly on disk already (write-behind); the caller fsyncs it.
   */
  private async receive(body: Readable, tmp: string): Promise<{ sha256: string; size: number; file: WriteBehindFile }> {
    const hash = createHash('sha256');
    let size = 0;
    const maxBytes = this.opts.maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new LibraryError('too_large', `file is larger than the limit of ${maxBytes} bytes`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const file = await WriteBehindFile.create(tmp);
    try {
      await pipeline(body, meter, file);
      if (size === 0) throw new LibraryError('not_audio', 'the file is empty');
    } catch (err) {
      await file.close();
      if (err instanceof LibraryError || isDiskFull(err)) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error).message === 'aborted') {
        throw new LibraryError('aborted', 'the client went away before the file was complete');
      }
      throw err;
    }
    return { sha256: hash.digest('hex'), size, file };
  }

  /** Tags, then an actual decode of the head and tail where ffmpeg is available. */
  async inspect(file: string, fileNameHint: string | null): Promise<TagInfo> {
    let tags: TagInfo;
    try {
      tags = await readTags(file, fileNameHint);
    } catch (err) {
      if (err instanceof NotAudioError) throw new LibraryError('not_audio', err.message);
      throw err;
    }
    if (this.ffmpeg) {
      const verdict = await checkDecodable(this.ffmpeg, file, tags.durationMs, tags.format.codec);
      if (!verdict.ok) throw new LibraryError('not_audio', verdict.reason ?? 'no decodable audio');
    }
    return tags;
  }

  private async fileExists(t: StoredTrack): Promise<boolean> {
    return stat(path.join(this.musicDir, t.path)).then(
      () => true,
      () => false,
    );
  }

  /** Places the file under its tag-derived name and records it; one commit at a time. */
  private async commit(tmp: string, sha256: string, size: number, tags: TagInfo, source: TrackSource): Promise<IngestResult> {
    let track: StoredTrack;
    {
      using _held = await this.commitLock.acquire();
      // The same bytes may have been committed while this push was being inspected.
      const existing = this.catalog.getByHash(sha256);
      if (existing && (await this.fileExists(existing))) return { track: existing, duplicate: true };
      if (existing) this.catalog.remove([existing.id]); // its file vanished; this push replaces it
      const rel = await this.place(tmp, storeRelativePath(tags, tags.format.ext, tags.totalDiscs));
      const st = await stat(path.join(this.musicDir, rel));
      track = buildTrack(tags, { id: storeTrackId(sha256), sha256, size, root: STORE_ROOT, path: rel, mtimeMs: st.mtimeMs, source, folderArt: null });
      this.catalog.upsert([track]);
    }
    try {
      await this.store.put(track);
    } catch (err) {
      // Could not record it durably: undo, so a failed push leaves nothing behind.
      this.catalog.remove([track.id]);
      await unlink(path.join(this.musicDir, track.path)).catch(() => undefined);
      throw err;
    }
    this.log.info({ id: track.id, path: track.path, device: source.device }, 'track stored');
    return { track, duplicate: false };
  }

  /** Hard-links the temp file to the first free name (link never overwrites), then drops the temp name. */
  private async place(tmp: string, rel: string): Promise<string> {
    const dir = path.join(this.musicDir, path.dirname(rel));
    await mkdirDurable(dir);
    for (let n = 1; ; n++) {
      const candidate = collisionVariant(rel, n);
      try {
        await link(tmp, path.join(this.musicDir, candidate));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && n < 1000) continue;
        throw err;
      }
      await unlink(tmp);
      await syncDir(dir);
      return candidate;
    }
  }

  /** Removes a stored track: file, then catalogue entry (durably), then empty album/artist folders. */
  async removeStored(track: StoredTrack): Promise<void> {
    using _held = await this.commitLock.acquire();
    const file = path.join(this.musicDir, track.path);
    await unlink(file).catch(ignoreMissing);
    await syncDir(path.dirname(file)).catch(() => undefined);
    this.catalog.remove([track.id]);
    await this.store.delete(track.id);
    for (let d = path.dirname(file); d.startsWith(this.musicDir + path.sep); d = path.dirname(d)) {
      if (!(await rmdir(d).then(() => true, () => false))) break;
    }
  }
}

export interface TrackPlacement {
  id: string;
  sha256: string | null;
  size: number;
  root: string;
  path: string;
  mtimeMs: number;
  source: TrackSource;
  folderArt: string | null;
  addedAt?: string;
}

export function buildTrack(tags: TagInfo, p: TrackPlacement): StoredTrack {
  return {
    id: p.id,
    title: tags.title,
    artist: tags.artist,
    album: tags.album,
    albumArtist: tags.albumArtist,
    trackNumber: tags.trackNumber,
    discNumber: tags.discNumber,
    year: tags.year,
    genre: tags.genre,
    durationMs: tags.durationMs,
    codec: tags.format.codec,
    mime: tags.format.mime,
    sampleRate: tags.sampleRate,
    bitsPerSample: tags.bitsPerSample,
    channels: tags.channels,
    bitrate: tags.bitrate,
    size: p.size,
    sha256: p.sha256,
    hasArt: tags.hasArt,
    addedAt: p.addedAt ?? new Date().toISOString(),
    source: p.source,
    path: p.path,
    root: p.root,
    mtimeMs: p.mtimeMs,
    folderArt: p.folderArt,
  };
}
