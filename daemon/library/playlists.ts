// Playlists pushed from phones: parsed once, kept as one JSON file each under <data-dir>/playlists/
// (written durably: acknowledged = on disk), deduplicated by content hash, and resolved against the
// catalogue. An entry names a file on the phone; pushed tracks are renamed by their tags, so entries
// are matched by (a) the names of files received in the same transfer, (b) artist + title from the
// playlist, (c) the entry's file name against titles and file names. Unresolved entries keep their
// hint and are tried again whenever tracks arrive. No path from a playlist ever reaches the disk.
import { createHash } from 'node:crypto';
import { readFile, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { foldText, type Catalog, type CatalogChange } from './catalog.js';
import { ignoreMissing, mkdirDurable, syncDir, writeFileDurable } from './durable.js';
import { isDiskFull, LibraryError } from './errors.js';
import { Mutex } from './mutex.js';
import { parsePlaylist, PlaylistParseError, type EntryHint, type PlaylistFormat } from './playlist-parse.js';
import type { StoredTrack } from './track.js';

export interface PlaylistEntry {
  /** The catalogue track this entry stands for, or null until one is found. */
  trackId: string | null;
  hint: EntryHint;
}

export interface Playlist {
  /** First 16 hex digits of the file's SHA-256: stable, and the same file twice is one playlist. */
  id: string;
  name: string;
  /** Who pushed it (phone alias, X-Hifid-Device, client address). */
  device: string | null;
  createdAt: string;
  format: PlaylistFormat;
  sha256: string;
  entries: PlaylistEntry[];
}

/** File name (folded, as phones send it) → id of the track stored from it, for one transfer. */
export type ReceivedNames = ReadonlyMap<string, string>;

export interface AddPlaylistOptions {
  fileName: string | null;
  device: string | null;
  /** Files received in the same transfer (LocalSend session): matched first. */
  received?: ReceivedNames;
}

const PLAYLIST_ID = /^[0-9a-f]{16}$/;
const FILE_VERSION = 1;
/** Tracks arriving in a burst (a scan, a transfer) are matched against open entries at most this often. */
const RESOLVE_DELAY_MS = 200;

function norm(s: string): string {
  return foldText(s).replace(/[_\s]+/g, ' ').trim();
}

function stripExtension(base: string): string {
  return base.replace(/\.[A-Za-z0-9]{1,5}$/, '');
}

/** "01 Song", "01 - Song", "1-02. Song", "01_Song" → "Song" (a number alone stays: "1999"). */
function stripTrackNumber(stem: string): string {
  const rest = stem.replace(/^\d{1,3}(?:[-.]\d{1,3})?(?:\s*[-.)_]\s*|\s+)/, '');
  return rest || stem;
}

/** The last segment of an entry as the phone wrote it: `file://` URLs, URLs, `\` and `/`, %-encoding. */
export function entryBaseName(p: string): string {
  let s = p.trim();
  const url = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/[^?#]*)?/i.exec(s);
  if (url) s = url[1] ?? '';
  if (url || /%[0-9a-f]{2}/i.test(s)) {
    try {
      s = decodeURIComponent(s);
    } catch {
      // a stray % in a plain path: keep it as written
    }
  }
  return s.split(/[\\/]/).pop() ?? '';
}

/** The key a received file name and an entry's base name are compared by. */
export function receivedNameKey(fileName: string): string {
  return norm(entryBaseName(fileName));
}

function titleKeyOfName(base: string): string {
  return norm(stripTrackNumber(stripExtension(base).replace(/_/g, ' ').trim()));
}

/** Lookups over a set of tracks, built for one resolution pass. */
class TrackIndex {
  private readonly byArtistTitle = new Map<string, StoredTrack[]>();
  private readonly byTitle = new Map<string, StoredTrack[]>();
  private readonly byFileName = new Map<string, StoredTrack[]>();

  constructor(tracks: Iterable<StoredTrack>) {
    const add = (m: Map<string, StoredTrack[]>, k: string, t: StoredTrack) => {
      if (!k) return;
      const l = m.get(k);
      if (l) l.push(t);
      else m.set(k, [t]);
    };
    for (const t of tracks) {
      const title = norm(t.title);
      add(this.byArtistTitle, `${norm(t.artist)}\0${title}`, t);
      if (t.albumArtist !== t.artist) add(this.byArtistTitle, `${norm(t.albumArtist)}\0${title}`, t);
      add(this.byTitle, title, t);
      add(this.byFileName, titleKeyOfName(path.posix.basename(t.path)), t);
    }
  }

  private static pick(list: StoredTrack[] | undefined, device: string | null): StoredTrack | null {
    if (!list?.length) return null;
    return list.find((t) => t.source.device === device) ?? list[0]!;
  }

  resolve(hint: EntryHint, device: string | null): StoredTrack | null {
    if (hint.artist && hint.title) {
      const hit = TrackIndex.pick(this.byArtistTitle.get(`${norm(hint.artist)}\0${norm(hint.title)}`), device);
      if (hit) return hit;
    }
    const fromName = titleKeyOfName(entryBaseName(hint.path));
    if (fromName) {
      const hit = TrackIndex.pick(this.byTitle.get(fromName), device) ?? TrackIndex.pick(this.byFileName.get(fromName), device);
      if (hit) return hit;
    }
    if (hint.title && !hint.artist) return TrackIndex.pick(this.byTitle.get(norm(hint.title)), device);
    return null;
  }
}

function nameFrom(fileName: string | null, parsed: string | null): string {
  if (parsed) return parsed;
  const base = fileName ? entryBaseName(fileName).replace(/[\u0000-\u001f\u007f]/g, '').trim() : '';
  const stem = stripExtension(base).trim();
  return (stem || 'Playlist').slice(0, 255);
}

export class PlaylistStore {
  readonly dir: string;
  private readonly byId = new Map<string, Playlist>();
  private readonly lock = new Mutex();
  /** Tracks added since the last resolution pass. */
  private arrived: StoredTrack[] = [];
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    dataDir: string,
    private readonly catalog: Catalog,
    private readonly log: Logger,
  ) {
    this.dir = path.join(dataDir, 'playlists');
    catalog.on('change', this.onCatalogChange);
  }

  /** Reads every playlist file; a broken one is logged and left on disk, never fatal. */
  async load(): Promise<void> {
    await mkdirDurable(this.dir);
    for (const name of await readdir(this.dir)) {
      const file = path.join(this.dir, name);
      // Temp files of a write that a crash interrupted: never acknowledged.
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      const m = /^([0-9a-f]{16})\.json$/.exec(name);
      if (!m) continue;
      try {
        const p = JSON.parse(await readFile(file, 'utf8')) as Playlist & { version?: number };
        if (p.id !== m[1] || !Array.isArray(p.entries) || typeof p.name !== 'string') throw new Error('not a playlist document');
        this.byId.set(p.id, { id: p.id, name: p.name, device: p.device ?? null, createdAt: p.createdAt, format: p.format, sha256: p.sha256, entries: p.entries });
      } catch (err) {
        this.log.error({ err, file }, 'playlist file unreadable; skipped');
      }
    }
    // Tracks may have arrived (or been indexed by a scan) since an entry was last looked for.
    const open = this.list().filter((p) => p.entries.some((e) => e.trackId === null));
    if (open.length) {
      const index = new TrackIndex(this.catalog.all());
      for (const p of open) {
        if (this.resolveWith(p, index)) await this.write(p);
      }
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /** All playlists, by folded name, then oldest first. */
  list(): Playlist[] {
    return [...this.byId.values()].sort((a, b) => {
      const fa = foldText(a.name);
      const fb = foldText(b.name);
      return fa < fb ? -1 : fa > fb ? 1 : a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1;
    });
  }

  get(id: string): Playlist | undefined {
    return this.byId.get(id);
  }

  /** The catalogue tracks of a playlist in its order; unresolved entries and repeats are left out. */
  tracksOf(p: Playlist): StoredTrack[] {
    const out: StoredTrack[] = [];
    const seen = new Set<string>();
    for (const e of p.entries) {
      if (e.trackId === null || seen.has(e.trackId)) continue;
      const t = this.catalog.get(e.trackId);
      if (!t) continue;
      seen.add(t.id);
      out.push(t);
    }
    return out;
  }

  /**
   * Parses and stores a playlist file; resolves once it is on disk. The same bytes again give the
   * playlist already stored (`duplicate`). Garbage is refused with LibraryError('not_playlist').
   */
  async add(bytes: Uint8Array, opts: AddPlaylistOptions): Promise<{ playlist: Playlist; duplicate: boolean }> {
    let parsed;
    try {
      parsed = parsePlaylist(bytes, opts.fileName);
    } catch (err) {
      if (err instanceof PlaylistParseError) throw new LibraryError('not_playlist', `not a playlist this stereo reads: ${err.message}`);
      throw err;
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const id = sha256.slice(0, 16);
    using _lease = await this.lock.acquire();
    const have = this.byId.get(id);
    if (have) {
      if (opts.received && this.resolveNamed(have, opts.received)) {
        await this.write(have);
        this.changed([id]);
      }
      return { playlist: have, duplicate: true };
    }
    const p: Playlist = {
      id,
      name: nameFrom(opts.fileName, parsed.name),
      device: opts.device,
      createdAt: new Date().toISOString(),
      format: parsed.format,
      sha256,
      entries: parsed.entries.map((hint) => ({ trackId: null, hint })),
    };
    if (opts.received) this.resolveNamed(p, opts.received);
    this.resolveWith(p, new TrackIndex(this.catalog.all()));
    await mkdirDurable(this.dir);
    await this.write(p);
    this.byId.set(id, p);
    this.log.info({ id, name: p.name, device: p.device, entries: p.entries.length, resolved: p.entries.filter((e) => e.trackId).length }, 'playlist stored');
    this.changed([id]);
    return { playlist: p, duplicate: false };
  }

  /** Files received later in the same transfer: entries naming them now point at their tracks. */
  async resolveReceived(ids: Iterable<string>, received: ReceivedNames): Promise<void> {
    using _lease = await this.lock.acquire();
    const changed: string[] = [];
    for (const id of ids) {
      const p = this.byId.get(id);
      if (p && this.resolveNamed(p, received)) {
        await this.write(p);
        changed.push(id);
      }
    }
    if (changed.length) this.changed(changed);
  }

  async remove(id: string): Promise<void> {
    using _lease = await this.lock.acquire();
    if (!PLAYLIST_ID.test(id) || !this.byId.has(id)) throw new LibraryError('not_found', 'no such playlist');
    await unlink(path.join(this.dir, `${id}.json`)).catch(ignoreMissing);
    await syncDir(this.dir);
    this.byId.delete(id);
    this.log.info({ id }, 'playlist deleted');
    this.changed([id]);
  }

  /** Stops listening and waits for a resolution pass in flight. */
  async close(): Promise<void> {
    this.closed = true;
    this.catalog.off('change', this.onCatalogChange);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  private changed(ids: string[]): void {
    this.catalog.notePlaylistChange(ids);
  }

  private async write(p: Playlist): Promise<void> {
    try {
      await writeFileDurable(path.join(this.dir, `${p.id}.json`), JSON.stringify({ version: FILE_VERSION, ...p }));
    } catch (err) {
      if (isDiskFull(err)) throw new LibraryError('disk_full', 'the disk is full; the playlist was not stored');
      throw err;
    }
  }

  /** Open entries whose file was received under that name. True when any changed. */
  private resolveNamed(p: Playlist, received: ReceivedNames): boolean {
    let changed = false;
    for (const e of p.entries) {
      if (e.trackId !== null && this.catalog.get(e.trackId)) continue;
      const id = received.get(receivedNameKey(e.hint.path));
      if (id && this.catalog.get(id) && id !== e.trackId) {
        e.trackId = id;
        changed = true;
      }
    }
    return changed;
  }

  /** Open entries (none yet, or their track is gone) matched by tags and names. True when any changed. */
  private resolveWith(p: Playlist, index: TrackIndex): boolean {
    let changed = false;
    for (const e of p.entries) {
      if (e.trackId !== null && this.catalog.get(e.trackId)) continue;
      const t = index.resolve(e.hint, p.device);
      if (t && t.id !== e.trackId) {
        e.trackId = t.id;
        changed = true;
      }
    }
    return changed;
  }

  private readonly onCatalogChange = (change: CatalogChange): void => {
    if (this.closed || !change.added.length || !this.byId.size) return;
    for (const t of change.added) this.arrived.push(t);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pass = this.pass.then(() => this.resolveArrived()).catch((err: unknown) => this.log.error({ err }, 'playlist resolution failed'));
    }, RESOLVE_DELAY_MS);
  };

  /** Matches open entries against the tracks that arrived since the last pass. */
  private async resolveArrived(): Promise<void> {
    const arrived = this.arrived.filter((t) => this.catalog.get(t.id) === t);
    this.arrived = [];
    if (!arrived.length || this.closed) return;
    using _lease = await this.lock.acquire();
    const index = new TrackIndex(arrived);
    const changed: string[] = [];
    for (const p of this.byId.values()) {
      if (this.resolveWith(p, index)) {
        await this.write(p);
        changed.push(p.id);
      }
    }
    if (changed.length) {
      this.log.info({ playlists: changed.length }, 'playlist entries resolved by new tracks');
      this.changed(changed);
    }
  }
}
