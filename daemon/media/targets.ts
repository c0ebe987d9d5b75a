// Transcode targets, pure: what each target id produces for a given source (rate, bits, channels,
// MIME, bitrate) and the ffmpeg output arguments for it. Profiles name targets; transcode.ts runs
// them; resources.ts describes them. Keeping the facts here means the DIDL, the HTTP headers and
// the bytes ffmpeg writes cannot disagree.
import type { CodecId } from './formats.js';

export const TARGET_IDS = [
  'mp3-320',
  'aac-256',
  'lpcm-16-44100',
  'lpcm-16-48000',
  'wav-16-44100',
  'wav-16-48000',
  'wav-24-192',
  'flac-24-96',
] as const;

export type TargetId = (typeof TARGET_IDS)[number];

export function isTargetId(s: string): s is TargetId {
  return (TARGET_IDS as readonly string[]).includes(s);
}

/** The audio facts of a source that decide the output format. */
export interface SourceAudio {
  sampleRate: number | null;
  bitsPerSample: number | null;
  channels: number | null;
}

/** Exactly what a target produces for one source. */
export interface OutputFormat {
  target: TargetId;
  /** Codec id as formats.ts names them ('pcm' for LPCM and WAV). */
  codec: CodecId;
  /** Content-Type and protocolInfo MIME, e.g. 'audio/L16;rate=44100;channels=2'. */
  mime: string;
  /** Extension of the streaming URL (`/media/<id>/<target>.<ext>`). */
  ext: string;
  sampleRate: number;
  /** null where the codec has no fixed bit depth (MP3, AAC). */
  bitsPerSample: number | null;
  channels: number;
  /** bits per second; null where it varies (FLAC). */
  bitrate: number | null;
  /** Raw PCM whose byte length follows from the duration (LPCM, WAV): exact Content-Length is possible. */
  constantBytesPerSecond: number | null;
  /** Bytes before the audio data (our WAV header), 0 otherwise. */
  headerBytes: number;
}

/** 44.1 kHz family (22050, 88200, 176400…) → 44100; 48 kHz family → 48000; unknown → 44100. */
function lossyRate(src: number | null): number {
  if (src && src % 8000 === 0 && src % 11025 !== 0) return 48000;
  return 44100;
}

/** Halves the rate until it fits, so 192 k → 96 k and 176.4 k → 88.2 k (integer ratios resample cleanly). */
function capRate(src: number | null, max: number): number {
  let r = src ?? 44100;
  while (r > max) r /= 2;
  return Math.round(r);
}

/** 24 bits only when the source has more than 16 (lossy sources have none: 16). */
function hiBits(src: number | null): 16 | 24 {
  return src !== null && src > 16 ? 24 : 16;
}

function stereoAtMost(ch: number | null): number {
  return ch === null ? 2 : Math.min(ch, 2);
}

export const WAV_HEADER_BYTES = 44;

/** What `target` makes of `src`. */
export function outputOf(target: TargetId, src: SourceAudio): OutputFormat {
  const base = { target, constantBytesPerSecond: null, headerBytes: 0 };
  switch (target) {
    case 'mp3-320':
      // Always stereo: LAME at 320 kbit/s needs MPEG-1 (32/44.1/48 kHz) and two channels to mean 320.
      return { ...base, codec: 'mp3', mime: 'audio/mpeg', ext: 'mp3', sampleRate: lossyRate(src.sampleRate), bitsPerSample: null, channels: 2, bitrate: 320_000 };
    case 'aac-256':
      // ADTS when streamed: an MP4 cannot be written to a pipe without fragmenting it, which many
      // renderers refuse; downloads (export) get a real .m4a instead (exportFormatOf).
      return { ...base, codec: 'aac', mime: 'audio/aac', ext: 'aac', sampleRate: lossyRate(src.sampleRate), bitsPerSample: null, channels: 2, bitrate: 256_000 };
    case 'lpcm-16-44100':
    case 'lpcm-16-48000': {
      const rate = target === 'lpcm-16-44100' ? 44100 : 48000;
      const ch = stereoAtMost(src.channels);
      return { ...base, codec: 'pcm', mime: `audio/L16;rate=${rate};channels=${ch}`, ext: 'l16', sampleRate: rate, bitsPerSample: 16, channels: ch, bitrate: rate * 16 * ch, constantBytesPerSecond: rate * 2 * ch };
    }
    case 'wav-16-44100':
    case 'wav-16-48000': {
      const rate = target === 'wav-16-44100' ? 44100 : 48000;
      const ch = stereoAtMost(src.channels);
      return { ...base, codec: 'pcm', mime: 'audio/wav', ext: 'wav', sampleRate: rate, bitsPerSample: 16, channels: ch, bitrate: rate * 16 * ch, constantBytesPerSecond: rate * 2 * ch, headerBytes: WAV_HEADER_BYTES };
    }
    case 'wav-24-192': {
      // Lossless for hi-res sources, for receivers that play 24-bit WAV but not 24-bit FLAC.
      const rate = capRate(src.sampleRate, 192000);
      const bits = hiBits(src.bitsPerSample);
      const ch = stereoAtMost(src.channels);
      return { ...base, codec: 'pcm', mime: 'audio/wav', ext: 'wav', sampleRate: rate, bitsPerSample: bits, channels: ch, bitrate: rate * bits * ch, constantBytesPerSecond: (rate * bits * ch) / 8, headerBytes: WAV_HEADER_BYTES };
    }
    case 'flac-24-96':
      return { ...base, codec: 'flac', mime: 'audio/flac', ext: 'flac', sampleRate: capRate(src.sampleRate, 96000), bitsPerSample: hiBits(src.bitsPerSample), channels: src.channels ?? 2, bitrate: null };
  }
}

/** Maps an LPCM target to its WAV twin (quirk lpcmAsWav); other targets are returned unchanged. */
export function asWav(target: TargetId): TargetId {
  if (target === 'lpcm-16-44100') return 'wav-16-44100';
  if (target === 'lpcm-16-48000') return 'wav-16-48000';
  return target;
}

/** The byte length of a PCM stream of this duration (header included), or null for other codecs. */
export function exactLength(out: OutputFormat, seconds: number): number | null {
  if (out.constantBytesPerSecond === null) return null;
  const frameBytes = ((out.bitsPerSample ?? 16) / 8) * out.channels;
  const frames = Math.max(0, Math.round(seconds * out.sampleRate));
  return out.headerBytes + frames * frameBytes;
}

/**
 * A canonical 44-byte WAV header (WAVE_FORMAT_PCM, also for 24 bits: every player reads it, while
 * WAVE_FORMAT_EXTENSIBLE trips some old ones). With `dataBytes` null the sizes are 0xFFFFFFFF,
 * "until the end of the stream", as ffmpeg writes when it cannot seek back.
 */
export function wavHeader(out: OutputFormat, dataBytes: number | null): Buffer {
  const bits = out.bitsPerSample ?? 16;
  const blockAlign = (bits / 8) * out.channels;
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  const unknown = dataBytes === null || dataBytes > 0xffffffff - 36;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(unknown ? 0xffffffff : 36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(out.channels, 22);
  h.writeUInt32LE(out.sampleRate, 24);
  h.writeUInt32LE(out.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(unknown ? 0xffffffff : dataBytes, 40);
  return h;
}

/** How a downloaded (exported) file of this target is written: a real container with tags and cover. */
export interface ExportFormat {
  ext: string;
  mime: string;
  /** ffmpeg muxer */
  muxer: string;
  /** Whether the container can carry the cover as an attached picture. */
  cover: boolean;
}

export function exportFormatOf(target: TargetId): ExportFormat {
  switch (target) {
    case 'mp3-320':
      return { ext: 'mp3', mime: 'audio/mpeg', muxer: 'mp3', cover: true };
    case 'aac-256':
      return { ext: 'm4a', mime: 'audio/mp4', muxer: 'ipod', cover: true };
    case 'flac-24-96':
      return { ext: 'flac', mime: 'audio/flac', muxer: 'flac', cover: true };
    case 'lpcm-16-44100':
    case 'lpcm-16-48000':
    case 'wav-16-44100':
    case 'wav-16-48000':
    case 'wav-24-192':
      return { ext: 'wav', mime: 'audio/wav', muxer: 'wav', cover: false };
  }
}

/** ffmpeg codec arguments (after the inputs and maps) for one output format. */
export function codecArgs(out: OutputFormat, opts: { resampler: string }): string[] {
  const args = ['-ar', String(out.sampleRate), '-ac', String(out.channels)];
  // Dither when cutting bit depth (24 → 16); the resampler is soxr when this ffmpeg has it.
  args.push('-af', `aresample=${out.sampleRate}:resampler=${opts.resampler}:dither_method=triangular`);
  switch (out.codec) {
    case 'mp3':
      return [...args, '-c:a', 'libmp3lame', '-b:a', '320k'];
    case 'aac':
      return [...args, '-c:a', 'aac', '-b:a', '256k'];
    case 'flac':
      return [...args, '-c:a', 'flac', '-sample_fmt', out.bitsPerSample === 24 ? 's32' : 's16'];
    case 'pcm':
      if (out.mime.startsWith('audio/L16')) return [...args, '-c:a', 'pcm_s16be'];
      return [...args, '-c:a', out.bitsPerSample === 24 ? 'pcm_s24le' : 'pcm_s16le'];
    default:
      throw new Error(`no encoder for ${out.codec}`);
  }
}

/**
 * Muxer arguments for a stream written to a pipe: raw PCM for LPCM and WAV (our own header goes in
 * front, so its sizes can be right), no Xing frame for MP3 (it would be written before the sizes
 * are known, and a pipe cannot be rewound to fix it).
 */
export function streamMuxArgs(out: OutputFormat): string[] {
  switch (out.codec) {
    case 'mp3':
      return ['-f', 'mp3', '-write_xing', '0', '-id3v2_version', '0'];
    case 'aac':
      return ['-f', 'adts'];
    case 'flac':
      return ['-f', 'flac'];
    case 'pcm':
      if (out.mime.startsWith('audio/L16')) return ['-f', 's16be'];
      return ['-f', out.bitsPerSample === 24 ? 's24le' : 's16le'];
    default:
      throw new Error(`no muxer for ${out.codec}`);
  }
}
