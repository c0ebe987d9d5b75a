// ContentDirectory:1 over the object tree: Browse, Search, the capability queries and GENA state.
// Search runs straight over the catalogue's tracks in memory (compiled predicates on folded text),
// never through DIDL; only the page that is returned is turned into DIDL-Lite.
import type { Catalog, CatalogChange } from '../library/catalog.js';
import type { StoredTrack } from '../library/track.js';
import type { Logger } from '../log.js';
import type { Quirk } from '../profiles.js';
import type { DidlResource } from './didl.js';
import { foldText } from '../library/catalog.js';
import { protocolInfoFor } from '../media/dlna.js';
import { artPathOf, mediaPathOf } from '../http/media-routes.js';
import { parseFilter, writeDidl, type DidlObject, type DidlQuirks } from './didl.js';
import { ALL_TRACKS_ID, MUSIC_ID, ObjectTree, UPLOADS_ID, UPNP_CLASS, parseSortCriteria, type PlaylistSource, type SortSpec, type TreeContainer, type TreeObject } from './object-tree.js';
import { parseSearchCriteria, SEARCH_PROPERTIES, type SearchExpr, type SearchProperty } from './search-criteria.js';
import { buildScpd, extendScpd, type ScpdArgument } from './scpd.js';
import { DlnaUploads, UPLOADS_CREATE_CLASSES, UPLOADS_OCM } from './uploads.js';
import { OCM } from './upload-elements.js';
import { UpnpError, type ActionArgs, type ActionResult, type UpnpRequestInfo, type UpnpService } from './service.js';

export const CDS_TYPE = 'urn:schemas-upnp-org:service:ContentDirectory:1';
export const CDS_ID = 'urn:upnp-org:serviceId:ContentDirectory';

export const SEARCH_CAPABILITIES = SEARCH_PROPERTIES.join(',');
export const SORT_CAPABILITIES = 'dc:title,upnp:artist,upnp:album,upnp:originalTrackNumber,dc:date,upnp:genre';

/**
 * Most objects one answer carries, whatever RequestedCount asks (0 = "all" included). The spec lets
 * a server return fewer than asked (NumberReturned < TotalMatches) and clients page on; 50 000 items
 * in one answer would be a 50 MB string on a 512 MB stereo; 2000 is about 2 MB of DIDL.
 */
export const MAX_RETURNED = 2000;
/** Most containers in one ContainerUpdateIDs value (a scan touches thousands); SystemUpdateID still tells every client. */
const MAX_EVENTED_CONTAINERS = 300;
/** How long a container change stays in evented ContainerUpdateIDs values (see onChange). */
const EVENT_WINDOW_MS = 10_000;

export interface ContentDirectoryDeps {
  catalog: Catalog;
  log: Logger;
  /** Cover thumbnails can be made (ffmpeg present); without, no albumArtURI is offered. */
  artAvailable: boolean;
  /**
   * The `<res>` list for the client making this request (its renderer profile decides: the original
   * first when it plays it, else transcodes). Worked out once per request; without it, the original only.
   */
  resourcesFor?: (req: UpnpRequestInfo) => (track: StoredTrack) => DidlResource[];
  /** The quirk flags of the client's renderer profile (profiles/README.md); without it, none. */
  quirksFor?: (req: UpnpRequestInfo) => ReadonlySet<Quirk>;
  /** DLNA upload (CreateObject, ImportResource…); without it those actions are refused. */
  uploads?: DlnaUploads;
  /** Playlists for m/playlists; without them the container is empty. */
  playlists?: PlaylistSource;
}

export interface ContentDirectory extends UpnpService {
  readonly tree: ObjectTree;
  /** Drops the cached Search results, the tree's views and memos and the catalogue's sorted lists, made again when next asked for (memory.ts). */
  releaseCaches(): void;
  /** Stops listening to the catalogue. */
  close(): void;
}

// ---- SCPD ----

const PAGED_ARGS = (first: string, firstVar: string): ScpdArgument[] => [
  { name: first, direction: 'in', relatedStateVariable: firstVar },
];
const PAGE_TAIL: ScpdArgument[] = [
  { name: 'Filter', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_Filter' },
  { name: 'StartingIndex', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_Index' },
  { name: 'RequestedCount', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_Count' },
  { name: 'SortCriteria', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_SortCriteria' },
  { name: 'Result', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Result' },
  { name: 'NumberReturned', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Count' },
  { name: 'TotalMatches', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Count' },
  { name: 'UpdateID', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_UpdateID' },
];

export const CDS_SCPD = buildScpd(
  [
    { name: 'GetSearchCapabilities', arguments: [{ name: 'SearchCaps', direction: 'out', relatedStateVariable: 'SearchCapabilities' }] },
    { name: 'GetSortCapabilities', arguments: [{ name: 'SortCaps', direction: 'out', relatedStateVariable: 'SortCapabilities' }] },
    { name: 'GetSystemUpdateID', arguments: [{ name: 'Id', direction: 'out', relatedStateVariable: 'SystemUpdateID' }] },
    {
      name: 'Browse',
      arguments: [...PAGED_ARGS('ObjectID', 'A_ARG_TYPE_ObjectID'), { name: 'BrowseFlag', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_BrowseFlag' }, ...PAGE_TAIL],
    },
    {
      name: 'Search',
      arguments: [...PAGED_ARGS('ContainerID', 'A_ARG_TYPE_ObjectID'), { name: 'SearchCriteria', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_SearchCriteria' }, ...PAGE_TAIL],
    },
    // DLNA upload's actions, with the arguments and state variables Rygel declares for them.
    {
      name: 'CreateObject',
      arguments: [
        { name: 'ContainerID', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_ObjectID' },
        { name: 'Elements', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_Result' },
        { name: 'ObjectID', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_ObjectID' },
        { name: 'Result', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Result' },
      ],
    },
    { name: 'DestroyObject', arguments: [{ name: 'ObjectID', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_ObjectID' }] },
    {
      name: 'ImportResource',
      arguments: [
        { name: 'SourceURI', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_URI' },
        { name: 'DestinationURI', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_URI' },
        { name: 'TransferID', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_TransferID' },
      ],
    },
    {
      name: 'GetTransferProgress',
      arguments: [
        { name: 'TransferID', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_TransferID' },
        { name: 'TransferStatus', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_TransferStatus' },
        { name: 'TransferLength', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_TransferLength' },
        { name: 'TransferTotal', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_TransferTotal' },
      ],
    },
    { name: 'StopTransferResource', arguments: [{ name: 'TransferID', direction: 'in', relatedStateVariable: 'A_ARG_TYPE_TransferID' }] },
  ],
  [
    { name: 'SearchCapabilities', dataType: 'string' },
    { name: 'SortCapabilities', dataType: 'string' },
    { name: 'SystemUpdateID', dataType: 'ui4', sendEvents: true },
    { name: 'ContainerUpdateIDs', dataType: 'string', sendEvents: true },
    { name: 'TransferIDs', dataType: 'string', sendEvents: true },
    { name: 'A_ARG_TYPE_ObjectID', dataType: 'string' },
    { name: 'A_ARG_TYPE_Result', dataType: 'string' },
    { name: 'A_ARG_TYPE_SearchCriteria', dataType: 'string' },
    { name: 'A_ARG_TYPE_BrowseFlag', dataType: 'string', allowedValues: ['BrowseMetadata', 'BrowseDirectChildren'] },
    { name: 'A_ARG_TYPE_Filter', dataType: 'string' },
    { name: 'A_ARG_TYPE_SortCriteria', dataType: 'string' },
    { name: 'A_ARG_TYPE_Index', dataType: 'ui4' },
    { name: 'A_ARG_TYPE_Count', dataType: 'ui4' },
    { name: 'A_ARG_TYPE_UpdateID', dataType: 'ui4' },
    { name: 'A_ARG_TYPE_URI', dataType: 'uri' },
    { name: 'A_ARG_TYPE_TransferID', dataType: 'ui4' },
    { name: 'A_ARG_TYPE_TransferStatus', dataType: 'string', allowedValues: ['COMPLETED', 'ERROR', 'IN_PROGRESS', 'STOPPED'] },
    { name: 'A_ARG_TYPE_TransferLength', dataType: 'string' },
    { name: 'A_ARG_TYPE_TransferTotal', dataType: 'string' },
  ],
);

/**
 * The SCPD for clients with samsungExtensions: X_GetFeatureList too, which Samsung TVs call to
 * find the container of each media type (MiniDLNA and Gerbera list it as well).
 */
export const CDS_SCPD_SAMSUNG = extendScpd(
  CDS_SCPD,
  [{ name: 'X_GetFeatureList', arguments: [{ name: 'FeatureList', direction: 'out', relatedStateVariable: 'A_ARG_TYPE_Featurelist' }] }],
  [{ name: 'A_ARG_TYPE_Featurelist', dataType: 'string' }],
);

/**
 * The X_GetFeatureList answer, as MiniDLNA writes it: the samsung.com_BASICVIEW feature with the
 * container a TV opens for each media type. hifid serves music only, so the one container is Music.
 */
export const SAMSUNG_FEATURE_LIST =
  '<Features xmlns="urn:schemas-upnp-org:av:avs" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:schemas-upnp-org:av:avs http://www.upnp.org/schemas/av/avs.xsd">' +
  `<Feature name="samsung.com_BASICVIEW" version="1"><container id="${MUSIC_ID}" type="object.item.audioItem"/></Feature>` +
  '</Features>';

const NO_QUIRKS: ReadonlySet<Quirk> = new Set();

function isAlbum(o: TreeObject | null | undefined): boolean {
  return o?.kind === 'container' && o.upnpClass === UPNP_CLASS.musicAlbum;
}

// ---- arguments ----

function requireArg(args: ActionArgs, name: string): string {
  const v = args[name];
  if (v === undefined) throw new UpnpError(402, `missing argument ${name}`);
  return v;
}

function ui4Arg(args: ActionArgs, name: string): number {
  const v = requireArg(args, name).trim();
  if (!/^\d{1,10}$/.test(v) || Number(v) > 0xffffffff) throw new UpnpError(402, `${name} must be an unsigned 32-bit integer`);
  return Number(v);
}

function pageBounds(args: ActionArgs): { start: number; count: number } {
  const start = ui4Arg(args, 'StartingIndex');
  const requested = ui4Arg(args, 'RequestedCount');
  return { start, count: requested === 0 ? MAX_RETURNED : Math.min(requested, MAX_RETURNED) };
}

// ---- Search evaluation ----

/**
 * A property of an object being searched. `contains`, given only for a property never null, answers
 * `contains` and `doesNotContain` for a folded needle without making the folded value
 * (Catalog.titleContains).
 */
type Getter<T> = ((o: T) => string | null) & { contains?: (o: T, needle: string) => boolean };

/**
 * Compiles an expression into a predicate over one kind of object. Text is compared folded (case-
 * and accent-insensitive, as CDS asks for string comparisons); upnp:class case-insensitively;
 * dc:date on the leading characters the value gives (`dc:date >= "1999"`); ids exactly.
 * A missing property matches only `!=`, `doesNotContain` and `exists false`.
 */
function compile<T>(e: SearchExpr, get: (p: SearchProperty) => Getter<T>): (o: T) => boolean {
  switch (e.kind) {
    case 'all':
      return () => true;
    case 'and': {
      const l = compile(e.left, get);
      const r = compile(e.right, get);
      return (o) => l(o) && r(o);
    }
    case 'or': {
      const l = compile(e.left, get);
      const r = compile(e.right, get);
      return (o) => l(o) || r(o);
    }
    case 'exists': {
      const g = get(e.property);
      return (o) => (g(o) !== null) === e.value;
    }
    case 'compare': {
      const g = get(e.property);
      const p = e.property;
      const x = p === 'upnp:class' ? e.value.toLowerCase() : p.startsWith('@') || p === 'dc:date' ? e.value : foldText(e.value);
      const cmp = p === 'dc:date' ? (v: string) => (v.slice(0, x.length) < x ? -1 : v.slice(0, x.length) > x ? 1 : 0) : (v: string) => (v < x ? -1 : v > x ? 1 : 0);
      switch (e.op) {
        case '=':
          return (o) => {
            const v = g(o);
            return v !== null && cmp(v) === 0;
          };
        case '!=':
          return (o) => {
            const v = g(o);
            return v === null || cmp(v) !== 0;
          };
        case '<':
          return (o) => {
            const v = g(o);
            return v !== null && cmp(v) < 0;
          };
        case '<=':
          return (o) => {
            const v = g(o);
            return v !== null && cmp(v) <= 0;
          };
        case '>':
          return (o) => {
            const v = g(o);
            return v !== null && cmp(v) > 0;
          };
        case '>=':
          return (o) => {
            const v = g(o);
            return v !== null && cmp(v) >= 0;
          };
        case 'contains': {
          const has = g.contains;
          if (has) return (o) => has(o, x);
          return (o) => {
            const v = g(o);
            return v !== null && v.includes(x);
          };
        }
        case 'doesNotContain': {
          const has = g.contains;
          if (has) return (o) => !has(o, x);
          return (o) => {
            const v = g(o);
            return v === null || !v.includes(x);
          };
        }
        case 'startsWith':
          return (o) => {
            const v = g(o);
            return v !== null && v.startsWith(x);
          };
        case 'derivedfrom':
          return (o) => {
            const v = g(o);
            return v !== null && (v === x || v.startsWith(`${x}.`));
          };
      }
    }
  }
}

const TRACK_CLASS = UPNP_CLASS.musicTrack.toLowerCase();

function dateOf(year: number | null): string | null {
  return year !== null ? `${String(year).padStart(4, '0')}-01-01` : null;
}

interface SearchResult {
  containers: readonly TreeContainer[];
  tracks: readonly StoredTrack[];
  listingOf(t: StoredTrack): string;
}

/** Small cache of whole Search results, so paging through 16 000 hits evaluates the criteria once. */
const SEARCH_CACHE_ENTRIES = 8;

export function createContentDirectory(deps: ContentDirectoryDeps): ContentDirectory {
  const { catalog, log } = deps;
  const tree = new ObjectTree(catalog, deps.playlists ?? null);
  const listeners = new Set<(changed: Record<string, string | number>) => void>();
  const searchCache = new Map<string, SearchResult>();
  const quirksOf = (req: UpnpRequestInfo): ReadonlySet<Quirk> => deps.quirksFor?.(req) ?? NO_QUIRKS;
  const didlQuirksOf = (req: UpnpRequestInfo): DidlQuirks => {
    const q = quirksOf(req);
    return { asciiXml: q.has('asciiXml'), dlnaStrictXml: q.has('dlnaStrictXml'), samsungExtensions: q.has('samsungExtensions') };
  };

  // Recently changed containers with their update ids. events.ts keeps only the latest value of a
  // variable per subscriber while it moderates (≤ one NOTIFY per 2 s, one in flight, 5 s timeout),
  // so each ContainerUpdateIDs value carries every change of the last EVENT_WINDOW_MS: a change is
  // never overwritten by a later value that leaves it out. Repeating a pair a client has seen is
  // harmless; it compares update ids.
  const recentChanges = new Map<string, { updateId: number; at: number }>();
  const onChange = (change: CatalogChange) => {
    searchCache.clear();
    const changed = tree.applyChange(change);
    if (!listeners.size) {
      recentChanges.clear();
      return;
    }
    const now = Date.now();
    for (const id of changed) {
      recentChanges.delete(id); // re-inserted at the end: the Map stays oldest-first
      recentChanges.set(id, { updateId: tree.containerUpdateId(id), at: now });
    }
    for (const [id, c] of recentChanges) {
      if (now - c.at <= EVENT_WINDOW_MS && recentChanges.size <= MAX_EVENTED_CONTAINERS) break;
      recentChanges.delete(id);
    }
    const value = [...recentChanges].map(([id, c]) => `${id},${c.updateId}`).join(',');
    const event = { SystemUpdateID: change.updateId, ContainerUpdateIDs: value };
    for (const l of listeners) {
      try {
        l(event);
      } catch (err) {
        log.error({ err }, 'ContentDirectory event listener failed');
      }
    }
  };
  catalog.on('change', onChange);

  // protocolInfo depends on a few stream facts that most tracks share; worked out once per combination.
  const protocolInfos = new Map<string, string>();
  const protocolInfoOf = (t: StoredTrack): string => {
    const key = `${t.mime}|${t.codec}|${t.sampleRate}|${t.channels}|${t.bitrate}`;
    let p = protocolInfos.get(key);
    if (p === undefined) {
      if (protocolInfos.size > 4096) protocolInfos.clear();
      protocolInfos.set(key, (p = protocolInfoFor({ mime: t.mime, codec: t.codec, sampleRate: t.sampleRate, channels: t.channels, bitrate: t.bitrate })));
    }
    return p;
  };

  const uploadsOn = deps.uploads?.enabled === true;
  const toDidl = (o: TreeObject, baseUrl: string, resources: ((t: StoredTrack) => DidlResource[]) | null): DidlObject => {
    if (o.kind === 'container') {
      // Uploads is the one writable container (unless uploads are off); everything else is restricted.
      const writable = uploadsOn && o.id === UPLOADS_ID ? { restricted: false, dlnaManaged: UPLOADS_OCM, createClasses: UPLOADS_CREATE_CLASSES } : {};
      return {
        ...writable,
        kind: 'container',
        id: o.id,
        parentId: o.parentId,
        title: o.title,
        upnpClass: o.upnpClass,
        childCount: o.childCount,
        searchable: o.searchable,
        creator: o.artist,
        artist: o.artist,
        genre: o.genre,
        date: dateOf(o.year),
        albumArtUri: deps.artAvailable && o.artTrackId ? baseUrl + artPathOf(o.artTrackId, 'tn') : null,
      };
    }
    const t = o.track;
    // A track listed in Uploads may be destroyed there (and only there).
    const destroyable = uploadsOn && o.parentId === UPLOADS_ID ? { restricted: false, dlnaManaged: OCM.DESTROYABLE } : {};
    return {
      ...destroyable,
      kind: 'item',
      id: o.id,
      parentId: o.parentId,
      refId: o.refId,
      title: t.title,
      upnpClass: UPNP_CLASS.musicTrack,
      creator: t.artist,
      artist: t.artist,
      album: t.album,
      genre: t.genre,
      originalTrackNumber: t.trackNumber,
      date: dateOf(t.year),
      albumArtUri: deps.artAvailable && (t.hasArt || t.folderArt) ? baseUrl + artPathOf(t.id, 'tn') : null,
      resources: resources ? resources(t) : [
        {
          uri: baseUrl + mediaPathOf(t),
          protocolInfo: protocolInfoOf(t),
          size: t.size,
          durationMs: t.durationMs,
          bytesPerSecond: t.bitrate ? Math.round(t.bitrate / 8) : null,
          sampleFrequency: t.sampleRate,
          nrAudioChannels: t.channels,
          bitsPerSample: t.bitsPerSample,
        },
      ],
    };
  };

  const result = (objects: TreeObject[], total: number, updateId: number, args: ActionArgs, req: UpnpRequestInfo): ActionResult => {
    const planned = deps.resourcesFor && objects.some((o) => o.kind !== 'container') ? deps.resourcesFor(req) : null;
    return {
      Result: writeDidl(
        objects.map((o) => toDidl(o, req.baseUrl, planned)),
        { filter: parseFilter(args.Filter), quirks: didlQuirksOf(req) },
      ),
      NumberReturned: objects.length,
      TotalMatches: total,
      UpdateID: updateId,
    };
  };

  const browse = (args: ActionArgs, req: UpnpRequestInfo): ActionResult => {
    const id = requireArg(args, 'ObjectID');
    const flag = requireArg(args, 'BrowseFlag');
    if (flag !== 'BrowseMetadata' && flag !== 'BrowseDirectChildren') throw new UpnpError(402, 'BrowseFlag must be BrowseMetadata or BrowseDirectChildren');
    const { start, count } = pageBounds(args);
    const asked = parseSortCriteria(args.SortCriteria);
    // forceSortByTrackNumber (Yamaha MusicCast sorts album tracks by title, gerbera#2480): an album's
    // own order is disc then track, and it is kept whatever SortCriteria asks.
    const sort = asked.length && quirksOf(req).has('forceSortByTrackNumber') && isAlbum(tree.get(id)) ? [] : asked;
    if (flag === 'BrowseMetadata') {
      let obj = tree.get(id);
      if (!obj && deps.uploads) {
        // A placeholder from CreateObject, or one already filled (it then stands for its track).
        const u = deps.uploads.lookup(id, req.baseUrl);
        if (u?.kind === 'placeholder') {
          return { Result: writeDidl([u.item], { filter: parseFilter(args.Filter), quirks: didlQuirksOf(req) }), NumberReturned: 1, TotalMatches: 1, UpdateID: catalog.updateId };
        }
        if (u?.kind === 'track') obj = tree.get(`${UPLOADS_ID}/t/${u.trackId}`) ?? tree.get(`${ALL_TRACKS_ID}/t/${u.trackId}`);
      }
      if (!obj) throw new UpnpError(701, 'No such object');
      return result([obj], 1, obj.kind === 'container' ? tree.containerUpdateId(obj.id) : catalog.updateId, args, req);
    }
    const children = tree.children(id, sort);
    if (!children) {
      if (tree.get(id)) throw new UpnpError(720, 'Cannot process the request: an item has no children');
      throw new UpnpError(701, 'No such object');
    }
    const total = children.containers.length + children.tracks.length;
    return result(tree.page(id, children, start, start + count), total, tree.containerUpdateId(id), args, req);
  };

  // Folded text straight from the catalogue: per-scope arrays of it cost 1.6 MB at 50 000 tracks for a
  // few milliseconds per uncached Search.
  const trackGetter = (listingOf: (t: StoredTrack) => string) => (p: SearchProperty): Getter<StoredTrack> => {
    switch (p) {
      case 'upnp:class':
        return () => TRACK_CLASS;
      case 'dc:title':
        return Object.assign((t: StoredTrack) => catalog.foldedTitle(t), { contains: (t: StoredTrack, needle: string) => catalog.titleContains(t, needle) });
      case 'dc:creator':
      case 'upnp:artist':
        return (t) => catalog.foldValue(t.artist);
      case 'upnp:album':
        return (t) => catalog.foldValue(t.album);
      case 'upnp:genre':
        return (t) => (t.genre ? catalog.foldValue(t.genre) : null);
      case 'dc:date':
        return (t) => dateOf(t.year);
      case '@id':
        return (t) => `${listingOf(t)}/t/${t.id}`;
      case '@parentID':
        return (t) => listingOf(t);
      case '@refID':
        return (t) => (listingOf(t) === ALL_TRACKS_ID ? null : `${ALL_TRACKS_ID}/t/${t.id}`);
    }
  };

  const containerGetter = (p: SearchProperty): Getter<TreeContainer> => {
    switch (p) {
      case 'upnp:class':
        return (c) => c.upnpClass.toLowerCase();
      case 'dc:title':
        return (c) => catalog.foldValue(c.title);
      case 'dc:creator':
      case 'upnp:artist':
        return (c) => (c.artist ? catalog.foldValue(c.artist) : null);
      case 'upnp:album':
        return () => null;
      case 'upnp:genre':
        return (c) => (c.genre ? catalog.foldValue(c.genre) : null);
      case 'dc:date':
        return (c) => dateOf(c.year);
      case '@id':
        return (c) => c.id;
      case '@parentID':
        return (c) => c.parentId;
      case '@refID':
        return () => null;
    }
  };

  const search = (args: ActionArgs, req: UpnpRequestInfo): ActionResult => {
    const scopeId = requireArg(args, 'ContainerID');
    const criteria = requireArg(args, 'SearchCriteria');
    const { start, count } = pageBounds(args);
    const sort = parseSortCriteria(args.SortCriteria);
    const expr = parseSearchCriteria(criteria);
    const key = `${scopeId}\0${criteria}\0${sortKey(sort)}`;
    let found = searchCache.get(key);
    if (!found) {
      const scope = tree.searchScope(scopeId);
      if (!scope) throw new UpnpError(tree.get(scopeId) ? 720 : 701, tree.get(scopeId) ? 'Cannot process the request: an item cannot be searched' : 'No such container');
      const matchTrack = compile(expr, trackGetter(scope.listingOf));
      const matchContainer = compile(expr, containerGetter);
      const tracks: StoredTrack[] = [];
      const all = scope.tracks;
      for (let i = 0; i < all.length; i++) if (matchTrack(all[i]!)) tracks.push(all[i]!);
      const containers = scope.containers.filter(matchContainer);
      found = { containers: sort.length ? tree.sortContainers(containers, sort) : containers, tracks: sort.length ? tree.sortTracks(tracks, sort) : tracks, listingOf: scope.listingOf };
      if (searchCache.size >= SEARCH_CACHE_ENTRIES) searchCache.delete(searchCache.keys().next().value!);
      searchCache.set(key, found);
    }
    const nc = found.containers.length;
    const total = nc + found.tracks.length;
    const objects: TreeObject[] = [];
    for (let i = start; i < Math.min(start + count, total); i++) {
      if (i < nc) objects.push(found.containers[i]!);
      else {
        const t = found.tracks[i - nc]!;
        objects.push(tree.item(found.listingOf(t), t));
      }
    }
    return result(objects, total, tree.containerUpdateId(scopeId), args, req);
  };

  return {
    name: 'ContentDirectory',
    type: CDS_TYPE,
    id: CDS_ID,
    slug: 'cds',
    tree,
    scpd: (req?: UpnpRequestInfo) => (req && quirksOf(req).has('samsungExtensions') ? CDS_SCPD_SAMSUNG : CDS_SCPD),
    handle(actionName: string, args: ActionArgs, req: UpnpRequestInfo): ActionResult | Promise<ActionResult> {
      if (DlnaUploads.ACTIONS.has(actionName)) {
        if (!deps.uploads) throw new UpnpError(720, 'Cannot process the request: uploads are not available');
        const uploads = deps.uploads;
        const failed = (err: unknown): never => {
          if (err instanceof UpnpError) throw err;
          log.error({ err, action: actionName }, 'ContentDirectory action failed');
          throw new UpnpError(720, 'Cannot process the request');
        };
        try {
          const r = uploads.handle(actionName, args, req);
          return r instanceof Promise ? r.catch(failed) : r;
        } catch (err) {
          return failed(err);
        }
      }
      try {
        switch (actionName) {
          case 'Browse':
            return browse(args, req);
          case 'Search':
            return search(args, req);
          case 'GetSearchCapabilities':
            return { SearchCaps: SEARCH_CAPABILITIES };
          case 'GetSortCapabilities':
            return { SortCaps: SORT_CAPABILITIES };
          case 'GetSystemUpdateID':
            return { Id: catalog.updateId };
          case 'X_GetFeatureList':
            // samsungExtensions: only the clients whose SCPD lists it (Samsung TVs) may call it.
            if (!quirksOf(req).has('samsungExtensions')) throw new UpnpError(401, 'Invalid Action: X_GetFeatureList');
            return { FeatureList: SAMSUNG_FEATURE_LIST };
          default:
            throw new UpnpError(401, `Invalid Action: ${actionName.slice(0, 64)}`);
        }
      } catch (err) {
        if (err instanceof UpnpError) throw err;
        // A bug must not become a silent 501: log it, and tell the client it was this request.
        log.error({ err, action: actionName }, 'ContentDirectory action failed');
        throw new UpnpError(720, 'Cannot process the request');
      }
    },
    eventedState: () => ({ SystemUpdateID: catalog.updateId, ContainerUpdateIDs: '', TransferIDs: '' }),
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    releaseCaches() {
      searchCache.clear();
      tree.releaseMemory();
      catalog.releaseCaches();
    },
    close() {
      catalog.off('change', onChange);
      listeners.clear();
    },
  };
}

function sortKey(sort: readonly SortSpec[]): string {
  return sort.map((s) => (s.descending ? '-' : '+') + s.field).join(',');
}

