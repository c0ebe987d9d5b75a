// Talking UPnP to the daemon from the "phone" side of the test LAN: raw HTTP with any method and a
// chosen source address, SOAP calls, SSDP datagrams, and upnp-device-client as a real control point.
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Source address, e.g. the phone's 10.77.0.2. */
  localAddress?: string;
  /** Send the body as chunks (no Content-Length). */
  chunked?: boolean;
  timeoutMs?: number;
}

/** One HTTP request with no client-side normalisation: custom methods, raw headers, chosen source. */
export function rawRequest(url: string, opts: RawRequest = {}): Promise<RawResponse> {
  const u = new URL(url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
    if (opts.body !== undefined && !opts.chunked && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
      headers['Content-Length'] = Buffer.byteLength(opts.body);
    }
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'GET', headers, localAddress: opts.localAddress, agent: false, setHost: !Object.keys(headers).some((k) => k.toLowerCase() === 'host') },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (opts.body !== undefined) {
      if (opts.chunked) {
        const b = Buffer.from(opts.body);
        for (let i = 0; i < b.length; i += 64 * 1024) req.write(b.subarray(i, i + 64 * 1024));
      } else req.write(opts.body);
    }
    req.end();
  });
}

export function envelope(serviceType: string, action: string, args: Record<string, string> = {}): string {
  const inner = Object.entries(args)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('');
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action} xmlns:u="${serviceType}">${inner}</u:${action}></s:Body></s:Envelope>`;
}

/** POSTs a SOAP call; `body` overrides the envelope, `soapAction` the header. */
export function soap(url: string, serviceType: string, action: string, opts: { args?: Record<string, string>; body?: string | Buffer; soapAction?: string | null; headers?: Record<string, string>; localAddress?: string; chunked?: boolean } = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { 'Content-Type': 'text/xml; charset="utf-8"', ...(opts.headers ?? {}) };
  if (opts.soapAction !== null) headers.SOAPACTION = opts.soapAction ?? `"${serviceType}#${action}"`;
  return rawRequest(url, { method: 'POST', headers, body: opts.body ?? envelope(serviceType, action, opts.args), localAddress: opts.localAddress, chunked: opts.chunked });
}

/** The `<errorCode>` of a SOAP fault, or null. */
export function faultCode(body: string): number | null {
  const m = /<errorCode>(\d+)<\/errorCode>/.exec(body);
  return m ? Number(m[1]) : null;
}

export function xmlText(body: string, tag: string): string | null {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(body);
  return m ? m[1]! : null;
}

/** Parses an SSDP datagram (response or NOTIFY) into its start line and upper-cased headers. */
export function parseSsdp(msg: Buffer): { start: string; headers: Record<string, string> } {
  const lines = msg.toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toUpperCase()] = l.slice(i + 1).trim();
  }
  return { start: lines[0] ?? '', headers };
}

export function mSearch(st: string | null, opts: { mx?: string | null; man?: string | null; host?: string; extra?: string[] } = {}): Buffer {
  const lines = ['M-SEARCH * HTTP/1.1', `HOST: ${opts.host ?? '239.255.255.250:1900'}`];
  if (opts.man !== null) lines.push(`MAN: ${opts.man ?? '"ssdp:discover"'}`);
  if (opts.mx !== null) lines.push(`MX: ${opts.mx ?? '1'}`);
  if (st !== null) lines.push(`ST: ${st}`);
  lines.push(...(opts.extra ?? []), '', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** A UDP socket on the phone side that sends searches and collects what comes back. */
export class SsdpProbe {
  readonly replies: Array<{ at: number; from: string; bytes: number; start: string; headers: Record<string, string> }> = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => this.replies.push({ at: Date.now(), from: rinfo.address, bytes: msg.length, ...parseSsdp(msg) }));
  }

  static async open(address: string): Promise<SsdpProbe> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    socket.setMulticastInterface(address);
    return new SsdpProbe(socket);
  }

  send(msg: Buffer, to = '239.255.255.250', port = 1900): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(msg, port, to, (err) => (err ? reject(err) : resolve())));
  }

  clear(): void {
    this.replies.length = 0;
  }

  close(): void {
    this.socket.close();
  }
}

/** Listens on the SSDP group from the phone's interface and keeps every NOTIFY. */
export class SsdpListener {
  readonly notifies: Array<{ at: number; headers: Record<string, string> }> = [];
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg) => {
      const p = parseSsdp(msg);
      if (p.start.startsWith('NOTIFY')) this.notifies.push({ at: Date.now(), headers: p.headers });
    });
  }

  static async open(ifaceAddress: string): Promise<SsdpListener> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve) => socket.bind(1900, resolve));
    socket.addMembership('239.255.255.250', ifaceAddress);
    return new SsdpListener(socket);
  }

  close(): void {
    this.socket.close();
  }
}

export async function waitFor<T>(fn: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface ReceivedNotify {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A GENA callback server: records each NOTIFY; `hang` accepts and never answers. */
export class CallbackServer {
  readonly received: ReceivedNotify[] = [];
  connections = 0;
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(address: string, opts: { hang?: boolean } = {}): Promise<CallbackServer> {
    let self: CallbackServer | null = null;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        self!.received.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (!opts.hang) res.end();
      });
    });
    server.on('connection', () => self && self.connections++);
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    const port = (server.address() as AddressInfo).port;
    self = new CallbackServer(server, `http://${address}:${port}`);
    return self;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// upnp-device-client is CommonJS without types; this is the part the tests use, promisified.
interface DeviceClientCtor {
  new (url: string): {
    getDeviceDescription(cb: (err: Error | null, desc: DeviceDescription) => void): void;
    callAction(service: string, action: string, params: Record<string, string | number>, cb: (err: (Error & { errorCode?: string }) | null, result: Record<string, string>) => void): void;
  };
}

export interface DeviceDescription {
  deviceType: string;
  friendlyName: string;
  manufacturer: string;
  modelName: string;
  modelNumber: string;
  UDN: string;
  icons: Array<{ mimetype: string; width: string; height: string; depth: string; url: string }>;
  services: Record<string, { serviceType: string; SCPDURL: string; controlURL: string; eventSubURL: string }>;
}

const DeviceClient = createRequire(import.meta.url)('upnp-device-client') as DeviceClientCtor;

export class ControlPoint {
  private readonly client: InstanceType<DeviceClientCtor>;
  constructor(descriptionUrl: string) {
    this.client = new DeviceClient(descriptionUrl);
  }

  description(): Promise<DeviceDescription> {
    return new Promise((resolve, reject) => this.client.getDeviceDescription((err, d) => (err ? reject(err) : resolve(d))));
  }

  call(service: string, action: string, params: Record<string, string | number> = {}): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => this.client.callAction(service, action, params, (err, r) => (err ? reject(err) : resolve(r))));
  }
}
