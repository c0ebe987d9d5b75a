// What the web remote needs beyond the JSON API: live catalogue changes as server-sent events
// (`GET /api/v1/events`) and the devices: those that pushed tracks and the UPnP renderers on the LAN
// (`GET /api/v1/devices`).
import { PassThrough } from 'node:stream';
import Router from '@koa/router';
import type { Catalog, CatalogChange } from '../library/catalog.js';
import type { Logger } from '../log.js';
import { ApiError } from './errors.js';
import type { RendererJson } from '../upnp/renderer-discovery.js';
import type { DeviceJson } from './wire.js';

export interface RemoteApiDeps {
  catalog: Catalog;
  log: Logger;
  /** Open event streams allowed at once; a home has a few phones, each with a tab or two. */
  maxClients?: number;
  /** A comment line this often keeps proxies, NATs and the server's idle timeout from closing the stream. */
  heartbeatMs?: number;
  /** The MediaRenderers on the LAN now (upnp/renderer-discovery.ts); none without it. */
  renderers?: () => RendererJson[];
}

export interface RemoteApi {
  router: Router;
  /** Ends every event stream (before the HTTP server closes, so it need not wait for them). */
  close(): void;
  /** Open event streams now. */
  readonly clients: number;
}

/** The `change` event as the page receives it: ids only; the page fetches what it shows. */
export interface ChangeEvent {
  updateId: number;
  added: string[];
  removed: string[];
  /** Set when a big batch (a music-folder scan) had more ids than are sent; refresh everything. */
  truncated?: true;
}

export type { DeviceJson } from './wire.js';

/** More ids than this in one change are not listed: the page reloads its view either way. */
const MAX_IDS = 500;
/** A client this far behind (bytes queued) is not reading; drop it rather than buffer for it. */
const MAX_BACKLOG = 256 * 1024;

export function changeEvent(c: CatalogChange): ChangeEvent {
  const ids = (list: CatalogChange['added']) => list.map((t) => t.id);
  if (c.added.length + c.removed.length > MAX_IDS) return { updateId: c.updateId, added: [], removed: [], truncated: true };
  return { updateId: c.updateId, added: ids(c.added), removed: ids(c.removed) };
}

export function createRemoteApi(deps: RemoteApiDeps): RemoteApi {
  const { catalog, log } = deps;
  const maxClients = deps.maxClients ?? 32;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const clients = new Set<PassThrough>();
  const router = new Router({ prefix: '/api/v1' });
  let heartbeat: NodeJS.Timeout | null = null;

  const send = (text: string) => {
    for (const c of clients) {
      if (c.writableLength > MAX_BACKLOG) {
        log.debug('event stream client not reading; dropped');
        c.destroy();
        continue;
      }
      c.write(text);
    }
  };

  // One catalogue listener for all streams, added once: per-client listeners would grow with clients.
  catalog.on('change', (c) => {
    if (!clients.size) return;
    send(`id: ${c.updateId}\nevent: change\ndata: ${JSON.stringify(changeEvent(c))}\n\n`);
  });

  router.get('/events', (ctx) => {
    if (clients.size >= maxClients) {
      ctx.set('Retry-After', '30');
      throw new ApiError(503, 'too_many_listeners', `at most ${maxClients} live views at once; close a tab and try again`);
    }
    const stream = new PassThrough();
    clients.add(stream);
    const drop = () => {
      clients.delete(stream);
      if (!clients.size && heartbeat) {
        clearInterval(heartbeat);
        heartbeat = null;
      }
    };
    stream.on('close', drop);
    ctx.res.on('close', () => {
      drop();
      stream.destroy();
    });
    heartbeat ??= setInterval(() => send(': ping\n\n'), heartbeatMs).unref();
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('Cache-Control', 'no-cache, no-transform');
    ctx.set('X-Accel-Buffering', 'no');
    // `hello` carries the current update id: after a reconnect the page compares it with the last
    // one it saw and reloads if it missed changes while it was away.
    stream.write(`retry: 3000\nid: ${catalog.updateId}\nevent: hello\ndata: ${JSON.stringify({ updateId: catalog.updateId })}\n\n`);
    ctx.body = stream;
  });

  let devices: { updateId: number; items: DeviceJson[] } | null = null;
  router.get('/devices', (ctx) => {
    if (!devices || devices.updateId !== catalog.updateId) {
      const by = new Map<string, DeviceJson>();
      for (const t of catalog.all()) {
        const name = t.source.device;
        if (t.source.kind !== 'push' || !name) continue;
        const d = by.get(name);
        if (!d) by.set(name, { name, trackCount: 1, lastAddedAt: t.addedAt });
        else {
          d.trackCount++;
          if (t.addedAt > d.lastAddedAt) d.lastAddedAt = t.addedAt;
        }
      }
      // Most recent pusher first: "the phone that just pushed" is the one people look for.
      const items = [...by.values()].sort((a, b) => (a.lastAddedAt < b.lastAddedAt ? 1 : a.lastAddedAt > b.lastAddedAt ? -1 : a.name.localeCompare(b.name)));
      devices = { updateId: catalog.updateId, items };
    }
    ctx.body = { items: devices.items, renderers: deps.renderers?.() ?? [] };
  });

  return {
    router,
    get clients() {
      return clients.size;
    },
    close() {
      for (const c of clients) c.end();
      clients.clear();
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = null;
    },
  };
}
