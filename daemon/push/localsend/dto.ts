// LocalSend v2 messages (LP §3–4, app 1.17 and 1.18): their types, the checks that turn untrusted
// JSON into them, and our own info. Pure: no sockets, no files.
import path from 'node:path';
import { AUDIO_EXTENSIONS } from '../../media/formats.js';

export const PROTOCOL_VERSION = '2.1';
export const DEVICE_TYPES = ['mobile', 'desktop', 'web', 'headless', 'server'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** What /info and /register answer, and the core of announcements. */
export interface InfoDto {
  alias: string;
  version: string;
  deviceModel: string | null;
  deviceType: DeviceType | null;
  fingerprint: string;
  download: boolean;
}

/** A device describing itself: /register bodies, prepare-upload `info`, announcements. */
export interface DeviceDto extends InfoDto {
  /** Where its own server listens; null when it did not say (then 53317 and https are assumed). */
  port: number | null;
  protocol: 'http' | 'https' | null;
}

export interface AnnouncementDto extends DeviceDto {
  /** True for an announcement (which asks for answers), false for an answer to one. */
  announce: boolean;
}

export interface FileDto {
  id: string;
  /** Untrusted, may hold `/` (a folder was sent): a title hint only, never a path. */
  fileName: string;
  size: number;
  fileType: string;
  /** Lower-case hex from `sha256` (LP, 1.18) or `hash` (1.17); null when not sent. */
  sha256: string | null;
  /** The text of a text message. */
  preview: string | null;
}

export const DEVICE_MODEL = 'hifid';

/** What we say about ourselves in /info, /register answers and announcements. */
export function selfInfo(alias: string, fingerprint: string): InfoDto {
  return { alias, version: PROTOCOL_VERSION, deviceModel: DEVICE_MODEL, deviceType: 'headless', fingerprint, download: false };
}

export interface PrepareUploadDto {
  info: DeviceDto;
  files: FileDto[];
}

export class DtoError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'DtoError';
  }
}

const MAX_ALIAS = 256;
const MAX_FILES = 10_000;
const MAX_ID = 256;
const MAX_FILE_NAME = 4096;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Obj, key: string, where: string, problems: string[], opts: { required: boolean; max: number }): string | null {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.required) problems.push(`${where}${key}: required`);
    return null;
  }
  if (typeof v !== 'string' || (opts.required && v.length === 0) || v.length > opts.max) {
    problems.push(`${where}${key}: expected a string of at most ${opts.max} characters`);
    return null;
  }
  return v;
}

const FINGERPRINT = /^[\x21-\x7e]{1,256}$/;

/** Device fields; `needsAddress` for /register, where 1.18 requires port and protocol. */
function device(o: Obj, where: string, problems: string[], needsAddress: boolean): DeviceDto {
  const alias = str(o, 'alias', where, problems, { required: true, max: MAX_ALIAS });
  const version = str(o, 'version', where, problems, { required: true, max: 16 });
  const deviceModel = str(o, 'deviceModel', where, problems, { required: false, max: MAX_ALIAS });
  const rawType = str(o, 'deviceType', where, problems, { required: false, max: 32 });
  const fingerprint = str(o, 'fingerprint', where, problems, { required: true, max: 256 });
  if (fingerprint !== null && !FINGERPRINT.test(fingerprint)) problems.push(`${where}fingerprint: expected printable ASCII without spaces`);
  let port: number | null = null;
  if (o.port !== undefined && o.port !== null) {
    if (typeof o.port === 'number' && Number.isInteger(o.port) && o.port >= 1 && o.port <= 65535) port = o.port;
    else problems.push(`${where}port: expected an integer from 1 to 65535`);
  } else if (needsAddress) problems.push(`${where}port: required`);
  let protocol: 'http' | 'https' | null = null;
  if (o.protocol !== undefined && o.protocol !== null) {
    if (o.protocol === 'http' || o.protocol === 'https') protocol = o.protocol;
    else problems.push(`${where}protocol: expected "http" or "https"`);
  } else if (needsAddress) problems.push(`${where}protocol: required`);
  if (o.download !== undefined && o.download !== null && typeof o.download !== 'boolean') problems.push(`${where}download: expected true or false`);
  return {
    alias: alias ?? '',
    version: version ?? '',
    deviceModel,
    // Unknown types only pick an icon in the apps (LP §7.1): keep the device, drop the type.
    deviceType: (DEVICE_TYPES as readonly string[]).includes(rawType ?? '') ? (rawType as DeviceType) : null,
    fingerprint: fingerprint ?? '',
    port,
    protocol,
    download: o.download === true,
  };
}

function fail(problems: string[]): void {
  if (problems.length) throw new DtoError(problems);
}

export function parseRegister(body: unknown): DeviceDto {
  if (!isObj(body)) throw new DtoError(['expected a JSON object']);
  const problems: string[] = [];
  const d = device(body, '', problems, true);
  fail(problems);
  return d;
}

/** A multicast datagram; null for anything that is not a well-formed LocalSend announcement or answer. */
export function parseAnnouncement(datagram: Buffer): AnnouncementDto | null {
  if (datagram.length > 8192) return null;
  let body: unknown;
  try {
    body = JSON.parse(datagram.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObj(body)) return null;
  const problems: string[] = [];
  const d = device(body, '', problems, false);
  if (problems.length) return null;
  // v1 said `announcement`; 1.17 sends both.
  return { ...d, announce: body.announce === true || body.announcement === true };
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function file(key: string, v: unknown, problems: string[]): FileDto | null {
  const where = `files.${key}.`;
  if (!isObj(v)) {
    problems.push(`files.${key}: expected an object`);
    return null;
  }
  const before = problems.length;
  const id = str(v, 'id', where, problems, { required: true, max: MAX_ID });
  if (id !== null && id !== key) problems.push(`${where}id: "${id}" differs from its key`);
  const fileName = str(v, 'fileName', where, problems, { required: true, max: MAX_FILE_NAME });
  const fileType = str(v, 'fileType', where, problems, { required: true, max: 256 });
  const size = v.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) problems.push(`${where}size: expected a whole number of bytes`);
  let sha256: string | null = null;
  for (const k of ['sha256', 'hash']) {
    const h = str(v, k, where, problems, { required: false, max: 64 });
    if (h === null) continue;
    if (!SHA256_HEX.test(h)) problems.push(`${where}${k}: expected 64 hex digits`);
    else if (sha256 !== null && sha256 !== h.toLowerCase()) problems.push(`${where}${k}: differs from the other checksum`);
    else sha256 = h.toLowerCase();
  }
  const preview = str(v, 'preview', where, problems, { required: false, max: Infinity });
  if (problems.length > before) return null;
  return { id: id!, fileName: fileName!, size: size as number, fileType: fileType!.toLowerCase(), sha256, preview };
}

export function parsePrepareUpload(body: unknown): PrepareUploadDto {
  if (!isObj(body)) throw new DtoError(['expected a JSON object']);
  const problems: string[] = [];
  if (!isObj(body.info)) problems.push('info: required');
  if (!isObj(body.files)) problems.push('files: required');
  fail(problems);
  const info = device(body.info as Obj, 'info.', problems, false);
  const entries = Object.entries(body.files as Obj);
  if (entries.length === 0) problems.push('files: empty');
  if (entries.length > MAX_FILES) problems.push(`files: at most ${MAX_FILES}`);
  fail(problems);
  const files = entries.map(([k, v]) => file(k, v, problems));
  fail(problems);
  return { info, files: files as FileDto[] };
}

const PLAYLIST_EXTENSIONS: ReadonlySet<string> = new Set(['m3u', 'm3u8', 'pls', 'xspf']);
const PLAYLIST_TYPES: ReadonlySet<string> = new Set(['audio/x-mpegurl', 'audio/mpegurl', 'application/x-mpegurl', 'application/vnd.apple.mpegurl', 'audio/x-scpls', 'application/pls+xml', 'application/xspf+xml']);

/** The extension of the last segment of a sender's name, lower-cased ('' for none). */
function extensionOf(fileName: string): string {
  const base = fileName.split(/[/\\]/).pop() ?? '';
  return path.extname(base).slice(1).toLowerCase();
}

export type FileKind = 'audio' | 'playlist' | 'text' | 'other';

/**
 * What a file is, from its MIME type, or from its extension when the sender did not know the type.
 * Playlists are told apart first: `audio/x-mpegurl` is a playlist, not audio.
 */
export function fileKind(f: Pick<FileDto, 'fileName' | 'fileType'>): FileKind {
  const ext = extensionOf(f.fileName);
  const mime = f.fileType.split(';')[0]!.trim();
  if (PLAYLIST_TYPES.has(mime) || PLAYLIST_EXTENSIONS.has(ext)) return 'playlist';
  if (mime.startsWith('audio/')) return 'audio';
  // Senders that cannot tell a type say octet-stream (or v1's enum "other").
  if ((mime === 'application/octet-stream' || mime === 'other' || mime === '') && AUDIO_EXTENSIONS.has(ext)) return 'audio';
  if (mime.startsWith('text/') || mime === 'text') return 'text';
  return 'other';
}

/** A text message (LS CLI `message_of`): one text file carrying its text in `preview`. */
export function isTextMessage(files: readonly FileDto[]): boolean {
  return files.length === 1 && fileKind(files[0]!) === 'text' && files[0]!.preview !== null;
}

/** The sender's name for a file, cut to its last segment and printable: only ever a title hint. */
export function titleHint(fileName: string): string | null {
  const base = (fileName.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return base && base !== '.' && base !== '..' ? base.slice(0, 255) : null;
}

/** The sender's alias as a "Pushed From" device name: printable, trimmed, short. */
export function deviceName(alias: string): string {
  return alias.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 64) || 'LocalSend device';
}
