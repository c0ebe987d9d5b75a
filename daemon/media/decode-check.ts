// "Is there decodable audio here?" answered by decoding, not by trusting headers: the first
// seconds, and (where the format seeks exactly) the last seconds, so a file cut short is refused.
import type { Ffmpeg } from './ffmpeg.js';
import type { CodecId } from './formats.js';

/** Formats whose seeking is sample-exact or index-based, so a decode near the declared end is meaningful. */
const EXACT_SEEK: ReadonlySet<CodecId> = new Set(['flac', 'pcm', 'alac', 'aac', 'vorbis', 'opus']);

const RATE = 8000; // decode to 8 kHz mono s16: enough to count audio, little to move
const BYTES_PER_SECOND = RATE * 2;
const WINDOW_S = 1.5;

export interface DecodeVerdict {
  ok: boolean;
  reason?: string;
}

export async function checkDecodable(ffmpeg: Ffmpeg, file: string, durationMs: number, codec: CodecId): Promise<DecodeVerdict> {
  const duration = durationMs / 1000;
  const window = Math.min(WINDOW_S, duration);
  // Ask for at least half of what the headers promise in each window.
  const need = Math.floor(window * BYTES_PER_SECOND * 0.5);
  const out = ['-map', '0:a:0', '-t', String(window), '-ac', '1', '-ar', String(RATE), '-f', 's16le'];
  const tail = EXACT_SEEK.has(codec) && duration > 2 * WINDOW_S;
  const args = ['-v', 'error', '-i', file];
  if (tail) args.push('-ss', (duration - WINDOW_S - 0.25).toFixed(3), '-i', file);
  args.push(...out, 'pipe:1');
  if (tail) args.push('-map', '1:a:0', '-t', String(window), '-ac', '1', '-ar', String(RATE), '-f', 's16le', 'pipe:3');
  const r = await ffmpeg.run(args, { timeoutMs: 30_000, extraPipes: tail ? 1 : 0 });
  const [head, end] = r.outputBytes;
  if (r.code !== 0 || (head ?? 0) < need) {
    return { ok: false, reason: `no decodable audio${r.stderr ? `: ${r.stderr.trim().split('\n')[0]}` : ''}` };
  }
  if (tail && (end ?? 0) < need) {
    return { ok: false, reason: `audio ends early: the file is truncated (${Math.round(duration)} s declared)` };
  }
  return { ok: true };
}
