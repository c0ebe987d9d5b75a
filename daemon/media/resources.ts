// What a client is offered for one track: the DIDL-Lite <res> elements, as plain data. The
// original first when the client's profile plays it; otherwise (or, for unknown renderers, also) a
// transcode with honest values: the MIME type, protocolInfo and audio facts of what ffmpeg will
// really send, a size only when it is known. So a PlayStation 3 never sees only audio/flac.
import type { StoredTrack } from '../library/track.js';
import { decide, type Profile } from '../profiles.js';
import { dlnaProfileFor, protocolInfoFor, contentFeaturesFor, type DlnaMediaInfo, type SeekMode } from './dlna.js';
import { exactLength, outputOf, type OutputFormat, type TargetId } from './targets.js';
import { cacheKey, type TranscodeCache } from './transcode-cache.js';

/**
 * One `<res>` of an item, in the order the DIDL should list them. The field names are those of
 * upnp/didl.ts DidlResource (uri, protocolInfo, size, durationMs, bytesPerSecond, sampleFrequency,
 * nrAudioChannels, bitsPerSample), so a Resource can be handed to the DIDL writer as it is; the
 * other fields (mime, contentFeatures, dlnaProfile, target, seek) say what it is. Null = unknown:
 * the attribute is left out.
 */
export interface Resource {
  /** Absolute URL the client fetches (the element text of <res>). */
  uri: string;
  /** MIME type, as in protocolInfo and the Content-Type the URL answers with. */
  mime: string;
  /** The whole `res@protocolInfo`: `http-get:*:<mime>:<contentFeatures>`. */
  protocolInfo: string;
  /** The fourth field of protocolInfo; also the `contentFeatures.dlna.org` header of the URL. */
  contentFeatures: string;
  /** DLNA.ORG_PN, or null where DLNA defines none (FLAC, Opus…) or the profile has noDlnaPn. */
  dlnaProfile: string | null;
  /** null for the original file; else the transcode target it is made with. */
  target: TargetId | null;
  /** How the client may seek: 'byte' (Range), 'time' (TimeSeekRange.dlna.org) or 'none'. */
  seek: SeekMode;
  /** Bytes; null when unknown (an on-the-fly transcode without an exact length). */
  size: number | null;
  durationMs: number;
  /** res@sampleFrequency, Hz */
  sampleFrequency: number | null;
  /** res@bitsPerSample; null for lossy codecs */
  bitsPerSample: number | null;
  /** res@nrAudioChannels */
  nrAudioChannels: number | null;
  /** res@bitrate, which UPnP defines in BYTES per second (not bits). */
  bytesPerSecond: number | null;
}

function bytesPerSecond(bitsPerSecond: number | null): number | null {
  return bitsPerSecond === null ? null : Math.round(bitsPerSecond / 8);
}

/** What resourcesFor needs to know beyond the track and the profile. */
export interface ResourceContext {
  /** ffmpeg is available: transcoded resources may be offered. */
  transcoding: boolean;
  /** Size of a complete cached stream transcode of this track, or null. */
  cachedSize?(track: StoredTrack, target: TargetId): number | null;
  /** URL of the untouched file; default `<baseUrl>/api/v1/tracks/<id>/stream` (the DLNA one is `<baseUrl>` + http/media-routes.ts mediaPathOf). */
  originalUrl?(track: StoredTrack, baseUrl: string): string;
}

/** The context the daemon uses: the transcoder's availability and the transcode cache. */
export function createResourceContext(o: { transcoding: boolean; cache: TranscodeCache | null; originalUrl?: (track: StoredTrack, baseUrl: string) => string }): ResourceContext {
  return {
    transcoding: o.transcoding,
    cachedSize: (t, target) => (o.cache ? o.cache.peekSize(cacheKey(t, target, 'stream', outputOf(target, t).ext)) : null),
    originalUrl: o.originalUrl,
  };
}

/** `/media/<trackId>/<target>.<ext>`: the URL of a transcoded stream (transcode-routes.ts). */
export function transcodeUrl(baseUrl: string, trackId: string, target: TargetId, ext: string): string {
  return `${baseUrl}/media/${encodeURIComponent(trackId)}/${target}.${ext}`;
}

/** Everything about a transcoded stream that both its res and its HTTP answer must agree on. */
export interface TranscodeFacts {
  out: OutputFormat;
  seek: SeekMode;
  dlnaProfile: string | null;
  contentFeatures: string;
  protocolInfo: string;
  /** Bytes when known: a complete cached file, or an exact-length PCM stream (estimateContentLength). */
  size: number | null;
}

function mediaInfo(out: OutputFormat): DlnaMediaInfo {
  return { mime: out.mime, codec: out.codec, sampleRate: out.sampleRate, channels: out.channels, bitrate: out.bitrate };
}

/**
 * A transcode as `profile` sees it. `cachedSize` is the size of a complete cached copy (byte seek,
 * DLNA.ORG_OP=01), else the stream is made on the fly (time seek, OP=10; none with noTimeSeek).
 */
export function transcodeFacts(track: StoredTrack, profile: Profile, target: TargetId, cachedSize: number | null): TranscodeFacts {
  const out = outputOf(target, track);
  const seek: SeekMode = cachedSize !== null ? 'byte' : profile.quirks.has('noTimeSeek') ? 'none' : 'time';
  const info = mediaInfo(out);
  const dlnaProfile = profile.quirks.has('noDlnaPn') ? null : dlnaProfileFor(info);
  const size = cachedSize ?? (profile.quirks.has('estimateContentLength') ? exactLength(out, track.durationMs / 1000) : null);
  return { out, seek, dlnaProfile, contentFeatures: contentFeaturesFor(info, { profile: dlnaProfile, seek, transcoded: true }), protocolInfo: protocolInfoFor(info, { profile: dlnaProfile, seek, transcoded: true }), size };
}

/** The original file's res fields (also used for its HTTP headers). */
export function originalFacts(track: StoredTrack, profile: Profile, mime: string): { dlnaProfile: string | null; contentFeatures: string; info: DlnaMediaInfo } {
  const info: DlnaMediaInfo = { mime, codec: track.codec, sampleRate: track.sampleRate, channels: track.channels, bitrate: track.bitrate };
  const dlnaProfile = profile.quirks.has('noDlnaPn') ? null : dlnaProfileFor({ ...info, mime: track.mime });
  return { dlnaProfile, contentFeatures: contentFeaturesFor(info, { profile: dlnaProfile, seek: 'byte' }), info };
}

interface Plan {
  d: ReturnType<typeof decide>;
  f: ReturnType<typeof originalFacts>;
  protocolInfo: string;
}

/**
 * The profile's decision and the original's DLNA fields depend only on a few stream facts that most
 * tracks share, so a Browse page of 100 items works them out a handful of times, not 100.
 */
const plans = new WeakMap<Profile, Map<string, Plan>>();

function planFor(track: StoredTrack, profile: Profile): Plan {
  let byFacts = plans.get(profile);
  if (!byFacts) plans.set(profile, (byFacts = new Map()));
  const key = `${track.mime}|${track.codec}|${track.sampleRate}|${track.bitsPerSample}|${track.channels}|${track.bitrate}`;
  let plan = byFacts.get(key);
  if (!plan) {
    if (byFacts.size >= 4096) byFacts.clear();
    const d = decide(track, profile);
    const f = originalFacts(track, profile, d.originalMime);
    plan = { d, f, protocolInfo: protocolInfoFor(f.info, { profile: f.dlnaProfile, seek: 'byte' }) };
    byFacts.set(key, plan);
  }
  return plan;
}

/**
 * The resources of `track` for `profile`, in order. `baseUrl` is `http://<address the request came
 * in on>:<port>`, without a trailing slash. Never empty: when nothing fits (no ffmpeg, no target
 * the profile takes), the original is offered anyway; a client may still manage it.
 */
export function resourcesFor(track: StoredTrack, profile: Profile, baseUrl: string, ctx: ResourceContext): Resource[] {
  const { d, f, protocolInfo } = planFor(track, profile);
  const list: Resource[] = [];
  const original = (): Resource => {
    return {
      uri: ctx.originalUrl ? ctx.originalUrl(track, baseUrl) : `${baseUrl}/api/v1/tracks/${encodeURIComponent(track.id)}/stream`,
      mime: d.originalMime,
      protocolInfo,
      contentFeatures: f.contentFeatures,
      dlnaProfile: f.dlnaProfile,
      target: null,
      seek: 'byte',
      size: track.size,
      durationMs: track.durationMs,
      sampleFrequency: track.sampleRate,
      bitsPerSample: track.bitsPerSample,
      nrAudioChannels: track.channels,
      bytesPerSecond: bytesPerSecond(track.bitrate),
    };
  };
  if (d.original) list.push(original());
  if (d.target && ctx.transcoding) {
    const f = transcodeFacts(track, profile, d.target, ctx.cachedSize?.(track, d.target) ?? null);
    list.push({
      uri: transcodeUrl(baseUrl, track.id, d.target, f.out.ext),
      mime: f.out.mime,
      protocolInfo: f.protocolInfo,
      contentFeatures: f.contentFeatures,
      dlnaProfile: f.dlnaProfile,
      target: d.target,
      seek: f.seek,
      size: f.size,
      durationMs: track.durationMs,
      sampleFrequency: f.out.sampleRate,
      bitsPerSample: f.out.bitsPerSample,
      nrAudioChannels: f.out.channels,
      bytesPerSecond: bytesPerSecond(f.out.bitrate),
    });
  }
  if (list.length === 0) list.push(original());
  return list;
}
