// One middleware turns every error into `{"error":{"code","message"}}` with a fitting status.
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { LibraryError, type LibraryErrorCode } from '../library/errors.js';
import { bodyAllowed } from './body.js';
import type { Logger } from '../log.js';

const STATUS: Record<LibraryErrorCode, number> = {
  not_audio: 415,
  not_playlist: 415,
  too_large: 413,
  disk_full: 507,
  checksum_mismatch: 422,
  size_mismatch: 400,
  aborted: 400,
  not_found: 404,
  read_only: 403,
};

export function statusOf(err: LibraryError): number {
  return STATUS[err.code];
}

/** An error meant for the client: status, stable code, a message a person can read. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

const HTTP_CODES: Record<number, string> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'too_large', 415: 'unsupported_media_type', 416: 'range_not_satisfiable', 429: 'too_many_requests' };

/** How much of a refused request body is read and dropped before the connection is cut. */
const DISCARD_MAX_BYTES = 8 * 1024 * 1024;
const DISCARD_MAX_MS = 10_000;

/**
 * Closing a connection while the client is still sending resets it, and most clients (fetch, phone
 * HTTP stacks) then report a network error instead of the 413/507/403 ("lingering close"). So the
 * rest of a refused body is read and dropped before answering, up to a budget in bytes and time.
 * Resolves false when the budget ran out: the answer then goes out and the connection is closed.
 */
export function discardBody(req: IncomingMessage): Promise<boolean> {
  if (req.complete || req.destroyed) return Promise.resolve(true);
  // A client that asked "Expect: 100-continue" and got no 100 has sent no body: answer and close.
  if (!bodyAllowed(req)) return Promise.resolve(false);
  // A declared body far past the budget is not read at all ("stop reading at once").
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > DISCARD_MAX_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    let left = DISCARD_MAX_BYTES;
    const finish = (drained: boolean) => {
      clearTimeout(timer);
      req.off('data', onData);
      if (!drained) req.pause();
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      left -= chunk.length;
      if (left < 0) finish(false);
    };
    const timer = setTimeout(() => finish(false), DISCARD_MAX_MS);
    // Nothing else may see these bytes (a multipart parser would start new pushes from them).
    req.unpipe();
    req.on('data', onData);
    req.once('end', () => finish(true));
    req.once('close', () => finish(req.complete));
    req.resume();
  });
}

export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError(404, 'not_found', 'no such resource');
      // The router answers a wrong method with a bare status; give it the same JSON shape (Allow stays).
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) throw new ApiError(ctx.status, ctx.status === 405 ? 'method_not_allowed' : 'not_implemented', `${ctx.method} is not supported here`);
    } catch (err) {
      let status = 500;
      let code = 'internal';
      let message = 'internal error';
      if (err instanceof ApiError) ({ status, code, message } = err);
      else if (err instanceof LibraryError) {
        status = statusOf(err);
        code = err.code;
        message = err.message;
      } else {
        const e = err as { status?: number; expose?: boolean; message?: string };
        if (typeof e.status === 'number' && e.status >= 400 && e.status < 600) {
          status = e.status;
          code = HTTP_CODES[status] ?? `http_${status}`;
          message = e.expose && e.message ? e.message : code.replace(/_/g, ' ');
        }
      }
      if (status >= 500 && status !== 507) log.error({ err, url: ctx.url }, 'request failed');
      // A refused upload: drop the rest first, or the client gets a reset instead of this answer.
      if (!(await discardBody(ctx.req))) ctx.set('Connection', 'close');
      ctx.status = status;
      ctx.body = errorBody(code, message);
    }
  };
}
