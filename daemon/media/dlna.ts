// DLNA facts, pure: which DLNA.ORG_PN a stream has, the DLNA.ORG_OP/CI/FLAGS fields, protocolInfo and
// contentFeatures strings, and the H:MM:SS.mmm durations DIDL-Lite uses. No I/O, no UPnP wiring:
// the DIDL writer, the media routes and the ConnectionManager all read from here, so they agree.

/** What we know about one stream we can send. */
export interface DlnaMediaInfo {
  /** e.g. 'audio/mpeg', 'audio/mp4', 'audio/L16;rate=44100;channels=2', 'image/jpeg' */
  mime: string;
  /** our codec id (media/formats.ts) when known: 'mp3', 'aac', 'alac', 'wma'… */
  codec?: string | null;
  sampleRate?: number | null;
  channels?: number | null;
  /** bits per second */
  bitrate?: number | null;
  /** For images: which size we made (JPEG_TN ≤ 160×160, JPEG_SM ≤ 640×480). */
  imageProfile?: 'JPEG_TN' | 'JPEG_SM' | null;
}

/** How a client may seek in the stream (DLNA.ORG_OP). */
export type SeekMode = 'byte' | 'time' | 'none';

/**
 * DLNA.ORG_FLAGS (DLNA 1.5, 7.4.1.3.24): bit 24 streaming transfer mode, 22 background transfer mode,
 * 21 connection stall allowed, 20 DLNA v1.5. This value is the one MiniDLNA, Gerbera and Rygel send
 * for audio, and the one renderers are most used to.
 */
export const DLNA_FLAGS_STREAMING = '01700000000000000000000000000000';
/** Images: bit 23 interactive transfer mode instead of streaming, plus background, stall and v1.5. */
export const DLNA_FLAGS_INTERACTIVE = '00f00000000000000000000000000000';

/** DLNA.ORG_OP: first digit time seek (TimeSeekRange), second byte seek (Range). */
export function dlnaOp(seek: SeekMode): string {
  switch (seek) {
    case 'byte':
      return '01';
    case 'time':
      return '10';
    case 'none':
      return '00';
  }
}

function isAudioMp4(mime: string): boolean {
  return mime === 'audio/mp4' || mime === 'audio/x-m4a' || mime === 'audio/m4a';
}

/** Parses `audio/L16;rate=44100;channels=2` → its parameters (lower-cased names). */
function mimeParams(mime: string): { base: string; params: Map<string, string> } {
  const [base = '', ...rest] = mime.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const i = p.indexOf('=');
    if (i > 0) params.set(p.slice(0, i).trim().toLowerCase(), p.slice(i + 1).trim());
  }
  return { base: base.trim().toLowerCase(), params };
}

/**
 * The DLNA media format profile (DLNA.ORG_PN), or null where DLNA defines none (FLAC, Opus, Vorbis,
 * ALAC, WAV/AIFF containers): sending a made-up or wrong PN makes strict renderers refuse the item,
 * while a missing PN only means "not a DLNA profile" and lets them try.
 */
export function dlnaProfileFor(info: DlnaMediaInfo): string | null {
  if (info.imageProfile) return info.imageProfile;
  const { base, params } = mimeParams(info.mime);
  const codec = info.codec ?? null;
  if (base === 'audio/l16') {
    // LPCM (DLNA 7.3.30): 16-bit big-endian PCM, 44.1 or 48 kHz, one or two channels.
    const rate = Number(params.get('rate') ?? info.sampleRate ?? 0);
    const channels = Number(params.get('channels') ?? info.channels ?? 2);
    return (rate === 44100 || rate === 48000) && channels >= 1 && channels <= 2 ? 'LPCM' : null;
  }
  if (base === 'audio/mpeg') {
    // Layer II shares the MIME type but has no DLNA profile. Every layer-3 file gets MP3, as MiniDLNA
    // and Gerbera do: MPEG-2 sample rates would strictly be MP3X, which far fewer renderers list.
    return codec === 'mp2' ? null : 'MP3';
  }
  if (isAudioMp4(base) || base === 'audio/aac' || base === 'audio/x-aac') {
    if (codec !== null && codec !== 'aac') return null; // ALAC in MP4: no DLNA profile
    if (base !== 'audio/mp4' && base !== 'audio/x-m4a' && base !== 'audio/m4a') return null; // ADTS would be AAC_ADTS*; we serve MP4 only
    const rate = info.sampleRate ?? 44100;
    const channels = info.channels ?? 2;
    const bitrate = info.bitrate ?? 0;
    if (rate < 8000 || rate > 48000) return null;
    if (channels <= 2) {
      // AAC_ISO_320: AAC LC in MP4 up to 320 kbit/s; AAC_ISO up to 576 kbit/s (DLNA 7.3.29).
      if (bitrate <= 320_000) return 'AAC_ISO_320';
      if (bitrate <= 576_000) return 'AAC_ISO';
      return null;
    }
    return channels <= 6 && bitrate <= 1_440_000 ? 'AAC_MULT5_ISO' : null;
  }
  if (base === 'audio/x-ms-wma') {
    // WMABASE: ≤ 192 kbit/s stereo ≤ 48 kHz; WMAFULL: ≤ 385 kbit/s; beyond that (or multichannel) WMAPRO.
    const rate = info.sampleRate ?? 44100;
    const channels = info.channels ?? 2;
    const bitrate = info.bitrate ?? 0;
    if (rate > 48000) return null;
    if (channels <= 2 && bitrate <= 193_000) return 'WMABASE';
    if (channels <= 2 && bitrate <= 385_000) return 'WMAFULL';
    return null;
  }
  return null;
}

export interface ContentFeatureOptions {
  /** Override the profile (null = no DLNA.ORG_PN); default: dlnaProfileFor(info). */
  profile?: string | null;
  /** Default: 'byte' for files as they are, which is what we serve unless `transcoded`. */
  seek?: SeekMode;
  /** On-the-fly conversion (issue 4): DLNA.ORG_CI=1, time seek by default. */
  transcoded?: boolean;
}

function isImage(mime: string): boolean {
  return mime.toLowerCase().startsWith('image/');
}

/**
 * The fourth field of protocolInfo, also sent as the `contentFeatures.dlna.org` header:
 * `DLNA.ORG_PN=MP3;DLNA.ORG_OP=01;DLNA.ORG_CI=0;DLNA.ORG_FLAGS=…`. PN is left out where there is none;
 * CI=0 is left out too (the default, and some old renderers only parse the short form).
 */
export function contentFeaturesFor(info: DlnaMediaInfo, opts: ContentFeatureOptions = {}): string {
  const profile = opts.profile !== undefined ? opts.profile : dlnaProfileFor(info);
  const seek = opts.seek ?? (opts.transcoded ? 'time' : 'byte');
  const parts: string[] = [];
  if (profile) parts.push(`DLNA.ORG_PN=${profile}`);
  parts.push(`DLNA.ORG_OP=${dlnaOp(seek)}`);
  if (opts.transcoded) parts.push('DLNA.ORG_CI=1');
  parts.push(`DLNA.ORG_FLAGS=${isImage(info.mime) ? DLNA_FLAGS_INTERACTIVE : DLNA_FLAGS_STREAMING}`);
  return parts.join(';');
}

/** `http-get:*:<mime>:<contentFeatures>`, the protocolInfo of a `<res>`. */
export function protocolInfoFor(info: DlnaMediaInfo, opts: ContentFeatureOptions = {}): string {
  return `http-get:*:${info.mime}:${contentFeaturesFor(info, opts)}`;
}

/** The transfer mode a DLNA client should use for this MIME type (`transferMode.dlna.org`). */
export function defaultTransferMode(mime: string): 'Streaming' | 'Interactive' {
  return isImage(mime) ? 'Interactive' : 'Streaming';
}

/**
 * Which requested `transferMode.dlna.org` values we honour (DLNA 7.4.49): audio may be Streaming or
 * Background, images Interactive or Background. Anything else gets 406 from the caller.
 */
export function acceptsTransferMode(mime: string, requested: string): 'Streaming' | 'Interactive' | 'Background' | null {
  const r = requested.trim().toLowerCase();
  if (r === 'background') return 'Background';
  if (isImage(mime)) return r === 'interactive' ? 'Interactive' : null;
  return r === 'streaming' ? 'Streaming' : null;
}

/**
 * Every protocolInfo the server can serve, for ConnectionManager's GetProtocolInfo Source list.
 * Only PN is given in the fourth field there (as MiniDLNA and Rygel do); OP and FLAGS belong to a
 * resource, not to the list of what we offer.
 */
export function servedProtocolInfos(): string[] {
  const withPn = (mime: string, pn: string) => `http-get:*:${mime}:DLNA.ORG_PN=${pn}`;
  const any = (mime: string) => `http-get:*:${mime}:*`;
  const lpcm: string[] = [];
  for (const rate of [44100, 48000]) for (const ch of [1, 2]) lpcm.push(withPn(`audio/L16;rate=${rate};channels=${ch}`, 'LPCM'));
  return [
    withPn('audio/mpeg', 'MP3'),
    ...lpcm,
    withPn('audio/mp4', 'AAC_ISO_320'),
    withPn('audio/mp4', 'AAC_ISO'),
    withPn('audio/mp4', 'AAC_MULT5_ISO'),
    withPn('audio/x-ms-wma', 'WMABASE'),
    withPn('audio/x-ms-wma', 'WMAFULL'),
    any('audio/mpeg'),
    any('audio/mp4'),
    any('audio/flac'),
    any('audio/ogg'),
    any('audio/wav'),
    any('audio/aiff'),
    any('audio/x-ms-wma'),
    withPn('image/jpeg', 'JPEG_TN'),
    withPn('image/jpeg', 'JPEG_SM'),
  ];
}

/** DIDL-Lite `res@duration`: `H:MM:SS.mmm` (hours unpadded, as UPnP AV and DLNA clients parse it). */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(Number.isFinite(ms) ? ms : 0));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Math.floor((total % 60_000) / 1000);
  const frac = total % 1000;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(frac).padStart(3, '0')}`;
}
