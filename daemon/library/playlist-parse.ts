// Playlist files as phones and players write them: M3U/M3U8 (with #EXTINF), PLS and XSPF. Pure: bytes
// in, entries out; nothing here opens a path named in a playlist. Garbage is refused with a reason.
import { XMLValidator } from 'fast-xml-parser';
import { childrenOf, decodeXmlText, elementName, textOf, unsafeXmlReason, type OrderedNode, orderedXmlParser } from '../xml-read.js';

export const MAX_PLAYLIST_BYTES = 1024 * 1024;
export const MAX_PLAYLIST_ENTRIES = 10_000;
const MAX_ENTRY_CHARS = 4096;
const MAX_TEXT_CHARS = 512;

export type PlaylistFormat = 'm3u' | 'pls' | 'xspf';

/** What an entry says about its song: where it was on the sender's disk, and tags when given. */
export interface EntryHint {
  /** As written (URLs and percent-encoding left as they are); a hint, never opened. */
  path: string;
  title?: string;
  artist?: string;
  durationS?: number;
}

export interface ParsedPlaylist {
  format: PlaylistFormat;
  /** #PLAYLIST or the XSPF title, when the file names itself. */
  name: string | null;
  entries: EntryHint[];
}

export class PlaylistParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaylistParseError';
  }
}

/** UTF-8 (with or without BOM), UTF-16 with BOM, else Latin-1: old Windows .m3u files are cp1252/Latin-1. */
export function decodePlaylistText(bytes: Uint8Array): string {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder('utf-8').decode(bytes.subarray(3));
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/** C0 controls other than tab, LF and CR (and DEL): never in a text playlist; a sign of binary garbage. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function clean(s: string, max = MAX_TEXT_CHARS): string | undefined {
  const t = s.trim();
  return t ? t.slice(0, max) : undefined;
}

/** "Artist - Title" as M3U's #EXTINF and PLS's TitleN write it; without " - ", all of it is the title. */
function splitArtistTitle(text: string): { artist?: string; title?: string } {
  const i = text.indexOf(' - ');
  if (i > 0) return { artist: clean(text.slice(0, i)), title: clean(text.slice(i + 3)) };
  return { title: clean(text) };
}

function duration(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw.trim());
  // -1 means "unknown" (streams) in both M3U and PLS.
  return Number.isFinite(n) && n >= 0 && n < 1e7 ? Math.round(n) : undefined;
}

function entryPath(raw: string, where: string): string {
  const p = raw.trim();
  if (p.length > MAX_ENTRY_CHARS) throw new PlaylistParseError(`${where}: entry longer than ${MAX_ENTRY_CHARS} characters`);
  return p;
}

function pushEntry(entries: EntryHint[], e: EntryHint): void {
  if (entries.length >= MAX_PLAYLIST_ENTRIES) throw new PlaylistParseError(`more than ${MAX_PLAYLIST_ENTRIES} entries`);
  const out: EntryHint = { path: e.path };
  if (e.title !== undefined) out.title = e.title;
  if (e.artist !== undefined) out.artist = e.artist;
  if (e.durationS !== undefined) out.durationS = e.durationS;
  entries.push(out);
}

/** A URL (scheme://…) or a name with a short extension: what a bare M3U line naming a song looks like. */
const LOOKS_LIKE_MEDIA = /^[a-z][a-z0-9+.-]*:\/\/|\.[A-Za-z0-9]{1,5}$/i;

export function parseM3u(text: string): ParsedPlaylist {
  const lines = text.split(/\r\n|\r|\n/);
  const extended = /^#EXTM3U\b/i.test(lines[0]?.trim() ?? '');
  const entries: EntryHint[] = [];
  let name: string | null = null;
  let pending: { artist?: string; title?: string; durationS?: number } | null = null;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    if (line.startsWith('#')) {
      // #EXTINF:<seconds>[ attributes],<Artist - Title>
      const inf = /^#EXTINF:\s*(-?\d+(?:\.\d+)?)[^,]*,(.*)$/i.exec(line);
      if (inf) pending = { durationS: duration(inf[1]), ...splitArtistTitle(inf[2]!) };
      const pl = /^#PLAYLIST:(.*)$/i.exec(line);
      if (pl) name = clean(pl[1]!) ?? name;
      return;
    }
    const p = entryPath(line, `line ${i + 1}`);
    if (!extended && !LOOKS_LIKE_MEDIA.test(p)) throw new PlaylistParseError(`line ${i + 1} does not name a file or URL`);
    pushEntry(entries, { path: p, ...(pending ?? {}) });
    pending = null;
  });
  return { format: 'm3u', name, entries };
}

export function parsePls(text: string): ParsedPlaylist {
  const lines = text.split(/\r\n|\r|\n/);
  let i = 0;
  while (i < lines.length && !lines[i]!.trim()) i++;
  if (!/^\[playlist\]$/i.test(lines[i]?.trim() ?? '')) throw new PlaylistParseError('a PLS file starts with [playlist]');
  const files = new Map<number, { file?: string; title?: string; length?: string }>();
  for (let n = i + 1; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const m = /^(File|Title|Length)(\d{1,6})\s*=(.*)$/i.exec(line);
    if (!m) {
      if (/^(NumberOfEntries|Version)\s*=/i.test(line)) continue;
      throw new PlaylistParseError(`line ${n + 1} is not a PLS key`);
    }
    const idx = Number(m[2]);
    let f = files.get(idx);
    if (!f) {
      if (files.size >= MAX_PLAYLIST_ENTRIES) throw new PlaylistParseError(`more than ${MAX_PLAYLIST_ENTRIES} entries`);
      files.set(idx, (f = {}));
    }
    const key = m[1]!.toLowerCase() as 'file' | 'title' | 'length';
    f[key] = key === 'file' ? entryPath(m[3]!, `line ${n + 1}`) : m[3]!;
  }
  const entries: EntryHint[] = [];
  for (const idx of [...files.keys()].sort((a, b) => a - b)) {
    const f = files.get(idx)!;
    if (!f.file) continue;
    pushEntry(entries, { path: f.file, durationS: duration(f.length), ...(f.title !== undefined ? splitArtistTitle(f.title) : {}) });
  }
  return { format: 'pls', name: null, entries };
}

// XSPF: no document type declarations at all (this refuses XXE and entity expansion before the
// parser sees a byte), entities decoded by us: daemon/xml-read.ts, as for SOAP.
// playlist/trackList/track/location is four deep; extensions may nest a little.
const xmlParser = orderedXmlParser({ maxNestedTags: 16 });
const decodeText = (text: string): string => decodeXmlText(text, (message) => new PlaylistParseError(message));

function child(nodes: OrderedNode[], name: string): OrderedNode | undefined {
  return nodes.find((n) => elementName(n) === name);
}

function leaf(nodes: OrderedNode[], name: string): string | undefined {
  const n = child(nodes, name);
  return n ? clean(textOf(childrenOf(n, name), decodeText)) : undefined;
}

export function parseXspf(text: string): ParsedPlaylist {
  const unsafe = unsafeXmlReason(text);
  if (unsafe) throw new PlaylistParseError(unsafe);
  if (XMLValidator.validate(text) !== true) throw new PlaylistParseError('malformed XML');
  let doc: OrderedNode[];
  try {
    doc = xmlParser.parse(text) as OrderedNode[];
  } catch {
    throw new PlaylistParseError('malformed XML');
  }
  const root = doc.find((n) => elementName(n) !== null);
  if (!root || elementName(root) !== 'playlist') throw new PlaylistParseError('not an XSPF playlist (no <playlist> root)');
  const top = childrenOf(root, 'playlist');
  const list = child(top, 'trackList');
  const entries: EntryHint[] = [];
  for (const t of list ? childrenOf(list, 'trackList') : []) {
    if (elementName(t) !== 'track') continue;
    const tk = childrenOf(t, 'track');
    const location = leaf(tk, 'location');
    if (!location) continue;
    const ms = leaf(tk, 'duration');
    const durationS = ms !== undefined && /^\d{1,12}$/.test(ms) ? Math.round(Number(ms) / 1000) : undefined;
    pushEntry(entries, { path: entryPath(location, 'location'), title: leaf(tk, 'title'), artist: leaf(tk, 'creator'), durationS });
  }
  return { format: 'xspf', name: leaf(top, 'title') ?? null, entries };
}

const EXT_FORMAT: Readonly<Record<string, PlaylistFormat>> = { m3u: 'm3u', m3u8: 'm3u', pls: 'pls', xspf: 'xspf' };

/**
 * Parses a playlist file. The content decides the format (phones mislabel files); the extension only
 * breaks ties. Refuses (PlaylistParseError) anything too large, binary, malformed or without entries.
 */
export function parsePlaylist(bytes: Uint8Array, fileName: string | null = null): ParsedPlaylist {
  if (bytes.length > MAX_PLAYLIST_BYTES) throw new PlaylistParseError(`larger than ${MAX_PLAYLIST_BYTES} bytes`);
  const text = decodePlaylistText(bytes);
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName ?? '')?.[1]?.toLowerCase() ?? '';
  const head = text.trimStart();
  let format: PlaylistFormat;
  if (head.startsWith('<')) format = 'xspf';
  else if (/^\[playlist\]/i.test(head)) format = 'pls';
  else format = EXT_FORMAT[ext] ?? 'm3u';
  if (format !== 'xspf' && CONTROL.test(text)) throw new PlaylistParseError('binary data, not a text playlist');
  const parsed = format === 'xspf' ? parseXspf(text) : format === 'pls' ? parsePls(text) : parseM3u(text);
  if (parsed.entries.length === 0) throw new PlaylistParseError('no entries');
  return parsed;
}
