// The JSON API under /api/v1: a projection of the catalogue, plus push and delete through ingest.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Library } from '../library/library.js';
import { SORT_KEYS, type Album, type Sort, type SortKey } from '../library/catalog.js';
import { publicTrack, type StoredTrack } from '../library/track.js';
import { readEmbeddedArt } from '../library/tags.js';
import { handlePlaylistPush, handlePush } from '../push/http-upload.js';
import type { Playlist } from '../library/playlists.js';
import { assertMayWrite, type WritePolicy } from './access.js';
import { ApiError } from './errors.js';
import { serveFile } from './stream.js';
import type { AlbumJson } from './wire.js';

export interface ApiDeps {
  library: Library;
  write: WritePolicy;
  name: string;
  version: string;
  ffmpegAvailable: boolean;
}

const MAX_PAGE = 1000;

function intParam(ctx: Context, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = ctx.query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new ApiError(400, 'bad_parameter', `${name} must be a non-negative integer`);
  return Math.min(Number(raw), max);
}

function strParam(ctx: Context, name: string): string | undefined {
  const raw = ctx.query[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new ApiError(400, 'bad_parameter', `${name} given more than once`);
  return raw;
}

export function parseSort(raw: string | undefined): Sort | undefined {
  if (!raw) return undefined;
  const descending = raw.startsWith('-');
  const key = (descending ? raw.slice(1) : raw) as SortKey;
  if (!SORT_KEYS.includes(key)) throw new ApiError(400, 'bad_parameter', `sort must be one of ${SORT_KEYS.join(', ')} (prefix - to reverse)`);
  return { key, descending };
}

export type { AlbumJson } from './wire.js';

function albumJson(a: Album): AlbumJson {
  return { ...a, hasArt: a.artTrackId !== null, artUrl: a.artTrackId ? `/api/v1/tracks/${a.artTrackId}/art` : null };
}

/** A playlist as the API lists it. */
export interface PlaylistJson {
  id: string;
  name: string;
  device: string | null;
  createdAt: string;
  format: Playlist['format'];
  entryCount: number;
  /** Entries matched to a track in the library (each track counted once), as the UPnP tree lists them. */
  trackCount: number;
}

export function createApiRouter(deps: ApiDeps): Router {
  const { library } = deps;
  const catalog = library.catalog;
  const router = new Router({ prefix: '/api/v1' });

  const track = (ctx: Context): StoredTrack => {
    const t = catalog.get(String(ctx.params.id));
    if (!t) throw new ApiError(404, 'not_found', 'no such track');
    return t;
  };

  router.get('/status', (ctx) => {
    ctx.body = { name: deps.name, version: deps.version, tracks: catalog.size, updateId: catalog.updateId, scanning: library.scanner.busy, transcoding: deps.ffmpegAvailable, pinRequired: deps.write.pin !== null, catalogWrites: { ...library.store.stats }, memory: { rssMb: Math.round(process.memoryUsage().rss / 1048576), heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1048576) } };
  });

  router.get('/tracks', (ctx) => {
    const year = strParam(ctx, 'year');
    const page = catalog.query({
      q: strParam(ctx, 'q'),
      artist: strParam(ctx, 'artist'),
      albumArtist: strParam(ctx, 'albumArtist'),
      album: strParam(ctx, 'album'),
      albumId: strParam(ctx, 'albumId'),
      genre: strParam(ctx, 'genre'),
      device: strParam(ctx, 'device'),
      year: year !== undefined ? intParam(ctx, 'year', 0) : undefined,
      sort: parseSort(strParam(ctx, 'sort')),
      offset: intParam(ctx, 'offset', 0),
      limit: intParam(ctx, 'limit', 50, MAX_PAGE) || 50,
    });
    ctx.body = { total: page.total, offset: intParam(ctx, 'offset', 0), items: page.items.map(publicTrack) };
  });

  router.post('/tracks', async (ctx) => {
    assertMayWrite(ctx, deps.write);
    await handlePush(ctx, library.ingest);
  });

  router.get('/tracks/:id', (ctx) => {
    ctx.body = publicTrack(track(ctx));
  });

  router.delete('/tracks/:id', async (ctx) => {
    assertMayWrite(ctx, deps.write);
    await library.deleteTrack(track(ctx).id);
    ctx.status = 204;
  });

  const stream = async (ctx: Context) => {
    const t = track(ctx);
    await serveFile(ctx, { file: library.fileOf(t), mime: t.mime, etag: t.sha256 ? `"${t.sha256.slice(0, 32)}"` : undefined });
  };
  router.get('/tracks/:id/stream', stream);
  router.head('/tracks/:id/stream', stream);

  router.get('/tracks/:id/art', async (ctx) => {
    const t = track(ctx);
    if (t.hasArt) {
      const pic = await readEmbeddedArt(library.fileOf(t));
      if (pic) {
        ctx.type = pic.format.includes('/') ? pic.format : `image/${pic.format}`;
        ctx.set('Cache-Control', 'max-age=3600');
        ctx.body = Buffer.from(pic.data);
        return;
      }
    }
    const folderArt = library.folderArtFile(t);
    if (folderArt) {
      await serveFile(ctx, { file: folderArt, mime: folderArt.toLowerCase().endsWith('.png') ? 'image/png' : 'image/jpeg' });
      return;
    }
    throw new ApiError(404, 'no_art', 'this track has no cover art');
  });

  const playlists = library.playlists;
  const playlistJson = (p: Playlist): PlaylistJson => ({ id: p.id, name: p.name, device: p.device, createdAt: p.createdAt, format: p.format, entryCount: p.entries.length, trackCount: playlists.tracksOf(p).length });
  const playlist = (ctx: Context): Playlist => {
    const p = playlists.get(String(ctx.params.id));
    if (!p) throw new ApiError(404, 'not_found', 'no such playlist');
    return p;
  };

  router.get('/playlists', (ctx) => {
    const all = playlists.list();
    ctx.body = { total: all.length, items: all.map(playlistJson) };
  });

  router.post('/playlists', async (ctx) => {
    assertMayWrite(ctx, deps.write);
    await handlePlaylistPush(ctx, playlists, playlistJson);
  });

  router.get('/playlists/:id', (ctx) => {
    const p = playlist(ctx);
    ctx.body = {
      ...playlistJson(p),
      entries: p.entries.map((e) => {
        const t = e.trackId !== null ? catalog.get(e.trackId) : undefined;
        return { trackId: t ? t.id : null, hint: e.hint, track: t ? publicTrack(t) : null };
      }),
    };
  });

  router.delete('/playlists/:id', async (ctx) => {
    assertMayWrite(ctx, deps.write);
    await playlists.remove(playlist(ctx).id);
    ctx.status = 204;
  });

  router.get('/artists', (ctx) => {
    const field = strParam(ctx, 'kind') === 'album' ? 'albumArtist' : 'artist';
    ctx.body = { items: catalog.listNames(field) };
  });

  router.get('/genres', (ctx) => {
    ctx.body = { items: catalog.listNames('genre') };
  });

  router.get('/albums', (ctx) => {
    const year = strParam(ctx, 'year');
    const all = catalog.listAlbums({ albumArtist: strParam(ctx, 'albumArtist'), artist: strParam(ctx, 'artist'), genre: strParam(ctx, 'genre'), year: year !== undefined ? intParam(ctx, 'year', 0) : undefined });
    const offset = intParam(ctx, 'offset', 0);
    const limit = intParam(ctx, 'limit', 0, MAX_PAGE * 10);
    ctx.body = { total: all.length, offset, items: all.slice(offset, limit ? offset + limit : undefined).map(albumJson) };
  });

  router.get('/albums/:id', (ctx) => {
    const a = catalog.album(String(ctx.params.id));
    if (!a) throw new ApiError(404, 'not_found', 'no such album');
    ctx.body = { ...albumJson(a), tracks: catalog.albumTracks(a.id).map(publicTrack) };
  });

  return router;
}
