// The web remote's files (built into dist/web by scripts/build-web.mjs), served from memory.
// Only files present at start are routes, by exact path: nothing is looked up on disk per request,
// so no request path can reach outside the folder. The whole remote is well under 200 KB.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from '../log.js';

export interface WebAsset {
  /** URL path, e.g. `/assets/app-3KX2.js` */
  urlPath: string;
  type: string;
  body: Buffer;
  gzip: Buffer | null;
  etag: string;
  /** Names with a content hash never change: cache for a year. Everything else revalidates. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.webmanifest', '.json', '.txt', '.ico']);

/**
 * Nothing but this origin: no CDN, no external fonts, no inline script. `data:` images are the
 * placeholder covers drawn in CSS; media is the stereo's own stream URLs.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "media-src 'self'",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Reads every file under `dir`; null when the remote was not built (the API still works). */
export async function loadWebAssets(dir: string, log: Logger): Promise<WebAsset[] | null> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    log.warn({ dir }, 'web remote not built (run npm run build); serving the API only');
    return null;
  }
  const assets: WebAsset[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const rel = path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/');
    const ext = path.extname(rel).toLowerCase();
    const type = TYPES[ext];
    // Route paths are literal, but keep them plain so no router syntax can sneak in.
    if (!type || !/^[A-Za-z0-9._\-/]+$/.test(rel) || rel.endsWith('.map')) continue;
    const body = await readFile(path.join(dir, rel));
    const gz = COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body, { level: 9 }) : null;
    assets.push({
      urlPath: `/${rel}`,
      type,
      body,
      gzip: gz && gz.length < body.length ? gz : null,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      immutable: /-[A-Z0-9]{8,}\.(?:js|css)$/.test(rel),
    });
  }
  return assets;
}

function serve(ctx: Context, a: WebAsset): void {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  ctx.set('ETag', a.etag);
  ctx.set('Vary', 'Accept-Encoding');
  const inm = ctx.get('If-None-Match');
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === a.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = a.type;
  const gzip = a.gzip && ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
  if (gzip) ctx.set('Content-Encoding', 'gzip');
  const body = gzip ? a.gzip! : a.body;
  ctx.status = 200;
  ctx.body = body; // for HEAD, koa sends the headers (with the length) and no body
}

export function createWebRouter(assets: WebAsset[] | null): Router {
  const router = new Router();
  const byPath = new Map((assets ?? []).map((a) => [a.urlPath, a]));
  const index = byPath.get('/index.html');
  // @koa/router answers HEAD with the GET route; koa then sends the headers only.
  const route = (urlPath: string, a: WebAsset) => router.get(urlPath, (ctx) => serve(ctx, a));
  for (const [p, a] of byPath) if (p !== '/index.html') route(p, a);
  // The page lives at `/`; its views are `#/…` fragments, so no other path needs the page.
  if (index) route('/', index);
  return router;
}
