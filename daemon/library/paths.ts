// Tag-derived, sanitised file paths inside the store. Pure: no file-system access.
import path from 'node:path';

/** Longest path segment in bytes; ext4/vfat allow 255, leave room for " (NN)" and the extension. */
const MAX_SEGMENT_BYTES = 120;

// Made on first use: creating it loads ICU's break-iterator data (about 1 MB of resident memory),
// which a daemon that only indexes music folders never needs.
let graphemes: Intl.Segmenter | undefined;

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = '';
  // Iterate by user-perceived character (grapheme cluster) so neither a multibyte character nor an
  // accent, emoji ZWJ sequence or flag is split.
  for (const { segment } of (graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(s)) {
    if (Buffer.byteLength(out + segment) > maxBytes) break;
    out += segment;
  }
  return out;
}

/**
 * One path segment from untrusted text (a tag or a phone's file name): no separators, no control
 * characters, no characters vfat refuses, no leading dots (hidden files, `..`), no reserved device
 * names, bounded length. Never empty: falls back to `fallback`.
 */
export function sanitizeSegment(raw: string, fallback: string): string {
  let s = raw
    .normalize('NFC')
    // Separators and the characters FAT/exFAT/SMB refuse become a visible substitute.
    .replace(/[\\/:*?"<>|]/g, '_')
    // Tabs, newlines and other white space read as one space ("Title\nSubtitle" keeps its words apart)…
    .replace(/\s+/g, ' ')
    // …and the remaining control characters (C0, DEL, C1) are dropped.
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '')
    // Fullwidth solidus and dot leader lookalikes are harmless on Linux but confuse people; normalise.
    .replace(/[\uff0f\u2215\u2044]/g, '_')
    .replace(/\s+/g, ' ')
    .trim();
  s = s.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  // Truncation can expose a trailing dot or space, which vfat/SMB silently drop: strip again.
  s = truncateUtf8(s, MAX_SEGMENT_BYTES).replace(/[.\s]+$/, '');
  if (!s) s = fallback;
  const stem = s.split('.')[0] ?? s;
  if (WINDOWS_RESERVED.test(stem.trim())) s = truncateUtf8(`_${s}`, MAX_SEGMENT_BYTES).replace(/[.\s]+$/, '');
  return s;
}

export interface PathTags {
  albumArtist: string;
  album: string;
  title: string;
  trackNumber: number | null;
  discNumber: number | null;
}

/** A safe lower-case extension from the codec's usual one, never from the phone's file name alone. */
export function sanitizeExtension(ext: string): string {
  const e = ext.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 5);
  return e || 'bin';
}

/**
 * `<Album Artist>/<Album>/<NN Title>.<ext>` relative to the store's music/ folder. The disc number
 * prefixes the track number on multi-disc albums (`2-03 Title`) so every file sorts in play order.
 */
export function storeRelativePath(tags: PathTags, ext: string, totalDiscs: number | null = null): string {
  const artist = sanitizeSegment(tags.albumArtist, 'Unknown Artist');
  const album = sanitizeSegment(tags.album, 'Unknown Album');
  const nn = tags.trackNumber !== null && tags.trackNumber > 0 ? String(tags.trackNumber).padStart(2, '0') : null;
  const disc = tags.discNumber !== null && tags.discNumber > 1 || (totalDiscs ?? 0) > 1 ? tags.discNumber : null;
  const prefix = nn ? (disc ? `${disc}-${nn} ` : `${nn} `) : '';
  const title = sanitizeSegment(prefix + tags.title, 'Untitled');
  return path.posix.join(artist, album, `${title}.${sanitizeExtension(ext)}`);
}

/** The n-th alternative when a name is taken: `Title (2).mp3`, `Title (3).mp3`… */
export function collisionVariant(relPath: string, n: number): string {
  if (n <= 1) return relPath;
  const ext = path.posix.extname(relPath);
  return `${relPath.slice(0, relPath.length - ext.length)} (${n})${ext}`;
}

/** A title from a file name a phone sent: last segment, no extension, underscores read as spaces. */
export function titleFromFileName(fileName: string | null | undefined): string | null {
  if (!fileName) return null;
  const base = fileName.split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.[A-Za-z0-9]{1,5}$/, '').replace(/_/g, ' ').trim();
  return stem || null;
}

/**
 * True when `rel` stays inside its root once joined: relative, no `..` segment, no NUL.
 * Used wherever a path that came from the catalogue or a request meets the file system.
 */
export function isContainedRelative(rel: string): boolean {
  if (!rel || rel.includes('\0') || path.isAbsolute(rel)) return false;
  const norm = path.posix.normalize(rel.replace(/\\/g, '/'));
  return norm !== '..' && !norm.startsWith('../') && norm !== '.';
}
