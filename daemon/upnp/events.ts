// GENA eventing (UDA 1.0 §4): SUBSCRIBE, renewal and UNSUBSCRIBE on each service's event URL, the
// initial event, then property-change NOTIFYs moderated per subscriber. Callbacks are SSRF sinks
// (CallStranger, CVE-2020-12695), so only plain http:// to an IPv4 literal on the subnet of the
// interface the SUBSCRIBE arrived on is accepted, with length, count and subscription caps.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { Logger } from '../log.js';
import { inIpv4Subnet, isIpv4SubnetEdge, localAddresses, normalizeIp } from '../net.js';
import type { UpnpService } from './service.js';
import { escapeXml } from './xml-text.js';
import { clientAddress } from '../http/access.js';

/** DLNA 7.2.22.1 and gupnp: subscriptions last at most 300 s, `Second-infinite` included. */
export const MAX_TIMEOUT_SECONDS = 300;
/** DLNA 7.3.2.24.4: a delivery URL longer than this is refused. */
export const MAX_CALLBACK_URL_BYTES = 256;
/** gupnp's limit on `<…>` URLs in one CALLBACK header. */
export const MAX_CALLBACK_URLS = 6;

export interface GenaLimits {
  maxSubscriptions: number;
  maxPerSource: number;
  /** Least time between two NOTIFYs to one subscriber; changes in between are merged. */
  moderationMs: number;
  /** A NOTIFY not answered within this is a failure. */
  notifyTimeoutMs: number;
  /** Consecutive failed NOTIFYs after which the subscription is dropped. */
  maxFailures: number;
}

export const DEFAULT_GENA_LIMITS: GenaLimits = {
  maxSubscriptions: 100,
  // Several control points on one computer (Kodi, foobar2000, BubbleUPnP Server) each subscribe to
  // ContentDirectory and often ConnectionManager; 10 leaves room for them and bounds a flood.
  maxPerSource: 10,
  moderationMs: 2000,
  notifyTimeoutMs: 5000,
  maxFailures: 3,
};

export interface CallbackTarget {
  url: string;
  host: string;
  port: number;
  path: string;
}

const CALLBACK_URL = /^http:\/\/(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?(\/[\x21-\x7e]*)?$/;

/** A strict dotted quad: four decimal octets ≤ 255 without leading zeros (which WHATWG reads as octal). */
function isDottedQuad(host: string): boolean {
  return host.split('.').every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255);
}

/**
 * The delivery URL to use from a CALLBACK header, or null (→ 412). `local` is the interface address
 * (with its netmask) the SUBSCRIBE came in on. The header must be one to six `<…>` URLs; the first
 * acceptable one wins: http, an IPv4 literal (never a name, never a number WHATWG would turn into
 * one), on that subnet but not its network or broadcast address, at most 256 bytes.
 */
export function parseCallback(header: string | undefined, local: { address: string; netmask: string }): CallbackTarget | null {
  if (!header || header.length > MAX_CALLBACK_URLS * (MAX_CALLBACK_URL_BYTES + 3)) return null;
  if (!/^\s*(<[^<>]*>\s*)+$/.test(header)) return null;
  const urls = [...header.matchAll(/<([^<>]*)>/g)].map((m) => m[1]!);
  if (urls.length > MAX_CALLBACK_URLS) return null;
  for (const url of urls) {
    if (Buffer.byteLength(url) > MAX_CALLBACK_URL_BYTES) continue;
    const m = CALLBACK_URL.exec(url);
    if (!m) continue;
    const host = m[1]!;
    const port = m[2] === undefined ? 80 : Number(m[2]);
    if (!isDottedQuad(host) || port < 1 || port > 65535) continue;
    if (!inIpv4Subnet(host, local) || isIpv4SubnetEdge(host, local)) continue;
    return { url, host, port, path: m[3] ?? '/' };
  }
  return null;
}

/** `Second-N` / `Second-infinite` → seconds, capped; anything else gets the cap. */
export function parseTimeout(header: string | undefined, max = MAX_TIMEOUT_SECONDS): number {
  const m = /^\s*Second-(\d{1,10}|infinite)\s*$/i.exec(header ?? '');
  if (!m || m[1]!.toLowerCase() === 'infinite') return max;
  return Math.min(Math.max(Number(m[1]), 1), max);
}

export function propertySet(vars: Record<string, string | number>): string {
  const props = Object.entries(vars)
    .map(([k, v]) => `<e:property><${k}>${escapeXml(String(v))}</${k}></e:property>`)
    .join('');
  return `<?xml version="1.0" encoding="utf-8"?>\n<e:propertyset xmlns:e="urn:schemas-upnp-org:event-1-0">${props}</e:propertyset>\n`;
}

interface Subscription {
  sid: string;
  service: UpnpService;
  target: CallbackTarget;
  /** Our address the SUBSCRIBE came in on; NOTIFYs leave from it. */
  localAddress: string;
  source: string;
  timeoutSeconds: number;
  expiry: NodeJS.Timeout | null;
  seq: number;
  pending: Map<string, string | number>;
  flush: NodeJS.Timeout | null;
  inFlight: http.ClientRequest | null;
  lastSentAt: number;
  failures: number;
  initialSent: boolean;
}

/** What `Gena.stats()` reports, for tests and the status page. */
export interface GenaStats {
  subscriptions: number;
  notifies: number;
  failures: number;
}

export class Gena {
  private readonly subs = new Map<string, Subscription>();
  private readonly unlisten: Array<() => void> = [];
  private readonly limits: GenaLimits;
  private notifies = 0;
  private failures = 0;
  private running = false;

  constructor(
    private readonly services: readonly UpnpService[],
    private readonly log: Logger,
    private readonly server: string,
    limits: Partial<GenaLimits> = {},
  ) {
    this.limits = { ...DEFAULT_GENA_LIMITS, ...limits };
  }

  start(): void {
    this.running = true;
    for (const service of this.services) {
      const off = service.onEvent?.((changed) => this.changed(service, changed));
      if (off) this.unlisten.push(off);
    }
  }

  stop(): void {
    this.running = false;
    for (const off of this.unlisten.splice(0)) off();
    for (const sub of [...this.subs.values()]) this.remove(sub, 'stopping');
  }

  stats(): GenaStats {
    return { subscriptions: this.subs.size, notifies: this.notifies, failures: this.failures };
  }

  /** SUBSCRIBE and UNSUBSCRIBE on one service's event URL. */
  handle(ctx: Context, service: UpnpService): void {
    const answer = (status: number, headers: Record<string, string> = {}) => {
      ctx.status = status;
      ctx.body = '';
      ctx.remove('Content-Type');
      ctx.set('Server', this.server);
      for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
    };
    const sid = ctx.get('SID');
    const nt = ctx.get('NT');
    const callback = ctx.get('CALLBACK');
    const from = clientAddress(ctx);
    if (!this.running) return answer(503);
    if (ctx.method === 'UNSUBSCRIBE') {
      // UDA 1.0 §4.1.3 and gupnp: SID with NT or CALLBACK is 400; no or unknown SID is 412.
      if (sid && (nt || callback)) return answer(400);
      const sub = this.subs.get(sid);
      if (!sid || !sub || sub.service !== service) return answer(412);
      this.remove(sub, 'unsubscribed');
      return answer(200);
    }
    if (sid) {
      if (nt || callback) return answer(400);
      const sub = this.subs.get(sid);
      if (!sub || sub.service !== service) return answer(412);
      sub.timeoutSeconds = parseTimeout(ctx.get('TIMEOUT') || undefined);
      this.arm(sub);
      this.log.debug({ sid, service: service.name, timeout: sub.timeoutSeconds }, 'GENA renewal');
      return answer(200, { SID: sid, TIMEOUT: `Second-${sub.timeoutSeconds}` });
    }
    if (nt !== 'upnp:event' || !callback) return answer(412);
    const localIp = normalizeIp(ctx.req.socket.localAddress ?? '');
    const local = localAddresses().find((a) => a.family === 'IPv4' && normalizeIp(a.address) === localIp);
    const target = local ? parseCallback(callback, local) : null;
    if (!target) {
      this.log.warn({ from, callback: callback.slice(0, 300), service: service.name }, 'GENA: callback refused (must be http:// to an IPv4 address on this subnet)');
      return answer(412);
    }
    // A control point that restarts subscribes again with the same callback: that replaces its old one.
    for (const old of this.subs.values()) if (old.service === service && old.target.url === target.url) this.remove(old, 'replaced');
    let fromSource = 0;
    for (const s of this.subs.values()) if (s.source === from) fromSource++;
    if (this.subs.size >= this.limits.maxSubscriptions || fromSource >= this.limits.maxPerSource) {
      this.log.warn({ from, total: this.subs.size, fromSource }, 'GENA: subscription cap reached');
      return answer(412);
    }
    const sub: Subscription = {
      sid: `uuid:${randomUUID()}`,
      service,
      target,
      localAddress: localIp,
      source: from,
      timeoutSeconds: parseTimeout(ctx.get('TIMEOUT') || undefined),
      expiry: null,
      seq: 0,
      pending: new Map(),
      flush: null,
      inFlight: null,
      lastSentAt: 0,
      failures: 0,
      initialSent: false,
    };
    this.subs.set(sub.sid, sub);
    this.arm(sub);
    this.log.info({ sid: sub.sid, service: service.name, from, callback: target.url, timeout: sub.timeoutSeconds }, 'GENA subscription');
    // The initial event goes out once the response has: a control point cannot match a NOTIFY to a
    // SID it has not read yet (upnp-device-client, for one, drops it). A short pause covers the
    // moment between our last byte and the client reading it.
    ctx.res.once('finish', () => {
      const t = setTimeout(() => this.sendInitial(sub), 50);
      t.unref();
    });
    answer(200, { SID: sub.sid, TIMEOUT: `Second-${sub.timeoutSeconds}` });
  }

  private arm(sub: Subscription): void {
    if (sub.expiry) clearTimeout(sub.expiry);
    sub.expiry = setTimeout(() => this.remove(sub, 'expired'), sub.timeoutSeconds * 1000);
    sub.expiry.unref();
  }

  private remove(sub: Subscription, reason: string): void {
    if (this.subs.get(sub.sid) !== sub) return;
    this.subs.delete(sub.sid);
    if (sub.expiry) clearTimeout(sub.expiry);
    if (sub.flush) clearTimeout(sub.flush);
    sub.inFlight?.destroy();
    sub.inFlight = null;
    this.log.debug({ sid: sub.sid, service: sub.service.name, reason }, 'GENA subscription ended');
  }

  private alive(sub: Subscription): boolean {
    return this.subs.get(sub.sid) === sub;
  }

  private sendInitial(sub: Subscription): void {
    if (!this.alive(sub) || sub.initialSent) return;
    sub.initialSent = true;
    // The initial event carries every evented variable, so whatever changed before it is included.
    sub.pending.clear();
    let state: Record<string, string | number>;
    try {
      state = sub.service.eventedState();
    } catch (err) {
      this.log.error({ err, service: sub.service.name }, 'GENA: evented state failed');
      return;
    }
    this.send(sub, state);
  }

  private changed(service: UpnpService, changed: Record<string, string | number>): void {
    for (const sub of this.subs.values()) {
      if (sub.service !== service) continue;
      for (const [k, v] of Object.entries(changed)) sub.pending.set(k, v); // latest value wins
      this.schedule(sub);
    }
  }

  /** Sends pending changes no sooner than `moderationMs` after the previous NOTIFY, one at a time. */
  private schedule(sub: Subscription): void {
    if (!sub.initialSent || sub.inFlight || sub.flush || sub.pending.size === 0 || !this.alive(sub)) return;
    const wait = Math.max(0, sub.lastSentAt + this.limits.moderationMs - Date.now());
    sub.flush = setTimeout(() => {
      sub.flush = null;
      if (!this.alive(sub) || sub.pending.size === 0) return;
      const vars = Object.fromEntries(sub.pending);
      sub.pending.clear();
      this.send(sub, vars);
    }, wait);
    sub.flush.unref();
  }

  private send(sub: Subscription, vars: Record<string, string | number>): void {
    const body = propertySet(vars);
    const seq = sub.seq;
    // SEQ is a ui4 that wraps to 1, not 0: 0 means "initial event" (UDA 1.0 §4.2.1).
    sub.seq = seq >= 0xffffffff ? 1 : seq + 1;
    sub.lastSentAt = Date.now();
    this.notifies++;
    let req: http.ClientRequest | null = null;
    let deadline: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (ok: boolean, why?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (sub.inFlight === req) sub.inFlight = null;
      if (!this.alive(sub)) return; // unsubscribed or stopped meanwhile
      if (ok) sub.failures = 0;
      else {
        sub.failures++;
        this.failures++;
        this.log.debug({ sid: sub.sid, seq, err: why, failures: sub.failures }, 'GENA: NOTIFY failed');
        if (sub.failures >= this.limits.maxFailures) {
          this.log.info({ sid: sub.sid, callback: sub.target.url, failures: sub.failures }, 'GENA: subscriber unreachable, subscription dropped');
          this.remove(sub, 'unreachable');
          return;
        }
      }
      this.schedule(sub);
    };
    try {
      req = http.request({
        host: sub.target.host,
        port: sub.target.port,
        path: sub.target.path,
        method: 'NOTIFY',
        localAddress: sub.localAddress,
        agent: false,
        headers: {
          HOST: `${sub.target.host}:${sub.target.port}`,
          'CONTENT-TYPE': 'text/xml; charset="utf-8"',
          'CONTENT-LENGTH': Buffer.byteLength(body),
          NT: 'upnp:event',
          NTS: 'upnp:propchange',
          SID: sub.sid,
          SEQ: String(seq),
          Connection: 'close',
        },
      });
    } catch (err) {
      finish(false, (err as Error).message);
      return;
    }
    const r = req;
    sub.inFlight = r;
    // One deadline for connect, send and answer: a callback that accepts and never replies costs
    // this subscriber one slot for a few seconds and nothing else.
    deadline = setTimeout(() => {
      finish(false, 'timeout');
      r.destroy();
    }, this.limits.notifyTimeoutMs);
    deadline.unref();
    r.on('response', (res) => {
      res.resume();
      finish(res.statusCode === 200, res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`);
    });
    r.on('error', (err) => finish(false, err.message));
    r.end(body);
  }
}
