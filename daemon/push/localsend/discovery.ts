// LocalSend multicast discovery (LP §3.1, apps 1.17/1.18): announce at start (3 datagrams), and
// answer each announcement from our subnet with POST /register to the announcer over HTTPS, our
// certificate as client certificate and the announced fingerprint pinned; when that fails, answer
// with a multicast datagram (`announce:false`) as 1.17 does.
import dgram from 'node:dgram';
import http from 'node:http';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../log.js';
import { inIpv4Subnet, localAddresses, normalizeIp, type LocalAddress } from '../../net.js';
import { certFingerprint, type LocalSendIdentity } from './identity.js';
import { parseAnnouncement, selfInfo, type AnnouncementDto } from './dto.js';

/** Android receives only 224.0.0.0/24 (LP §1), so LocalSend uses a link-local group. */
export const MULTICAST_GROUP = '224.0.0.167';
/** 1.18's `ANNOUNCE_DELAYS`. */
export const ANNOUNCE_DELAYS_MS = [100, 500, 2000] as const;
/** The phone waits 500 ms for our answer; we give a slow phone's server a little more. */
const REGISTER_TIMEOUT_MS = 2000;
const MAX_REGISTER_RESPONSE_BYTES = 64 * 1024;
/** Outgoing /register calls at once: announcements are cheap to send, TLS handshakes are not. */
const MAX_REGISTERS_IN_FLIGHT = 8;

export interface DiscoveryOptions {
  identity: LocalSendIdentity;
  alias: string;
  /** Our HTTPS port, which is also the UDP port (the apps use one number for both). */
  port: number;
  /** The one interface to work on; null = every non-loopback IPv4 interface. */
  interface: string | null;
  log: Logger;
}

/** Opens a TLS connection presenting our certificate; resolves only if the server's fingerprint is the pinned one. */
function pinnedTls(ip: string, port: number, pinned: string, identity: LocalSendIdentity, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: ip, port, key: identity.key, cert: identity.cert, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => socket.destroy(new Error('TLS handshake timed out')), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const raw = socket.getPeerCertificate().raw as Buffer | undefined;
      if (!raw || certFingerprint(raw) !== pinned.toUpperCase()) {
        socket.destroy();
        reject(new Error('the server certificate is not the one announced'));
        return;
      }
      resolve(socket);
    });
  });
}

/** POST /api/localsend/v2/register; resolves with the status code, rejects on a network or pinning failure. */
async function postRegister(ip: string, peer: AnnouncementDto, body: string, identity: LocalSendIdentity): Promise<number> {
  const port = peer.port ?? 53317;
  const deadline = Date.now() + REGISTER_TIMEOUT_MS;
  const socket: Duplex | null = peer.protocol === 'http' ? null : await pinnedTls(ip, port, peer.fingerprint, identity, REGISTER_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: ip,
      port,
      method: 'POST',
      path: '/api/localsend/v2/register',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      ...(socket ? { createConnection: () => socket } : { agent: false }),
    });
    const timer = setTimeout(() => req.destroy(new Error('no answer in time')), Math.max(1, deadline - Date.now()));
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REGISTER_RESPONSE_BYTES) req.destroy(new Error('answer too large'));
      });
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve(res.statusCode ?? 0);
      });
    });
    req.end(body);
  });
}

export class LocalSendDiscovery {
  private receiver: dgram.Socket | null = null;
  /** One sending socket per served address, so each datagram leaves by its own interface. */
  private senders = new Map<string, { local: LocalAddress; socket: dgram.Socket }>();
  private timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<string>();
  private stopped = false;

  constructor(private readonly opts: DiscoveryOptions) {}

  private announcement(announce: boolean): Buffer {
    const { identity, alias, port } = this.opts;
    // `announcement` is v1's name for the flag; 1.17 sends both.
    return Buffer.from(JSON.stringify({ ...selfInfo(alias, identity.fingerprint), port, protocol: 'https', announce, announcement: announce }));
  }

  async start(): Promise<void> {
    const served = localAddresses().filter((a) => a.family === 'IPv4' && !a.internal && (this.opts.interface === null || a.iface === this.opts.interface));
    if (served.length === 0) throw new Error(`no IPv4 address to announce LocalSend on${this.opts.interface ? ` (--interface ${this.opts.interface})` : ''}`);
    // Bound to the group, not 0.0.0.0: only LocalSend's datagrams arrive, not every group's on this port.
    const receiver = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.receiver = receiver;
    receiver.on('error', (err) => this.opts.log.error({ err }, 'LocalSend multicast socket error'));
    receiver.on('message', (msg, rinfo) => this.onDatagram(msg, normalizeIp(rinfo.address)));
    await new Promise<void>((resolve, reject) => {
      receiver.once('error', reject);
      receiver.bind({ port: this.opts.port, address: MULTICAST_GROUP }, () => {
        receiver.off('error', reject);
        resolve();
      });
    });
    for (const a of served) receiver.addMembership(MULTICAST_GROUP, a.address);
    for (const a of served) {
      const socket = dgram.createSocket({ type: 'udp4' });
      socket.on('error', (err) => this.opts.log.warn({ err, address: a.address }, 'LocalSend announcement failed'));
      await new Promise<void>((resolve) => socket.bind({ port: 0, address: a.address }, resolve));
      socket.setMulticastInterface(a.address);
      socket.setMulticastTTL(1);
      socket.setMulticastLoopback(false);
      this.senders.set(a.address, { local: a, socket });
    }
    for (const delay of ANNOUNCE_DELAYS_MS) this.timers.push(setTimeout(() => this.announceAll(), delay));
    this.opts.log.info({ group: MULTICAST_GROUP, port: this.opts.port, on: served.map((a) => a.address) }, 'LocalSend discovery started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    const closing = [...this.senders.values()].map((s) => new Promise<void>((resolve) => s.socket.close(() => resolve())));
    if (this.receiver) closing.push(new Promise<void>((resolve) => this.receiver!.close(() => resolve())));
    this.senders.clear();
    this.receiver = null;
    await Promise.all(closing);
  }

  private announceAll(): void {
    if (this.stopped) return;
    for (const s of this.senders.values()) s.socket.send(this.announcement(true), this.opts.port, MULTICAST_GROUP);
  }

  private onDatagram(msg: Buffer, from: string): void {
    if (this.stopped) return;
    const peer = parseAnnouncement(msg);
    if (!peer || !peer.announce || peer.fingerprint.toUpperCase() === this.opts.identity.fingerprint) return;
    // Answer only our own link: a routed source has no business discovering the stereo.
    const sender = [...this.senders.values()].find((s) => inIpv4Subnet(from, s.local));
    if (!sender) {
      this.opts.log.debug({ from }, 'LocalSend announcement from outside our subnet ignored');
      return;
    }
    if (this.inFlight.has(from) || this.inFlight.size >= MAX_REGISTERS_IN_FLIGHT) return;
    this.inFlight.add(from);
    void this.answer(peer, from, sender.socket).finally(() => this.inFlight.delete(from));
  }

  private async answer(peer: AnnouncementDto, ip: string, socket: dgram.Socket): Promise<void> {
    const { identity, alias, port, log } = this.opts;
    const body = JSON.stringify({ ...selfInfo(alias, identity.fingerprint), port, protocol: 'https' });
    try {
      const status = await postRegister(ip, peer, body, identity);
      if (status !== 200) throw new Error(`it answered ${status}`);
      log.info({ alias: peer.alias, ip, port: peer.port ?? 53317 }, 'LocalSend: registered with an announcing device');
    } catch (err) {
      log.info({ alias: peer.alias, ip, reason: (err as Error).message }, 'LocalSend: register failed; answering by multicast');
      if (!this.stopped) socket.send(this.announcement(false), this.opts.port, MULTICAST_GROUP);
    }
  }
}
