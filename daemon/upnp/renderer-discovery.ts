// The MediaRenderers on the LAN, known from their SSDP announcements (NOTIFY ssdp:alive/byebye and
// the answers to one M-SEARCH at start) and their device descriptions. Each description tells
// profiles.ts what the device is (friendlyName/manufacturer/modelName → a renderer profile for
// requests from that address) and gives the list the web remote can later "play to".
//
// LOCATION comes from a datagram anyone on the LAN can send (and spoof), so fetching it is an SSRF
// sink: only `http://` to a dotted-quad IPv4 literal on the served subnet that is the datagram's own
// source address (import-source.ts's rules, plus that), one GET, no redirects, 3 s for everything,
// 64 KB at most, one fetch per address at a time and a new one at most every 10 minutes (a minute
// after a failure). The XML is parsed like a SOAP body: no DTD, no entities beyond XML's five.
import { XMLValidator } from 'fast-xml-parser';
import type { Logger } from '../log.js';
import type { LocalAddress } from '../net.js';
import type { DeviceInfo, Profile } from '../profiles.js';
import { parseImportSource, requestSource, SourceRefused, type ImportSource } from './import-source.js';
import { childrenOf, decodeXmlText, elementName, orderedXmlParser, textOf, unsafeXmlReason, type OrderedNode } from '../xml-read.js';
import { readBounded } from '../http/body.js';
import type { ReceivedAnnouncement } from './ssdp.js';

export const MEDIA_RENDERER_1 = 'urn:schemas-upnp-org:device:MediaRenderer:1';
const RENDERER_TYPE = /^urn:schemas-upnp-org:device:MediaRenderer:\d{1,3}$/;
const AV_TRANSPORT_TYPE = /^urn:schemas-upnp-org:service:AVTransport:\d{1,3}$/;

/** What the SSDP layer (ssdp.ts `Ssdp`) gives discovery. */
export interface SsdpChannel {
  onAnnouncement(listener: (a: ReceivedAnnouncement) => void): () => void;
  search(st: string, mx?: number): void;
}

export interface RendererLimits {
  maxDevices: number;
  fetchTimeoutMs: number;
  maxDescriptionBytes: number;
  /** A description read from an address is read again from it at most this often. */
  refetchMs: number;
  /** After a failed fetch, the address is tried again at most this often. */
  retryFailedMs: number;
}

export const DEFAULT_RENDERER_LIMITS: RendererLimits = {
  maxDevices: 64,
  fetchTimeoutMs: 3000,
  maxDescriptionBytes: 64 * 1024,
  refetchMs: 10 * 60 * 1000,
  retryFailedMs: 60 * 1000,
};

export interface RendererDiscoveryDeps {
  ssdp: SsdpChannel;
  profiles: { rememberDevice(address: string, device: DeviceInfo): Profile };
  /** The stereo's own addresses: never fetched from. */
  ownAddresses: () => ReadonlySet<string>;
  userAgent: string;
  log: Logger;
  limits?: Partial<RendererLimits>;
}

/** A renderer as `/api/v1/devices` lists it. */
export interface RendererJson {
  udn: string;
  friendlyName: string | null;
  manufacturer: string | null;
  modelName: string | null;
  address: string;
  /** Absolute http:// URL on the renderer's own address, or null when it has no AVTransport (or names another host). */
  avTransportControlUrl: string | null;
  /** The renderer profile its description matched (`generic` when none did). */
  profile: string;
  lastSeenAt: string;
}

// ---------------------------------------------------------------------------------------------
// The description

/** A description that cannot be used (malformed, not the announced device, too big, …). */
export class DescriptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DescriptionError';
  }
}

export interface RendererDescription {
  udn: string;
  deviceType: string;
  friendlyName: string | null;
  manufacturer: string | null;
  modelName: string | null;
  avTransportControlUrl: string | null;
}

// root/device/deviceList/device/deviceList/device/serviceList/service/controlURL, with room to spare
const parser = orderedXmlParser({ maxNestedTags: 16 });

const MAX_FIELD = 256;
/** An AV receiver nests a few devices; more is not a real description. */
const MAX_DEVICES_IN_DESCRIPTION = 32;

/** The children of each child element of `nodes` called `name`. */
function elements(nodes: OrderedNode[], name: string): OrderedNode[][] {
  return nodes.filter((n) => elementName(n) === name).map((n) => childrenOf(n, name));
}

/** The text of a leaf element, entity-decoded and trimmed, control characters dropped; null when absent, repeated or not text. */
function leaf(nodes: OrderedNode[], name: string): string | null {
  const found = elements(nodes, name);
  if (found.length !== 1 || found[0]!.some((n) => elementName(n) !== null)) return null;
  let raw: string;
  try {
    raw = textOf(found[0]!, (t) => decodeXmlText(t, (message) => new DescriptionError(message)));
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  const text = raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  if (text === '') return null;
  return text.length > MAX_FIELD ? text.slice(0, MAX_FIELD) : text;
}

/** The `item` elements of the one `list` element (deviceList/device, serviceList/service). */
function children(nodes: OrderedNode[], list: string, item: string): OrderedNode[][] {
  const l = elements(nodes, list);
  return l.length === 1 ? elements(l[0]!, item) : [];
}

/**
 * `url` resolved against `base`, when it is http:// on `address` itself (a renderer's control URL is
 * somewhere the stereo may later send SOAP to, so the same rule as for the description holds).
 */
export function sameHostUrl(url: string, base: string, address: string): string | null {
  try {
    const u = new URL(url, base);
    if (u.protocol !== 'http:' || u.hostname !== address || u.username !== '' || u.password !== '') return null;
    return u.href;
  } catch {
    return null;
  }
}

/**
 * Reads the device `udn` (announced in the USN) from a device description fetched from `location`:
 * its type, friendlyName, manufacturer, modelName and AVTransport control URL. Throws DescriptionError.
 */
export function parseRendererDescription(xml: string, udn: string, location: string, address: string): RendererDescription {
  const unsafe = unsafeXmlReason(xml);
  if (unsafe) throw new DescriptionError(unsafe);
  if (XMLValidator.validate(xml) !== true) throw new DescriptionError('malformed XML');
  let doc: OrderedNode[];
  try {
    doc = parser.parse(xml) as OrderedNode[];
  } catch {
    throw new DescriptionError('malformed XML');
  }
  const roots = elements(doc, 'root');
  if (roots.length !== 1) throw new DescriptionError('no <root> element');
  const root = roots[0]!;
  const top = elements(root, 'device');
  if (top.length !== 1) throw new DescriptionError('<root> must hold one <device>');
  // The announced device may be the root device or an embedded one (an AV receiver's renderer).
  const all: OrderedNode[][] = [];
  const walk = (d: OrderedNode[]) => {
    if (all.length >= MAX_DEVICES_IN_DESCRIPTION) throw new DescriptionError('too many embedded devices');
    all.push(d);
    for (const e of children(d, 'deviceList', 'device')) walk(e);
  };
  walk(top[0]!);
  const device = all.find((d) => leaf(d, 'UDN')?.toLowerCase() === udn.toLowerCase());
  if (!device) throw new DescriptionError(`the description does not describe ${udn}`);
  const deviceType = leaf(device, 'deviceType') ?? '';
  if (!RENDERER_TYPE.test(deviceType)) throw new DescriptionError(`${udn} is a ${deviceType || 'device of no type'}, not a MediaRenderer`);
  const base = leaf(root, 'URLBase') ?? location;
  const avt = children(device, 'serviceList', 'service').find((s) => AV_TRANSPORT_TYPE.test(leaf(s, 'serviceType') ?? ''));
  const control = avt ? leaf(avt, 'controlURL') : null;
  return {
    udn: udn.toLowerCase(),
    deviceType,
    friendlyName: leaf(device, 'friendlyName'),
    manufacturer: leaf(device, 'manufacturer'),
    modelName: leaf(device, 'modelName'),
    avTransportControlUrl: control ? sameHostUrl(control, base, address) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Where the description may be fetched from, and the fetch

/**
 * The LOCATION of an announcement from `from`, checked before any connection: import-source.ts's
 * rules (http://, dotted-quad IPv4 on the served subnet, not ours, not loopback/multicast/edge) and
 * the host must be the datagram's source address. Throws SourceRefused.
 */
export function descriptionSource(location: string, from: string, local: Pick<LocalAddress, 'address' | 'netmask'>, own: ReadonlySet<string>): ImportSource {
  let src: ImportSource;
  try {
    src = parseImportSource(location, local, own);
  } catch (err) {
    // Same rules, our word for the field.
    if (err instanceof SourceRefused) throw new SourceRefused(err.message.replace(/SourceURI/g, 'LOCATION'));
    throw err;
  }
  if (src.host !== from) throw new SourceRefused(`LOCATION host ${src.host} is not the announcing address ${from}`);
  return src;
}

export interface FetchOptions {
  localAddress: string;
  timeoutMs: number;
  maxBytes: number;
  userAgent: string;
  signal: AbortSignal;
}

/** One GET of a description: 200 only (no redirects), whole exchange within timeoutMs, at most maxBytes. */
export function fetchDescription(src: ImportSource, opts: FetchOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    const req = requestSource(src, { localAddress: opts.localAddress, userAgent: opts.userAgent, accept: 'text/xml, application/xml' });
    const finish = (err: Error | null, body?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(body!);
    };
    const onAbort = () => finish(new DescriptionError('stopped'));
    const timer = setTimeout(() => finish(new DescriptionError(`no complete description within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    if (opts.signal.aborted) return finish(new DescriptionError('stopped'));
    opts.signal.addEventListener('abort', onAbort);
    req.on('error', (err) => finish(new DescriptionError(`cannot read the description: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    req.on('response', (res) => {
      if (res.statusCode !== 200) return finish(new DescriptionError(`HTTP ${res.statusCode ?? 0} for the description (redirects are not followed)`));
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) return finish(new DescriptionError(`description of ${declared} bytes is over ${opts.maxBytes}`));
      readBounded(res, opts.maxBytes, () => new DescriptionError(`description over ${opts.maxBytes} bytes`)).then(
        (bytes) => finish(null, bytes.toString('utf8')),
        (err: Error) => finish(err instanceof DescriptionError ? err : new DescriptionError(`description cut off: ${err.message}`)),
      );
    });
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// The table

interface Entry extends RendererJson {
  location: string;
  fetchedAt: number;
  seenAt: number;
  expiresAt: number;
}

/** Announcements without (or with an absurd) max-age count as 30 minutes; kept between 1 minute and a day. */
function lifetimeMs(maxAgeSeconds: number | null): number {
  const s = maxAgeSeconds ?? 1800;
  return Math.min(Math.max(s, 60), 86_400) * 1000;
}

/** Addresses whose last fetch time is kept (for the re-fetch limits). */
const MAX_ATTEMPTS = 256;
const SWEEP_MS = 60_000;

export class RendererDiscovery {
  private readonly limits: RendererLimits;
  private readonly table = new Map<string, Entry>();
  private readonly attempts = new Map<string, { at: number; ok: boolean }>();
  private readonly inFlight = new Set<string>();
  private abort = new AbortController();
  private unsubscribe: (() => void) | null = null;
  private sweep: NodeJS.Timeout | null = null;
  /** Counters for tests and debugging. */
  readonly stats = { fetches: 0, refused: 0, failed: 0 };

  constructor(private readonly deps: RendererDiscoveryDeps) {
    this.limits = { ...DEFAULT_RENDERER_LIMITS, ...deps.limits };
  }

  /** Listens for announcements and sends one M-SEARCH for MediaRenderers. */
  start(): void {
    if (this.unsubscribe) return;
    this.abort = new AbortController();
    this.unsubscribe = this.deps.ssdp.onAnnouncement((a) => this.onAnnouncement(a));
    this.sweep = setInterval(() => this.prune(Date.now()), SWEEP_MS);
    this.sweep.unref();
    this.deps.ssdp.search(MEDIA_RENDERER_1, 3);
  }

  /** Stops listening and ends the fetches under way. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
    this.abort.abort();
    // Fetches settle on the abort at once; wait for them so nothing runs after stop.
    for (let i = 0; i < 50 && this.inFlight.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  }

  /** The renderers known now, by name. */
  list(): RendererJson[] {
    this.prune(Date.now());
    return [...this.table.values()]
      .map(({ udn, friendlyName, manufacturer, modelName, address, avTransportControlUrl, profile, lastSeenAt }) => ({ udn, friendlyName, manufacturer, modelName, address, avTransportControlUrl, profile, lastSeenAt }))
      .sort((a, b) => (a.friendlyName ?? a.udn).localeCompare(b.friendlyName ?? b.udn) || a.udn.localeCompare(b.udn));
  }

  private prune(now: number): void {
    for (const [udn, e] of this.table) if (e.expiresAt <= now) this.table.delete(udn);
  }

  private onAnnouncement(a: ReceivedAnnouncement): void {
    const now = Date.now();
    if (a.kind === 'byebye') {
      const e = this.table.get(a.udn);
      // Anyone may send a byebye; one from another address than the renderer's is not its own.
      if (e && e.address === a.from && (RENDERER_TYPE.test(a.type) || a.type === 'upnp:rootdevice' || a.type.toLowerCase() === a.udn)) {
        this.table.delete(a.udn);
        this.deps.log.info({ udn: a.udn, address: a.from, friendlyName: e.friendlyName }, 'renderer left');
      }
      return;
    }
    if (!RENDERER_TYPE.test(a.type) || a.location === null) return;
    const e = this.table.get(a.udn);
    if (e && e.address === a.from) {
      e.seenAt = now;
      e.lastSeenAt = new Date(now).toISOString();
      e.expiresAt = now + lifetimeMs(a.maxAgeSeconds);
      if (e.location === a.location && now - e.fetchedAt < this.limits.refetchMs) return;
    }
    this.consider(a, now);
  }

  /** Decides whether to fetch this announcement's description, and does. */
  private consider(a: ReceivedAnnouncement, now: number): void {
    const { log } = this.deps;
    if (this.inFlight.has(a.from)) return;
    const last = this.attempts.get(a.from);
    if (last && now - last.at < (last.ok ? this.limits.refetchMs : this.limits.retryFailedMs)) return;
    let src: ImportSource;
    try {
      src = descriptionSource(a.location!, a.from, a.local, this.deps.ownAddresses());
    } catch (err) {
      if (!(err instanceof SourceRefused)) throw err;
      this.stats.refused++;
      log.debug({ udn: a.udn, from: a.from, location: a.location!.slice(0, 256), reason: err.message }, 'renderer LOCATION refused');
      return;
    }
    if (!last && this.attempts.size >= MAX_ATTEMPTS) {
      for (const [k, v] of this.attempts) if (now - v.at >= this.limits.refetchMs) this.attempts.delete(k);
      if (this.attempts.size >= MAX_ATTEMPTS) return; // many live addresses at once: refuse newcomers rather than grow
    }
    this.attempts.delete(a.from); // re-insert: Map order is oldest attempt first
    this.attempts.set(a.from, { at: now, ok: false });
    this.inFlight.add(a.from);
    this.stats.fetches++;
    const signal = this.abort.signal;
    void fetchDescription(src, { localAddress: a.local.address, timeoutMs: this.limits.fetchTimeoutMs, maxBytes: this.limits.maxDescriptionBytes, userAgent: this.deps.userAgent, signal })
      .then((xml) => {
        if (signal.aborted) return;
        const d = parseRendererDescription(xml, a.udn, a.location!, a.from);
        this.attempts.set(a.from, { at: now, ok: true });
        this.add(a, d);
      })
      .catch((err: unknown) => {
        if (signal.aborted) return;
        this.stats.failed++;
        log.info({ udn: a.udn, address: a.from, reason: (err as Error).message }, 'renderer description not read');
      })
      .finally(() => this.inFlight.delete(a.from));
  }

  private add(a: ReceivedAnnouncement, d: RendererDescription): void {
    const now = Date.now();
    const device: DeviceInfo = {};
    if (d.friendlyName !== null) device.friendlyName = d.friendlyName;
    if (d.manufacturer !== null) device.manufacturer = d.manufacturer;
    if (d.modelName !== null) device.modelName = d.modelName;
    const profile = this.deps.profiles.rememberDevice(a.from, device);
    if (!this.table.has(d.udn)) {
      this.prune(now);
      // Full of live renderers: the one not heard from for longest goes.
      while (this.table.size >= this.limits.maxDevices) {
        let oldest: Entry | null = null;
        for (const e of this.table.values()) if (!oldest || e.seenAt < oldest.seenAt) oldest = e;
        this.table.delete(oldest!.udn);
      }
    }
    this.table.set(d.udn, {
      udn: d.udn,
      friendlyName: d.friendlyName,
      manufacturer: d.manufacturer,
      modelName: d.modelName,
      address: a.from,
      avTransportControlUrl: d.avTransportControlUrl,
      profile: profile.id,
      lastSeenAt: new Date(now).toISOString(),
      location: a.location!,
      fetchedAt: now,
      seenAt: now,
      expiresAt: now + lifetimeMs(a.maxAgeSeconds),
    });
    this.deps.log.info({ udn: d.udn, address: a.from, friendlyName: d.friendlyName, manufacturer: d.manufacturer, modelName: d.modelName, profile: profile.id, via: a.kind }, 'renderer found');
  }
}
