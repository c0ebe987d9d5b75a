// A LocalSend device for the tests, written from the protocol (LP v2 and what apps 1.17/1.18 do),
// not from the daemon's code: its own certificate, its own HTTPS server on 53317 (where the stereo
// registers back), its own multicast socket. It runs as another host on the test LAN
// (scripts/lan-host.sh 10.77.0.N node localsend-peer.js ALIAS) and is driven over stdin/stdout,
// one JSON object per line: {id, method, params} in, {id, result} or {id, error} out.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createInterface } from 'node:readline';
import { generate } from 'selfsigned';

const GROUP = '224.0.0.167';
const PORT = 53317;
const ip = process.env.HIFID_LAN_HOST_IP;
if (!ip || !ip.startsWith('10.77.0.')) throw new Error('run me through scripts/lan-host.sh');
const alias = process.argv[2] ?? 'Test Phone';

const fingerprintOf = (der: Buffer) => createHash('sha256').update(der).digest('hex').toUpperCase();

const pems = await generate([{ name: 'commonName', value: 'LocalSend User' }], { keySize: 2048, algorithm: 'sha256', notBeforeDate: new Date(Date.UTC(2000, 0, 1)), notAfterDate: new Date(Date.UTC(2100, 0, 1)) });
const certDer = Buffer.from(pems.cert.replace(/-----[^-]+-----|\s/g, ''), 'base64');
const fingerprint = fingerprintOf(certDer);
const info = { alias, version: '2.1', deviceModel: 'Test', deviceType: 'mobile', fingerprint, port: PORT, protocol: 'https', download: false };

export interface Registration {
  from: string;
  /** The client certificate the caller presented, or null. */
  clientFingerprint: string | null;
  body: unknown;
}
export interface Datagram {
  from: string;
  at: number;
  json: Record<string, unknown>;
}
const registrations: Registration[] = [];
const datagrams: Datagram[] = [];

// ---- Our server: what the stereo calls when it answers our announcement ----
const server = https.createServer({ key: pems.private, cert: pems.cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    if (req.method === 'POST' && req.url === '/api/localsend/v2/register') {
      let body: unknown = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      registrations.push({ from: req.socket.remoteAddress ?? '', clientFingerprint: peer?.raw ? fingerprintOf(peer.raw) : null, body });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(info));
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/api/localsend/v2/info')) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(info));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"not found"}');
  });
});
await new Promise<void>((resolve) => server.listen(PORT, ip, resolve));

// ---- Multicast ----
const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
udp.on('message', (msg, rinfo) => {
  try {
    datagrams.push({ from: rinfo.address, at: Date.now(), json: JSON.parse(msg.toString('utf8')) as Record<string, unknown> });
  } catch {
    datagrams.push({ from: rinfo.address, at: Date.now(), json: { unparsable: msg.toString('latin1') } });
  }
});
await new Promise<void>((resolve) => udp.bind(PORT, resolve));
udp.addMembership(GROUP, ip);
udp.setMulticastInterface(ip);
udp.setMulticastTTL(1);

// ---- Requests to the stereo ----
export interface RequestParams {
  url: string;
  method?: string;
  /** Path with query. */
  path: string;
  json?: unknown;
  /** A file to send as the body. */
  file?: string;
  /** Body bytes as base64. */
  base64?: string;
  /** Send the body chunked, without Content-Length (as app 1.18 does). */
  chunked?: boolean;
  /** Announce this Content-Length instead of the real one. */
  contentLength?: number;
  /** Present our client certificate (default true). */
  clientCert?: boolean;
  /** Send only this many bytes of the body, then wait for the server to answer or hang up. */
  stallAfter?: number;
}
export interface RequestResult {
  status: number | null;
  body: string;
  serverFingerprint: string | null;
  /** Set when the connection failed or was cut before an answer. */
  error: string | null;
}

function request(p: RequestParams): Promise<RequestResult> {
  const u = new URL(p.url);
  let body: Buffer | null = null;
  if (p.json !== undefined) body = Buffer.from(JSON.stringify(p.json));
  else if (p.file) body = readFileSync(p.file);
  else if (p.base64 !== undefined) body = Buffer.from(p.base64, 'base64');
  const headers: Record<string, string | number> = {};
  if (p.json !== undefined) headers['Content-Type'] = 'application/json';
  else if (body) headers['Content-Type'] = 'application/octet-stream';
  if (body && !p.chunked) headers['Content-Length'] = p.contentLength ?? body.length;
  return new Promise((resolve) => {
    let serverFingerprint: string | null = null;
    let settled = false;
    const done = (r: Omit<RequestResult, 'serverFingerprint'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...r, serverFingerprint });
    };
    const req = https.request({
      host: u.hostname,
      port: u.port,
      method: p.method ?? 'POST',
      path: p.path,
      headers,
      agent: false,
      rejectUnauthorized: false,
      ...(p.clientCert === false ? {} : { key: pems.private, cert: pems.cert }),
    });
    req.on('socket', (s) =>
      s.once('secureConnect', () => {
        const c = (s as TLSSocket).getPeerCertificate();
        serverFingerprint = c?.raw ? fingerprintOf(c.raw) : null;
      }),
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? null, body: Buffer.concat(chunks).toString('utf8'), error: null }));
      res.on('error', (e) => done({ status: res.statusCode ?? null, body: '', error: e.message }));
    });
    req.on('error', (e) => done({ status: null, body: '', error: e.message }));
    req.on('close', () => done({ status: null, body: '', error: 'connection closed' }));
    if (!body) return void req.end();
    if (p.stallAfter !== undefined) return void req.write(body.subarray(0, p.stallAfter));
    // Several writes, so a chunked body really arrives in chunks.
    const step = 64 * 1024;
    for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
    req.end();
  });
}

function announce(p: { announce?: boolean; port?: number; fingerprint?: string }): void {
  const msg = { ...info, fingerprint: p.fingerprint ?? fingerprint, port: p.port ?? PORT, announce: p.announce ?? true };
  udp.send(Buffer.from(JSON.stringify(msg)), PORT, GROUP);
}

/** Announces from a second address of ours, outside the LAN's subnet (a routed or spoofed source). */
async function announceFrom(p: { source: string }): Promise<void> {
  execFileSync('ip', ['addr', 'replace', `${p.source}/24`, 'dev', 'eth0']);
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, p.source, resolve));
  s.setMulticastInterface(p.source);
  await new Promise<void>((resolve, reject) => s.send(Buffer.from(JSON.stringify({ ...info, announce: true })), PORT, GROUP, (err) => (err ? reject(err) : resolve())));
  s.close();
}

// ---- RPC ----
type Handler = (params: Record<string, unknown>) => unknown;
const methods: Record<string, Handler> = {
  hello: () => ({ ip, fingerprint, info }),
  announce: (p) => announce(p as Parameters<typeof announce>[0]),
  announceFrom: (p) => announceFrom(p as Parameters<typeof announceFrom>[0]),
  datagrams: () => datagrams,
  registrations: () => registrations,
  request: (p) => request(p as unknown as RequestParams),
  quit: () => {
    setImmediate(shutdown);
    return null;
  },
};

function shutdown(): void {
  udp.close();
  server.close();
  server.closeAllConnections();
}

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let msg: { id: number; method: string; params?: Record<string, unknown> };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return;
  }
  const m = methods[msg.method];
  if (!m) return out({ id: msg.id, error: `no method ${msg.method}` });
  Promise.resolve()
    .then(() => m(msg.params ?? {}))
    .then(
      (result) => out({ id: msg.id, result: result ?? null }),
      (err: unknown) => out({ id: msg.id, error: (err as Error).message }),
    );
});
rl.on('close', shutdown);
out({ ready: true, ip, fingerprint });
