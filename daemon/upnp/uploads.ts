// DLNA upload into the ContentDirectory (push-protocols.md §2): CreateObject makes a placeholder in
// Uploads, whose content then arrives either by HTTP POST to its importUri (dLeyna, phones) or by
// ImportResource, where the stereo GETs a URI the client names (gupnp-upload). Either way the bytes
// go through the one ingest pipeline; the placeholder then stands for the stored track.
//
// Placeholders live in memory only. One that receives no bytes within PLACEHOLDER_TTL_MS vanishes
// (35 s: Rygel's value for DLNA.ORG_AnyContainer, from the DLNA guidelines; we use it for Uploads
// too, since both clients we know start the transfer right after CreateObject). A failed or stopped
// transfer removes its placeholder: nothing is stored, and the client must CreateObject again.
import { randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Catalog } from '../library/catalog.js';
import type { Ingest, IngestResult } from '../library/ingest.js';
import { LibraryError } from '../library/errors.js';
import { publicTrack } from '../library/track.js';
import type { Logger } from '../log.js';
import { isLanAddress, localAddresses, normalizeIp } from '../net.js';
import { ApiError } from '../http/errors.js';
import { assertMayWrite, type WritePolicy } from '../http/access.js';
import { requestBody } from '../push/http-upload.js';
import { writeDidl, type DidlItem } from './didl.js';
import { openSource, parseImportSource, SourceRefused, SourceUnreachable, type ImportSource, type OpenedSource } from './import-source.js';
import { UPLOADS_ID } from './object-tree.js';
import { UpnpError, type ActionArgs, type ActionResult, type UpnpRequestInfo } from './service.js';
import { allowBody } from '../http/body.js';
import { OCM, isAudioItemClass, parseCreateElements } from './upload-elements.js';

export const ANY_CONTAINER = 'DLNA.ORG_AnyContainer';
/** Uploads' flags: items may be uploaded into it, and destroyed (UPLOAD|DESTROYABLE|UPLOAD_DESTROYABLE). */
export const UPLOADS_OCM = OCM.UPLOAD | OCM.DESTROYABLE | OCM.UPLOAD_DESTROYABLE;
/** What the description's X_DLNACAP says while uploads are on. */
export const UPLOAD_DLNA_CAPS = ['audio-upload', 'create-item-with-OCM-destroy-item'] as const;
export const UPLOAD_PATH = '/upload/';
/** Every class below object.item.audioItem may be created, as includeDerived says. */
export const UPLOADS_CREATE_CLASSES = [
  { upnpClass: 'object.item.audioItem', includeDerived: true },
  { upnpClass: 'object.item.audioItem.musicTrack', includeDerived: true },
] as const;

const PLACEHOLDER_PREFIX = `${UPLOADS_ID}/p/`;
const TRACK_PREFIX = `${UPLOADS_ID}/t/`;
const TOKEN = /^[0-9a-f]{16}$/;

export type TransferStatus = 'IN_PROGRESS' | 'COMPLETED' | 'ERROR' | 'STOPPED';

export interface UploadsOptions {
  /** False when a PIN is set: DLNA has no way to ask for one, so uploading is refused. */
  enabled: boolean;
  placeholderTtlMs?: number;
  /** Placeholders waiting for or receiving content, at most. */
  maxPlaceholders?: number;
  sourceHeaderTimeoutMs?: number;
  sourceIdleTimeoutMs?: number;
  /** How long a finished transfer (and a filled placeholder's id) can still be asked about. */
  keepFinishedMs?: number;
  maxFinished?: number;
}

export interface UploadsDeps {
  catalog: Catalog;
  ingest: Pick<Ingest, 'push' | 'checkCapacity'>;
  deleteTrack(id: string): Promise<void>;
  /** Whether an object id names something in the tree (a restricted container or item). */
  objectExists(id: string): boolean;
  /** The stereo's own addresses, which an ImportResource source may never be. */
  ownAddresses(): ReadonlySet<string>;
  /** LAN-only, same-origin rules for the POST (the PIN is never set while uploads are on). */
  write: WritePolicy;
  userAgent: string;
  log: Logger;
}

interface Placeholder {
  token: string;
  objectId: string;
  title: string;
  upnpClass: string;
  mime: string | null;
  /** "Pushed From": the client's product name, else its address. */
  device: string;
  state: 'pending' | 'receiving' | 'done';
  trackId: string | null;
  timer: NodeJS.Timeout | null;
  /** Ends a transfer in progress (DestroyObject, StopTransferResource, shutdown). */
  abort: ((reason: Error) => void) | null;
  finishedAt: number;
}

interface Transfer {
  id: number;
  token: string;
  status: TransferStatus;
  length: number;
  total: number | null;
  stop: (() => void) | null;
  finishedAt: number;
}

/** What BrowseMetadata on an Uploads id finds. */
export type UploadObject = { kind: 'placeholder'; item: DidlItem } | { kind: 'track'; trackId: string };

function requireArg(args: ActionArgs, name: string): string {
  const v = args[name];
  if (v === undefined) throw new UpnpError(402, `missing argument ${name}`);
  return v;
}

/**
 * A short client name from User-Agent: the first product token that is not the OS, UPnP or DLNA
 * (`Linux/6.1 UPnP/1.0 BubbleUPnP/3.7` → BubbleUPnP; `gupnp-upload GUPnP/1.6.6 DLNADOC/1.50` →
 * gupnp-upload); null when there is none.
 */
export function productOf(userAgent: string | undefined): string | null {
  if (!userAgent) return null;
  const skip = new Set(['upnp', 'dlnadoc', 'linux', 'android', 'windows', 'darwin', 'ios', 'mozilla', 'dalvik']);
  const withoutComments = userAgent.replace(/\([^)]*\)/g, ' ');
  for (const token of withoutComments.split(/\s+/)) {
    const name = token.split('/')[0]!.replace(/[^\x21-\x7e]/g, '').slice(0, 64);
    if (name && !skip.has(name.toLowerCase()) && /[A-Za-z]/.test(name)) return name;
  }
  return null;
}

export class DlnaUploads {
  readonly enabled: boolean;
  private readonly placeholders = new Map<string, Placeholder>();
  private readonly transfers = new Map<number, Transfer>();
  private nextTransferId = 1;
  private readonly ttlMs: number;
  private readonly maxPlaceholders: number;
  private readonly headerTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly keepFinishedMs: number;
  private readonly maxFinished: number;
  private closed = false;

  constructor(
    private readonly deps: UploadsDeps,
    opts: UploadsOptions,
  ) {
    this.enabled = opts.enabled;
    this.ttlMs = opts.placeholderTtlMs ?? 35_000;
    this.maxPlaceholders = opts.maxPlaceholders ?? 32;
    this.headerTimeoutMs = opts.sourceHeaderTimeoutMs ?? 10_000;
    this.idleTimeoutMs = opts.sourceIdleTimeoutMs ?? 10_000;
    this.keepFinishedMs = opts.keepFinishedMs ?? 10 * 60_000;
    this.maxFinished = opts.maxFinished ?? 64;
  }

  /** The ContentDirectory actions this module answers. */
  static readonly ACTIONS: ReadonlySet<string> = new Set(['CreateObject', 'DestroyObject', 'ImportResource', 'GetTransferProgress', 'StopTransferResource']);

  handle(action: string, args: ActionArgs, req: UpnpRequestInfo): Promise<ActionResult> | ActionResult {
    switch (action) {
      case 'CreateObject':
        return this.createObject(args, req);
      case 'DestroyObject':
        return this.destroyObject(args, req);
      case 'ImportResource':
        return this.importResource(args, req);
      case 'GetTransferProgress':
        return this.transferProgress(args);
      case 'StopTransferResource':
        return this.stopTransfer(args);
      default:
        throw new UpnpError(401, `Invalid Action: ${action.slice(0, 64)}`);
    }
  }

  // ---- CreateObject ----

  private createObject(args: ActionArgs, req: UpnpRequestInfo): ActionResult {
    const containerId = requireArg(args, 'ContainerID');
    const elements = args.Elements;
    if (elements === undefined) throw new UpnpError(712, "Bad metadata: 'Elements' argument missing");
    if (!this.enabled) throw new UpnpError(713, 'Restricted parent object: DLNA upload is off on this stereo (a PIN is set)');
    if (containerId !== UPLOADS_ID && containerId !== ANY_CONTAINER) {
      if (this.deps.objectExists(containerId)) throw new UpnpError(713, 'Restricted parent object: upload into Uploads or DLNA.ORG_AnyContainer');
      throw new UpnpError(710, 'No such container');
    }
    if (!isLanAddress(req.remoteAddress)) throw new UpnpError(713, 'Restricted parent object: uploads are accepted only from the home network');
    const wanted = parseCreateElements(elements);
    if (!isAudioItemClass(wanted.upnpClass)) {
      // Rygel's answer for a class no container here can take, AnyContainer included.
      throw new UpnpError(712, `Bad metadata: only audio items (object.item.audioItem…) can be created here, not ${wanted.upnpClass.slice(0, 64)}`);
    }
    this.prune();
    let live = 0;
    for (const p of this.placeholders.values()) if (p.state !== 'done') live++;
    if (live >= this.maxPlaceholders) throw new UpnpError(720, `Cannot process the request: ${this.maxPlaceholders} uploads are already waiting`);
    const token = randomBytes(8).toString('hex');
    const p: Placeholder = {
      token,
      objectId: PLACEHOLDER_PREFIX + token,
      title: wanted.title,
      upnpClass: wanted.upnpClass,
      mime: wanted.mime,
      device: productOf(typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined) ?? req.remoteAddress,
      state: 'pending',
      trackId: null,
      timer: null,
      abort: null,
      finishedAt: 0,
    };
    this.placeholders.set(token, p);
    this.armExpiry(p);
    this.deps.log.info({ objectId: p.objectId, title: p.title, device: p.device, container: containerId }, 'DLNA upload: placeholder created');
    return { ObjectID: p.objectId, Result: writeDidl([this.placeholderItem(p, req.baseUrl)]) };
  }

  private armExpiry(p: Placeholder): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      p.timer = null;
      if (p.state !== 'pending') return;
      this.placeholders.delete(p.token);
      this.deps.log.info({ objectId: p.objectId }, 'DLNA upload: placeholder expired (no content arrived)');
    }, this.ttlMs);
    p.timer.unref();
  }

  private placeholderItem(p: Placeholder, baseUrl: string): DidlItem {
    return {
      kind: 'item',
      id: p.objectId,
      parentId: UPLOADS_ID,
      title: p.title,
      upnpClass: p.upnpClass,
      restricted: false,
      dlnaManaged: OCM.DESTROYABLE,
      resources: [{ uri: '', protocolInfo: `http-get:*:${p.mime ?? '*'}:*`, importUri: `${baseUrl}${UPLOAD_PATH}${p.token}` }],
    };
  }

  /** An id under Uploads that is not a track listing: a placeholder, or one already filled. */
  lookup(objectId: string, baseUrl: string): UploadObject | null {
    if (!objectId.startsWith(PLACEHOLDER_PREFIX)) return null;
    const p = this.placeholders.get(objectId.slice(PLACEHOLDER_PREFIX.length));
    if (!p) return null;
    if (p.state === 'done') return p.trackId && this.deps.catalog.get(p.trackId) ? { kind: 'track', trackId: p.trackId } : null;
    return { kind: 'placeholder', item: this.placeholderItem(p, baseUrl) };
  }

  // ---- DestroyObject ----

  private async destroyObject(args: ActionArgs, req: UpnpRequestInfo): Promise<ActionResult> {
    const id = requireArg(args, 'ObjectID');
    const refuse = () => new UpnpError(711, 'Restricted object: only tracks uploaded into Uploads can be destroyed');
    if (!this.enabled || !isLanAddress(req.remoteAddress)) {
      if (this.deps.objectExists(id) || this.lookup(id, '') !== null) throw refuse();
      throw new UpnpError(701, 'No such object');
    }
    let trackId: string | null = null;
    if (id.startsWith(PLACEHOLDER_PREFIX)) {
      const p = this.placeholders.get(id.slice(PLACEHOLDER_PREFIX.length));
      if (!p) throw new UpnpError(701, 'No such object');
      if (p.state !== 'done') {
        this.dropPlaceholder(p, new LibraryError('aborted', 'the upload was destroyed by the control point'));
        this.deps.log.info({ objectId: id }, 'DLNA upload: placeholder destroyed');
        return {};
      }
      trackId = p.trackId;
    } else if (id.startsWith(TRACK_PREFIX)) {
      trackId = id.slice(TRACK_PREFIX.length);
    } else {
      if (this.deps.objectExists(id)) throw refuse();
      throw new UpnpError(701, 'No such object');
    }
    const t = trackId ? this.deps.catalog.get(trackId) : undefined;
    if (!t) throw new UpnpError(701, 'No such object');
    if (t.source.via !== 'dlna') throw refuse();
    await this.deps.deleteTrack(t.id);
    for (const p of this.placeholders.values()) if (p.trackId === t.id) this.placeholders.delete(p.token);
    this.deps.log.info({ objectId: id, track: t.id }, 'DLNA upload: track destroyed');
    return {};
  }

  private dropPlaceholder(p: Placeholder, reason: Error): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    this.placeholders.delete(p.token);
    p.abort?.(reason);
  }

  // ---- ImportResource ----

  private placeholderForUri(uri: string): Placeholder | null {
    let path: string;
    try {
      path = new URL(uri).pathname;
    } catch {
      throw new UpnpError(402, 'DestinationURI is not a URI');
    }
    if (!path.startsWith(UPLOAD_PATH)) return null;
    const token = path.slice(UPLOAD_PATH.length);
    return TOKEN.test(token) ? (this.placeholders.get(token) ?? null) : null;
  }

  private async importResource(args: ActionArgs, req: UpnpRequestInfo): Promise<ActionResult> {
    const sourceUri = requireArg(args, 'SourceURI');
    const destinationUri = requireArg(args, 'DestinationURI');
    if (!this.enabled) throw new UpnpError(718, 'No such destination resource: DLNA upload is off on this stereo (a PIN is set)');
    const p = this.placeholderForUri(destinationUri);
    if (!p || p.state !== 'pending') throw new UpnpError(718, 'No such destination resource: DestinationURI must be the importUri of a fresh upload');
    const local = localAddresses().find((a) => a.family === 'IPv4' && normalizeIp(a.address) === req.localAddress);
    let src: ImportSource;
    try {
      if (!local || !isLanAddress(req.remoteAddress)) throw new SourceRefused('imports are accepted only from the home network');
      src = parseImportSource(sourceUri, local, this.deps.ownAddresses());
    } catch (err) {
      if (!(err instanceof SourceRefused)) throw err;
      this.deps.log.warn({ from: req.remoteAddress, sourceUri: sourceUri.slice(0, 300), reason: err.message }, 'DLNA upload: ImportResource source refused');
      throw new UpnpError(714, `No such source resource: ${err.message}`);
    }
    try {
      await this.deps.ingest.checkCapacity(null);
    } catch (err) {
      if (err instanceof LibraryError) throw new UpnpError(720, `Cannot process the request: ${err.message}`);
      throw err;
    }
    // From here the placeholder is taken: no second import or POST, and it does not expire.
    p.state = 'receiving';
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    let opened: OpenedSource;
    try {
      opened = await openSource(src, { localAddress: local!.address, headerTimeoutMs: this.headerTimeoutMs, idleTimeoutMs: this.idleTimeoutMs, userAgent: this.deps.userAgent });
    } catch (err) {
      this.backToPending(p);
      if (err instanceof SourceUnreachable) throw new UpnpError(714, `No such source resource: ${err.message}`);
      throw err;
    }
    const refuse = (code: 714 | 715 | 718 | 720, message: string): never => {
      opened.abort(new Error(message));
      this.backToPending(p);
      throw new UpnpError(code, message);
    };
    // Redirects are not followed: the URI the client named is the only one fetched.
    if (opened.status === 401 || opened.status === 403) refuse(715, `Source resource access denied: the source answered ${opened.status}`);
    if (opened.status < 200 || opened.status > 299) refuse(714, `No such source resource: the source answered ${opened.status}`);
    try {
      await this.deps.ingest.checkCapacity(opened.length);
    } catch (err) {
      if (err instanceof LibraryError) refuse(720, `Cannot process the request: ${err.message}`);
      throw err;
    }
    if (p.state !== 'receiving' || this.closed) refuse(718, 'No such destination resource: the upload was destroyed');
    const transfer = this.startTransfer(p, opened);
    this.deps.log.info({ transferId: transfer.id, objectId: p.objectId, source: `${src.host}:${src.port}`, length: opened.length }, 'DLNA upload: import started');
    return { TransferID: transfer.id };
  }

  private backToPending(p: Placeholder): void {
    if (!this.placeholders.has(p.token)) return;
    p.state = 'pending';
    p.abort = null;
    this.armExpiry(p);
  }

  private startTransfer(p: Placeholder, opened: OpenedSource): Transfer {
    this.prune();
    const transfer: Transfer = { id: this.nextTransferId++, token: p.token, status: 'IN_PROGRESS', length: 0, total: opened.length, stop: null, finishedAt: 0 };
    if (this.nextTransferId > 0xffffffff) this.nextTransferId = 1;
    this.transfers.set(transfer.id, transfer);
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        transfer.length += chunk.length;
        done(null, chunk);
      },
    });
    counted.on('error', () => undefined); // ingest sees it through its pipeline
    let abortReason: Error | null = null;
    const abort = (reason: Error) => {
      abortReason ??= reason;
      opened.abort(reason);
      counted.destroy(reason);
    };
    opened.body.on('error', (err) => counted.destroy(abortReason ?? err));
    opened.body.on('aborted', () => counted.destroy(abortReason ?? new LibraryError('aborted', 'the source closed the connection early')));
    opened.body.pipe(counted);
    p.abort = abort;
    transfer.stop = () => abort(new LibraryError('aborted', 'the transfer was stopped'));
    void this.ingest(p, counted, opened.length).then(
      async (r) => {
        transfer.stop = null;
        if (transfer.status === 'STOPPED') {
          // Stopped while the last bytes were being committed: the client asked for nothing to be kept.
          if (!r.duplicate) await this.deps.deleteTrack(r.track.id).catch((err: unknown) => this.deps.log.error({ err }, 'DLNA upload: could not remove a stopped import'));
          this.placeholders.delete(p.token);
        } else {
          transfer.status = 'COMPLETED';
          transfer.total ??= transfer.length;
        }
        transfer.finishedAt = Date.now();
      },
      (err: unknown) => {
        transfer.stop = null;
        if (transfer.status !== 'STOPPED') transfer.status = 'ERROR';
        transfer.finishedAt = Date.now();
        this.deps.log.warn({ transferId: transfer.id, objectId: p.objectId, err: err instanceof Error ? err.message : String(err) }, 'DLNA upload: import failed; nothing stored');
      },
    );
    return transfer;
  }

  /** Ingests a placeholder's content; it then stands for the track, or is removed on failure. */
  private async ingest(p: Placeholder, body: Readable, declaredSize: number | null): Promise<IngestResult> {
    try {
      const r = await this.deps.ingest.push(body, { device: p.device, fileName: p.title, declaredSize, via: 'dlna' });
      if (!this.placeholders.has(p.token)) {
        // Destroyed while its last bytes were being committed.
        if (!r.duplicate) await this.deps.deleteTrack(r.track.id);
        throw new LibraryError('aborted', 'the upload was destroyed by the control point');
      }
      p.state = 'done';
      p.trackId = r.track.id;
      p.abort = null;
      p.finishedAt = Date.now();
      this.deps.log.info({ objectId: p.objectId, track: r.track.id, duplicate: r.duplicate, device: p.device }, 'DLNA upload: stored');
      return r;
    } catch (err) {
      this.placeholders.delete(p.token);
      throw err;
    }
  }

  // ---- transfers ----

  private transferOf(args: ActionArgs): Transfer {
    const v = requireArg(args, 'TransferID').trim();
    if (!/^\d{1,10}$/.test(v) || Number(v) > 0xffffffff) throw new UpnpError(402, 'TransferID must be an unsigned 32-bit integer');
    const t = this.transfers.get(Number(v));
    if (!t) throw new UpnpError(717, 'No such file transfer');
    return t;
  }

  private transferProgress(args: ActionArgs): ActionResult {
    const t = this.transferOf(args);
    // TransferTotal is the source's Content-Length, or what has arrived when it sent none (as Rygel).
    return { TransferStatus: t.status, TransferLength: String(t.length), TransferTotal: String(t.total ?? t.length) };
  }

  private stopTransfer(args: ActionArgs): ActionResult {
    const t = this.transferOf(args);
    if (t.status === 'IN_PROGRESS') {
      t.status = 'STOPPED';
      t.stop?.();
      const p = this.placeholders.get(t.token);
      if (p && p.state !== 'done') this.dropPlaceholder(p, new LibraryError('aborted', 'the transfer was stopped'));
      this.deps.log.info({ transferId: t.id }, 'DLNA upload: transfer stopped');
    }
    return {};
  }

  /** Forgets finished transfers and filled placeholders after a while, and beyond a count. */
  private prune(): void {
    const cutoff = Date.now() - this.keepFinishedMs;
    const finished = [...this.transfers.values()].filter((t) => t.status !== 'IN_PROGRESS');
    finished.forEach((t, i) => {
      if (t.finishedAt < cutoff || finished.length - i > this.maxFinished) this.transfers.delete(t.id);
    });
    const done = [...this.placeholders.values()].filter((p) => p.state === 'done');
    done.forEach((p, i) => {
      if (p.finishedAt < cutoff || done.length - i > this.maxFinished) this.placeholders.delete(p.token);
    });
  }

  // ---- HTTP POST to importUri ----

  router(): Router {
    const router = new Router();
    router.post(`${UPLOAD_PATH}:token`, (ctx) => this.post(ctx));
    return router;
  }

  private async post(ctx: Context): Promise<void> {
    if (!this.enabled) throw new ApiError(403, 'dlna_upload_off', 'DLNA upload is off on this stereo (a PIN is set); push with the PIN instead');
    assertMayWrite(ctx, this.deps.write);
    const token = String(ctx.params.token);
    const p = TOKEN.test(token) ? this.placeholders.get(token) : undefined;
    if (!p) throw new ApiError(404, 'not_found', 'no such upload (it may have expired: create the object again)');
    if (p.state === 'done') throw new ApiError(409, 'already_uploaded', 'this object already has its content');
    if (p.state === 'receiving') throw new ApiError(409, 'upload_in_progress', 'content for this object is already arriving');
    const type = ctx.get('Content-Type').toLowerCase();
    if (type && !type.startsWith('audio/') && !type.startsWith('application/octet-stream')) {
      throw new ApiError(415, 'not_audio', 'only audio can be uploaded');
    }
    const lengthHeader = ctx.get('Content-Length');
    const length = lengthHeader ? Number(lengthHeader) : null;
    await this.deps.ingest.checkCapacity(length);
    p.state = 'receiving';
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    // Only now may a client waiting on "Expect: 100-continue" send the body.
    allowBody(ctx.req, ctx.res);
    const body = requestBody(ctx);
    p.abort = (reason) => body.destroy(reason);
    const r = await this.ingest(p, body, length);
    ctx.status = 200;
    ctx.body = { objectId: TRACK_PREFIX + r.track.id, duplicate: r.duplicate, track: publicTrack(r.track) };
  }

  /** Ends transfers in progress; their placeholders go with them. */
  close(): void {
    this.closed = true;
    for (const p of [...this.placeholders.values()]) {
      if (p.state !== 'done') this.dropPlaceholder(p, new LibraryError('aborted', 'the stereo is stopping'));
    }
  }
}
