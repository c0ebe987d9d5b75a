// music-metadata → the Track fields we keep. Decides what counts as audio structurally.
import { parseFromTokenizer, type IAudioMetadata, type IOptions, type IPicture } from 'music-metadata';
import { BufferedFileTokenizer } from './buffered-file-tokenizer.js';
import { audioFormatOf, type AudioFormat } from '../media/formats.js';
import { titleFromFileName } from './paths.js';

export const UNKNOWN_ARTIST = 'Unknown Artist';
export const UNKNOWN_ALBUM = 'Unknown Album';

export interface TagInfo {
  title: string;
  artist: string;
  album: string;
  albumArtist: string;
  trackNumber: number | null;
  discNumber: number | null;
  totalDiscs: number | null;
  year: number | null;
  genre: string | null;
  durationMs: number;
  format: AudioFormat;
  sampleRate: number | null;
  bitsPerSample: number | null;
  channels: number | null;
  bitrate: number | null;
  hasArt: boolean;
}

export class NotAudioError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotAudioError';
  }
}

function clean(s: string | undefined | null): string | null {
  if (typeof s !== 'string') return null;
  // Tags may hold NULs (ID3v1 padding) or stray control characters; they never belong in a name.
  const t = s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\s+/g, ' ').trim();
  return t || null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * RIFF INFO text (WAV) declares no encoding, so music-metadata reads it as Latin-1 as the spec says;
 * but ffmpeg and most current taggers write UTF-8 there ("BjÃ¶rk"). Text whose Latin-1 bytes are
 * valid multi-byte UTF-8 is read again as UTF-8; real Latin-1 text almost never is.
 */
function utf8FromLatin1(s: string | undefined | null): string | undefined | null {
  if (typeof s !== 'string' || !/[\u0080-\u00ff]/.test(s) || /[^\u0000-\u00ff]/.test(s)) return s;
  try {
    return strictUtf8.decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}

function positive(n: number | null | undefined): number | null {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.round(n) : null;
}

/** Pure mapping from parsed metadata, so tests can pin it without files. */
export function tagInfoFrom(meta: IAudioMetadata, fileNameHint: string | null): TagInfo {
  const f = meta.format;
  const format = audioFormatOf(f.container, f.codec);
  if (!format) throw new NotAudioError(`unsupported or unknown audio format (${f.container ?? 'no container'}/${f.codec ?? 'no codec'})`);
  const duration = f.duration ?? 0;
  if (!(duration > 0) || !f.sampleRate) throw new NotAudioError('no audio stream found');
  const c0 = meta.common;
  const c = f.container === 'WAVE' ? { ...c0, title: utf8FromLatin1(c0.title), artist: utf8FromLatin1(c0.artist), artists: c0.artists?.map((a) => utf8FromLatin1(a) ?? a), album: utf8FromLatin1(c0.album), albumartist: utf8FromLatin1(c0.albumartist), genre: c0.genre?.map((g) => utf8FromLatin1(g) ?? g) } : c0;
  const artist = clean(c.artist) ?? clean(c.artists?.[0]) ?? clean(c.albumartist) ?? UNKNOWN_ARTIST;
  const year = positive(c.year) ?? (c.date ? positive(Number.parseInt(c.date.slice(0, 4), 10)) : null);
  return {
    title: clean(c.title) ?? titleFromFileName(fileNameHint) ?? 'Untitled',
    artist,
    album: clean(c.album) ?? UNKNOWN_ALBUM,
    albumArtist: clean(c.albumartist) ?? artist,
    trackNumber: positive(c.track?.no),
    discNumber: positive(c.disk?.no),
    totalDiscs: positive(c.disk?.of),
    year: year && year >= 1000 && year <= 9999 ? year : null,
    genre: clean(c.genre?.[0]),
    durationMs: Math.round(duration * 1000),
    format,
    sampleRate: positive(f.sampleRate),
    bitsPerSample: positive(f.bitsPerSample),
    channels: positive(f.numberOfChannels),
    bitrate: positive(f.bitrate),
    hasArt: (c.picture?.length ?? 0) > 0,
  };
}

/** music-metadata's parseFile, reading through 64 KiB blocks instead of one system call per field. */
async function parseFile(file: string, options: IOptions): Promise<IAudioMetadata> {
  const tokenizer = await BufferedFileTokenizer.open(file);
  try {
    return await parseFromTokenizer(tokenizer, options);
  } finally {
    await tokenizer.close();
  }
}

/** Reads tags and stream facts. Throws NotAudioError for anything that is not a playable audio file. */
export async function readTags(file: string, fileNameHint: string | null): Promise<TagInfo> {
  let meta: IAudioMetadata;
  try {
    meta = await parseFile(file, { duration: false, skipCovers: false });
  } catch (err) {
    // music-metadata's messages name the temp file; say what matters instead.
    const why = /determine audio format/i.test((err as Error).message) ? 'unknown file format' : 'unreadable audio headers';
    throw new NotAudioError(`not an audio file (${why})`);
  }
  return tagInfoFrom(meta, fileNameHint);
}

/** The front cover (or the first picture) embedded in a file, or null. */
export async function readEmbeddedArt(file: string): Promise<IPicture | null> {
  try {
    const meta = await parseFile(file, { duration: false, skipCovers: false, skipPostHeaders: true });
    const pics = meta.common.picture ?? [];
    return pics.find((p) => /front|cover/i.test(p.type ?? '')) ?? pics[0] ?? null;
  } catch {
    return null;
  }
}
