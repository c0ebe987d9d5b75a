// Container/codec as music-metadata reports them → our codec id, MIME type and file extension.

export type CodecId = 'mp3' | 'aac' | 'alac' | 'flac' | 'vorbis' | 'opus' | 'pcm' | 'wma' | 'mp2';

export interface AudioFormat {
  codec: CodecId;
  mime: string;
  ext: string;
}

const BY_CODEC: Record<CodecId, Omit<AudioFormat, 'codec'>> = {
  mp3: { mime: 'audio/mpeg', ext: 'mp3' },
  mp2: { mime: 'audio/mpeg', ext: 'mp2' },
  aac: { mime: 'audio/mp4', ext: 'm4a' },
  alac: { mime: 'audio/mp4', ext: 'm4a' },
  flac: { mime: 'audio/flac', ext: 'flac' },
  vorbis: { mime: 'audio/ogg', ext: 'ogg' },
  opus: { mime: 'audio/ogg', ext: 'opus' },
  pcm: { mime: 'audio/wav', ext: 'wav' },
  wma: { mime: 'audio/x-ms-wma', ext: 'wma' },
};

/** Extensions the folder scanner looks at; anything else is not read at all. */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  'mp3', 'mp2', 'm4a', 'm4b', 'mp4', 'aac', 'flac', 'ogg', 'oga', 'opus', 'wav', 'aif', 'aiff', 'aifc', 'wma',
]);

/** Maps music-metadata's `format.container`/`format.codec` to an AudioFormat, or null if unplayable. */
export function audioFormatOf(container: string | undefined, codec: string | undefined): AudioFormat | null {
  const c = (container ?? '').toLowerCase();
  const k = (codec ?? '').toLowerCase();
  const pick = (id: CodecId, override?: Partial<AudioFormat>): AudioFormat => ({ codec: id, ...BY_CODEC[id], ...override });
  if (c === 'mpeg' || c.startsWith('mpeg ')) {
    if (k.includes('layer 3')) return pick('mp3');
    if (k.includes('layer 2')) return pick('mp2');
    return null;
  }
  if (c === 'flac') return pick('flac');
  if (c.startsWith('m4a') || c.startsWith('mp4') || c.startsWith('isom') || c.startsWith('m4b')) {
    if (k.includes('alac')) return pick('alac');
    if (k.includes('aac')) return pick('aac');
    return null;
  }
  if (c === 'ogg') {
    if (k.includes('opus')) return pick('opus');
    if (k.includes('vorbis')) return pick('vorbis');
    if (k.includes('flac')) return pick('flac', { mime: 'audio/ogg', ext: 'oga' });
    return null;
  }
  if (c === 'wave' || c === 'wav') return k.includes('pcm') || k === '' ? pick('pcm') : null;
  if (c.startsWith('aiff')) {
    // AIFF-C may hold compressed audio; only PCM ('NONE'/'sowt'/'PCM') counts as plain PCM.
    if (k === '' || /pcm|none|sowt|twos/.test(k)) return pick('pcm', { mime: 'audio/aiff', ext: 'aiff' });
    return null;
  }
  if (c.startsWith('asf')) return k.includes('windows media audio') || k.includes('wma') ? pick('wma') : null;
  return null;
}
