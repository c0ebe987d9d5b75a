// The catalogue in memory: tracks by id, hash and location, derived albums/artists/genres, paged
// and sorted queries, and change events. Every API and the UPnP tree are projections of this.
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import type { StoredTrack } from './track.js';

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

export interface Page<T> {
  total: number;
  items: T[];
}

export interface Album {
  id: string;
  title: string;
  albumArtist: string;
  year: number | null;
  genre: string | null;
  trackCount: number;
  /** id of a track whose art stands for the album, or null */
  artTrackId: string | null;
}

export interface NamedCount {
  name: string;
  trackCount: number;
  albumCount: number;
}

export interface CatalogChange {
  /** Increases with every change; the UPnP SystemUpdateID. */
  updateId: number;
  added: StoredTrack[];
  removed: StoredTrack[];
}

/** Case- and accent-insensitive key for ordering and matching text. */
export function foldText(s: string): string {
  return s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

export function albumIdOf(albumArtist: string, album: string): string {
  return createHash('sha1').update(`${foldText(albumArtist)}\0${foldText(album)}`).digest('hex').slice(0, 16);
}

function locationKey(root: string, rel: string): string {
  return `${root}\0${rel}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareNum(a: number | null, b: number | null): number {
  // Missing numbers sort last in ascending order.
  return (a ?? Number.MAX_SAFE_INTEGER) - (b ?? Number.MAX_SAFE_INTEGER);
}

interface Folded {
  title: string;
  artist: string;
  album: string;
  albumArtist: string;
  genre: string;
  /** everything q matches against */
  text: string;
}

interface AlbumEntry {
  album: Album;
  trackIds: Set<string>;
}

export interface CatalogEvents {
  change: [CatalogChange];
}

export class Catalog extends EventEmitter<CatalogEvents> {
  private readonly byId = new Map<string, StoredTrack>();
  private readonly byHash = new Map<string, string>();
  private readonly byLocation = new Map<string, string>();
  private readonly folded = new Map<string, Folded>();
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
    const id = this.byLocation.get(locationKey(root, rel));
    return id ? this.byId.get(id) : undefined;
  }

  all(): StoredTrack[] {
    return [...this.byId.values()];
  }

  /** Adds or replaces tracks, then emits one change event for the batch. */
  upsert(tracks: StoredTrack[]): void {
    const removed: StoredTrack[] = [];
    for (const t of tracks) {
      const old = this.byId.get(t.id);
      if (old) {
        this.unindex(old);
        removed.push(old);
      }
      this.index(t);
    }
    this.changed(tracks, removed);
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

  private changed(added: StoredTrack[], removed: StoredTrack[]): void {
    this._updateId++;
    this.sortedCache.clear();
    const change: CatalogChange = { updateId: this._updateId, added, removed };
    // One failing listener must not break the others or the push that caused the change.
    for (const listener of this.listeners('change')) {
      try {
        (listener as (c: CatalogChange) => void)(change);
      } catch (err) {
        this.log.error({ err }, 'catalogue change listener failed');
      }
    }
  }

  private index(t: StoredTrack): void {
    this.byId.set(t.id, t);
    if (t.sha256) this.byHash.set(t.sha256, t.id);
    this.byLocation.set(locationKey(t.root, t.path), t.id);
    const f: Folded = {
      title: foldText(t.title),
      artist: foldText(t.artist),
      album: foldText(t.album),
      albumArtist: foldText(t.albumArtist),
      genre: foldText(t.genre ?? ''),
      text: '',
    };
    f.text = `${f.title}\n${f.artist}\n${f.album}\n${f.albumArtist}\n${f.genre}`;
    this.folded.set(t.id, f);
    const aid = albumIdOf(t.albumArtist, t.album);
    let entry = this.albums.get(aid);
    if (!entry) {
      entry = {
        album: { id: aid, title: t.album, albumArtist: t.albumArtist, year: t.year, genre: t.genre, trackCount: 0, artTrackId: null },
        trackIds: new Set(),
      };
      this.albums.set(aid, entry);
    }
    entry.trackIds.add(t.id);
    entry.album.trackCount = entry.trackIds.size;
    if (!entry.album.artTrackId && (t.hasArt || t.folderArt)) entry.album.artTrackId = t.id;
    entry.album.year ??= t.year;
    entry.album.genre ??= t.genre;
  }

  private unindex(t: StoredTrack): void {
    this.byId.delete(t.id);
    if (t.sha256 && this.byHash.get(t.sha256) === t.id) this.byHash.delete(t.sha256);
    const lk = locationKey(t.root, t.path);
    if (this.byLocation.get(lk) === t.id) this.byLocation.delete(lk);
    this.folded.delete(t.id);
    const aid = albumIdOf(t.albumArtist, t.album);
    const entry = this.albums.get(aid);
    if (!entry) return;
    entry.trackIds.delete(t.id);
    entry.album.trackCount = entry.trackIds.size;
    if (!entry.trackIds.size) {
      this.albums.delete(aid);
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
    const f = (t: StoredTrack): Folded => this.folded.get(t.id)!;
    const albumOrder = (a: StoredTrack, b: StoredTrack): number =>
      compareText(f(a).albumArtist, f(b).albumArtist) ||
      compareText(f(a).album, f(b).album) ||
      compareNum(a.discNumber ?? 1, b.discNumber ?? 1) ||
      compareNum(a.trackNumber, b.trackNumber) ||
      compareText(f(a).title, f(b).title);
    const tie = (a: StoredTrack, b: StoredTrack): number => compareText(a.id, b.id);
    switch (key) {
      case 'title':
        return (a, b) => compareText(f(a).title, f(b).title) || compareText(f(a).artist, f(b).artist) || tie(a, b);
      case 'artist':
        return (a, b) => compareText(f(a).artist, f(b).artist) || albumOrder(a, b) || tie(a, b);
      case 'albumArtist':
        return (a, b) => albumOrder(a, b) || tie(a, b);
      case 'album':
        return (a, b) => compareText(f(a).album, f(b).album) || albumOrder(a, b) || tie(a, b);
      case 'year':
        return (a, b) => compareNum(a.year, b.year) || albumOrder(a, b) || tie(a, b);
      case 'genre':
        return (a, b) => compareText(f(a).genre, f(b).genre) || albumOrder(a, b) || tie(a, b);
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

  /** Sorts any subset with the same orders as `sorted`. */
  sortTracks(tracks: StoredTrack[], sort: Sort): StoredTrack[] {
    const cmp = this.comparator(sort.key);
    const out = [...tracks].sort(cmp);
    return sort.descending ? out.reverse() : out;
  }

  query(q: TrackQuery): Page<StoredTrack> {
    const sort = q.sort ?? { key: 'track', descending: false };
    const needle = q.q ? foldText(q.q.trim()) : '';
    const eq = (field: keyof Folded, value: string | undefined) => (value === undefined ? null : foldText(value));
    const artist = eq('artist', q.artist);
    const albumArtist = eq('albumArtist', q.albumArtist);
    const album = eq('album', q.album);
    const genre = eq('genre', q.genre);
    const filtered = needle || artist !== null || albumArtist !== null || album !== null || genre !== null || q.year !== undefined || q.device !== undefined;
    let list: StoredTrack[];
    if (q.albumId) {
      const entry = this.albums.get(q.albumId);
      list = entry ? this.sortTracks([...entry.trackIds].map((id) => this.byId.get(id)!), sort) : [];
    } else {
      list = this.sorted(sort);
    }
    if (filtered) {
      list = list.filter((t) => {
        const f = this.folded.get(t.id)!;
        return (
          (!needle || f.text.includes(needle)) &&
          (artist === null || f.artist === artist) &&
          (albumArtist === null || f.albumArtist === albumArtist) &&
          (album === null || f.album === album) &&
          (genre === null || f.genre === genre) &&
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
    return this.sortTracks([...entry.trackIds].map((tid) => this.byId.get(tid)!), { key: 'track', descending: false });
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
          const f = this.folded.get(id)!;
          if ((wantArtist === null || f.artist === wantArtist) && (wantGenre === null || f.genre === wantGenre)) {
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
