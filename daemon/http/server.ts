// The koa app (built apart from listen()) and the HTTP listeners with their limits and timeouts.
import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type Router from '@koa/router';
import type { Logger } from '../log.js';
import { localAddresses, normalizeIp } from '../net.js';
import { errorMiddleware, ApiError } from './errors.js';
import { isAllowedHost, type HostPolicy } from './host-check.js';

/** Host policy from the live interface list (cached briefly) plus names this host answers to. */
export function liveHostPolicy(extraNames: () => Iterable<string>): HostPolicy {
  let cached: { at: number; set: Set<string> } | null = null;
  return {
    addresses() {
      if (!cached || Date.now() - cached.at > 2000) {
        cached = { at: Date.now(), set: new Set(localAddresses().map((a) => normalizeIp(a.address))) };
      }
      return cached.set;
    },
    names() {
      return new Set(['localhost', ...[...extraNames()].map((n) => n.toLowerCase())]);
    },
  };
}

export function createApp(deps: { log: Logger; hosts: HostPolicy; routers: Router[] }): Koa {
  const app = new Koa({ proxy: false });
  app.silent = true; // errors are logged by our middleware, once
  app.use(errorMiddleware(deps.log));
  app.use(async (ctx, next) => {
    // More than one Host line is refused outright (RFC 9112 §3.2); node would silently keep the first.
    const hostLines = ctx.req.rawHeaders.filter((_, i) => i % 2 === 0 && ctx.req.rawHeaders[i]!.toLowerCase() === 'host').length;
    // HTTP/1.0 has no Host; some old renderers send none. Every browser does, so rebinding stays blocked.
    const hostless10 = hostLines === 0 && ctx.req.httpVersion === '1.0';
    if (hostLines > 1 || (!hostless10 && !isAllowedHost(ctx.get('Host') || undefined, deps.hosts))) {
      throw new ApiError(400, 'bad_host', 'unknown Host header (DNS rebinding protection): use the stereo\'s IP address or its .local name');
    }
    await next();
  });
  for (const r of deps.routers) app.use(r.routes()).use(r.allowedMethods());
  return app;
}

export interface Listening {
  addresses: AddressInfo[];
  close(): Promise<void>;
}

/** Server options for slow Wi-Fi uploads: no total request deadline (a 400 MB file must finish), short header and idle limits. */
export const UPLOAD_SERVER_LIMITS = { maxHeaderSize: 16 * 1024, requestTimeout: 0, headersTimeout: 10_000, keepAliveTimeout: 5_000 } as const;

/**
 * One server per address (or one on all when null), each made by `make`, listening on `port`. A
 * stalled socket dies after 60 s. If one address fails, the servers already listening are closed.
 */
export async function listenEach(make: () => http.Server | https.Server, port: number, hosts: string[] | null, log: Logger, what: string): Promise<Listening> {
  const servers: Array<http.Server | https.Server> = [];
  try {
    for (const host of hosts ?? [null]) {
      const server = make();
      server.setTimeout(60_000, (socket) => socket.destroy());
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: host ?? undefined }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  const addresses = servers.map((s) => s.address() as AddressInfo);
  log.info({ addresses: addresses.map((a) => `${a.address}:${a.port}`) }, `${what} listening`);
  return {
    addresses,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeIdleConnections();
              // Streams in flight get a moment, then go.
              setTimeout(() => s.closeAllConnections(), 2000).unref();
            }),
        ),
      );
    },
  };
}

/** The daemon's HTTP server(s): also says how long no request has arrived, for housekeeping that would stall one. */
export interface HttpListening extends Listening {
  quietForMs(): number;
}

/** The daemon's HTTP server(s): the Koa app, with the upload-friendly limits. */
export async function listen(app: Koa, port: number, hosts: string[] | null, log: Logger): Promise<HttpListening> {
  const callback = app.callback();
  let lastRequestAt = Date.now();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    lastRequestAt = Date.now();
    return callback(req, res);
  };
  const listening = await listenEach(
    () => {
      const server = http.createServer(UPLOAD_SERVER_LIMITS, handler);
      server.maxConnections = 512;
      // "Expect: 100-continue": the 100 goes out when a handler asks for the body (http/body.ts
      // allowBody), after the PIN, origin and size are accepted, so a refused body is never
      // transmitted; a request whose body nobody reads is answered without one.
      server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => void handler(req, res));
      server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
        // Say what was wrong where HTTP has a word for it: headers too large, too slow to arrive.
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
        if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        else socket.destroy();
      });
      return server;
    },
    port,
    hosts,
    log,
    'HTTP',
  );
  return { ...listening, quietForMs: () => Date.now() - lastRequestAt };
}
