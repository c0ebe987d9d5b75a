// Media URLs for DLNA clients: /media/<trackId>.<ext> (the original file) and /art/<trackId>/{tn,sm}.jpg
// (cover thumbnails). Range and HEAD on every one (serveFile), plus the DLNA headers renderers look
// for: contentFeatures.dlna.org and transferMode.dlna.org (DLNA 7.4.26, 7.4.49).
import path from 'node:path';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Library } from '../library/library.js';
import type { StoredTrack } from '../library/track.js';
import { AUDIO_EXTENSIONS } from '../media/formats.js';
import { ART_LIMITS, type ArtSize, type Artwork } from '../media/artwork.js';
import { acceptsTransferMode, contentFeaturesFor, defaultTransferMode, type DlnaMediaInfo } from '../media/dlna.js';
import { originalFacts } from '../media/resources.js';
import type { Profile } from '../profiles.js';
import { ApiError } from './errors.js';
import { serveFile } from './stream.js';

const TRACK_ID = /^[0-9a-f]{16}$/;

/** The extension a media URL ends with: the file's own when it is an audio one, else the codec's. */
function extOf(t: StoredTrack): string {
  const ext = path.extname(t.path).slice(1).toLowerCase();
  if (AUDIO_EXTENSIONS.has(ext)) return ext;
  return t.mime === 'audio/mpeg' ? 'mp3' : (t.mime.split('/')[1] ?? 'bin').replace(/^x-/, '').replace(/[^a-z0-9]/g, '');
}

/** Path of a track's media URL (some renderers decide what they can play from the extension). */
export function mediaPathOf(t: StoredTrack): string {
  return `/media/${t.id}.${extOf(t)}`;
}

export function artPathOf(trackId: string, size: ArtSize): string {
  return `/art/${trackId}/${size}.jpg`;
}

export interface MediaRoutesDeps {
  library: Library;
  artwork: Artwork;
  /**
   * The renderer profile of the client fetching (profiles.forClient): an original's
   * contentFeatures.dlna.org is then the one its DIDL res announced (noDlnaPn leaves DLNA.ORG_PN
   * out of both). Without it, every client gets the generic fields.
   */
  profileOf?: (ctx: Context) => Profile;
}

/**
 * Applies the DLNA request headers: `getcontentFeatures.dlna.org` other than 1 is a 400, a transfer
 * mode the resource cannot do is a 406, and so is `TimeSeekRange.dlna.org`: originals are byte-seekable
 * only (DLNA.ORG_OP=01), as MiniDLNA answers too. Returns the headers to send.
 */
function dlnaHeaders(ctx: Context, info: DlnaMediaInfo, contentFeatures = contentFeaturesFor(info)): Record<string, string> {
  const ask = ctx.get('getcontentFeatures.dlna.org');
  if (ask && ask.trim() !== '1') throw new ApiError(400, 'bad_request', 'getcontentFeatures.dlna.org must be 1');
  if (ctx.get('TimeSeekRange.dlna.org')) throw new ApiError(406, 'not_acceptable', 'time seek is not offered for this resource (DLNA.ORG_OP=01: use Range)');
  const requested = ctx.get('transferMode.dlna.org');
  let mode: string = defaultTransferMode(info.mime);
  if (requested) {
    const ok = acceptsTransferMode(info.mime, requested);
    if (!ok) throw new ApiError(406, 'not_acceptable', `transfer mode ${requested.slice(0, 32)} is not available for ${info.mime}`);
    mode = ok;
  }
  // Sent whether or not it was asked for: harmless to others, and some renderers never ask.
  return { 'contentFeatures.dlna.org': contentFeatures, 'transferMode.dlna.org': mode };
}

export function createMediaRouter(deps: MediaRoutesDeps): Router {
  const { library, artwork } = deps;
  const router = new Router();

  const trackFrom = (raw: string): StoredTrack => {
    const id = raw.slice(0, 16);
    const t = TRACK_ID.test(id) ? library.catalog.get(id) : undefined;
    if (!t) throw new ApiError(404, 'not_found', 'no such track');
    return t;
  };

  const media = async (ctx: Context) => {
    const m = /^([0-9a-f]{16})(?:\.[a-z0-9]{1,5})?$/.exec(String(ctx.params.file));
    if (!m) throw new ApiError(404, 'not_found', 'no such track');
    const t = trackFrom(m[1]!);
    const info: DlnaMediaInfo = { mime: t.mime, codec: t.codec, sampleRate: t.sampleRate, channels: t.channels, bitrate: t.bitrate };
    const headers = dlnaHeaders(ctx, info, deps.profileOf ? originalFacts(t, deps.profileOf(ctx), t.mime).contentFeatures : undefined);
    await serveFile(ctx, { file: library.fileOf(t), mime: t.mime, etag: t.sha256 ? `"${t.sha256.slice(0, 32)}"` : undefined, headers });
  };
  router.get('/media/:file', media);
  router.head('/media/:file', media);

  const art = async (ctx: Context) => {
    const t = trackFrom(String(ctx.params.id));
    const size = ctx.params.file === 'tn.jpg' ? 'tn' : ctx.params.file === 'sm.jpg' ? 'sm' : null;
    if (!size || String(ctx.params.id).length !== 16) throw new ApiError(404, 'not_found', 'no such image');
    const headers = dlnaHeaders(ctx, { mime: 'image/jpeg', imageProfile: ART_LIMITS[size].profile });
    const file = await artwork.file(t, size);
    if (!file) throw new ApiError(404, 'no_art', 'this track has no cover art');
    await serveFile(ctx, { file, mime: 'image/jpeg', headers });
  };
  router.get('/art/:id/:file', art);
  router.head('/art/:id/:file', art);

  return router;
}
