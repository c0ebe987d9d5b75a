// HTTP for transcodes and profiles: the transcoded streams DLNA renderers fetch
// (`/media/<trackId>/<target>.<ext>`, with DLNA headers and time seek), downloads in a profile's
// format (`/api/v1/tracks/:id/download?profile=`), the profile list, and the res list a client
// would get for a track (`/api/v1/tracks/:id/resources`, what the DIDL writer will show).
import { stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Transform, type Readable } from 'node:stream';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Library } from '../library/library.js';
import type { StoredTrack } from '../library/track.js';
import type { Logger } from '../log.js';
import { acceptsTransferMode } from '../media/dlna.js';
import { formatTimeSeekRange, parseTimeSeekRange } from '../media/npt.js';
import { createResourceContext, resourcesFor, transcodeFacts } from '../media/resources.js';
import { exactLength, exportFormatOf, isTargetId, outputOf, WAV_HEADER_BYTES, type OutputFormat, type TargetId } from '../media/targets.js';
import { TranscodeBusyError, type TranscodeSource, type Transcoder } from '../media/transcode.js';
import { cacheKey, type CacheWriter, type TranscodeCache } from '../media/transcode-cache.js';
import { normalizeIp } from '../net.js';
import { decide, GENERIC_ID, targetsOf, type Profile, type ProfileSet } from '../profiles.js';
import { ApiError } from './errors.js';
import { mediaPathOf } from './media-routes.js';
import { serveFile } from './stream.js';
import { clientAddress } from './access.js';

export interface TranscodeRouteDeps {
  library: Library;
  profiles: ProfileSet;
  transcoder: Transcoder;
  cache: TranscodeCache;
  log: Logger;
}

function sourceOf(library: Library, t: StoredTrack): TranscodeSource {
  return { file: library.fileOf(t), sampleRate: t.sampleRate, bitsPerSample: t.bitsPerSample, channels: t.channels, durationMs: t.durationMs };
}

/** `http://<address this request came in on>:<port>`: links that work from where the client stands. */
export function baseUrlOf(ctx: Context): string {
  const addr = normalizeIp(ctx.socket.localAddress ?? '127.0.0.1');
  return `http://${addr.includes(':') ? `[${addr}]` : addr}:${ctx.socket.localPort}`;
}

/** `01 Title.mp3`, safe on every file system a phone or Walkman uses. */
export function exportFileName(t: StoredTrack, ext: string): string {
  const title = t.title.replace(/[\\/:*?"<>|\u0000-\u001f\u007f]/g, '_').replace(/\s+/g, ' ').replace(/^[.\s]+|[.\s]+$/g, '').slice(0, 150) || 'track';
  const n = t.trackNumber ? `${String(t.trackNumber).padStart(2, '0')} ` : '';
  return `${n}${title}.${ext}`;
}

/** RFC 6266: an ASCII fallback for old clients and the exact UTF-8 name in filename*. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const utf8 = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}

/**
 * Exactly `total` bytes: cut what ffmpeg makes beyond it, pad with zeros (PCM silence) what it falls
 * short of. For exact-length PCM streams, whose true sample count can differ from the catalogue's
 * duration by a few milliseconds.
 */
function fixedLength(total: number): Transform {
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const room = total - sent;
      if (room <= 0) return cb();
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      sent += part.length;
      cb(null, part);
    },
    flush(cb) {
      while (sent < total) {
        const n = Math.min(64 * 1024, total - sent);
        this.push(Buffer.alloc(n));
        sent += n;
      }
      cb();
    },
  });
}

/** Passes bytes through and into the cache; the copy becomes visible only if the stream ends cleanly. */
function teeToCache(writer: CacheWriter, out: OutputFormat, log: Logger): Transform {
  let done = false;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      writer.write(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      done = true;
      // A WAV streamed with unknown sizes gets its real ones once complete.
      const patch = out.headerBytes === WAV_HEADER_BYTES ? async (fh: FileHandle, size: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(Math.min(0xffffffff, size - 8));
        await fh.write(b, 0, 4, 4);
        b.writeUInt32LE(Math.min(0xffffffff, size - WAV_HEADER_BYTES));
        await fh.write(b, 0, 4, 40);
      } : undefined;
      writer.commit(patch).then(
        (c) => c && log.debug({ file: path.basename(c.file), bytes: c.size }, 'transcode cached'),
        () => undefined,
      );
      cb();
    },
  });
  t.once('close', () => {
    if (!done) writer.abort();
  });
  return t;
}

export function createTranscodeRouter(deps: TranscodeRouteDeps): Router {
  const { library, profiles, transcoder, cache, log } = deps;
  const router = new Router();
  const resourceCtx = () => createResourceContext({ transcoding: transcoder.isAvailable(), cache, originalUrl: (t, base) => `${base}${mediaPathOf(t)}` });

  const trackOf = (ctx: Context): StoredTrack => {
    const t = library.catalog.get(String(ctx.params.id));
    if (!t) throw new ApiError(404, 'not_found', 'no such track');
    return t;
  };

  const profileOf = (ctx: Context): Profile => {
    const q = ctx.query.profile;
    if (q !== undefined) {
      const p = typeof q === 'string' ? profiles.get(q) : undefined;
      if (!p) throw new ApiError(400, 'unknown_profile', `no profile ${JSON.stringify(q)}; see /api/v1/profiles`);
      return p;
    }
    return profiles.forClient(clientAddress(ctx), { headers: ctx.headers });
  };

  /** Starts a transcode, turning "all slots busy" into 503 + Retry-After. */
  const startTranscode = async <T>(ctx: Context, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (err instanceof TranscodeBusyError) {
        ctx.set('Retry-After', String(err.retryAfterSeconds));
        throw new ApiError(503, 'busy', 'the stereo is transcoding for other players right now; try again in a moment');
      }
      throw err;
    }
  };

  /** Aborted when the client goes away before the answer is complete. */
  const clientGone = (ctx: Context): AbortSignal => {
    const ac = new AbortController();
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) ac.abort();
    });
    return ac.signal;
  };

  router.get('/media/:id/:file', async (ctx) => {
    const m = /^([a-z0-9-]+)\.([a-z0-9]+)$/.exec(String(ctx.params.file));
    if (!m || !isTargetId(m[1]!)) throw new ApiError(404, 'not_found', 'no such transcode');
    const target: TargetId = m[1];
    const track = trackOf(ctx);
    const out = outputOf(target, track);
    if (out.ext !== m[2]) throw new ApiError(404, 'not_found', `this transcode is .${out.ext}`);
    if (!transcoder.isAvailable()) throw new ApiError(503, 'no_transcoding', 'ffmpeg is not installed on the stereo: only original files can be played');
    const profile = profileOf(ctx);

    const ask = ctx.get('getcontentFeatures.dlna.org');
    if (ask && ask.trim() !== '1') throw new ApiError(400, 'bad_request', 'getcontentFeatures.dlna.org must be 1');
    const asked = ctx.get('transferMode.dlna.org');
    const mode = asked ? acceptsTransferMode(out.mime, asked) : 'Streaming';
    if (!mode) throw new ApiError(406, 'transfer_mode', `transferMode.dlna.org ${asked} is not offered for audio`);

    const duration = track.durationMs / 1000;
    const seekHeader = ctx.get('TimeSeekRange.dlna.org');
    let seek: { start: number; end: number; endAsked: boolean } | null = null;
    if (seekHeader) {
      const r = parseTimeSeekRange(seekHeader);
      if (!r) throw new ApiError(400, 'bad_time_seek', 'TimeSeekRange.dlna.org must look like npt=12.5- or npt=0:00:12.500-0:01:00');
      if (r.start >= duration) {
        ctx.set('TimeSeekRange.dlna.org', `npt=*/${duration.toFixed(3)}`);
        throw new ApiError(416, 'range_not_satisfiable', `the track is ${duration.toFixed(3)} s long`);
      }
      seek = { start: r.start, end: Math.min(r.end ?? duration, duration), endAsked: r.end !== null && r.end < duration };
    }

    const key = cacheKey(track, target, 'stream', out.ext);
    // A time seek is answered from ffmpeg even when a cached copy exists: -ss is exact, a byte
    // offset in a compressed file is not.
    const cached = seek ? null : cache.lookup(key);
    const facts = transcodeFacts(track, profile, target, cached?.size ?? null);
    const dlnaHeaders = { 'contentFeatures.dlna.org': facts.contentFeatures, 'transferMode.dlna.org': mode };
    if (cached) {
      await serveFile(ctx, { file: cached.file, mime: out.mime, headers: dlnaHeaders });
      return;
    }

    for (const [k, v] of Object.entries(dlnaHeaders)) ctx.set(k, v);
    ctx.set('Content-Type', out.mime);
    ctx.set('Accept-Ranges', 'none'); // made on the fly: Range is ignored (RFC 9110 allows a 200)
    ctx.set('Cache-Control', 'no-cache');
    const start = seek?.start ?? 0;
    const end = seek?.end ?? duration;
    if (seek) ctx.set('TimeSeekRange.dlna.org', formatTimeSeekRange({ start, end }, duration));
    const length = profile.quirks.has('estimateContentLength') ? exactLength(out, end - start) : null;
    ctx.status = 200;
    if (length !== null) ctx.length = length;
    if (ctx.method === 'HEAD') return;

    const signal = clientGone(ctx);
    const source = await startTranscode(ctx, () =>
      transcoder.transcode(sourceOf(library, track), target, { signal, startSeconds: start, endSeconds: seek?.endAsked ? seek.end : null, wavDataBytes: length !== null ? length - out.headerBytes : null }),
    );
    const stages: Array<Readable | Transform> = [source];
    const writer = !seek ? cache.begin(key) : null;
    if (writer) stages.push(teeToCache(writer, out, log));
    if (length !== null) stages.push(fixedLength(length));
    if (stages.length === 1) {
      ctx.body = source;
      return;
    }
    // pipeline: an error or a destroy anywhere (ffmpeg failed, client gone) tears down every stage,
    // and the source's teardown kills ffmpeg.
    const last = stages[stages.length - 1] as Transform;
    pipeline(stages as unknown as [Readable, ...Transform[]], () => undefined);
    ctx.body = last;
  });

  router.get('/api/v1/tracks/:id/download', async (ctx) => {
    const track = trackOf(ctx);
    const q = ctx.query.profile;
    const profile = typeof q === 'string' ? profiles.get(q) : q === undefined ? profiles.get('pc') ?? profiles.generic : undefined;
    if (!profile) throw new ApiError(400, 'unknown_profile', `no profile ${JSON.stringify(q)}; see /api/v1/profiles`);
    const d = decide(track, profile);
    if (d.original || !d.target || !transcoder.isAvailable()) {
      const ext = path.extname(track.path).slice(1).toLowerCase() || 'bin';
      await serveFile(ctx, { file: library.fileOf(track), mime: track.mime, etag: track.sha256 ? `"${track.sha256.slice(0, 32)}"` : undefined, headers: { 'Content-Disposition': contentDisposition(exportFileName(track, ext)) } });
      return;
    }
    const target = d.target;
    const fmt = exportFormatOf(target);
    const headers = { 'Content-Disposition': contentDisposition(exportFileName(track, fmt.ext)) };
    const key = cacheKey(track, target, 'export', fmt.ext);
    const cached = cache.lookup(key);
    if (cached) {
      await serveFile(ctx, { file: cached.file, mime: fmt.mime, headers });
      return;
    }
    if (ctx.method === 'HEAD') {
      // The size is not known before the file is made; say what would come without making it.
      ctx.status = 200;
      ctx.type = fmt.mime;
      ctx.set('Content-Disposition', headers['Content-Disposition']);
      return;
    }
    const tmp = cache.tempPath(key);
    const folderArt = !track.hasArt ? library.folderArtFile(track) : null;
    const coverFile = folderArt && /\.(jpe?g|png)$/i.test(folderArt) && (await stat(folderArt).catch(() => null))?.isFile() ? folderArt : null;
    try {
      await startTranscode(ctx, () => transcoder.exportFile(sourceOf(library, track), target, tmp, { signal: clientGone(ctx), coverFile }));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    const size = (await stat(tmp)).size;
    const stored = cache.enabled && size <= cache.maxBytes ? await cache.adopt(tmp, key) : null;
    if (stored) {
      await serveFile(ctx, { file: stored.file, mime: fmt.mime, headers });
      return;
    }
    // No room in the cache: send the temp file, then remove it.
    ctx.res.once('close', () => void unlink(tmp).catch(() => undefined));
    await serveFile(ctx, { file: tmp, mime: fmt.mime, headers });
  });

  router.get('/api/v1/profiles', (ctx) => {
    ctx.body = {
      items: profiles.all.map((p) => ({
        id: p.id,
        name: p.name,
        kind: p.kind,
        default: p.id === GENERIC_ID,
        plays: p.plays,
        targets: targetsOf(p),
        quirks: [...p.quirks],
      })),
    };
  });

  /** What ffmpeg does right now: running transcodes and the spares waiting for the next one. */
  router.get('/api/v1/transcodes', (ctx) => {
    ctx.body = { available: transcoder.isAvailable(), ...transcoder.snapshot(), cache: { enabled: cache.enabled, bytes: cache.sizeBytes, maxBytes: cache.maxBytes } };
  });

  router.get('/api/v1/tracks/:id/resources', (ctx) => {
    const track = trackOf(ctx);
    const profile = profileOf(ctx);
    ctx.body = { profile: { id: profile.id, name: profile.name }, resources: resourcesFor(track, profile, baseUrlOf(ctx), resourceCtx()) };
  });

  return router;
}
