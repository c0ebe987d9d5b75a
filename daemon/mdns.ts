// DNS-SD over multicast DNS: the web remote as `_http._tcp` and the push API as `_hifid._tcp`, on the
// configured interface only. The one file that imports bonjour-service; the rest sees MdnsAdvertiser.
//
// bonjour-service gives us the socket (multicast-dns), record building and query answering. Four of
// its behaviours do not fit a box that may sit on several networks, so they are replaced here:
// - its Service puts an A/AAAA record for every interface of the host into each answer (leaking
//   other networks' addresses): we keep its PTR/SRV/TXT records and add A records for our interface;
// - its responder answers queries arriving from any network: we answer only sources on our link;
// - on a name conflict it logs and gives up: we probe (RFC 6762 §8.1), rename `Name (2)` and probe
//   again, and watch for conflicts after announcing (§9);
// - with only `interface` set, multicast-dns binds the socket to that unicast address, where Linux
//   delivers no multicast at all: we bind 0.0.0.0 and set `interface` for membership and sending.
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { BlockList, isIPv4 } from 'node:net';
import path from 'node:path';
import Bonjour from 'bonjour-service';
import type { Logger } from './log.js';

// ---- What we use of multicast-dns / dns-packet (bonjour-service types them as `any`). ----

/** A resource record as dns-packet reads and writes it. */
interface MdnsRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  /** The cache-flush bit: this record replaces what caches hold for the same name and type. */
  flush?: boolean;
  data?: unknown;
}

interface MdnsPacket {
  type?: 'query' | 'response';
  id?: number;
  flags?: number;
  questions?: Array<{ name: string; type: string; class?: string }>;
  answers?: MdnsRecord[];
  authorities?: MdnsRecord[];
  additionals?: MdnsRecord[];
}

interface RemoteInfo {
  address: string;
  port: number;
}

type SendCallback = (err?: Error | null) => void;

interface MulticastDns {
  on(event: 'query' | 'response', listener: (packet: MdnsPacket, rinfo: RemoteInfo) => void): unknown;
  on(event: 'error' | 'warning', listener: (err: Error) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  removeAllListeners(event: string): unknown;
  query(packet: MdnsPacket, cb: SendCallback): void;
  respond(packet: MdnsPacket, rinfo: RemoteInfo | null, cb: SendCallback): void;
  destroy(cb: () => void): void;
}

/** bonjour-service's responder: a record registry that answers queries from it. */
interface BonjourServer {
  mdns: MulticastDns;
  register(records: MdnsRecord[]): void;
  unregister(records: MdnsRecord[]): void;
  respondToQuery(query: MdnsPacket): void;
}

// ---- Names ----

/** RFC 6763 §4.3 / RFC 1035: a DNS label holds at most 63 bytes. */
const MAX_LABEL_BYTES = 63;

function truncateUtf8(s: string, maxBytes: number): string {
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

/**
 * The service instance name for the n-th attempt: `Living-room Hi-Fi`, then `Living-room Hi-Fi (2)`…
 * Dots become dashes (as bonjour-service does) so the name stays one label; cut to 63 bytes.
 */
export function instanceName(base: string, n: number): string {
  const clean = base.replace(/\./g, '-').replace(/[\u0000-\u001f\u007f]/g, '').trim() || 'hifid';
  const suffix = n > 1 ? ` (${n})` : '';
  return truncateUtf8(clean, MAX_LABEL_BYTES - Buffer.byteLength(suffix)).trimEnd() + suffix;
}

/**
 * The host label for the n-th attempt, from the friendly name so people can type it:
 * `Living-room Hi-Fi` → `living-room-hi-fi`, then `living-room-hi-fi-2`. Falls back to the
 * machine's host name when the friendly name has no letters or digits to keep.
 */
export function hostLabel(friendlyName: string, fallback: string, n: number): string {
  const slug = (s: string) =>
    s
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const base = slug(friendlyName) || slug(fallback) || 'hifid';
  const suffix = n > 1 ? `-${n}` : '';
  return base.slice(0, MAX_LABEL_BYTES - suffix.length).replace(/-+$/, '') + suffix;
}

const eqName = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

// ---- The advertiser ----

export interface MdnsOptions {
  /** The friendly name (`--name`): service instance names and the host label derive from it. */
  name: string;
  /** The HTTP port both services point at. */
  port: number;
  version: string;
  /** The one interface to advertise on (`--interface`); null = every non-loopback IPv4 interface. */
  interface: string | null;
  /** `<data-dir>/state`: the UPnP device UDN is read from `udn` here when it exists. */
  stateDir: string;
  log: Logger;
  /** How often interface addresses and the UDN are re-read (ms). */
  pollMs?: number;
}

export interface AdvertisedService {
  type: '_http._tcp' | '_hifid._tcp';
  name: string;
}

interface ServiceSpec {
  type: 'http' | 'hifid';
  txt: Record<string, string>;
}

interface IfaceAddress {
  address: string;
  cidr: string | null;
}

/** IPv4 addresses per interface: the chosen one, or every non-internal one. */
function interfaceAddresses(only: string | null): Map<string, IfaceAddress[]> {
  const out = new Map<string, IfaceAddress[]>();
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if (only !== null && name !== only) continue;
    const v4 = (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => ({ address: a.address, cidr: a.cidr }));
    if (v4.length) out.set(name, v4);
  }
  return out;
}

function isLocalAddress(ip: string): boolean {
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.address === ip));
}

const UDN_RE = /^(?:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export class MdnsAdvertiser {
  private readonly responders = new Map<string, InterfaceResponder>();
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | null = null;
  private udn: string | null = null;
  private stopped = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(private readonly opts: MdnsOptions) {
    this.pollMs = opts.pollMs ?? 3000;
  }

  /** Starts advertising; returns once the sockets are open (probing and announcing go on after). */
  async start(): Promise<void> {
    this.udn = this.readUdn();
    await this.sync();
    this.timer = setInterval(() => {
      // One poll at a time: a slow start on one interface must not overlap the next check.
      this.polling = this.polling.then(() => this.sync()).catch((err: unknown) => this.opts.log.error({ err }, 'mdns: interface check failed'));
    }, this.pollMs);
    this.timer.unref();
  }

  /** Sends goodbye packets (TTL 0) on every interface, then closes the sockets. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await Promise.all([...this.responders.values()].map((r) => r.stop(true)));
    this.responders.clear();
  }

  /** The `.local` host names being advertised now (for the HTTP Host check). */
  hostNames(): string[] {
    return [...new Set([...this.responders.values()].map((r) => r.hostName))];
  }

  private readUdn(): string | null {
    try {
      const m = UDN_RE.exec(readFileSync(path.join(this.opts.stateDir, 'udn'), 'utf8').trim());
      return m ? `uuid:${m[1]!.toLowerCase()}` : null;
    } catch {
      return null; // not created yet (the UPnP server makes it); the TXT goes without it until then
    }
  }

  private specs(): ServiceSpec[] {
    const http: Record<string, string> = { path: '/', version: this.opts.version };
    if (this.udn) http.udn = this.udn;
    return [
      { type: 'http', txt: http },
      { type: 'hifid', txt: { api: '/api/v1', version: this.opts.version } },
    ];
  }

  /** Brings the responders in line with the interfaces' addresses and the UDN. */
  private async sync(): Promise<void> {
    if (this.stopped) return;
    const udn = this.readUdn();
    const udnChanged = udn !== this.udn;
    this.udn = udn;
    const want = interfaceAddresses(this.opts.interface);
    for (const [iface, r] of this.responders) {
      const addrs = want.get(iface);
      if (!addrs) {
        this.opts.log.info({ interface: iface }, 'mdns: interface lost its address; stopped advertising there');
        this.responders.delete(iface);
        await r.stop(false);
      } else if (addrs.map((a) => a.address).join() !== r.addresses.map((a) => a.address).join()) {
        // A new address may mean a new network: probe and announce afresh (RFC 6762 §8.3) on a new
        // socket (the old one's multicast interface was the old address). No goodbye: the services
        // stay; the new A records carry the cache-flush bit, so caches drop the old address.
        this.opts.log.info({ interface: iface, from: r.addresses.map((a) => a.address), to: addrs.map((a) => a.address) }, 'mdns: address changed; announcing again');
        this.responders.delete(iface);
        await r.stop(false);
      } else if (udnChanged) {
        r.updateServices(this.specs());
      }
    }
    if (this.stopped) return;
    for (const [iface, addrs] of want) {
      if (this.responders.has(iface)) continue;
      const r = new InterfaceResponder(iface, addrs, {
        name: this.opts.name,
        port: this.opts.port,
        specs: this.specs(),
        log: this.opts.log.child({ interface: iface }),
      });
      try {
        await r.start();
        this.responders.set(iface, r);
      } catch (err) {
        // Port 5353 taken without SO_REUSEADDR, or no multicast on this interface: retried next poll.
        this.opts.log.warn({ err, interface: iface }, 'mdns: cannot advertise on this interface');
        await r.stop(false);
      }
    }
  }
}

interface ResponderConfig {
  name: string;
  port: number;
  specs: ServiceSpec[];
  log: Logger;
}

const PROBE_INTERVAL_MS = 250;
const PROBES = 3;
/** RFC 6762 §8.1: after 15 conflicts within 10 s, wait 5 s before each new probe. */
const CONFLICT_LIMIT = 15;
const CONFLICT_WINDOW_MS = 10_000;
const CONFLICT_BACKOFF_MS = 5_000;
/** Unsolicited announcements after probing (§8.3: at least two, one second apart, then doubling). */
const ANNOUNCE_DELAYS_MS = [0, 1000, 2000];
/** §10: 120 s for records naming a host; 75 min for the rest. */
const HOST_TTL = 120;
const OTHER_TTL = 4500;

/** One interface: its own socket, names, probe/announce cycle and conflict watch. */
class InterfaceResponder {
  private bonjour: Bonjour | null = null;
  private server: BonjourServer | null = null;
  private state: 'idle' | 'probing' | 'announced' | 'stopped' = 'idle';
  private hostN = 1;
  private readonly serviceN = new Map<ServiceSpec['type'], number>();
  private specs: ServiceSpec[];
  /** The records we hold (probing: proposed; announced: registered and answered). */
  private records: MdnsRecord[] = [];
  private readonly link = new BlockList();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly conflictTimes: number[] = [];
  /** Names found taken during the current probe. */
  private probeConflicts = new Set<string>();
  private announcedOnce = false;

  constructor(
    readonly iface: string,
    readonly addresses: IfaceAddress[],
    private readonly cfg: ResponderConfig,
  ) {
    this.specs = cfg.specs;
    for (const a of addresses) {
      const [net, bits] = (a.cidr ?? `${a.address}/32`).split('/');
      this.link.addSubnet(net!, Number(bits), 'ipv4');
    }
  }

  get hostName(): string {
    return `${hostLabel(this.cfg.name, hostname(), this.hostN)}.local`;
  }

  private serviceName(type: ServiceSpec['type']): string {
    return instanceName(this.cfg.name, this.serviceN.get(type) ?? 1);
  }

  advertised(): AdvertisedService[] {
    if (this.state !== 'announced') return [];
    return this.specs.map((s) => ({ type: `_${s.type}._tcp` as const, name: this.serviceName(s.type) }));
  }

  async start(): Promise<void> {
    const primary = this.addresses[0]!.address;
    // `interface` picks the group membership and the outgoing interface for multicast; `bind` must be
    // the wildcard, or Linux delivers no multicast to the socket (see the top of this file).
    const opts = { interface: primary, bind: '0.0.0.0', reuseAddr: true, loopback: true, ttl: 255 };
    this.bonjour = new Bonjour(opts as unknown as ConstructorParameters<typeof Bonjour>[0], (err: Error) => this.cfg.log.warn({ err }, 'mdns: send failed'));
    // Not in bonjour-service's public types; it is the Server that owns the socket and the registry.
    this.server = (this.bonjour as unknown as { server: BonjourServer }).server;
    const mdns = this.server.mdns;
    mdns.on('warning', (err) => this.cfg.log.debug({ err }, 'mdns: socket warning'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      mdns.once('error', onError);
      mdns.once('ready', () => {
        mdns.removeListener('error', onError);
        resolve();
      });
    });
    mdns.on('error', (err) => this.cfg.log.warn({ err }, 'mdns: socket error'));
    // Replace bonjour-service's own query handler: it would answer every network the host is on.
    mdns.removeAllListeners('query');
    mdns.on('query', (q, rinfo) => this.onQuery(q, rinfo));
    mdns.on('response', (p, rinfo) => this.onResponse(p, rinfo));
    this.later(Math.random() * PROBE_INTERVAL_MS, () => this.probe());
  }

  /** Goodbye (when asked and something was announced), then close. */
  async stop(goodbye: boolean): Promise<void> {
    const wasAnnounced = this.state === 'announced';
    this.state = 'stopped';
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    if (goodbye && wasAnnounced) {
      const bye = this.records.map((r) => ({ ...r, ttl: 0 }));
      await this.send((cb) => server.mdns.respond({ answers: bye }, null, cb)).catch((err: unknown) => this.cfg.log.debug({ err }, 'mdns: goodbye not sent'));
      this.cfg.log.info({ services: this.specs.map((s) => this.serviceName(s.type)) }, 'mdns: goodbye sent');
    }
    server.unregister(this.records);
    await new Promise<void>((resolve) => this.bonjour!.destroy(() => resolve()));
    this.server = null;
  }

  /** New TXT data (the UDN appeared): announce it; names stay, so no probe is needed. */
  updateServices(specs: ServiceSpec[]): void {
    this.specs = specs;
    if (this.state !== 'announced') return; // the probe in flight builds its records from the new specs
    this.server!.unregister(this.records);
    this.records = this.buildRecords();
    this.server!.register(this.records);
    this.announce();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.state !== 'stopped') fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private send(op: (cb: SendCallback) => void): Promise<void> {
    return new Promise((resolve, reject) => op((err) => (err ? reject(err) : resolve())));
  }

  private onLink(address: string): boolean {
    return isIPv4(address) && this.link.check(address, 'ipv4');
  }

  private buildRecords(): MdnsRecord[] {
    const host = this.hostName;
    const out: MdnsRecord[] = [];
    for (const spec of this.specs) {
      const svc = new Bonjour.Service({ name: this.serviceName(spec.type), type: spec.type, protocol: 'tcp', port: this.cfg.port, host, txt: spec.txt, disableIPv6: true }, () => undefined, () => undefined);
      for (const r of svc.records() as MdnsRecord[]) {
        if (r.type === 'A' || r.type === 'AAAA') continue; // every interface of the host: replaced below
        // SRV and TXT belong to this host alone: set cache-flush so a rename or new TXT replaces old data.
        const unique = r.type === 'SRV' || r.type === 'TXT';
        out.push({ ...r, ttl: r.type === 'SRV' ? HOST_TTL : OTHER_TTL, ...(unique ? { flush: true } : {}) });
      }
    }
    for (const a of this.addresses) out.push({ name: host, type: 'A', ttl: HOST_TTL, flush: true, data: a.address });
    return out;
  }

  /** Names only we may hold: each service instance and the host. */
  private uniqueNames(): string[] {
    return [...new Set(this.records.filter((r) => r.type !== 'PTR').map((r) => r.name))];
  }

  /** Does a record someone else sent claim one of our names with other data? */
  private conflicts(rr: MdnsRecord): boolean {
    if (!rr.ttl) return false; // goodbyes never conflict
    if (!this.uniqueNames().some((n) => eqName(n, rr.name))) return false;
    if (rr.type === 'A' || rr.type === 'AAAA') {
      // Our own addresses (another of our responders, or avahi on this host) are no conflict.
      return typeof rr.data !== 'string' || !isLocalAddress(rr.data);
    }
    const mine = this.records.find((m) => m.type === rr.type && eqName(m.name, rr.name));
    if (!mine) return true;
    if (rr.type === 'SRV') {
      const a = rr.data as { port?: number; target?: string };
      const b = mine.data as { port: number; target: string };
      return a.port !== b.port || !eqName(a.target ?? '', b.target);
    }
    if (rr.type === 'TXT') {
      const flat = (d: unknown) => (Array.isArray(d) ? d : [d]).map((x) => (Buffer.isBuffer(x) ? x.toString('hex') : String(x))).join('|');
      return flat(rr.data) !== flat(mine.data);
    }
    return true;
  }

  private onQuery(q: MdnsPacket, rinfo: RemoteInfo): void {
    if (this.state !== 'announced' || !this.onLink(rinfo.address)) return;
    if (rinfo.port !== 5353) {
      this.answerLegacy(q, rinfo);
      return;
    }
    this.server!.respondToQuery(q);
  }

  /**
   * A one-shot resolver (`dig -p 5353 @224.0.0.251`) asks from another port and listens there only
   * (RFC 6762 §6.7): answer by unicast, echo the id and questions, short TTLs, no cache-flush bit.
   */
  private answerLegacy(q: MdnsPacket, rinfo: RemoteInfo): void {
    const questions = q.questions ?? [];
    const answers = this.records
      .filter((r) => questions.some((qq) => eqName(qq.name, r.name) && (qq.type === 'ANY' || qq.type === r.type)))
      .map((r) => ({ ...r, ttl: Math.min(r.ttl ?? 10, 10), flush: false }));
    if (!answers.length) return;
    this.server!.mdns.respond({ id: q.id ?? 0, questions, answers }, { address: rinfo.address, port: rinfo.port }, (err) => {
      if (err) this.cfg.log.debug({ err }, 'mdns: unicast answer failed');
    });
  }

  private onResponse(p: MdnsPacket, rinfo: RemoteInfo): void {
    if (this.state === 'stopped' || this.state === 'idle' || !this.onLink(rinfo.address)) return;
    for (const rr of [...(p.answers ?? []), ...(p.additionals ?? [])]) {
      if (!this.conflicts(rr)) continue;
      if (this.state === 'probing') {
        this.probeConflicts.add(rr.name.toLowerCase());
      } else {
        // §9: a conflict after announcing puts the records back into probing; the probe decides.
        this.cfg.log.warn({ record: rr.name, type: rr.type, from: rinfo.address }, 'mdns: another responder claims our name; probing again');
        this.server!.unregister(this.records);
        this.state = 'idle';
        this.later(0, () => this.probe());
        return;
      }
    }
  }

  /** §8.1: ask three times, 250 ms apart, whether anyone holds our names; rename and retry if so. */
  private probe(): void {
    const now = Date.now();
    while (this.conflictTimes.length && now - this.conflictTimes[0]! > CONFLICT_WINDOW_MS) this.conflictTimes.shift();
    this.state = 'probing';
    this.probeConflicts = new Set();
    this.records = this.buildRecords();
    const names = this.uniqueNames();
    const proposed = this.records.filter((r) => r.type !== 'PTR');
    let sent = 0;
    const step = () => {
      if (this.probeConflicts.size) return this.resolveConflicts();
      if (sent === PROBES) return this.announced();
      sent++;
      // Proposed records go in the authority section so a simultaneous prober can compare (§8.2).
      const query: MdnsPacket = { questions: names.map((name) => ({ name, type: 'ANY', class: 'IN' })), authorities: proposed };
      this.server!.mdns.query(query, (err) => {
        if (err) this.cfg.log.debug({ err }, 'mdns: probe not sent');
      });
      this.later(PROBE_INTERVAL_MS, step);
    };
    step();
  }

  private resolveConflicts(): void {
    this.conflictTimes.push(Date.now());
    const renamed: Array<{ from: string; to: string }> = [];
    if (this.probeConflicts.has(this.hostName.toLowerCase())) {
      const from = this.hostName;
      this.hostN++;
      renamed.push({ from, to: this.hostName });
    }
    for (const spec of this.specs) {
      const fqdn = `${this.serviceName(spec.type)}._${spec.type}._tcp.local`.toLowerCase();
      if (!this.probeConflicts.has(fqdn)) continue;
      const from = this.serviceName(spec.type);
      this.serviceN.set(spec.type, (this.serviceN.get(spec.type) ?? 1) + 1);
      renamed.push({ from, to: this.serviceName(spec.type) });
    }
    this.cfg.log.warn({ renamed }, 'mdns: name already in use on the network; renamed');
    this.state = 'idle';
    this.later(this.conflictTimes.length >= CONFLICT_LIMIT ? CONFLICT_BACKOFF_MS : 0, () => this.probe());
  }

  private announced(): void {
    this.state = 'announced';
    this.server!.register(this.records);
    this.announce();
    this.cfg.log.info(
      { host: this.hostName, addresses: this.addresses.map((a) => a.address), port: this.cfg.port, services: this.advertised(), again: this.announcedOnce },
      'mdns: announced',
    );
    this.announcedOnce = true;
  }

  /** Unsolicited responses with everything we hold, so caches learn (or relearn) at once. */
  private announce(): void {
    const records = this.records;
    for (const delay of ANNOUNCE_DELAYS_MS) {
      this.later(delay, () => {
        if (this.state !== 'announced' || this.records !== records) return; // superseded by a rename or new TXT
        this.server!.mdns.respond({ answers: records }, null, (err) => {
          if (err) this.cfg.log.debug({ err }, 'mdns: announcement not sent');
        });
      });
    }
  }
}
