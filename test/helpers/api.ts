// Talking to a test daemon: pushes, JSON reads, and raw requests where a test must control every header.
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Track } from '../../daemon/library/track.js';

/** A track as the API sends it: the daemon's own public type. */
export type TrackJson = Track;

/** Pushes one file as multipart/form-data, the way the phone app does. */
export async function pushFile(url: string, name: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  const res = await fetch(`${url}/api/v1/tracks`, { method: 'POST', body: form, headers });
  return { status: res.status, body: await res.json() };
}

export async function getJson(url: string): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Every regular file below `dir` (none when it does not exist). */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RawOptions {
  method?: string;
  /** Sent exactly as given (no normalisation of `..` or `%2f`). */
  path: string;
  headers?: Record<string, string | number>;
  /** Omit the Host header entirely (http.request adds one otherwise). */
  noHost?: boolean;
  body?: Buffer;
  localAddress?: string;
  agent?: http.Agent | false;
}

/** One request with http.request, so the test controls Host, Origin and the raw path. */
export function rawRequest(base: string, o: RawOptions): Promise<RawResponse & { req: http.ClientRequest }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method: o.method ?? 'GET',
      path: o.path,
      headers: o.headers,
      setHost: !o.noHost,
      localAddress: o.localAddress,
      agent: o.agent ?? false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), req }));
      res.on('error', reject);
    });
    req.end(o.body);
  });
}

/** Writes `text` on a fresh TCP connection and collects everything until the server closes (or `ms`). */
export function rawExchange(base: string, text: string | Buffer, ms = 3000): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => s.write(text));
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}
