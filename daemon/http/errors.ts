// One middleware turns every error into `{"error":{"code","message"}}` with a fitting status.
import type { Context, Next } from 'koa';
import { LibraryError, type LibraryErrorCode } from '../library/errors.js';
import type { Logger } from '../log.js';

const STATUS: Record<LibraryErrorCode, number> = {
  not_audio: 415,
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

export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError(404, 'not_found', 'no such resource');
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
      // A refused upload is not read further: close the connection instead of draining gigabytes.
      if (status === 413) ctx.set('Connection', 'close');
      ctx.status = status;
      ctx.body = errorBody(code, message);
    }
  };
}
