// HTTP push: `POST /api/v1/tracks` as multipart/form-data (one or many files) or a raw audio body.
// Turns either into Ingest.push calls; all limits, naming and durability live in ingest.
import busboy from 'busboy';
import type { Context } from 'koa';
import { PassThrough } from 'node:stream';
import type { Ingest, IngestResult } from '../library/ingest.js';
import type { Playlist, PlaylistStore } from '../library/playlists.js';
import { MAX_PLAYLIST_BYTES } from '../library/playlist-parse.js';
import { LibraryError } from '../library/errors.js';
import { publicTrack, type Track } from '../library/track.js';
import { ApiError, errorBody, statusOf } from '../http/errors.js';
import { allowBody, readBounded } from '../http/body.js';

const MAX_FILES_PER_REQUEST = 100;

function decodeHeaderName(raw: string): string | null {
  if (!raw) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A short, printable device label from the client, else its address. */
export function deviceLabel(ctx: Context): string {
  const given = decodeHeaderName(ctx.get('X-Hifid-Device'))?.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 64);
  return given || ctx.request.ip || 'unknown';
}

/**
 * The request body as a stream ingest may abandon: when ingest stops early (too large), the socket is
 * only paused, so the 413 still reaches the client; a client that goes away fails the stream.
 */
export function requestBody(ctx: Context): PassThrough {
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  body.on('error', () => undefined); // ingest sees it through its pipeline; unheard, it would crash the daemon
  const req = ctx.req;
  req.on('close', () => {
    if (!req.complete) body.destroy(new LibraryError('aborted', 'the client went away before the file was complete'));
  });
  req.pipe(body);
  return body;
}

type FileOutcome = { ok: true; result: IngestResult } | { ok: false; error: LibraryError | ApiError; fileName: string | null };

function resultJson(r: IngestResult): { track: Track; duplicate: boolean } {
  return { track: publicTrack(r.track), duplicate: r.duplicate };
}

export async function handlePush(ctx: Context, ingest: Ingest): Promise<void> {
  const type = ctx.get('Content-Type').toLowerCase();
  const lengthHeader = ctx.get('Content-Length');
  const length = lengthHeader ? Number(lengthHeader) : null;
  // Refuse what is certain to be too big (or cannot fit) before reading a byte of it.
  await ingest.checkCapacity(length);
  // Only now, with access and size checked, may a client waiting on "Expect: 100-continue" send the body.
  allowBody(ctx.req, ctx.res);
  const device = deviceLabel(ctx);
  if (type.startsWith('multipart/form-data')) return handleMultipart(ctx, ingest, device);
  if (!type.startsWith('audio/') && !type.startsWith('application/octet-stream')) {
    throw new ApiError(415, 'not_audio', 'send audio as multipart/form-data or with Content-Type audio/*');
  }
  const r = await ingest.push(requestBody(ctx), { device, fileName: decodeHeaderName(ctx.get('X-Filename')), declaredSize: length });
  ctx.status = r.duplicate ? 200 : 201;
  ctx.body = resultJson(r);
}

async function handleMultipart(ctx: Context, ingest: Ingest, device: string): Promise<void> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: ctx.req.headers, limits: { files: MAX_FILES_PER_REQUEST, fields: 50, fieldSize: 4096, parts: MAX_FILES_PER_REQUEST + 50, headerPairs: 50 } });
  } catch (err) {
    throw new ApiError(400, 'bad_request', `malformed multipart body: ${(err as Error).message}`);
  }
  const outcomes: Promise<FileOutcome>[] = [];
  let fatal: LibraryError | null = null;
  const finished = new Promise<void>((resolve, reject) => {
    bb.on('file', (_field, stream, info) => {
      const fileName = info.filename ? info.filename : null;
      if (fatal) {
        stream.resume();
        return;
      }
      // A PassThrough lets ingest see a clean end-of-stream (or an error) for this part only.
      const part = new PassThrough();
      // A broken form (e.g. "Unexpected end of form") errors the part, possibly before ingest reads
      // it; ingest still sees the error through its iterator, but an unheard 'error' event would
      // take the whole daemon down.
      part.on('error', () => undefined);
      stream.on('error', (e) => part.destroy(e));
      stream.pipe(part);
      outcomes.push(
        ingest.push(part, { device, fileName }).then(
          (result): FileOutcome => ({ ok: true, result }),
          (error: unknown): FileOutcome => {
            stream.resume(); // keep reading the request so later parts still arrive
            if (error instanceof LibraryError && (error.code === 'too_large' || error.code === 'disk_full')) {
              fatal = error;
              ctx.req.unpipe(bb);
              resolve();
            }
            if (error instanceof LibraryError || error instanceof ApiError) return { ok: false, error, fileName };
            throw error;
          },
        ),
      );
    });
    bb.on('filesLimit', () => reject(new ApiError(413, 'too_many_files', `at most ${MAX_FILES_PER_REQUEST} files per request`)));
    bb.on('error', (err: Error) => reject(new ApiError(400, 'bad_request', `malformed multipart body: ${err.message}`)));
    bb.on('close', resolve);
    ctx.req.on('aborted', () => reject(new LibraryError('aborted', 'the client went away')));
  });
  ctx.req.pipe(bb);
  try {
    await finished;
  } catch (err) {
    // Let every started ingest finish its own cleanup before answering.
    await Promise.allSettled(outcomes);
    throw err;
  }
  const results = await Promise.all(outcomes);
  if (fatal) throw fatal;
  if (results.length === 0) throw new ApiError(400, 'no_file', 'the form held no file');
  if (results.length === 1) {
    const only = results[0]!;
    if (!only.ok) throw only.error;
    ctx.status = only.result.duplicate ? 200 : 201;
    ctx.body = resultJson(only.result);
    return;
  }
  const body = results.map((o) =>
    o.ok
      ? { status: o.result.duplicate ? 200 : 201, ...resultJson(o.result) }
      : { status: o.error instanceof LibraryError ? statusOf(o.error) : o.error.status, fileName: o.fileName, ...errorBody(o.error instanceof LibraryError ? o.error.code : o.error.code, o.error.message) },
  );
  const created = results.some((o) => o.ok && !o.result.duplicate);
  const anyOk = results.some((o) => o.ok);
  ctx.status = created ? 201 : anyOk ? 200 : body[0]!.status;
  const first = body[0] as { error?: { code: string; message: string } };
  ctx.body = anyOk ? { results: body } : { error: first.error, results: body };
}

/** Reads a whole playlist body, refusing it past `limit` bytes (413) as soon as that is certain. */
function readLimited(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  return readBounded(stream, limit, () => new ApiError(413, 'too_large', `a playlist file is at most ${limit} bytes`));
}

/** The one file of a multipart form, with its name. */
function firstFormFile(ctx: Context, limit: number): Promise<{ bytes: Buffer; fileName: string | null }> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: ctx.req.headers, limits: { files: 1, fields: 10, fieldSize: 4096, parts: 12, headerPairs: 50, fileSize: limit + 1 } });
  } catch (err) {
    throw new ApiError(400, 'bad_request', `malformed multipart body: ${(err as Error).message}`);
  }
  return new Promise((resolve, reject) => {
    let got: Promise<{ bytes: Buffer; fileName: string | null }> | null = null;
    bb.on('file', (_field, stream, info) => {
      if (got) return void stream.resume();
      got = readLimited(stream, limit).then((bytes) => ({ bytes, fileName: info.filename || null }));
      got.catch(() => stream.resume());
    });
    bb.on('error', (err: Error) => reject(new ApiError(400, 'bad_request', `malformed multipart body: ${err.message}`)));
    bb.on('close', () => (got ? got.then(resolve, reject) : reject(new ApiError(400, 'no_file', 'the form held no file'))));
    ctx.req.on('aborted', () => reject(new LibraryError('aborted', 'the client went away')));
    ctx.req.pipe(bb);
  });
}

/**
 * Playlist push: `POST /api/v1/playlists` with the file as the raw body (name in X-Filename) or as
 * the one file of a multipart form. 201 with the playlist once it is on disk, 200 for one already stored.
 */
export async function handlePlaylistPush(ctx: Context, playlists: Pick<PlaylistStore, 'add'>, toJson: (p: Playlist) => unknown): Promise<void> {
  const length = Number(ctx.get('Content-Length') || NaN);
  if (length > MAX_PLAYLIST_BYTES * 2) throw new ApiError(413, 'too_large', `a playlist file is at most ${MAX_PLAYLIST_BYTES} bytes`);
  allowBody(ctx.req, ctx.res);
  const type = ctx.get('Content-Type').toLowerCase();
  const { bytes, fileName } = type.startsWith('multipart/form-data')
    ? await firstFormFile(ctx, MAX_PLAYLIST_BYTES)
    : { bytes: await readLimited(ctx.req as AsyncIterable<Buffer>, MAX_PLAYLIST_BYTES), fileName: decodeHeaderName(ctx.get('X-Filename')) };
  const r = await playlists.add(bytes, { fileName, device: deviceLabel(ctx) });
  ctx.status = r.duplicate ? 200 : 201;
  ctx.body = { playlist: toJson(r.playlist), duplicate: r.duplicate };
}
