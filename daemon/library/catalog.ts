// The catalogue in memory: tracks by id, hash and location, derived albums/artists/genres, paged
// and sorted queries, and change events. Every API and the UPnP tree are projections of this.
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { STORE_ROOT, type StoredTrack } from './track.js';
import { CatalogTrack, SharedFields, type TrackFormat } from './catalog-track.js';
import type { Album, NamedCount, Page } from './listing.js';

export type SortKey = 'title' | 'artist' | 'album' | 'albumArtist' | 'year' | 'genre' | 'added' | 'track' | 'duration';
export const SORT_KEYS: readonly SortKey[] = ['title', 'artist', 'album', 'albumArtist', 'year', 'genre', 'added', 'track', 'duration'];

export interface Sort {
  key: SortKey;
  descending: boolean;
}

export interface TrackQuery {
  q?: string;
  artist?: string;
  albumArtist?: string;
  album?: string;
  albumId?: string;
  genre?: string;
  year?: number;
  device?: string;
  sort?: Sort;
  offset?: number;
  /** 0 or absent = all */
  limit?: number;
}

export type { Album, NamedCount, Page } from './listing.js';

export interface CatalogChange {
  /** Increases with every change; the UPnP SystemUpdateID. */
  updateId: number;
  added: StoredTrack[];
  removed: StoredTrack[];
  /** Playlists added, removed or re-resolved (library/playlists.ts); absent when none changed. */
  playlists?: readonly string[];
}

/** Case- and accent-insensitive key for ordering and matching text. */
export function foldText(s: string): string {
  // ASCII has nothing to decompose: 50 000 titles fold in a fifth of the time at start-up.
  if (ASCII.test(s)) return s.toLowerCase();
  return s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}
const ASCII = /^[\u0000-\u007f]*$/;

/** An ASCII character code lower-cased: what foldText does to it. */
function asciiLower(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

/**
 * A music-folder track's id: stable for the same file, whatever its content. Ids are made from the
 * digest's bytes, not by slicing its hex: a slice of a string keeps the whole string alive, which
 * cost 100 bytes a track at 50 000 tracks.
 */
export function folderTrackId(root: string, rel: string): string {
  return createHash('sha256').update(`${root}\0${rel}`).digest().toString('hex', 0, 8);
}

export function albumIdOf(albumArtist: string, album: string): string {
  return createHash('sha1').update(`${foldText(albumArtist)}\0${foldText(album)}`).digest().toString('hex', 0, 8);
}


function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareNum(a: number | null, b: number | null): number {
  // Missing numbers sort last in ascending order.
  return (a ?? Number.MAX_SAFE_INTEGER) - (b ?? Number.MAX_SAFE_INTEGER);
}

interface AlbumEntry {
  album: Album;
  /** An array, not a Set: 5000 albums of ten tracks cost 1 MB less. Removal is a scan of one album. */
  trackIds: string[];
  /** What the album's tracks share, one per distinct combination (usually one). */
  shared: SharedFields[];
}

export interface CatalogEvents {
  change: [CatalogChange];
}

export class Catalog extends EventEmitter<CatalogEvents> {
  private readonly byId = new Map<string, CatalogTrack>();
  private readonly byHash = new Map<string, string>();
  /**
   * Store path → id, for pushed tracks only. A music-folder track's id is a hash of its location
   * (folderTrackId), so it is found through byId: a second 50 000-entry map would cost about 2 MB.
   */
  private readonly storePaths = new Map<string, string>();
  /**
   * Folded titles by track id, for titles with non-ASCII characters only. An ASCII title folds by
   * lower-casing, which comparisons do on the fly: a stored copy of 50 000 titles cost 3.5 MB.
   * Other fields fold through `foldMemo` (few distinct values).
   */
  private readonly titleFolds = new Map<string, string>();
  /** One copy of each repeated string (artist, album, genre…): 50 000 tracks share a few thousand. */
  private readonly pool = new Map<string, string>();
  private readonly foldMemo = new Map<string, string>();
  private readonly albums = new Map<string, AlbumEntry>();
  private sortedCache = new Map<string, StoredTrack[]>();
  private _updateId = 0;

  constructor(private readonly log: Logger) {
    super();
  }

  get updateId(): number {
    return this._updateId;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Fills the catalogue at start without events. */
  load(tracks: Iterable<StoredTrack>, updateId: number): void {
    for (const t of tracks) this.index(t);
    this._updateId = updateId;
    this.sortedCache.clear();
  }

  get(id: string): StoredTrack | undefined {
    return this.byId.get(id);
  }

  getByHash(sha256: string): StoredTrack | undefined {
    const id = this.byHash.get(sha256);
    return id ? this.byId.get(id) : undefined;
  }

  getByLocation(root: string, rel: string): StoredTrack | undefined {
    const t = this.byId.get(root === STORE_ROOT ? (this.storePaths.get(rel) ?? '') : folderTrackId(root, rel));
    return t && t.root === root && t.path === rel ? t : undefined;
  }

  all(): StoredTrack[] {
    return [...this.byId.values()];
  }

  /** Adds or replaces tracks, then emits one change event for the batch. */
  upsert(tracks: StoredTrack[]): void {
    const removed: StoredTrack[] = [];
    const added: StoredTrack[] = [];
    for (const t of tracks) {
      const old = this.byId.get(t.id);
      if (old) {
        this.unindex(old);
        removed.push(old);
      }
      added.push(this.index(t));
    }
    this.changed(added, removed);
  }

  remove(ids: string[]): StoredTrack[] {
    const removed: StoredTrack[] = [];
    for (const id of ids) {
      const t = this.byId.get(id);
      if (!t) continue;
      this.unindex(t);
      removed.push(t);
    }
    if (removed.length) this.changed([], removed);
    return removed;
  }

  /** Playlists changed: one change event without tracks, so the views built on them are refreshed too. */
  notePlaylistChange(ids: readonly string[]): void {
    if (ids.length) this.changed([], [], ids);
  }

  private changed(added: StoredTrack[], removed: StoredTrack[], playlists?: readonly string[]): void {
    this._updateId++;
    if (added.length || removed.length) this.sortedCache.clear();
    const change: CatalogChange = { updateId: this._updateId, added, removed, ...(playlists ? { playlists } : {}) };
    // One failing listener must not break the others or the push that caused the change.
    for (const listener of this.listeners('change')) {
      try {
        (listener as (c: CatalogChange) => void)(change);
      } catch (err) {
        this.log.error({ err }, 'catalogue change listener failed');
      }
    }
  }

  private intern(v: string): string {
    const have = this.pool.get(v);
    if (have !== undefined) return have;
    this.pool.set(v, v);
    return v;
  }

  private readonly sources = new Map<string, StoredTrack['source']>();
  private sharedSource(s: StoredTrack['source']): StoredTrack['source'] {
    const key = `${s.kind}\0${s.device ?? ''}\0${s.via ?? ''}`;
    let shared = this.sources.get(key);
    if (!shared) this.sources.set(key, (shared = Object.freeze({ kind: s.kind, device: s.device ? this.intern(s.device) : null, ...(s.via ? { via: s.via } : {}) })));
    return shared;
  }

  /** Folded form of a repeated field value, computed once per distinct value. */
  private fold(v: string | null): string {
    if (!v) return '';
    let f = this.foldMemo.get(v);
    if (f === undefined) this.foldMemo.set(v, (f = foldText(v)));
    return f;
  }

  /** albumIdOf, once per distinct album (a hash per track cost 60 ms at start-up with 50 000 tracks). */
  private readonly albumIds = new Map<string, Map<string, string>>();
  private albumId(t: Pick<StoredTrack, 'albumArtist' | 'album'>): string {
    let byAlbum = this.albumIds.get(t.albumArtist);
    if (!byAlbum) this.albumIds.set(t.albumArtist, (byAlbum = new Map()));
    let id = byAlbum.get(t.album);
    if (id === undefined) byAlbum.set(t.album, (id = albumIdOf(t.albumArtist, t.album)));
    return id;
  }

  /** One format object per distinct codec, MIME type, rate, depth and channels. */
  private readonly formats = new Map<string, TrackFormat>();
  private sharedFormat(t: StoredTrack): TrackFormat {
    const key = `${t.codec}\0${t.mime}\0${t.sampleRate}\0${t.bitsPerSample}\0${t.channels}`;
    let f = this.formats.get(key);
    if (!f) this.formats.set(key, (f = Object.freeze({ codec: this.intern(t.codec), mime: this.intern(t.mime), sampleRate: t.sampleRate, bitsPerSample: t.bitsPerSample, channels: t.channels })));
    return f;
  }

  /**
   * The SharedFields in `entry` that fits `input`, made if none does. `names` are the input's album
   * artist and album, interned (an album's entry holds the first spelling; folding can differ).
   */
  private sharedFields(entry: AlbumEntry, input: StoredTrack, names: Pick<StoredTrack, 'albumArtist' | 'album'>): SharedFields {
    const root = this.intern(input.root);
    const values = {
      artist: this.intern(input.artist),
      album: names.album,
      albumArtist: names.albumArtist,
      genre: input.genre ? this.intern(input.genre) : input.genre,
      year: input.year,
      // A folder scan stamps a whole batch with one time, and a loaded document has one string per
      // track for each: 40 bytes a track otherwise. A pushed track's time is its own.
      addedAt: root !== STORE_ROOT ? this.intern(input.addedAt) : input.addedAt,
      // Folder tracks all share one source object; pushed ones share one per device.
      source: this.sharedSource(input.source),
      root,
      folderArt: input.folderArt ? this.intern(input.folderArt) : input.folderArt,
      hasArt: input.hasArt,
    };
    const format = this.sharedFormat(input);
    for (const s of entry.shared) if (s.fits(values, format)) return s;
    const { artist, album, albumArtist, genre, year, addedAt, source, folderArt, hasArt } = values;
    const made = new SharedFields(artist, album, albumArtist, genre, year, addedAt, source, root, folderArt, hasArt, format);
    entry.shared.push(made);
    return made;
  }

  private index(input: StoredTrack): CatalogTrack {
    // A spread copy of a record has none of its computed fields: storedFields() copies them all.
    if (typeof input.codec !== 'string') throw new TypeError(`track ${input.id} has no codec: copy catalogue records with storedFields()`);
    // Interned first: the album-id memo keeps its keys.
    const names = { albumArtist: this.intern(input.albumArtist), album: this.intern(input.album) };
    const aid = this.albumId(names);
    let entry = this.albums.get(aid);
    if (!entry) {
      const album = { id: aid, title: names.album, albumArtist: names.albumArtist, year: input.year, genre: input.genre ? this.intern(input.genre) : input.genre, trackCount: 0, artTrackId: null };
      entry = { album, trackIds: [], shared: [] };
      this.albums.set(aid, entry);
    }
    const shared = this.sharedFields(entry, input, names);
    shared.uses++;
    const t = new CatalogTrack(input, shared);
    this.byId.set(t.id, t);
    if (t.sha256) this.byHash.set(t.sha256, t.id);
    if (t.root === STORE_ROOT) this.storePaths.set(t.path, t.id);
    if (!ASCII.test(t.title)) this.titleFolds.set(t.id, foldText(t.title));
    entry.trackIds.push(t.id);
    entry.album.trackCount = entry.trackIds.length;
    if (!entry.album.artTrackId && (t.hasArt || t.folderArt)) entry.album.artTrackId = t.id;
    entry.album.year ??= t.year;
    entry.album.genre ??= t.genre;
    return t;
  }

  private unindex(t: CatalogTrack): void {
    this.byId.delete(t.id);
    if (t.sha256 && this.byHash.get(t.sha256) === t.id) this.byHash.delete(t.sha256);
    if (t.root === STORE_ROOT && this.storePaths.get(t.path) === t.id) this.storePaths.delete(t.path);
    this.titleFolds.delete(t.id);
    const aid = this.albumId(t);
    const entry = this.albums.get(aid);
    if (!entry) return;
    const at = entry.trackIds.indexOf(t.id);
    if (at >= 0) {
      entry.trackIds[at] = entry.trackIds[entry.trackIds.length - 1]!;
      entry.trackIds.pop();
    }
    entry.album.trackCount = entry.trackIds.length;
    if (--t.shared.uses === 0) {
      const at = entry.shared.indexOf(t.shared);
      if (at >= 0) entry.shared.splice(at, 1);
    }
    if (!entry.trackIds.length) {
      this.albums.delete(aid);
      const byAlbum = this.albumIds.get(t.albumArtist);
      byAlbum?.delete(t.album);
      if (byAlbum?.size === 0) this.albumIds.delete(t.albumArtist);
      return;
    }
    if (entry.album.artTrackId === t.id) {
      entry.album.artTrackId = null;
      for (const id of entry.trackIds) {
        const o = this.byId.get(id);
        if (o && (o.hasArt || o.folderArt)) {
          entry.album.artTrackId = id;
          break;
        }
      }
    }
  }

  private comparator(key: SortKey): (a: StoredTrack, b: StoredTrack) => number {
    const albumOrder = (a: StoredTrack, b: StoredTrack): number =>
      compareText(this.fold(a.albumArtist), this.fold(b.albumArtist)) ||
      compareText(this.fold(a.album), this.fold(b.album)) ||
      compareNum(a.discNumber ?? 1, b.discNumber ?? 1) ||
      compareNum(a.trackNumber, b.trackNumber) ||
      this.compareTitles(a, b);
    const tie = (a: StoredTrack, b: StoredTrack): number => compareText(a.id, b.id);
    switch (key) {
      case 'title':
        return (a, b) => this.compareTitles(a, b) || compareText(this.fold(a.artist), this.fold(b.artist)) || tie(a, b);
      case 'artist':
        return (a, b) => compareText(this.fold(a.artist), this.fold(b.artist)) || albumOrder(a, b) || tie(a, b);
      case 'albumArtist':
        return (a, b) => albumOrder(a, b) || tie(a, b);
      case 'album':
        return (a, b) => compareText(this.fold(a.album), this.fold(b.album)) || albumOrder(a, b) || tie(a, b);
      case 'year':
        return (a, b) => compareNum(a.year, b.year) || albumOrder(a, b) || tie(a, b);
      case 'genre':
        return (a, b) => compareText(this.fold(a.genre), this.fold(b.genre)) || albumOrder(a, b) || tie(a, b);
      case 'added':
        return (a, b) => compareText(a.addedAt, b.addedAt) || tie(a, b);
      case 'track':
        return (a, b) => albumOrder(a, b) || tie(a, b);
      case 'duration':
        return (a, b) => a.durationMs - b.durationMs || tie(a, b);
    }
  }

  /** All tracks in one order, cached until the next change (paging a big list stays O(page)). */
  sorted(sort: Sort): StoredTrack[] {
    const cacheKey = `${sort.key}:${sort.descending ? 'd' : 'a'}`;
    let list = this.sortedCache.get(cacheKey);
    if (!list) {
      list = [...this.byId.values()].sort(this.comparator(sort.key));
      if (sort.descending) list.reverse();
      this.sortedCache.set(cacheKey, list);
    }
    return list;
  }

  /** Drops the sorted lists and folded values kept for speed; they are made again when needed. */
  releaseCaches(): void {
    this.sortedCache.clear();
    this.foldMemo.clear();
  }

  /** Sorts any subset with the same orders as `sorted`. */
  sortTracks(tracks: StoredTrack[], sort: Sort): StoredTrack[] {
    const cmp = this.comparator(sort.key);
    const out = [...tracks].sort(cmp);
    return sort.descending ? out.reverse() : out;
  }

  /** The folded title of a track: kept since indexing when it has non-ASCII characters, else lower-cased now. */
  foldedTitle(t: StoredTrack): string {
    const kept = this.titleFolds.get(t.id);
    return kept !== undefined && this.byId.get(t.id) === t ? kept : foldText(t.title);
  }

  /**
   * Orders two tracks by folded title, as compareText(foldedTitle(a), foldedTitle(b)) would, without
   * making the folded strings while both titles are ASCII (sorting 50 000 titles compares 800 000 pairs).
   */
  compareTitles(ta: StoredTrack, tb: StoredTrack): number {
    const a = ta.title;
    const b = tb.title;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const x = a.charCodeAt(i);
      const y = b.charCodeAt(i);
      if (x > 0x7f || y > 0x7f) return compareText(this.foldedTitle(ta), this.foldedTitle(tb));
      if (x === y) continue;
      const d = asciiLower(x) - asciiLower(y);
      if (d) return d;
    }
    // Equal so far: a longer rest decides, unless it is non-ASCII (combining marks fold to nothing).
    const rest = a.length > n ? a : b;
    for (let i = n; i < rest.length; i++) if (rest.charCodeAt(i) > 0x7f) return compareText(this.foldedTitle(ta), this.foldedTitle(tb));
    return a.length - b.length;
  }

  /**
   * Whether the track's folded title contains `needle` (already folded), as
   * foldedTitle(t).includes(needle) would, without making the folded string while the title is ASCII:
   * a Search `dc:title contains` looks at every title.
   */
  titleContains(t: StoredTrack, needle: string): boolean {
    const title = t.title;
    const last = title.length - needle.length;
    for (let i = 0; i <= last; i++) {
      let j = 0;
      for (; j < needle.length; j++) {
        const x = title.charCodeAt(i + j);
        if (x > 0x7f) return this.foldedTitle(t).includes(needle);
        if (asciiLower(x) !== needle.charCodeAt(j)) break;
      }
      if (j === needle.length) return true;
    }
    // No match in the ASCII seen so far; a non-ASCII character later on folds differently.
    for (let i = Math.max(0, last + 1); i < title.length; i++) if (title.charCodeAt(i) > 0x7f) return this.foldedTitle(t).includes(needle);
    return false;
  }

  /** The folded form of a repeated value (artist, album, genre…), computed once per distinct value. */
  foldValue(v: string | null): string {
    return this.fold(v);
  }

  /** Does the folded `needle` occur in the track's title, artists, album or genre? */
  matchesText(t: StoredTrack, needle: string): boolean {
    return (
      this.foldedTitle(t).includes(needle) ||
      this.fold(t.artist).includes(needle) ||
      this.fold(t.album).includes(needle) ||
      this.fold(t.albumArtist).includes(needle) ||
      this.fold(t.genre).includes(needle)
    );
  }

  query(q: TrackQuery): Page<StoredTrack> {
    const sort = q.sort ?? { key: 'track', descending: false };
    const needle = q.q ? foldText(q.q.trim()) : '';
    const eq = (value: string | undefined) => (value === undefined ? null : foldText(value));
    const artist = eq(q.artist);
    const albumArtist = eq(q.albumArtist);
    const album = eq(q.album);
    const genre = eq(q.genre);
    const filtered = needle || artist !== null || albumArtist !== null || album !== null || genre !== null || q.year !== undefined || q.device !== undefined;
    let list: StoredTrack[];
    if (q.albumId) {
      const entry = this.albums.get(q.albumId);
      list = entry ? this.sortTracks(entry.trackIds.map((id) => this.byId.get(id)!), sort) : [];
    } else {
      list = this.sorted(sort);
    }
    if (filtered) {
      list = list.filter((t) => {
        return (
          (!needle || this.matchesText(t, needle)) &&
          (artist === null || this.fold(t.artist) === artist) &&
          (albumArtist === null || this.fold(t.albumArtist) === albumArtist) &&
          (album === null || this.fold(t.album) === album) &&
          (genre === null || this.fold(t.genre) === genre) &&
          (q.year === undefined || t.year === q.year) &&
          (q.device === undefined || t.source.device === q.device)
        );
      });
    }
    const offset = Math.max(0, q.offset ?? 0);
    const end = q.limit ? offset + q.limit : undefined;
    return { total: list.length, items: list.slice(offset, end) };
  }

  album(id: string): Album | undefined {
    return this.albums.get(id)?.album;
  }

  albumTracks(id: string): StoredTrack[] {
    const entry = this.albums.get(id);
    if (!entry) return [];
    return this.sortTracks(entry.trackIds.map((tid) => this.byId.get(tid)!), { key: 'track', descending: false });
  }

  /** Albums ordered by album artist then title. */
  listAlbums(filter: { albumArtist?: string; artist?: string; genre?: string; year?: number } = {}): Album[] {
    const wantAA = filter.albumArtist !== undefined ? foldText(filter.albumArtist) : null;
    const wantArtist = filter.artist !== undefined ? foldText(filter.artist) : null;
    const wantGenre = filter.genre !== undefined ? foldText(filter.genre) : null;
    const out: Album[] = [];
    for (const { album, trackIds } of this.albums.values()) {
      if (wantAA !== null && foldText(album.albumArtist) !== wantAA) continue;
      if (filter.year !== undefined && album.year !== filter.year) continue;
      if (wantArtist !== null || wantGenre !== null) {
        let hit = false;
        for (const id of trackIds) {
          const t = this.byId.get(id)!;
          if ((wantArtist === null || this.fold(t.artist) === wantArtist) && (wantGenre === null || this.fold(t.genre) === wantGenre)) {
            hit = true;
            break;
          }
        }
        if (!hit) continue;
      }
      out.push(album);
    }
    return out.sort((a, b) => compareText(foldText(a.albumArtist), foldText(b.albumArtist)) || compareText(foldText(a.title), foldText(b.title)));
  }

  /** Distinct values of a text field with counts, in folded order. */
  listNames(field: 'artist' | 'albumArtist' | 'genre'): NamedCount[] {
    const counts = new Map<string, { name: string; tracks: number; albums: Set<string> }>();
    for (const t of this.byId.values()) {
      const name = field === 'genre' ? t.genre : t[field];
      if (!name) continue;
      const k = foldText(name);
      let c = counts.get(k);
      if (!c) counts.set(k, (c = { name, tracks: 0, albums: new Set() }));
      c.tracks++;
      c.albums.add(albumIdOf(t.albumArtist, t.album));
    }
    return [...counts.entries()]
      .sort((a, b) => compareText(a[0], b[0]))
      .map(([, c]) => ({ name: c.name, trackCount: c.tracks, albumCount: c.albums.size }));
  }
}
