// The LocalSend v2 receiver API over HTTPS (LP §3–4, as apps 1.17 and 1.18 use it): info, register,
// prepare-upload (audio and playlists, tokens per accepted file), upload (audio streamed into ingest,
// playlists into the playlist store), cancel.
// Errors are LocalSend's `{"message": "…"}`.
import type http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Transform } from 'node:stream';
import { createHash, timingSafeEqual } from 'node:crypto';
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import type { Logger } from '../../log.js';
import type { Ingest } from '../../library/ingest.js';
import { receivedNameKey, type PlaylistStore } from '../../library/playlists.js';
import { MAX_PLAYLIST_BYTES } from '../../library/playlist-parse.js';
import { LibraryError, type LibraryErrorCode } from '../../library/errors.js';
import { discardBody, statusOf } from '../../http/errors.js';
import { listenEach, UPLOAD_SERVER_LIMITS, type Listening } from '../../http/server.js';
import { isLanAddress } from '../../net.js';
import { certFingerprint, type LocalSendIdentity } from './identity.js';
import { DtoError, deviceName, fileKind, isTextMessage, parsePrepareUpload, parseRegister, selfInfo, titleHint, type FileDto } from './dto.js';
import { SessionError, type ReceiveSessions, type Session, type Upload } from './sessions.js';
import { allowBody, readBounded } from '../../http/body.js';
import { clientAddress } from '../../http/access.js';

/** A refusal with LocalSend's status for it. */
export class LocalSendError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'LocalSendError';
  }
}

const MAX_REGISTER_BYTES = 64 * 1024;
/** A prepare-upload lists every file of a transfer (and a text message's text). */
const MAX_PREPARE_BYTES = 4 * 1024 * 1024;
/** LocalSend's server answers 429 after this many wrong PINs from one address (`server/common/pin.rs`). */
export const MAX_PIN_FAILURES = 3;
const PIN_FAILURE_MEMORY_MS = 5 * 60_000;
/** Failures after which the sender may try the same file again with its token. */
const RETRYABLE: ReadonlySet<LibraryErrorCode> = new Set(['checksum_mismatch', 'size_mismatch', 'aborted']);

/** The fingerprint of the client certificate presented on this connection, or null. */
function peerFingerprint(ctx: Context): string | null {
  const cert = (ctx.socket as TLSSocket).getPeerCertificate?.();
  return cert?.raw ? certFingerprint(cert.raw) : null;
}

/** A device must describe itself with the certificate it presents (1.18 `client_cert_verifier`). */
function assertOwnFingerprint(ctx: Context, claimed: string): void {
  const presented = peerFingerprint(ctx);
  if (presented !== null && presented !== claimed.toUpperCase()) {
    throw new LocalSendError(403, 'the fingerprint does not match the client certificate');
  }
}

async function readJson(ctx: Context, limit: number): Promise<unknown> {
  const declared = Number(ctx.get('Content-Length') || NaN);
  if (declared > limit) throw new LocalSendError(413, `the request body is larger than ${limit} bytes`);
  const bytes = await readBounded(ctx.req as AsyncIterable<Buffer>, limit, () => new LocalSendError(413, `the request body is larger than ${limit} bytes`));
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new LocalSendError(400, 'the request body is not JSON');
  }
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** The optional PIN (`?pin=`): 401 without or with a wrong one, 429 once an address got it wrong 3 times. */
class PinGuard {
  private readonly failures = new Map<string, { count: number; last: number }>();
  constructor(private readonly pin: string | null) {}

  check(ip: string, given: string | null): void {
    if (this.pin === null) return;
    const now = Date.now();
    let f = this.failures.get(ip);
    if (f && now - f.last > PIN_FAILURE_MEMORY_MS) {
      this.failures.delete(ip);
      f = undefined;
    }
    if (f && f.count >= MAX_PIN_FAILURES) throw new LocalSendError(429, 'too many wrong PINs; try again in a few minutes');
    if (given === null || given === '') throw new LocalSendError(401, 'PIN required');
    if (!sameSecret(given, this.pin)) {
      this.failures.set(ip, { count: (f?.count ?? 0) + 1, last: now });
      throw new LocalSendError(401, 'wrong PIN');
    }
    this.failures.delete(ip);
  }
}

export interface LocalSendAppDeps {
  identity: LocalSendIdentity;
  /** Our alias: the daemon's name. */
  alias: string;
  ingest: Pick<Ingest, 'push' | 'checkCapacity'>;
  /** Where playlist files go; without it playlists are not taken. */
  playlists?: Pick<PlaylistStore, 'add' | 'resolveReceived'>;
  sessions: ReceiveSessions;
  pin: string | null;
  log: Logger;
}

function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new LocalSendError(404, 'not found');
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) throw new LocalSendError(ctx.status, `${ctx.method} is not supported here`);
    } catch (err) {
      let status = 500;
      let message = 'internal error';
      if (err instanceof LocalSendError || err instanceof SessionError) ({ status, message } = err);
      else if (err instanceof DtoError) [status, message] = [400, `invalid request: ${err.message}`];
      else if (err instanceof LibraryError) [status, message] = [statusOf(err), err.message];
      if (status >= 500 && status !== 507) log.error({ err, url: ctx.url }, 'LocalSend request failed');
      // A refused upload: drop the rest first, or the phone sees a reset instead of this answer.
      if (!ctx.req.destroyed && !(await discardBody(ctx.req))) ctx.set('Connection', 'close');
      ctx.status = status;
      ctx.body = { message };
    }
  };
}

/** The upload body as ingest reads it: counted against the announced size, and cut when the session ends. */
function uploadBody(ctx: Context, upload: Upload): Transform {
  const size = upload.file.dto.size;
  let received = 0;
  const body = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      upload.touch();
      if (received > size) return done(new LibraryError('size_mismatch', `more bytes than the ${size} announced`));
      done(null, chunk);
    },
  });
  body.on('error', () => undefined); // ingest sees it through its pipeline; unheard, it would crash the daemon
  const req = ctx.req;
  req.on('close', () => {
    if (!req.complete) body.destroy(new LibraryError('aborted', 'the sender went away before the file was complete'));
  });
  upload.signal.addEventListener(
    'abort',
    () => {
      body.destroy(new LibraryError('aborted', (upload.signal.reason as Error).message));
      req.destroy();
    },
    { once: true },
  );
  req.pipe(body);
  return body;
}

/** A playlist file, read whole (it is at most MAX_PLAYLIST_BYTES), checked against the announced size and sha256. */
async function readPlaylistUpload(ctx: Context, upload: Upload): Promise<Buffer> {
  const f = upload.file.dto;
  // uploadBody already cuts the body past the announced size.
  const bytes = await readBounded(uploadBody(ctx, upload) as AsyncIterable<Buffer>, f.size, () => new LibraryError('size_mismatch', `more bytes than the ${f.size} announced`));
  if (bytes.length !== f.size) throw new LibraryError('size_mismatch', `${bytes.length} bytes arrived, ${f.size} were announced`);
  if (f.sha256 !== null && createHash('sha256').update(bytes).digest('hex') !== f.sha256) throw new LibraryError('checksum_mismatch', 'the file does not match its sha256');
  return bytes;
}

function stringParam(ctx: Context, name: string): string | null {
  const v = ctx.query[name];
  return typeof v === 'string' && v !== '' ? v : null;
}

export function createLocalSendApp(deps: LocalSendAppDeps): Koa {
  const { identity, sessions, ingest, playlists, log } = deps;
  // Per transfer: the tracks stored so far by the sender's file name, and the playlists it sent, so a
  // playlist's entries find the songs of the same transfer whatever order they arrive in.
  const transfers = new WeakMap<Session, { received: Map<string, string>; playlists: Set<string> }>();
  const transferOf = (s: Session) => {
    let t = transfers.get(s);
    if (!t) transfers.set(s, (t = { received: new Map(), playlists: new Set() }));
    return t;
  };
  const info = selfInfo(deps.alias, identity.fingerprint);
  const pins = new PinGuard(deps.pin);
  const router = new Router();

  router.get(['/api/localsend/v2/info', '/api/localsend/v1/info'], (ctx) => {
    // 1.17 probes with its own fingerprint so it does not list itself (another of our processes).
    if (stringParam(ctx, 'fingerprint')?.toUpperCase() === identity.fingerprint) throw new LocalSendError(412, 'Self-discovered');
    ctx.body = info;
  });

  router.post('/api/localsend/v2/register', async (ctx) => {
    const peer = parseRegister(await readJson(ctx, MAX_REGISTER_BYTES));
    assertOwnFingerprint(ctx, peer.fingerprint);
    if (peer.fingerprint.toUpperCase() === identity.fingerprint) throw new LocalSendError(412, 'Self-discovered');
    log.info({ alias: peer.alias, ip: clientAddress(ctx), deviceType: peer.deviceType, clientCert: peerFingerprint(ctx) !== null }, 'LocalSend device registered');
    ctx.body = info;
  });

  router.post('/api/localsend/v2/prepare-upload', async (ctx) => {
    const req = parsePrepareUpload(await readJson(ctx, MAX_PREPARE_BYTES));
    const ip = clientAddress(ctx);
    assertOwnFingerprint(ctx, req.info.fingerprint);
    pins.check(ip, stringParam(ctx, 'pin'));
    const device = deviceName(req.info.alias);
    if (isTextMessage(req.files)) {
      // The stereo has no screen to show a message on; 204 is how a headless receiver takes it (LS CLI).
      log.info({ device, ip }, 'LocalSend text message ignored');
      ctx.status = 204;
      return;
    }
    if (sessions.active()) throw new SessionError(409, 'another transfer is in progress; try again when it is done');
    const accepted: FileDto[] = [];
    const refused: Array<{ fileName: string; fileType: string; reason: string }> = [];
    for (const f of req.files) {
      const kind = fileKind(f);
      if (kind === 'playlist' && playlists) {
        if (f.size > MAX_PLAYLIST_BYTES) refused.push({ fileName: f.fileName, fileType: f.fileType, reason: 'playlist too large' });
        else accepted.push(f);
        continue;
      }
      if (kind !== 'audio') {
        refused.push({ fileName: f.fileName, fileType: f.fileType, reason: kind === 'playlist' ? 'playlist' : 'not audio' });
        continue;
      }
      try {
        await ingest.checkCapacity(f.size);
      } catch (err) {
        // One file too large is left out; a full disk refuses the whole transfer.
        if (err instanceof LibraryError && err.code === 'too_large') {
          refused.push({ fileName: f.fileName, fileType: f.fileType, reason: 'too large' });
          continue;
        }
        throw err;
      }
      accepted.push(f);
    }
    if (refused.length) log.info({ device, ip, refused }, 'LocalSend files not taken');
    if (accepted.length === 0) {
      ctx.status = 204;
      return;
    }
    const session = sessions.open({ ip, device, fingerprint: req.info.fingerprint.toUpperCase() }, accepted);
    log.info({ device, ip, sessionId: session.id, files: accepted.length }, 'LocalSend transfer accepted');
    ctx.body = { sessionId: session.id, files: Object.fromEntries([...session.files.values()].map((f) => [f.dto.id, f.token])) };
  });

  router.post('/api/localsend/v2/upload', async (ctx) => {
    const sessionId = stringParam(ctx, 'sessionId');
    const fileId = stringParam(ctx, 'fileId');
    const token = stringParam(ctx, 'token');
    if (!sessionId || !fileId || !token) throw new LocalSendError(400, 'sessionId, fileId and token are required');
    const upload = sessions.begin({ sessionId, fileId, token, ip: clientAddress(ctx) });
    const f = upload.file.dto;
    let outcome: { ok: true } | { ok: false; retryable: boolean } = { ok: false, retryable: true };
    try {
      const length = ctx.get('Content-Length');
      if (length !== '' && Number(length) !== f.size) throw new LibraryError('size_mismatch', `Content-Length ${length} differs from the ${f.size} bytes announced`);
      const device = upload.session.sender.device;
      const transfer = transferOf(upload.session);
      if (playlists && fileKind(f) === 'playlist') {
        const bytes = await readPlaylistUpload(ctx, upload);
        // The sender's name is only the playlist's name; its entries are matched, never opened.
        const r = await playlists.add(bytes, { fileName: titleHint(f.fileName), device, received: transfer.received });
        transfer.playlists.add(r.playlist.id);
        outcome = { ok: true };
        log.info({ device, playlist: r.playlist.id, duplicate: r.duplicate }, 'LocalSend playlist received');
      } else {
        const r = await ingest.push(uploadBody(ctx, upload), { device, fileName: titleHint(f.fileName), declaredSize: f.size, expectedSha256: f.sha256 });
        outcome = { ok: true };
        log.info({ device, id: r.track.id, duplicate: r.duplicate }, 'LocalSend file received');
        transfer.received.set(receivedNameKey(f.fileName), r.track.id);
        if (playlists && transfer.playlists.size) {
          // A playlist that came first in this transfer now finds this song by its name.
          await playlists.resolveReceived(transfer.playlists, transfer.received).catch((err: unknown) => log.error({ err }, 'playlist entries not updated'));
        }
      }
      // 1.18 counts anything but 200 as a failure, so never 204 here.
      ctx.status = 200;
      ctx.body = '';
    } catch (err) {
      if (err instanceof LibraryError) outcome = { ok: false, retryable: RETRYABLE.has(err.code) };
      log.info({ device: upload.session.sender.device, fileId, attempt: upload.file.attempts, reason: (err as Error).message }, 'LocalSend file refused');
      throw err;
    } finally {
      upload.finish(outcome);
    }
  });

  router.post('/api/localsend/v2/cancel', (ctx) => {
    if (sessions.cancel(stringParam(ctx, 'sessionId'), clientAddress(ctx))) log.info({ ip: clientAddress(ctx) }, 'LocalSend transfer cancelled by the sender');
    ctx.status = 200;
    ctx.body = '';
  });

  const app = new Koa({ proxy: false });
  app.silent = true;
  app.use(errorMiddleware(log));
  app.use(async (ctx, next) => {
    // Like the push API: only the home network may add to the library.
    if (!isLanAddress(clientAddress(ctx))) throw new LocalSendError(403, 'only devices on the home network may send to the stereo');
    await next();
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

/** HTTPS on each address (all when null), asking for client certificates as the apps do. */
export function listenLocalSend(app: Koa, identity: LocalSendIdentity, port: number, hosts: string[] | null, log: Logger): Promise<Listening> {
  const handler = app.callback();
  return listenEach(
    () => {
      const server = https.createServer(
        {
          ...UPLOAD_SERVER_LIMITS,
          key: identity.key,
          cert: identity.cert,
          // Verified by fingerprint, not by a CA: any certificate is taken, then compared.
          requestCert: true,
          rejectUnauthorized: false,
          minVersion: 'TLSv1.2',
          ALPNProtocols: ['http/1.1'],
        },
        handler,
      );
      server.maxConnections = 64;
      // The apps do not wait for a 100; one that asks gets it at once, recorded for discardBody.
      server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
        allowBody(req, res);
        void handler(req, res);
      });
      server.on('tlsClientError', (err) => log.debug({ reason: err.message }, 'LocalSend TLS handshake failed'));
      return server;
    },
    port,
    hosts,
    log,
    'LocalSend HTTPS',
  );
}
