// The stereo's JSON API as the page uses it: typed reads, deletes and pushes (XMLHttpRequest, for
// upload progress). Every URL is relative: the page only ever talks to the stereo that served it.
import { deviceName } from './device';

// The wire shapes come from the daemon's own types (type-only: nothing of the daemon is bundled).
export type { Track } from '../../library/track.js';
import type { Track } from '../../library/track.js';

export type { AlbumJson as Album, DeviceJson as Device } from '../../http/wire.js';
import type { AlbumJson as Album } from '../../http/wire.js';
export type { NamedCount, Page } from '../../library/listing.js';

export interface AlbumWithTracks extends Album {
  tracks: Track[];
}

export interface Status {
  name: string;
  version: string;
  tracks: number;
  updateId: number;
  pinRequired: boolean;
}

export interface ApiErrorBody {
  error?: { code?: string; message?: string };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const API = '/api/v1';

export function streamUrl(id: string): string {
  return `${API}/tracks/${encodeURIComponent(id)}/stream`;
}

export function artUrl(id: string): string {
  return `${API}/tracks/${encodeURIComponent(id)}/art`;
}

/** `?a=1&b=x` from the defined entries only. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function errorOf(res: Response): Promise<HttpError> {
  let body: ApiErrorBody = {};
  try {
    body = (await res.json()) as ApiErrorBody;
  } catch {
    // not JSON: keep the status alone
  }
  return new HttpError(res.status, body.error?.code ?? `http_${res.status}`, body.error?.message ?? res.statusText);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { signal, headers: { Accept: 'application/json' } });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

function writeHeaders(pin: string | null): Record<string, string> {
  const h: Record<string, string> = { 'X-Hifid-Device': encodeURIComponent(deviceName()) };
  if (pin) h['X-Hifid-Pin'] = pin;
  return h;
}

export async function deleteTrack(id: string, pin: string | null): Promise<void> {
  const res = await fetch(`${API}/tracks/${encodeURIComponent(id)}`, { method: 'DELETE', headers: writeHeaders(pin) });
  if (!res.ok) throw await errorOf(res);
}

export interface PushResult {
  status: number;
  track: Track | null;
  duplicate: boolean;
  code: string | null;
  message: string | null;
}

export interface PushHandle {
  done: Promise<PushResult>;
  cancel(): void;
}

/** Pushes one file as multipart/form-data; `onProgress` gets bytes sent so far and the total. */
export function pushFile(file: File, pin: string | null, onProgress: (loaded: number, total: number) => void): PushHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<PushResult>((resolve, reject) => {
    xhr.open('POST', `${API}/tracks`);
    for (const [k, v] of Object.entries(writeHeaders(pin))) xhr.setRequestHeader(k, v);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let body: { track?: Track; duplicate?: boolean } & ApiErrorBody = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // an answer that is not JSON: the status alone tells what happened
      }
      resolve({ status: xhr.status, track: body.track ?? null, duplicate: body.duplicate === true, code: body.error?.code ?? null, message: body.error?.message ?? null });
    };
    xhr.onerror = () => reject(new HttpError(0, 'network', 'the connection to the stereo was lost'));
    xhr.onabort = () => reject(new HttpError(0, 'cancelled', 'cancelled'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { done, cancel: () => xhr.abort() };
}
