// The ContentDirectory object tree: a projection of the catalogue, never a walk of the disk.
//
//   0 (root)
//   ├─ m  Music
//      ├─ m/all                       All Tracks, by title
//      ├─ m/artists/<h>               artist → m/artists/<h>/all (All Tracks) + m/artists/<h>/<albumId>
//      ├─ m/albumartists/<h>          album artist → All Tracks + albums
//      ├─ m/albums/<albumId>          album → tracks in disc/track order
//      ├─ m/genres/<h>                genre → All Tracks + albums
//      ├─ m/years/<yyyy|none>         year → All Tracks + albums
//      ├─ m/folders/<h>               the on-disk layout: the store's music/ and each music folder
//      ├─ m/recent                    the newest 200 tracks, newest first
//      ├─ m/pushed/<h>                tracks per pushing device, newest first
//      └─ m/playlists/<playlistId>    playlists pushed from phones → their resolved tracks in playlist order
//   └─ u  Uploads                     tracks that came in by DLNA upload, newest first (always the last
//                                     child of 0: gupnp-upload picks the last writable one)
//
// Ids. Containers are `m/<view>/<key>` where a key is a 16-hex-digit hash of the folded name (never
// raw user text: no escaping, no length surprises), an album id (the catalogue's, also a hash), a
// year, `none` or `all`. Every id is derived from tags or paths alone, so it is the same after a
// restart for the same file. Items are `<container id>/t/<track id>`: a track listed in six views is
// six objects, each with the one parentID UPnP allows, and BrowseMetadata on any item id is answered
// from the id itself without a lookup table. Items outside All Tracks carry refID pointing at the
// canonical `m/all/t/<track id>` (as MiniDLNA does), so a control point can tell they are the same song
// (Windows Media Player searches with `@refID exists false` to get each song once).
//
// Cost. Paging is O(page): All Tracks is the catalogue's cached sorted array; every other view is
// built in one pass over the catalogue's album-ordered array the first time it is browsed after a
// change (group lists come out already in album order, so nothing but the group names is sorted),
// and re-sorted child lists are cached per container and SortCriteria until the next change.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { albumIdOf, type Catalog, type CatalogChange } from '../library/catalog.js';
import { STORE_ROOT, type StoredTrack } from '../library/track.js';
import type { Playlist } from '../library/playlists.js';
import { UpnpError } from './service.js';

export const ROOT_ID = '0';
export const MUSIC_ID = 'm';
export const ALL_TRACKS_ID = 'm/all';
export const RECENT_ID = 'm/recent';
export const RECENT_LIMIT = 200;
/** DLNA upload's container (content-directory.ts marks it writable unless uploads are off). */
export const UPLOADS_ID = 'u';

export const UPNP_CLASS = {
  container: 'object.container',
  storageFolder: 'object.container.storageFolder',
  musicArtist: 'object.container.person.musicArtist',
  musicAlbum: 'object.container.album.musicAlbum',
  musicGenre: 'object.container.genre.musicGenre',
  playlistContainer: 'object.container.playlistContainer',
  musicTrack: 'object.item.audioItem.musicTrack',
} as const;

export interface TreeContainer {
  kind: 'container';
  id: string;
  parentId: string;
  title: string;
  upnpClass: string;
  childCount: number;
  searchable: boolean;
  /** Album containers: the album artist. */
  artist: string | null;
  genre: string | null;
  year: number | null;
  /** A track whose cover stands for this container, or null. */
  artTrackId: string | null;
}

export interface TreeItem {
  kind: 'item';
  id: string;
  parentId: string;
  /** The canonical All Tracks object when this is another listing of the same track. */
  refId: string | null;
  track: StoredTrack;
}

export type TreeObject = TreeContainer | TreeItem;

/** A container's children: a few containers first, then (possibly 50 000) tracks listed under `listing`. */
export interface Children {
  containers: readonly TreeContainer[];
  tracks: readonly StoredTrack[];
}

/** What Search looks through below a container. */
export interface SearchScope {
  /** Tracks below the container, in its natural order (album order for whole views). */
  tracks: readonly StoredTrack[];
  /** Containers Search may return (albums, artists, genres), or none below group level. */
  containers: readonly TreeContainer[];
  /** The container a found track is listed under (its item id is `${listingOf(t)}/t/${t.id}`). */
  listingOf(t: StoredTrack): string;
}

export const SORT_FIELDS = ['dc:title', 'upnp:artist', 'upnp:album', 'upnp:originalTrackNumber', 'dc:date', 'upnp:genre'] as const;
export type SortField = (typeof SORT_FIELDS)[number];
export interface SortSpec {
  field: SortField;
  descending: boolean;
}

const SORT_FIELD_BY_LOWER: ReadonlyMap<string, SortField> = new Map(SORT_FIELDS.map((f) => [f.toLowerCase(), f]));

/** Parses SortCriteria (`+dc:title,-dc:date`); empty = the container's own order. Unknown key → 709. */
export function parseSortCriteria(raw: string | undefined): SortSpec[] {
  const s = (raw ?? '').trim();
  if (!s) return [];
  if (s.length > 1024) throw new UpnpError(709, 'Unsupported or invalid sort criteria: too long');
  const out: SortSpec[] = [];
  for (const part of s.split(',')) {
    const p = part.trim();
    if (!p) continue;
    // The sign is required by the spec; a bare name is read as ascending, as several clients send it.
    const descending = p.startsWith('-');
    const name = p.startsWith('+') || p.startsWith('-') ? p.slice(1).trim() : p;
    const field = SORT_FIELD_BY_LOWER.get(name.toLowerCase());
    if (!field) throw new UpnpError(709, `Unsupported or invalid sort criteria: ${name.slice(0, 64)}`);
    out.push({ field, descending });
  }
  return out;
}

const HEX16 = /^[0-9a-f]{16}$/;

/** The playlists shown under m/playlists (library/playlists.ts's PlaylistStore). */
export interface PlaylistSource {
  list(): Playlist[];
  get(id: string): Playlist | undefined;
  /** Its resolved tracks, in playlist order, each once. */
  tracksOf(p: Playlist): StoredTrack[];
}

export const PLAYLISTS_ID = 'm/playlists';

function hex16(s: string): string {
  return createHash('sha1').update(s).digest().toString('hex', 0, 8);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareNum(a: number | null, b: number | null): number {
  return (a ?? Number.MAX_SAFE_INTEGER) - (b ?? Number.MAX_SAFE_INTEGER);
}

interface AlbumNode {
  albumId: string;
  title: string;
  albumArtist: string;
  year: number | null;
  genre: string | null;
  tracks: StoredTrack[];
  artTrackId: string | null;
}

interface GroupNode {
  key: string;
  name: string;
  fold: string;
  tracks: StoredTrack[];
  albums: Map<string, AlbumNode>;
}

interface GroupView {
  byKey: Map<string, GroupNode>;
  list: GroupNode[];
}

type Dimension = 'artists' | 'albumartists' | 'genres' | 'years' | 'pushed';

interface DimensionDef {
  id: string;
  title: string;
  childClass: string;
  /** group → All Tracks + albums (else group → tracks) */
  withAlbums: boolean;
  /** Tracks in groups newest first (else album order). */
  newestFirst: boolean;
  /** Years in numeric order, unknown last (else by folded name). */
  numeric: boolean;
  unknown: string;
}

const DIMENSIONS: Readonly<Record<Dimension, DimensionDef>> = {
  artists: { id: 'm/artists', title: 'Artists', childClass: UPNP_CLASS.musicArtist, withAlbums: true, newestFirst: false, numeric: false, unknown: 'Unknown Artist' },
  albumartists: { id: 'm/albumartists', title: 'Album Artists', childClass: UPNP_CLASS.musicArtist, withAlbums: true, newestFirst: false, numeric: false, unknown: 'Unknown Artist' },
  genres: { id: 'm/genres', title: 'Genres', childClass: UPNP_CLASS.musicGenre, withAlbums: true, newestFirst: false, numeric: false, unknown: 'Unknown Genre' },
  years: { id: 'm/years', title: 'Years', childClass: UPNP_CLASS.container, withAlbums: true, newestFirst: false, numeric: true, unknown: 'Unknown Year' },
  pushed: { id: 'm/pushed', title: 'Pushed From', childClass: UPNP_CLASS.container, withAlbums: false, newestFirst: true, numeric: false, unknown: 'Unknown Device' },
};
const DIMENSION_BY_SEGMENT: ReadonlyMap<string, Dimension> = new Map(
  (Object.keys(DIMENSIONS) as Dimension[]).map((d) => [DIMENSIONS[d].id.slice(2), d]),
);

interface FolderNode {
  id: string;
  parentId: string;
  title: string;
  fold: string;
  root: string;
  rel: string;
  subfolders: FolderNode[];
  tracks: StoredTrack[];
}

interface FolderView {
  byId: Map<string, FolderNode>;
  roots: FolderNode[];
}

/** The children of `0` and of `m`, in order. */
const MUSIC_CHILDREN = ['m/all', 'm/artists', 'm/albumartists', 'm/albums', 'm/genres', 'm/years', 'm/folders', 'm/recent', 'm/pushed', 'm/playlists'] as const;
type MusicChild = (typeof MUSIC_CHILDREN)[number];
const MUSIC_CHILD_TITLES: Readonly<Record<MusicChild, string>> = {
  'm/all': 'All Tracks',
  'm/artists': 'Artists',
  'm/albumartists': 'Album Artists',
  'm/albums': 'Albums',
  'm/genres': 'Genres',
  'm/years': 'Years',
  'm/folders': 'Folders',
  'm/recent': 'Recently Added',
  'm/pushed': 'Pushed From',
  'm/playlists': 'Playlists',
};

/** Containers with their own ContainerUpdateID before all of them move on to the latest (see applyChange). */
const UPDATE_IDS_KEPT = 2000;

/** How many re-sorted child lists are kept (each up to one array of track references). */
const SORT_CACHE_ENTRIES = 32;

export class ObjectTree {
  private groupViews = new Map<Dimension, GroupView>();
  private albumsView: { byId: Map<string, AlbumNode>; list: AlbumNode[] } | null = null;
  private folderView: FolderView | null = null;
  private recent: StoredTrack[] | null = null;
  private uploads: StoredTrack[] | null = null;
  /** addedAt of the oldest track in Recently Added when it was last built (null: fewer than 200 or unknown). */
  private recentCutoff: string | null = null;
  private readonly sortCache = new Map<string, Children>();
  /** The albums, artists and genres a Search from the root looks through, kept until the next change like the views they come from. */
  private wholeContainers: TreeContainer[] | null = null;
  /**
   * All Tracks in title order, kept up to date across changes (binary-search inserts, one filter for
   * removals) instead of re-sorted: a client watching All Tracks during a scan or a push burst would
   * otherwise make the daemon sort 50 000 tracks after every batch.
   */
  private titleOrder: StoredTrack[] | null = null;
  /** Memoised hashes of folded names and folder locations (few distinct values, kept across rebuilds). */
  private readonly hashMemo = new Map<string, string>();
  private readonly albumIdMemo = new Map<string, string>();
  /** ContainerUpdateID per container that changed since `baseUpdateId`; others report `baseUpdateId`. */
  private readonly updateIds = new Map<string, number>();
  private baseUpdateId: number;
  /** Resolved tracks per playlist id, built on first use after a change. */
  private playlistTracks = new Map<string, StoredTrack[]>();

  constructor(
    private readonly catalog: Catalog,
    private readonly playlists: PlaylistSource | null = null,
  ) {
    this.baseUpdateId = catalog.updateId;
  }

  // ---- change tracking ----

  /**
   * Drops the views built from the old catalogue and returns the containers whose children changed
   * (for ContainerUpdateIDs), recording the change's update id for each. O(changed tracks).
   * A container counts as changed when an item or a child container was added to or removed from it;
   * its ancestors up to `m` count too, since the childCount they show for it may have changed.
   */
  applyChange(change: CatalogChange): string[] {
    const tracksChanged = change.added.length > 0 || change.removed.length > 0;
    if (tracksChanged) this.releaseViews();
    else {
      // Only playlists changed: every other view still stands.
      this.playlistTracks.clear();
      this.sortCache.clear();
    }
    if (this.titleOrder) this.titleOrder = this.patchTitleOrder(this.titleOrder, change);
    const ids = new Set<string>();
    let recentChanged = this.recentCutoff === null;
    for (const list of [change.added, change.removed]) {
      for (const t of list) {
        for (const id of this.containersOf(t)) ids.add(id);
        if (!recentChanged && t.addedAt >= this.recentCutoff!) recentChanged = true;
      }
    }
    for (const id of this.playlistsOf(change)) ids.add(id);
    if (recentChanged && (change.added.length || change.removed.length)) {
      ids.add(RECENT_ID);
      // The list may now reach further back than the old cutoff: unknown until it is built again.
      this.recentCutoff = null;
    }
    if (ids.size) ids.add(MUSIC_ID);
    // Uploads' childCount is shown in 0's listing.
    if (ids.has(UPLOADS_ID)) ids.add(ROOT_ID);
    for (const id of ids) this.updateIds.set(id, change.updateId);
    if (this.updateIds.size > UPDATE_IDS_KEPT) {
      // A first scan changes every container: rather than one entry each (2 MB at 50 000 tracks),
      // every container now reports this change's id. Too new an id only makes a control point
      // reload a listing it had; it never hides a change.
      this.baseUpdateId = change.updateId;
      this.updateIds.clear();
    }
    return [...ids];
  }

  /** The ContainerUpdateID of a container (the update id of its last change). */
  containerUpdateId(id: string): number {
    return this.updateIds.get(id) ?? this.baseUpdateId;
  }

  /** Playlist containers whose listing this change touches: the playlists named, and those holding a changed track. */
  private playlistsOf(change: CatalogChange): string[] {
    if (!this.playlists) return [];
    const out = new Set<string>();
    for (const id of change.playlists ?? []) out.add(`${PLAYLISTS_ID}/${id}`);
    if (change.added.length || change.removed.length) {
      const touched = new Set<string>();
      for (const t of change.added) touched.add(t.id);
      for (const t of change.removed) touched.add(t.id);
      for (const p of this.playlists.list()) {
        if (p.entries.some((e) => e.trackId !== null && touched.has(e.trackId))) out.add(`${PLAYLISTS_ID}/${p.id}`);
      }
    }
    if (out.size) out.add(PLAYLISTS_ID);
    return [...out];
  }

  /**
   * Lets go of every view built on demand (artists, albums, genres, folders, re-sorted lists…); the
   * next Browse or Search that needs one builds it again. All Tracks in title order stays: it is
   * patched through changes, and most browsing pages through it.
   */
  releaseViews(): void {
    this.playlistTracks.clear();
    this.groupViews.clear();
    this.albumsView = null;
    this.folderView = null;
    this.recent = null;
    this.uploads = null;
    this.sortCache.clear();
    this.wholeContainers = null;
    if (this.hashMemo.size > 200_000) this.hashMemo.clear();
    if (this.albumIdMemo.size > 200_000) this.albumIdMemo.clear();
  }

  /**
   * releaseViews, and the memoised hashes too (two maps of 4000–8000 entries each at 50 000 tracks
   * in 6000 folders). For when the daemon goes quiet: a change keeps them, so the views it drops
   * rebuild faster.
   */
  releaseMemory(): void {
    this.releaseViews();
    this.hashMemo.clear();
    this.albumIdMemo.clear();
  }

  /** Every container listing `t` directly, plus their ancestors up to `m` (Recently Added aside). */
  private containersOf(t: StoredTrack): string[] {
    const out = [ALL_TRACKS_ID];
    const aid = this.albumIdOf(t);
    for (const dim of Object.keys(DIMENSIONS) as Dimension[]) {
      const def = DIMENSIONS[dim];
      const key = this.groupKeyOf(dim, t);
      if (key === null) continue;
      const gid = `${def.id}/${key}`;
      out.push(def.id, gid);
      if (def.withAlbums) out.push(`${gid}/all`, `${gid}/${aid}`);
    }
    out.push('m/albums', `m/albums/${aid}`);
    out.push('m/folders', ...this.folderChainOf(t));
    if (t.source.via === 'dlna') out.push(UPLOADS_ID);
    return out;
  }

  private readonly byTitle = (a: StoredTrack, b: StoredTrack): number =>
    this.catalog.compareTitles(a, b) ||
    compareText(this.catalog.foldValue(a.artist), this.catalog.foldValue(b.artist)) ||
    compareText(a.id, b.id);

  private allByTitle(): StoredTrack[] {
    return (this.titleOrder ??= this.catalog.all().sort(this.byTitle));
  }

  /** A new title-ordered list: `old` without the removed tracks, with the added ones in place. O(n + k log n). */
  private patchTitleOrder(old: StoredTrack[], change: CatalogChange): StoredTrack[] {
    let list = old;
    if (change.removed.length) {
      const gone = new Set(change.removed);
      list = list.filter((t) => !gone.has(t));
    }
    if (!change.added.length) return list === old ? [...old] : list;
    const added = [...change.added].sort(this.byTitle);
    const out: StoredTrack[] = [];
    let from = 0;
    for (const t of added) {
      let lo = from;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.byTitle(list[mid]!, t) < 0) lo = mid + 1;
        else hi = mid;
      }
      for (let i = from; i < lo; i++) out.push(list[i]!);
      out.push(t);
      from = lo;
    }
    for (let i = from; i < list.length; i++) out.push(list[i]!);
    return out;
  }

  // ---- keys ----

  private hashOf(folded: string): string {
    let h = this.hashMemo.get(folded);
    if (h === undefined) this.hashMemo.set(folded, (h = hex16(folded)));
    return h;
  }

  private albumIdOf(t: StoredTrack): string {
    const k = `${t.albumArtist}\0${t.album}`;
    let id = this.albumIdMemo.get(k);
    if (id === undefined) this.albumIdMemo.set(k, (id = albumIdOf(t.albumArtist, t.album)));
    return id;
  }

  /** The group of `t` in a dimension, as an id segment, or null when the track is not in that view. */
  private groupKeyOf(dim: Dimension, t: StoredTrack): string | null {
    switch (dim) {
      case 'artists':
        return this.hashOf(this.catalog.foldValue(t.artist));
      case 'albumartists':
        return this.hashOf(this.catalog.foldValue(t.albumArtist));
      case 'genres':
        return t.genre ? this.hashOf(this.catalog.foldValue(t.genre)) : 'none';
      case 'years':
        return t.year !== null ? String(t.year) : 'none';
      case 'pushed':
        if (t.source.kind !== 'push') return null;
        return t.source.device ? this.hashOf(this.catalog.foldValue(t.source.device)) : 'none';
    }
  }

  private groupNameOf(dim: Dimension, t: StoredTrack): string {
    switch (dim) {
      case 'artists':
        return t.artist;
      case 'albumartists':
        return t.albumArtist;
      case 'genres':
        return t.genre ?? DIMENSIONS.genres.unknown;
      case 'years':
        return t.year !== null ? String(t.year) : DIMENSIONS.years.unknown;
      case 'pushed':
        return t.source.device ?? DIMENSIONS.pushed.unknown;
    }
  }

  private folderId(root: string, rel: string): string {
    return `m/folders/${this.hashOf(`\u0001${root}\0${rel}`)}`;
  }

  /** The folder holding `t` and every folder above it, up to its root. */
  private folderChainOf(t: StoredTrack): string[] {
    const out: string[] = [];
    let rel = path.posix.dirname(t.path);
    if (rel === '.') rel = '';
    for (;;) {
      out.push(this.folderId(t.root, rel));
      if (rel === '') break;
      const up = path.posix.dirname(rel);
      rel = up === '.' ? '' : up;
    }
    return out;
  }

  // ---- views, built on first use after a change ----

  private byAlbumOrder(): StoredTrack[] {
    return this.catalog.sorted({ key: 'track', descending: false });
  }

  private byNewest(): StoredTrack[] {
    return this.catalog.sorted({ key: 'added', descending: true });
  }

  private groupView(dim: Dimension): GroupView {
    let view = this.groupViews.get(dim);
    if (view) return view;
    const def = DIMENSIONS[dim];
    const byKey = new Map<string, GroupNode>();
    for (const t of def.newestFirst ? this.byNewest() : this.byAlbumOrder()) {
      const key = this.groupKeyOf(dim, t);
      if (key === null) continue;
      let g = byKey.get(key);
      if (!g) {
        const name = this.groupNameOf(dim, t);
        byKey.set(key, (g = { key, name, fold: this.catalog.foldValue(name), tracks: [], albums: new Map() }));
      }
      g.tracks.push(t);
      if (def.withAlbums) addToAlbum(g.albums, this.albumIdOf(t), t);
    }
    if (def.withAlbums) {
      // Nearly always a group holds whole albums (and an album artist's always does): share the
      // Albums view's node then, so 50 000 tracks are not listed once more per view.
      const whole = this.albums().byId;
      for (const g of byKey.values()) {
        for (const [aid, a] of g.albums) {
          const w = whole.get(aid);
          if (w && w.tracks.length === a.tracks.length) g.albums.set(aid, w);
        }
      }
    }
    const list = [...byKey.values()];
    if (def.numeric) list.sort((a, b) => compareNum(a.key === 'none' ? null : Number(a.key), b.key === 'none' ? null : Number(b.key)));
    else list.sort((a, b) => (a.key === 'none' ? 1 : 0) - (b.key === 'none' ? 1 : 0) || compareText(a.fold, b.fold) || compareText(a.key, b.key));
    view = { byKey, list };
    this.groupViews.set(dim, view);
    return view;
  }

  private albums(): { byId: Map<string, AlbumNode>; list: AlbumNode[] } {
    if (this.albumsView) return this.albumsView;
    const byId = new Map<string, AlbumNode>();
    for (const t of this.byAlbumOrder()) addToAlbum(byId, this.albumIdOf(t), t);
    const fold = (v: string) => this.catalog.foldValue(v);
    const list = [...byId.values()].sort((a, b) => compareText(fold(a.title), fold(b.title)) || compareText(fold(a.albumArtist), fold(b.albumArtist)) || compareText(a.albumId, b.albumId));
    return (this.albumsView = { byId, list });
  }

  private folders(): FolderView {
    if (this.folderView) return this.folderView;
    const byId = new Map<string, FolderNode>();
    const roots: FolderNode[] = [];
    const node = (root: string, rel: string): FolderNode => {
      const id = this.folderId(root, rel);
      let n = byId.get(id);
      if (n) return n;
      let parentId: string;
      let title: string;
      if (rel === '') {
        parentId = 'm/folders';
        title = root === STORE_ROOT ? 'Pushed music' : path.basename(root) || root;
      } else {
        const up = path.posix.dirname(rel);
        const parent = node(root, up === '.' ? '' : up);
        parentId = parent.id;
        title = path.posix.basename(rel);
      }
      n = { id, parentId, title, fold: this.catalog.foldValue(title), root, rel, subfolders: [], tracks: [] };
      byId.set(id, n);
      if (rel === '') roots.push(n);
      else byId.get(parentId)!.subfolders.push(n);
      return n;
    };
    node(STORE_ROOT, ''); // the store is always there, even before the first push
    for (const t of this.byAlbumOrder()) {
      const dir = path.posix.dirname(t.path);
      node(t.root, dir === '.' ? '' : dir).tracks.push(t);
    }
    const byName = (a: FolderNode, b: FolderNode) => compareText(a.fold, b.fold) || compareText(a.rel, b.rel);
    for (const n of byId.values()) {
      n.subfolders.sort(byName);
      // File names carry the track numbers in nearly every layout, so file-name order is disc order.
      n.tracks.sort((a, b) => compareText(a.path, b.path));
    }
    roots.sort((a, b) => (a.root === STORE_ROOT ? -1 : b.root === STORE_ROOT ? 1 : byName(a, b)));
    return (this.folderView = { byId, roots });
  }

  private uploadedTracks(): StoredTrack[] {
    return (this.uploads ??= this.byNewest().filter((t) => t.source.via === 'dlna'));
  }

  private uploadsContainer(): TreeContainer {
    return this.container(UPLOADS_ID, ROOT_ID, 'Uploads', UPNP_CLASS.storageFolder, this.uploadedTracks().length);
  }

  private recentTracks(): StoredTrack[] {
    if (this.recent) return this.recent;
    const all = this.byNewest();
    this.recent = all.slice(0, RECENT_LIMIT);
    this.recentCutoff = all.length >= RECENT_LIMIT ? this.recent[RECENT_LIMIT - 1]!.addedAt : null;
    return this.recent;
  }

  // ---- container objects ----

  private container(id: string, parentId: string, title: string, upnpClass: string, childCount: number, extra: Partial<TreeContainer> = {}): TreeContainer {
    return { kind: 'container', id, parentId, title, upnpClass, childCount, searchable: true, artist: null, genre: null, year: null, artTrackId: null, ...extra };
  }

  private albumContainer(parentId: string, a: AlbumNode): TreeContainer {
    return this.container(`${parentId}/${a.albumId}`, parentId, a.title, UPNP_CLASS.musicAlbum, a.tracks.length, {
      artist: a.albumArtist,
      genre: a.genre,
      year: a.year,
      artTrackId: a.artTrackId,
    });
  }

  private groupContainer(dim: Dimension, g: GroupNode): TreeContainer {
    const def = DIMENSIONS[dim];
    return this.container(`${def.id}/${g.key}`, def.id, g.name, def.childClass, def.withAlbums ? 1 + g.albums.size : g.tracks.length, {
      year: dim === 'years' && g.key !== 'none' ? Number(g.key) : null,
      genre: dim === 'genres' && g.key !== 'none' ? g.name : null,
    });
  }

  private folderContainer(f: FolderNode): TreeContainer {
    return this.container(f.id, f.parentId, f.title, UPNP_CLASS.storageFolder, f.subfolders.length + f.tracks.length);
  }

  private musicChild(id: MusicChild): TreeContainer {
    let count: number;
    let cls: string = UPNP_CLASS.container;
    switch (id) {
      case 'm/all':
        count = this.catalog.size;
        break;
      case 'm/albums':
        count = this.albums().list.length;
        break;
      case 'm/folders':
        count = this.folders().roots.length;
        cls = UPNP_CLASS.storageFolder;
        break;
      case 'm/recent':
        count = Math.min(RECENT_LIMIT, this.catalog.size);
        break;
      case 'm/playlists':
        count = this.playlists?.list().length ?? 0;
        break;
      default:
        count = this.groupView(DIMENSION_BY_SEGMENT.get(id.slice(2))!).list.length;
    }
    return this.container(id, MUSIC_ID, MUSIC_CHILD_TITLES[id], cls, count);
  }

  // ---- resolving ids ----

  /** Resolves a container id to its object, children and search scope; null if there is no such container. */
  private node(id: string): ContainerNode | null {
    if (id.length > 128) return null;
    if (id === ROOT_ID) {
      return {
        obj: this.container(ROOT_ID, '-1', 'root', UPNP_CLASS.container, 2),
        children: () => ({ containers: [this.musicContainer(), this.uploadsContainer()], tracks: [] }),
        scope: () => this.wholeScope(),
      };
    }
    if (id === UPLOADS_ID) {
      return { obj: this.uploadsContainer(), children: () => ({ containers: [], tracks: this.uploadedTracks() }), scope: () => trackScope(this.uploadedTracks(), UPLOADS_ID) };
    }
    if (id === MUSIC_ID) {
      return {
        obj: this.musicContainer(),
        children: () => ({ containers: MUSIC_CHILDREN.map((c) => this.musicChild(c)), tracks: [] }),
        scope: () => this.wholeScope(),
      };
    }
    const seg = id.split('/');
    if (seg[0] !== MUSIC_ID || seg.length < 2) return null;
    const view = seg[1]!;
    if (seg.length === 2) {
      if (!(MUSIC_CHILDREN as readonly string[]).includes(id)) return null;
      return this.musicChildNode(id as MusicChild);
    }
    const dim = DIMENSION_BY_SEGMENT.get(view);
    if (dim) return this.groupNode(dim, seg);
    if (view === 'albums' && seg.length === 3) {
      const a = HEX16.test(seg[2]!) ? this.albums().byId.get(seg[2]!) : undefined;
      if (!a) return null;
      const cid = `m/albums/${a.albumId}`;
      return { obj: this.albumContainer('m/albums', a), children: () => ({ containers: [], tracks: a.tracks }), scope: () => trackScope(a.tracks, cid) };
    }
    if (view === 'folders' && seg.length === 3) {
      const f = HEX16.test(seg[2]!) ? this.folders().byId.get(id) : undefined;
      return f ? this.folderNode(f) : null;
    }
    if (view === 'playlists' && seg.length === 3) {
      const p = HEX16.test(seg[2]!) ? this.playlists?.get(seg[2]!) : undefined;
      if (!p) return null;
      const tracks = this.tracksOfPlaylist(p);
      return { obj: this.playlistContainer(p), children: () => ({ containers: [], tracks }), scope: () => trackScope(tracks, id) };
    }
    return null;
  }

  private tracksOfPlaylist(p: Playlist): StoredTrack[] {
    let tracks = this.playlistTracks.get(p.id);
    if (!tracks) this.playlistTracks.set(p.id, (tracks = this.playlists!.tracksOf(p)));
    return tracks;
  }

  private playlistContainer(p: Playlist): TreeContainer {
    return this.container(`${PLAYLISTS_ID}/${p.id}`, PLAYLISTS_ID, p.name, UPNP_CLASS.playlistContainer, this.tracksOfPlaylist(p).length);
  }

  private musicContainer(): TreeContainer {
    return this.container(MUSIC_ID, ROOT_ID, 'Music', UPNP_CLASS.container, MUSIC_CHILDREN.length);
  }

  /** Search from 0, m or m/all: every track, found under All Tracks; albums, artists and genres too. */
  private wholeScope(): SearchScope {
    if (!this.wholeContainers) {
      const albums = this.albums().list.map((a) => this.albumContainer('m/albums', a));
      const artists = this.groupView('artists').list.map((g) => this.groupContainer('artists', g));
      const genres = this.groupView('genres').list.filter((g) => g.key !== 'none').map((g) => this.groupContainer('genres', g));
      this.wholeContainers = [...albums, ...artists, ...genres];
    }
    return { tracks: this.byAlbumOrder(), containers: this.wholeContainers, listingOf: () => ALL_TRACKS_ID };
  }

  private musicChildNode(id: MusicChild): ContainerNode {
    const obj = this.musicChild(id);
    switch (id) {
      case 'm/all':
        return { obj, children: () => ({ containers: [], tracks: this.allByTitle() }), scope: () => this.wholeScope() };
      case 'm/albums':
        return {
          obj,
          children: () => ({ containers: this.albums().list.map((a) => this.albumContainer(id, a)), tracks: [] }),
          scope: () => ({ tracks: this.byAlbumOrder(), containers: this.albums().list.map((a) => this.albumContainer(id, a)), listingOf: (t) => `m/albums/${this.albumIdOf(t)}` }),
        };
      case 'm/folders':
        return {
          obj,
          children: () => ({ containers: this.folders().roots.map((f) => this.folderContainer(f)), tracks: [] }),
          scope: () => ({ tracks: this.byAlbumOrder(), containers: [], listingOf: (t) => this.folderChainOf(t)[0]! }),
        };
      case 'm/recent':
        return { obj, children: () => ({ containers: [], tracks: this.recentTracks() }), scope: () => trackScope(this.recentTracks(), RECENT_ID) };
      case 'm/playlists': {
        const containers = () => (this.playlists?.list() ?? []).map((p) => this.playlistContainer(p));
        return { obj, children: () => ({ containers: containers(), tracks: [] }), scope: () => ({ tracks: [], containers: containers(), listingOf: () => id }) };
      }
      default: {
        const dim = DIMENSION_BY_SEGMENT.get(id.slice(2))!;
        const def = DIMENSIONS[dim];
        return {
          obj,
          children: () => ({ containers: this.groupView(dim).list.map((g) => this.groupContainer(dim, g)), tracks: [] }),
          scope: () => ({
            tracks: dim === 'pushed' ? this.byNewest().filter((t) => t.source.kind === 'push') : this.byAlbumOrder(),
            containers: dim === 'pushed' ? [] : this.groupView(dim).list.filter((g) => g.key !== 'none').map((g) => this.groupContainer(dim, g)),
            listingOf: (t) => `${def.id}/${this.groupKeyOf(dim, t)}${def.withAlbums ? '/all' : ''}`,
          }),
        };
      }
    }
  }

  private groupNode(dim: Dimension, seg: string[]): ContainerNode | null {
    if (seg.length < 3 || seg.length > 4) return null;
    const def = DIMENSIONS[dim];
    const key = seg[2]!;
    if (!HEX16.test(key) && key !== 'none' && !(dim === 'years' && /^\d{4}$/.test(key))) return null;
    const g = this.groupView(dim).byKey.get(key);
    if (!g) return null;
    const gid = `${def.id}/${key}`;
    const gobj = this.groupContainer(dim, g);
    if (seg.length === 3) {
      if (!def.withAlbums) return { obj: gobj, children: () => ({ containers: [], tracks: g.tracks }), scope: () => trackScope(g.tracks, gid) };
      const allObj = this.container(`${gid}/all`, gid, 'All Tracks', UPNP_CLASS.container, g.tracks.length);
      return {
        obj: gobj,
        children: () => ({ containers: [allObj, ...[...g.albums.values()].map((a) => this.albumContainer(gid, a))], tracks: [] }),
        scope: () => ({ tracks: g.tracks, containers: [...g.albums.values()].map((a) => this.albumContainer(gid, a)), listingOf: () => `${gid}/all` }),
      };
    }
    if (!def.withAlbums) return null;
    const sub = seg[3]!;
    if (sub === 'all') {
      const obj = this.container(`${gid}/all`, gid, 'All Tracks', UPNP_CLASS.container, g.tracks.length);
      return { obj, children: () => ({ containers: [], tracks: g.tracks }), scope: () => trackScope(g.tracks, obj.id) };
    }
    const a = HEX16.test(sub) ? g.albums.get(sub) : undefined;
    if (!a) return null;
    const obj = this.albumContainer(gid, a);
    return { obj, children: () => ({ containers: [], tracks: a.tracks }), scope: () => trackScope(a.tracks, obj.id) };
  }

  private folderNode(f: FolderNode): ContainerNode {
    return {
      obj: this.folderContainer(f),
      children: () => ({ containers: f.subfolders.map((s) => this.folderContainer(s)), tracks: f.tracks }),
      scope: () => {
        const tracks: StoredTrack[] = [];
        const walk = (n: FolderNode) => {
          tracks.push(...n.tracks);
          for (const s of n.subfolders) walk(s);
        };
        walk(f);
        return { tracks, containers: [], listingOf: (t) => this.folderChainOf(t)[0]! };
      },
    };
  }

  // ---- public reads ----

  /** The container with this id, or null. */
  getContainer(id: string): TreeContainer | null {
    return this.node(id)?.obj ?? null;
  }

  /** An object by id (container or item), or null: BrowseMetadata. */
  get(id: string): TreeObject | null {
    const i = id.lastIndexOf('/t/');
    if (i < 0) return this.getContainer(id);
    const cid = id.slice(0, i);
    const tid = id.slice(i + 3);
    if (!HEX16.test(tid)) return null;
    const t = this.catalog.get(tid);
    if (!t || !this.lists(cid, t)) return null;
    return this.item(cid, t);
  }

  /** Does container `cid` list track `t` directly? Answered from the track's own fields. */
  private lists(cid: string, t: StoredTrack): boolean {
    if (cid === RECENT_ID) return this.recentTracks().includes(t);
    if (cid === ALL_TRACKS_ID) return true;
    if (cid === UPLOADS_ID) return t.source.via === 'dlna';
    const seg = cid.split('/');
    const dim = DIMENSION_BY_SEGMENT.get(seg[1] ?? '');
    if (seg[0] !== MUSIC_ID) return false;
    if (dim) {
      const def = DIMENSIONS[dim];
      if (seg[2] !== this.groupKeyOf(dim, t)) return false;
      if (!def.withAlbums) return seg.length === 3;
      return seg.length === 4 && (seg[3] === 'all' || seg[3] === this.albumIdOf(t));
    }
    if (seg[1] === 'albums') return seg.length === 3 && seg[2] === this.albumIdOf(t);
    if (seg[1] === 'folders') return seg.length === 3 && this.folderChainOf(t)[0] === cid;
    if (seg[1] === 'playlists' && seg.length === 3) {
      const p = HEX16.test(seg[2]!) ? this.playlists?.get(seg[2]!) : undefined;
      return !!p && this.tracksOfPlaylist(p).includes(t);
    }
    return false;
  }

  item(listing: string, t: StoredTrack): TreeItem {
    return { kind: 'item', id: `${listing}/t/${t.id}`, parentId: listing, refId: listing === ALL_TRACKS_ID ? null : `${ALL_TRACKS_ID}/t/${t.id}`, track: t };
  }

  /** The children of a container in its own order, or re-sorted (cached until the next change); null if no such container. */
  children(id: string, sort: readonly SortSpec[] = []): Children | null {
    const node = this.node(id);
    if (!node) return null;
    if (!sort.length) return node.children();
    const cacheKey = `${id}|${sort.map((s) => (s.descending ? '-' : '+') + s.field).join(',')}`;
    const hit = this.sortCache.get(cacheKey);
    if (hit) return hit;
    const base = node.children();
    const sorted = { containers: this.sortContainers(base.containers, sort), tracks: id === ALL_TRACKS_ID ? this.sortAllTracks(sort) : this.sortTracks(base.tracks, sort) };
    if (this.sortCache.size >= SORT_CACHE_ENTRIES) this.sortCache.delete(this.sortCache.keys().next().value!);
    this.sortCache.set(cacheKey, sorted);
    return sorted;
  }

  /** The objects at [start, end) of a container's children. */
  page(id: string, children: Children, start: number, end: number): TreeObject[] {
    const out: TreeObject[] = [];
    const nc = children.containers.length;
    const total = nc + children.tracks.length;
    for (let i = Math.max(0, start); i < Math.min(end, total); i++) {
      out.push(i < nc ? children.containers[i]! : this.item(id, children.tracks[i - nc]!));
    }
    return out;
  }

  /** What Search looks through below a container, or null if there is no such container. */
  searchScope(id: string): SearchScope | null {
    return this.node(id)?.scope() ?? null;
  }

  // ---- sorting ----

  /** Single-key sorts of All Tracks come straight from the catalogue's cached orders. */
  private sortAllTracks(sort: readonly SortSpec[]): readonly StoredTrack[] {
    if (sort.length === 1 && sort[0]!.field === 'dc:title') return sort[0]!.descending ? [...this.allByTitle()].reverse() : this.allByTitle();
    const catalogKey = { 'dc:title': 'title', 'upnp:artist': 'artist', 'upnp:album': 'album', 'dc:date': 'year', 'upnp:genre': 'genre', 'upnp:originalTrackNumber': null } as const;
    const key = sort.length === 1 ? catalogKey[sort[0]!.field] : null;
    if (key) return this.catalog.sorted({ key, descending: sort[0]!.descending });
    return this.sortTracks(this.allByTitle(), sort);
  }

  sortTracks(tracks: readonly StoredTrack[], sort: readonly SortSpec[]): readonly StoredTrack[] {
    if (!sort.length) return tracks;
    const c = this.catalog;
    const cmps = sort.map((s): ((a: StoredTrack, b: StoredTrack) => number) => {
      const sign = s.descending ? -1 : 1;
      switch (s.field) {
        case 'dc:title':
          return (a, b) => sign * c.compareTitles(a, b);
        case 'upnp:artist':
          return (a, b) => sign * compareText(c.foldValue(a.artist), c.foldValue(b.artist));
        case 'upnp:album':
          return (a, b) => sign * compareText(c.foldValue(a.album), c.foldValue(b.album));
        case 'upnp:genre':
          return (a, b) => sign * compareText(c.foldValue(a.genre), c.foldValue(b.genre));
        case 'dc:date':
          return (a, b) => sign * compareNum(a.year, b.year);
        case 'upnp:originalTrackNumber':
          // Disc first: "track 1" of disc 2 comes after every track of disc 1.
          return (a, b) => sign * (compareNum(a.discNumber ?? 1, b.discNumber ?? 1) || compareNum(a.trackNumber, b.trackNumber));
      }
    });
    // Array.prototype.sort is stable: equal keys keep the container's own order.
    return [...tracks].sort((a, b) => {
      for (const cmp of cmps) {
        const r = cmp(a, b);
        if (r) return r;
      }
      return 0;
    });
  }

  sortContainers(containers: readonly TreeContainer[], sort: readonly SortSpec[]): readonly TreeContainer[] {
    if (containers.length < 2) return containers;
    const f = (v: string | null) => this.catalog.foldValue(v);
    const cmps = sort.map((s): ((a: TreeContainer, b: TreeContainer) => number) => {
      const sign = s.descending ? -1 : 1;
      switch (s.field) {
        case 'dc:title':
        case 'upnp:album':
          return (a, b) => sign * compareText(f(a.title), f(b.title));
        case 'upnp:artist':
          return (a, b) => sign * compareText(f(a.artist), f(b.artist));
        case 'upnp:genre':
          return (a, b) => sign * compareText(f(a.genre), f(b.genre));
        case 'dc:date':
          return (a, b) => sign * compareNum(a.year, b.year);
        case 'upnp:originalTrackNumber':
          return () => 0;
      }
    });
    // A group's "All Tracks" stays first whatever the order, so it is always found in the same place.
    const pinned = containers[0]!.id.endsWith('/all') ? [containers[0]!] : [];
    const rest = containers.slice(pinned.length).sort((a, b) => {
      for (const cmp of cmps) {
        const r = cmp(a, b);
        if (r) return r;
      }
      return 0;
    });
    return [...pinned, ...rest];
  }
}

interface ContainerNode {
  obj: TreeContainer;
  children(): Children;
  scope(): SearchScope;
}

function trackScope(tracks: readonly StoredTrack[], listing: string): SearchScope {
  return { tracks, containers: [], listingOf: () => listing };
}

function addToAlbum(albums: Map<string, AlbumNode>, albumId: string, t: StoredTrack): void {
  let a = albums.get(albumId);
  if (!a) albums.set(albumId, (a = { albumId, title: t.album, albumArtist: t.albumArtist, year: t.year, genre: t.genre, tracks: [], artTrackId: null }));
  a.tracks.push(t);
  a.year ??= t.year;
  a.genre ??= t.genre;
  if (!a.artTrackId && (t.hasArt || t.folderArt)) a.artTrackId = t.id;
}
