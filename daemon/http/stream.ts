// Serves a file's bytes with Range, HEAD, conditional requests and caching validators; streamed
// from disk, never buffered. Protocol adapters add their own headers (DLNA) through `headers`.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Context } from 'koa';
import { parseRange } from './range.js';

export interface ServedFile {
  file: string;
  mime: string;
  /** Strong validator when the content hash is known; else derived from size and mtime. */
  etag?: string;
  headers?: Record<string, string>;
}

function weakEtag(size: number, mtimeMs: number): string {
  return `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => bare(t) === bare(etag));
}

export async function serveFile(ctx: Context, f: ServedFile): Promise<void> {
  const st = await stat(f.file).catch(() => null);
  if (!st || !st.isFile()) ctx.throw(404, 'the file is gone');
  const size = st.size;
  const etag = f.etag ?? weakEtag(size, st.mtimeMs);
  const lastModified = new Date(Math.floor(st.mtimeMs / 1000) * 1000);
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('ETag', etag);
  ctx.set('Last-Modified', lastModified.toUTCString());
  ctx.set('Cache-Control', 'no-cache');
  for (const [k, v] of Object.entries(f.headers ?? {})) ctx.set(k, v);
  ctx.type = f.mime;

  const inm = ctx.get('If-None-Match');
  const ims = ctx.get('If-Modified-Since');
  if ((inm && etagMatches(inm, etag)) || (!inm && ims && Date.parse(ims) >= lastModified.getTime())) {
    ctx.status = 304;
    return;
  }

  let range = parseRange(ctx.get('Range') || undefined, size);
  const ifRange = ctx.get('If-Range');
  if (range.kind !== 'full' && ifRange) {
    // A stale If-Range means "send me the whole new thing".
    const fresh = ifRange.startsWith('"') || ifRange.startsWith('W/') ? ifRange === etag && !etag.startsWith('W/') : Date.parse(ifRange) >= lastModified.getTime();
    if (!fresh) range = { kind: 'full' };
  }
  if (range.kind === 'unsatisfiable') {
    ctx.set('Content-Range', `bytes */${size}`);
    // Body first: koa turns a null body into 204 unless the status is already one without a body.
    ctx.body = null;
    ctx.status = 416;
    return;
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : size - 1;
  if (range.kind === 'partial') {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
  } else {
    ctx.status = 200;
  }
  ctx.length = size === 0 ? 0 : end - start + 1;
  if (ctx.method === 'HEAD') return;
  if (size === 0) {
    ctx.body = Buffer.alloc(0); // else koa would answer with the status text ("OK")
    return;
  }
  const body = createReadStream(f.file, { start, end, highWaterMark: 256 * 1024 });
  // koa destroys the stream when the client goes away; the fd is released with it.
  ctx.body = body;
}
