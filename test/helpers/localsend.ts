// Drives a LocalSend peer (localsend-peer.ts) running as its own host on the test LAN, so the
// assertions stay here in mocha while the bytes go over real sockets from another address.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './fixtures.js';
import type { Datagram, Registration, RequestParams, RequestResult } from './localsend-peer.js';

export type { Datagram, Registration, RequestResult };

export interface PeerInfo {
  alias: string;
  version: string;
  deviceModel: string;
  deviceType: string;
  fingerprint: string;
  port: number;
  protocol: string;
  download: boolean;
}

export interface UploadFile {
  id: string;
  fileName: string;
  size: number;
  fileType: string;
  sha256?: string | null;
  hash?: string;
  preview?: string | null;
}

export class LocalSendPeer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<number | null>;
  info!: PeerInfo;
  stderr = '';

  private constructor(
    private readonly proc: ChildProcess,
    readonly ip: string,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  /** Starts a peer as host `ip` (10.77.0.3 and up) and waits until it serves. */
  static async start(ip: string, alias = 'Test Phone'): Promise<LocalSendPeer> {
    const proc = spawn(path.join(REPO_ROOT, 'scripts', 'lan-host.sh'), [ip, process.execPath, path.join(REPO_ROOT, 'dist', 'test', 'helpers', 'localsend-peer.js'), alias], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new LocalSendPeer(proc, ip);
    proc.stderr!.on('data', (b: Buffer) => (peer.stderr += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout! });
      rl.on('line', (line) => {
        const msg = JSON.parse(line) as { ready?: true; id?: number; result?: unknown; error?: string };
        if (msg.ready) return resolve();
        const p = peer.pending.get(msg.id!);
        if (!p) return;
        peer.pending.delete(msg.id!);
        if (msg.error !== undefined) p.reject(new Error(msg.error));
        else p.resolve(msg.result);
      });
      proc.once('exit', (code) => {
        const err = new Error(`LocalSend peer ${ip} exited with ${code}: ${peer.stderr}`);
        reject(err);
        for (const p of peer.pending.values()) p.reject(err);
      });
    });
    peer.info = (await peer.call<{ info: PeerInfo }>('hello')).info;
    return peer;
  }

  get fingerprint(): string {
    return this.info.fingerprint;
  }

  call<T>(method: string, params: object = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  request(params: RequestParams): Promise<RequestResult> {
    return this.call<RequestResult>('request', params);
  }

  announce(overrides: { announce?: boolean; port?: number; fingerprint?: string } = {}): Promise<void> {
    return this.call('announce', overrides);
  }

  datagrams(): Promise<Datagram[]> {
    return this.call('datagrams');
  }

  registrations(): Promise<Registration[]> {
    return this.call('registrations');
  }

  /** The register DTO this peer sends about itself, with fields overridden. */
  device(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...this.info, ...overrides };
  }

  prepareUpload(url: string, files: UploadFile[], opts: { pin?: string; info?: Record<string, unknown>; clientCert?: boolean } = {}): Promise<RequestResult> {
    const query = opts.pin !== undefined ? `?pin=${encodeURIComponent(opts.pin)}` : '';
    return this.request({ url, path: `/api/localsend/v2/prepare-upload${query}`, json: { info: opts.info ?? this.device(), files: Object.fromEntries(files.map((f) => [f.id, f])) }, clientCert: opts.clientCert });
  }

  upload(url: string, q: { sessionId: string; fileId: string; token: string }, body: { file: string } | { base64: string }, opts: Partial<RequestParams> = {}): Promise<RequestResult> {
    const query = new URLSearchParams(q).toString();
    return this.request({ url, path: `/api/localsend/v2/upload?${query}`, ...body, ...opts });
  }

  async stop(): Promise<void> {
    await this.call('quit').catch(() => undefined);
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGTERM'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
