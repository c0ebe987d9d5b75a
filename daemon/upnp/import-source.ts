// ImportResource's SourceURI is a request the stereo makes on a client's say-so: an SSRF sink. So the
// URI is parsed by hand, strictly, before any connection: `http://` + a dotted-quad IPv4 literal (no
// names, no IPv6, no userinfo, no hex/octal/integer forms that WHATWG URL would turn into an address)
// on the subnet of the interface the request came in on, and not one of the stereo's own addresses,
// loopback, multicast, or the subnet's network/broadcast address. Then one GET, no redirects, with
// a deadline for the response headers and an idle timeout for the body.
import http from 'node:http';
import { isIpv4SubnetEdge, inIpv4Subnet } from '../net.js';

export interface ImportSource {
  host: string;
  port: number;
  /** Request target, percent-encoded where the client left characters raw. */
  path: string;
}

/** Why a SourceURI was refused (the caller answers UPnP 714 with it). */
export class SourceRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceRefused';
  }
}

const MAX_SOURCE_URI = 2048;
const URI = /^http:\/\/([0-9.]+)(?::([0-9]{1,5}))?(\/[^]*)?$/i;
const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
// RFC 3986 pchar plus "/" and "?", and "%" (checked below): kept as they are.
const KEEP = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/;

/** A dotted quad with four decimal octets, no leading zeros (no octal reading), each ≤ 255. */
export function isStrictIpv4(host: string): boolean {
  const parts = host.split('.');
  return parts.length === 4 && parts.every((p) => OCTET.test(p) && Number(p) <= 255);
}

/**
 * gupnp-upload puts the file's path into SourceURI unencoded ("01 Song.mp3"), and the server it runs
 * decodes the path it receives: characters a request line cannot carry are percent-encoded here,
 * existing `%XX` escapes are kept. Control characters are refused.
 */
function requestTarget(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) throw new SourceRefused('control characters in SourceURI');
    if (c === '%' && !/^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) out += '%25';
    else if (code < 0x80 && KEEP.test(c)) out += c;
    else {
      const cp = raw.codePointAt(i)!;
      if (cp > 0xffff) i++;
      out += encodeURIComponent(String.fromCodePoint(cp));
    }
  }
  return out;
}

/**
 * Checks a SourceURI against the interface the request came in on (`local`: its address and netmask)
 * and the stereo's own addresses. Throws SourceRefused; never resolves a name, never connects.
 */
export function parseImportSource(uri: string, local: { address: string; netmask: string }, own: ReadonlySet<string>): ImportSource {
  if (uri.length > MAX_SOURCE_URI) throw new SourceRefused('SourceURI is too long');
  const m = URI.exec(uri);
  if (!m) throw new SourceRefused('SourceURI must be http:// with an IPv4 address (no names, no user info)');
  const host = m[1]!;
  if (!isStrictIpv4(host)) throw new SourceRefused('SourceURI host must be a dotted-quad IPv4 address');
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (port < 1 || port > 65535) throw new SourceRefused('SourceURI port out of range');
  const first = Number(host.split('.')[0]);
  if (first === 0 || first === 127 || first >= 224) throw new SourceRefused('SourceURI host is not a single LAN host');
  if (own.has(host)) throw new SourceRefused("SourceURI points at the stereo's own address");
  if (!inIpv4Subnet(host, local) || isIpv4SubnetEdge(host, local)) throw new SourceRefused('SourceURI host is not on the subnet the request came from');
  return { host, port, path: requestTarget(m[3] ?? '/') };
}

export interface OpenedSource {
  status: number;
  /** Content-Length when the source gave a valid one. */
  length: number | null;
  body: http.IncomingMessage;
  /** Ends the transfer (the body then errors). */
  abort(reason: Error): void;
}

export interface OpenOptions {
  /** Our address on that interface, so the request leaves by it. */
  localAddress: string;
  headerTimeoutMs: number;
  /** The body stalls this long → the transfer fails. */
  idleTimeoutMs: number;
  userAgent: string;
}

/** A source that could not be reached or that did not answer in time. */
export class SourceUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceUnreachable';
  }
}

/**
 * A GET of a checked source from our address on its subnet: no agent (no pooled socket to reuse
 * towards another device), no redirect handling, the Host the URI named.
 */
export function requestSource(src: ImportSource, opts: { localAddress: string; userAgent: string; accept: string }): http.ClientRequest {
  return http.request({
    host: src.host,
    port: src.port,
    path: src.path,
    method: 'GET',
    localAddress: opts.localAddress,
    agent: false,
    headers: { Host: src.port === 80 ? src.host : `${src.host}:${src.port}`, 'User-Agent': opts.userAgent, Accept: opts.accept, Connection: 'close' },
  });
}

/** One GET; resolves when the response headers arrive (whatever the status), never follows a redirect. */
export function openSource(src: ImportSource, opts: OpenOptions): Promise<OpenedSource> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = requestSource(src, { localAddress: opts.localAddress, userAgent: opts.userAgent, accept: '*/*' });
    const headerTimer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new SourceUnreachable(`no response from the source within ${opts.headerTimeoutMs} ms`));
    }, opts.headerTimeoutMs);
    req.on('error', (err) => {
      clearTimeout(headerTimer);
      if (settled) return;
      settled = true;
      reject(new SourceUnreachable(`cannot reach the source: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    req.on('response', (res) => {
      clearTimeout(headerTimer);
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      // The socket is idle this long while the body is being read → the body errors.
      req.setTimeout(opts.idleTimeoutMs, () => req.destroy(new SourceUnreachable(`the source sent nothing for ${opts.idleTimeoutMs} ms`)));
      const raw = res.headers['content-length'];
      const length = raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : null;
      resolve({ status: res.statusCode ?? 0, length, body: res, abort: (reason) => req.destroy(reason) });
    });
    req.end();
  });
}
