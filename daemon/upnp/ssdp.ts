// SSDP (UDA 1.1 §1): the only file that imports node-ssdp. node-ssdp owns the UDP sockets and sends the
// NOTIFY ssdp:alive / ssdp:byebye announcements; M-SEARCH answers are ours, because node-ssdp 4 answers
// any source at once, unthrottled, checks only that MAN/MX/ST exist, and (with allowWildcards) builds a
// RegExp from the searcher's ST. Ours answer only searchers on a served interface's subnet, with a
// valid MAN and MX, after a random delay of up to MX (≤ 5) seconds, rate-limited per source.
// Other devices' NOTIFYs and the answers to our own M-SEARCH are parsed here too (strictly, like
// searches) and handed to listeners (`onAnnouncement`), only from sources on a served subnet.
import { createRequire } from 'node:module';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import type { Logger } from '../log.js';
import { inIpv4Subnet, localAddresses, normalizeIp, type LocalAddress } from '../net.js';

/** The part of node-ssdp's Server we use, including the two internals we replace (see `start`). */
interface NodeSsdpServer {
  sockets: Record<string, Socket> | null;
  _adLoopInterval: NodeJS.Timeout | null;
  addUSN(nt: string): void;
  start(): Promise<void>;
  stop(): void;
  advertise(alive?: boolean): void;
  _parseMessage(msg: Buffer, rinfo: RemoteInfo): void;
  _initAdLoop(): void;
  _startAdLoop(): void;
}

interface NodeSsdpOptions {
  udn: string;
  ssdpSig: string;
  ssdpTtl: number;
  ttl: number;
  adInterval: number;
  location: { protocol: string; port: number; path: string };
  interfaces?: string[];
  reuseAddr: boolean;
  customLogger: (format: string, ...args: unknown[]) => void;
}

// node-ssdp is CommonJS without types; createRequire keeps this the one place that loads it.
const { Server: NodeSsdp } = createRequire(import.meta.url)('node-ssdp') as { Server: new (opts: NodeSsdpOptions) => NodeSsdpServer };

export interface SsdpOptions {
  /** 'uuid:…' */
  udn: string;
  /** e.g. urn:schemas-upnp-org:device:MediaServer:1 */
  deviceType: string;
  serviceTypes: readonly string[];
  httpPort: number;
  /** Path of the device description, e.g. /upnp/description.xml */
  descriptionPath: string;
  /** Interface name to serve on; null = every non-loopback IPv4 interface. */
  interface: string | null;
  /** SERVER header: `OS/version UPnP/1.0 product/version`. */
  server: string;
  log: Logger;
  maxAgeSeconds?: number;
  reannounceMs?: number;
}

/** A parsed M-SEARCH request; header names upper-cased. */
export interface SearchRequest {
  headers: ReadonlyMap<string, string>;
}

/** Largest datagram we read as a search: real ones are a few hundred bytes. */
const MAX_SEARCH_BYTES = 4096;
/** Largest NOTIFY or search response we read (real ones are well under 1 KB; a few vendors add headers). */
const MAX_ANNOUNCEMENT_BYTES = 8192;
const MAX_HEADERS = 32;
/** Headers that would be ambiguous if repeated: the datagram is refused instead. */
const SEARCH_SINGLE_HEADERS: ReadonlySet<string> = new Set(['MAN', 'ST', 'MX', 'HOST']);
const ANNOUNCEMENT_SINGLE_HEADERS: ReadonlySet<string> = new Set(['NT', 'NTS', 'ST', 'USN', 'LOCATION', 'CACHE-CONTROL']);

/**
 * The start line and upper-cased headers of an SSDP datagram, or null when malformed: NULs, a header
 * line without a colon, one of `single` repeated (which one would count?), too many lines.
 */
function parseDatagram(msg: Buffer, maxBytes: number, single: ReadonlySet<string>): { start: string; headers: Map<string, string> } | null {
  if (msg.length > maxBytes || msg.includes(0)) return null;
  // latin1 never throws and maps bytes 1:1; the fields we read are ASCII, anything else fails to match.
  const lines = msg.toString('latin1').split(/\r?\n/);
  const headers = new Map<string, string>();
  // A datagram is the whole message, so a missing final blank line (some stacks omit it) is fine.
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') break;
    if (i > MAX_HEADERS) return null;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim().toUpperCase();
    const value = line.slice(colon + 1).trim();
    if (headers.has(name)) {
      if (single.has(name)) return null;
      continue;
    }
    headers.set(name, value);
  }
  return { start: lines[0] ?? '', headers };
}

/**
 * Parses an M-SEARCH datagram, or returns null for anything else or anything malformed: NULs, a
 * header line without a colon, a repeated MAN/ST/MX/HOST (which one would count?), too many lines.
 */
export function parseSearch(msg: Buffer): SearchRequest | null {
  const d = parseDatagram(msg, MAX_SEARCH_BYTES, SEARCH_SINGLE_HEADERS);
  if (!d || !/^M-SEARCH \* HTTP\/1\.[01]$/.test(d.start)) return null;
  return { headers: d.headers };
}

/** Another device's NOTIFY (ssdp:alive / ssdp:byebye) or an answer to our M-SEARCH. */
export interface Announcement {
  kind: 'alive' | 'byebye' | 'response';
  /** NT of a NOTIFY, ST of a response: the device or service type announced. */
  type: string;
  usn: string;
  /** `uuid:…`, the part of USN before `::`. */
  udn: string;
  /** Null for byebye. */
  location: string | null;
  /** CACHE-CONTROL max-age; null when absent or unreadable. */
  maxAgeSeconds: number | null;
}

/** One announcement as a listener gets it: where it came from and which served address's subnet that is. */
export interface ReceivedAnnouncement extends Announcement {
  /** The datagram's source address (IPv4, normalized). */
  from: string;
  local: LocalAddress;
}

const UDN_OF_USN = /^(uuid:[^:\s]{1,128})(?:::.*)?$/i;

/**
 * Parses a NOTIFY or a search response, or returns null for anything else or anything malformed:
 * the rules of parseSearch, plus a USN that starts with a `uuid:` and, for alive and responses, a
 * LOCATION. LOCATION is not checked here: whoever fetches it decides what it may point at.
 */
export function parseAnnouncement(msg: Buffer): Announcement | null {
  const d = parseDatagram(msg, MAX_ANNOUNCEMENT_BYTES, ANNOUNCEMENT_SINGLE_HEADERS);
  if (!d) return null;
  const h = d.headers;
  let kind: Announcement['kind'];
  let type: string | undefined;
  if (/^NOTIFY \* HTTP\/1\.[01]$/.test(d.start)) {
    const nts = h.get('NTS')?.toLowerCase();
    if (nts === 'ssdp:alive') kind = 'alive';
    else if (nts === 'ssdp:byebye') kind = 'byebye';
    else return null; // ssdp:update and unknown ones
    type = h.get('NT');
  } else if (/^HTTP\/1\.[01] 200\b/.test(d.start)) {
    kind = 'response';
    type = h.get('ST');
  } else return null;
  if (type === undefined || type === '' || type.length > 256) return null;
  const usn = h.get('USN') ?? '';
  const m = UDN_OF_USN.exec(usn);
  if (!m || usn.length > 512) return null;
  const location = h.get('LOCATION') ?? null;
  if (kind !== 'byebye' && (location === null || location === '')) return null;
  const age = /(?:^|[,\s])max-age\s*=\s*"?(\d{1,9})"?/i.exec(h.get('CACHE-CONTROL') ?? '');
  return { kind, type, usn, udn: m[1]!.toLowerCase(), location: kind === 'byebye' ? null : location, maxAgeSeconds: age ? Number(age[1]) : null };
}

/** An M-SEARCH for `st` (UDA 1.1 §1.3.2), multicast, MX seconds. */
export function searchMessage(st: string, mx: number, server: string): Buffer {
  return Buffer.from(['M-SEARCH * HTTP/1.1', 'HOST: 239.255.255.250:1900', 'MAN: "ssdp:discover"', `MX: ${mx}`, `ST: ${st}`, `USER-AGENT: ${server}`, '', ''].join('\r\n'), 'latin1');
}

export type SearchDecision =
  | { answer: true; targets: string[]; delayMs: number; unicast: boolean }
  | { answer: false; reason: string };

/**
 * What to do with a parsed search: which of our notification types it asks for, and how long to wait.
 * `ours` are our own IPv4 addresses (a HOST naming one of them marks a unicast search).
 */
export function decideSearch(req: SearchRequest, advertised: readonly string[], ours: ReadonlySet<string>, random: (maxMs: number) => number = (m) => (m > 0 ? randomInt(m + 1) : 0)): SearchDecision {
  const h = req.headers;
  const man = h.get('MAN');
  if (man === undefined || man.toLowerCase() !== '"ssdp:discover"') return { answer: false, reason: 'bad MAN' };
  let st = h.get('ST');
  if (st === undefined || st === '' || st.length > 256) return { answer: false, reason: 'bad ST' };
  // Some control points quote the ST; node-ssdp unwrapped those too.
  if (st.length > 1 && st.startsWith('"') && st.endsWith('"')) st = st.slice(1, -1);
  // UDA 1.1 §1.3.2: a unicast search names the device in HOST and wants an answer at once, MX or not.
  const host = (h.get('HOST') ?? '').replace(/:1900$/, '');
  const unicast = isIP(host) === 4 && ours.has(host);
  let delayMs = 0;
  if (!unicast) {
    const mxText = h.get('MX');
    if (mxText === undefined || !/^\d{1,9}$/.test(mxText)) return { answer: false, reason: 'bad MX' };
    const mx = Number(mxText);
    if (mx < 1) return { answer: false, reason: 'bad MX' };
    // UDA 1.1: "If MX is greater than 5, the device should assume that it contained the value 5."
    delayMs = random(Math.min(mx, 5) * 1000);
  }
  const targets = st === 'ssdp:all' ? [...advertised] : advertised.includes(st) ? [st] : [];
  if (targets.length === 0) return { answer: false, reason: 'not ours' };
  return { answer: true, targets, delayMs, unicast };
}

/** Token bucket per source address: `perSecond` replies a second, bursts up to the same number. */
export class ReplyLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond = 20,
    private readonly maxSources = 1024,
  ) {}

  /** Takes `n` tokens for `source` if it has them all; false (and takes none) otherwise. */
  take(source: string, n: number, now = Date.now()): boolean {
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= this.maxSources) this.prune(now);
      // Still full after pruning: many live sources at once; refuse newcomers rather than grow.
      if (this.buckets.size >= this.maxSources) return false;
      b = { tokens: this.perSecond, at: now };
      this.buckets.set(source, b);
    }
    b.tokens = Math.min(this.perSecond, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > 1000) this.buckets.delete(k);
  }
}

/** The served interfaces' IPv4 addresses: the one configured interface's, or every non-loopback one. */
export function servedAddresses(iface: string | null, all: LocalAddress[] = localAddresses()): LocalAddress[] {
  return all.filter((a) => a.family === 'IPv4' && (iface ? a.iface === iface : !a.internal));
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

/** How long identical datagrams from one source count as one (multicast loopback, several sockets). */
const DUPLICATE_WINDOW_MS = 200;
/** Replies waiting for their random delay, across all sources. */
const MAX_PENDING_REPLIES = 500;
/** How often the interface addresses are compared with what node-ssdp was started on. */
const ADDRESS_CHECK_MS = 30_000;

export class Ssdp {
  private server: NodeSsdpServer | null = null;
  private served: LocalAddress[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private pendingReplies = 0;
  private readonly limiter = new ReplyLimiter();
  private readonly recent = new Map<string, { text: string; at: number }>();
  private readonly advertised: string[];
  private watch: NodeJS.Timeout | null = null;
  private stopped = false;
  private warnedNoAddress = false;
  private readonly listeners = new Set<(a: ReceivedAnnouncement) => void>();
  /** Sockets of our own M-SEARCHes, open for MX + 1 seconds to collect the answers. */
  private readonly searchSockets = new Set<Socket>();
  /** The searches asked for (ST → MX): sent again whenever the sockets are bound anew. */
  private readonly searches = new Map<string, number>();
  /** Counters for tests and debugging. */
  readonly stats = { searches: 0, answered: 0, dropped: 0, replies: 0 };

  constructor(private readonly opts: SsdpOptions) {
    this.advertised = ['upnp:rootdevice', opts.udn, opts.deviceType, ...opts.serviceTypes];
  }

  /** Binds and announces. Without a usable interface it logs and keeps retrying; it never throws for that. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.bind();
    // Addresses change (DHCP renewals, cables): re-bind when the served set differs from the bound one.
    this.watch = setInterval(() => void this.rebindIfChanged(), ADDRESS_CHECK_MS);
    this.watch.unref();
  }

  /** Says ssdp:byebye for everything it announced, then closes the sockets. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
    for (const socket of this.searchSockets) closeQuietly(socket);
    this.searchSockets.clear();
    this.searches.clear();
    this.listeners.clear();
    await this.unbind(true);
  }

  /** The served interfaces' IPv4 addresses now (what the sockets were bound for). */
  servedAddresses(): readonly LocalAddress[] {
    return this.served;
  }

  /**
   * Calls `listener` with every well-formed NOTIFY and search response from a source on a served
   * subnet (other devices' and, for NOTIFY, our own). Returns the way to stop listening.
   */
  onAnnouncement(listener: (a: ReceivedAnnouncement) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Sends one multicast M-SEARCH for `st` from each served address, each from a socket of its own on
   * an ephemeral port (answers come back to that port; port 1900 is shared with other stacks), and
   * hands the answers to the announcement listeners for MX + 1 seconds. Sent again after each re-bind
   * (an address came or changed: a new network may hold other devices).
   */
  search(st: string, mx = 3): void {
    if (this.stopped) return;
    this.searches.set(st, mx);
    if (this.server) this.sendSearch(st, mx);
  }

  private sendSearch(st: string, mx: number): void {
    for (const local of this.served) {
      const socket = createSocket({ type: 'udp4' });
      this.searchSockets.add(socket);
      const close = () => {
        this.searchSockets.delete(socket);
        closeQuietly(socket);
      };
      socket.on('error', (err) => {
        this.opts.log.debug({ err, from: local.address }, 'SSDP: search socket error');
        close();
      });
      socket.on('message', (msg, rinfo) => this.onAnnouncementDatagram(msg, rinfo));
      socket.bind(0, local.address, () => {
        try {
          socket.setMulticastInterface(local.address);
          socket.setMulticastTTL(2);
          socket.send(searchMessage(st, mx, this.opts.server), 1900, '239.255.255.250', (err) => {
            if (err) this.opts.log.debug({ err, from: local.address }, 'SSDP: search not sent');
          });
          this.opts.log.debug({ from: local.address, st, mx }, 'SSDP: searching');
        } catch (err) {
          this.opts.log.debug({ err, from: local.address }, 'SSDP: search not sent');
          close();
          return;
        }
        const t = setTimeout(close, (mx + 1) * 1000);
        t.unref();
      });
      socket.unref();
    }
  }

  private key(addrs: LocalAddress[]): string {
    return addrs
      .map((a) => `${a.address}/${a.netmask}`)
      .sort()
      .join(',');
  }

  private async rebindIfChanged(): Promise<void> {
    if (this.stopped) return;
    const now = servedAddresses(this.opts.interface);
    if (this.key(now) === this.key(this.served) && this.server) return;
    this.opts.log.info({ from: this.served.map((a) => a.address), to: now.map((a) => a.address) }, 'SSDP: interface addresses changed, re-announcing');
    await this.unbind(true);
    if (!this.stopped) await this.bind();
  }

  private async bind(): Promise<void> {
    const { opts } = this;
    const served = servedAddresses(opts.interface);
    this.served = served;
    if (served.length === 0) {
      if (!this.warnedNoAddress) opts.log.warn({ interface: opts.interface }, 'SSDP: no IPv4 address to advertise on yet; will retry');
      this.warnedNoAddress = true;
      return;
    }
    this.warnedNoAddress = false;
    const server = new NodeSsdp({
      udn: opts.udn,
      ssdpSig: opts.server,
      ssdpTtl: 2, // UDA 1.1 §1.1.2: multicast TTL should default to 2
      ttl: opts.maxAgeSeconds ?? 1800,
      adInterval: opts.reannounceMs ?? 600_000,
      location: { protocol: 'http://', port: opts.httpPort, path: opts.descriptionPath },
      interfaces: opts.interface ? [opts.interface] : undefined,
      reuseAddr: true,
      customLogger: (format: string, ...args: unknown[]) => opts.log.trace({ args }, `node-ssdp: ${format}`),
    } as NodeSsdpOptions);
    for (const t of this.advertised) if (t !== opts.udn) server.addUSN(t);
    // Every datagram goes to our parser, never to node-ssdp's (which would answer M-SEARCH from anyone).
    server._parseMessage = (msg, rinfo) => this.onDatagram(msg, rinfo);
    // node-ssdp's own loop waits 3 s before the first NOTIFY and leaves a timer that outlives stop();
    // we announce at once (twice, a second apart, as UDP may drop one) and unref the re-announce loop.
    let abandoned = false;
    server._initAdLoop = () => {
      if (abandoned) return; // bound only after we gave up on it (below)
      for (const [ip, socket] of Object.entries(server.sockets ?? {})) {
        try {
          // node-ssdp never picks the outgoing interface, so every NOTIFY would leave by the default route.
          socket.setMulticastInterface(ip);
        } catch (err) {
          opts.log.warn({ err, ip }, 'SSDP: cannot choose the multicast interface');
        }
        socket.on('error', (err) => opts.log.warn({ err, ip }, 'SSDP socket error'));
      }
      server.advertise();
      this.later(1000, () => server.advertise());
      server._startAdLoop();
      server._adLoopInterval?.unref();
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      // A failed bind never calls node-ssdp back; give up after a few seconds instead of hanging start-up.
      await Promise.race([
        server.start(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('SSDP sockets did not bind within 5 s')), 5000);
        }),
      ]);
      this.server = server;
      opts.log.info({ addresses: served.map((a) => a.address), udn: opts.udn }, 'SSDP announcing');
      for (const [st, mx] of this.searches) this.sendSearch(st, mx);
    } catch (err) {
      opts.log.error({ err }, 'SSDP could not start; will retry');
      abandoned = true;
      // node-ssdp's stop() asserts a running ad loop, so a half-started server's sockets are closed here.
      for (const socket of Object.values(server.sockets ?? {})) {
        try {
          socket.close();
        } catch {
          // never bound, or already closed
        }
      }
    } finally {
      clearTimeout(timer);
    }
    // stop() ran while we were binding: it found nothing to close, so close what we just opened.
    if (this.stopped && this.server === server) await this.unbind(true);
  }

  private async unbind(byebye: boolean): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pendingReplies = 0;
    const server = this.server;
    this.server = null;
    if (!server) return;
    try {
      if (byebye) {
        // node-ssdp's stop() sends byebye and closes the sockets in the same tick, so the datagrams
        // are dropped before they leave (dgram resolves the address on the next tick). Send first.
        server.advertise(false);
        await new Promise((r) => setTimeout(r, 100));
      }
      server.stop();
    } catch (err) {
      this.opts.log.warn({ err }, 'SSDP: error while stopping');
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** True when the same bytes came from the same source a moment ago (one search, several copies). */
  private isDuplicate(source: string, text: string, now: number): boolean {
    const prev = this.recent.get(source);
    if (this.recent.size > 1024) for (const [k, v] of this.recent) if (now - v.at > DUPLICATE_WINDOW_MS) this.recent.delete(k);
    if (prev && prev.text === text && now - prev.at < DUPLICATE_WINDOW_MS) return true;
    this.recent.set(source, { text, at: now });
    return false;
  }

  /** Every datagram on the SSDP sockets. Nothing here may throw: it runs in a socket callback. */
  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    try {
      if (msg.length >= 7 && msg.toString('latin1', 0, 7) === 'NOTIFY ') this.onAnnouncementDatagram(msg, rinfo);
      else this.handleSearch(msg, rinfo);
    } catch (err) {
      this.opts.log.warn({ err, from: rinfo.address }, 'SSDP: datagram handling failed');
    }
  }

  /** A NOTIFY or a search response: parsed and handed to the listeners when it comes from a served subnet. */
  private onAnnouncementDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.listeners.size === 0 || rinfo.family !== 'IPv4') return;
    const from = normalizeIp(rinfo.address);
    const local = this.served.find((a) => inIpv4Subnet(from, a));
    if (!local) return;
    const a = parseAnnouncement(msg);
    if (!a) return;
    for (const listener of this.listeners) {
      try {
        listener({ ...a, from, local });
      } catch (err) {
        this.opts.log.warn({ err, from }, 'SSDP: announcement listener failed');
      }
    }
  }

  private drop(reason: string, rinfo: RemoteInfo): void {
    this.stats.dropped++;
    this.opts.log.trace({ from: `${rinfo.address}:${rinfo.port}`, reason }, 'SSDP: search ignored');
  }

  private handleSearch(msg: Buffer, rinfo: RemoteInfo): void {
    // Quick reject for the NOTIFYs and responses that make up most SSDP traffic, and for giants.
    if (msg.length < 9 || msg.toString('latin1', 0, 9) !== 'M-SEARCH ') return;
    this.stats.searches++;
    if (msg.length > MAX_SEARCH_BYTES) return this.drop('too large', rinfo);
    const server = this.server;
    if (!server || rinfo.family !== 'IPv4' || rinfo.port === 0) return this.drop('not served', rinfo);
    const from = normalizeIp(rinfo.address);
    // gssdp's rule where the arrival interface is unknown (Node has no IP_PKTINFO): answer only a
    // source on a served interface's subnet, and point it at that interface's address.
    const local = this.served.find((a) => inIpv4Subnet(from, a));
    if (!local) return this.drop('source not on a served subnet', rinfo);
    const now = Date.now();
    const source = `${from}:${rinfo.port}`;
    if (this.isDuplicate(source, msg.toString('latin1'), now)) return this.drop('duplicate', rinfo);
    const req = parseSearch(msg);
    if (!req) return this.drop('malformed', rinfo);
    const decision = decideSearch(req, this.advertised, new Set(this.served.map((a) => a.address)));
    if (!decision.answer) return this.drop(decision.reason, rinfo);
    if (this.pendingReplies + decision.targets.length > MAX_PENDING_REPLIES) return this.drop('too many pending replies', rinfo);
    if (!this.limiter.take(from, decision.targets.length, now)) return this.drop('rate limit', rinfo);
    this.stats.answered++;
    this.pendingReplies += decision.targets.length;
    const location = `http://${local.address}:${this.opts.httpPort}${this.opts.descriptionPath}`;
    const send = () => {
      this.pendingReplies -= decision.targets.length;
      const socket = this.server?.sockets?.[local.address];
      if (!socket) return;
      for (const st of decision.targets) {
        const buf = Buffer.from(this.response(st, location), 'latin1');
        try {
          socket.send(buf, rinfo.port, from, (err) => {
            if (err) this.opts.log.debug({ err, to: source }, 'SSDP: reply not sent');
          });
          this.stats.replies++;
        } catch (err) {
          this.opts.log.debug({ err, to: source }, 'SSDP: reply not sent');
        }
      }
    };
    this.opts.log.debug({ from: source, st: req.headers.get('ST'), replies: decision.targets.length, delayMs: decision.delayMs }, 'SSDP: answering search');
    if (decision.delayMs === 0) send();
    else this.later(decision.delayMs, send);
  }

  /** One search response (UDA 1.1 §1.3.3). */
  private response(st: string, location: string): string {
    const usn = st === this.opts.udn ? st : `${this.opts.udn}::${st}`;
    return [
      'HTTP/1.1 200 OK',
      `CACHE-CONTROL: max-age=${this.opts.maxAgeSeconds ?? 1800}`,
      `DATE: ${new Date().toUTCString()}`,
      'EXT:',
      `LOCATION: ${location}`,
      `SERVER: ${this.opts.server}`,
      `ST: ${st}`,
      `USN: ${usn}`,
      '',
      '',
    ].join('\r\n');
  }
}
