// DLNA normal play time (NPT) ranges, pure: the `TimeSeekRange.dlna.org` request header and our
// answer to it (DLNA 7.4.40; the NPT grammar is RFC 2326 §3.6).

export interface NptRange {
  /** seconds */
  start: number;
  /** seconds; null = to the end */
  end: number | null;
}

/**
 * One NPT time: `12.5`, `12`, `0:00:12.500`, `1:02:03` (hours unpadded, minutes and seconds two
 * digits). Returns seconds, or null when malformed. `now` is refused: it means a live position.
 */
export function parseNptTime(s: string): number | null {
  const t = s.trim();
  let m = /^(\d+)(?:\.(\d+))?$/.exec(t);
  if (m) return Number(`${m[1]}.${m[2] ?? '0'}`);
  m = /^(\d+):([0-5]\d):([0-5]\d)(?:\.(\d+))?$/.exec(t);
  if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(`${m[3]}.${m[4] ?? '0'}`);
  return null;
}

/**
 * Parses `npt=12.5-`, `npt=0:00:12.500-0:01:00`, `npt = 10-20` (case-insensitive, spaces allowed).
 * A duration suffix (`/245.0`), which only answers carry, is tolerated. Returns null when malformed
 * or when end ≤ start.
 */
export function parseTimeSeekRange(header: string | undefined): NptRange | null {
  if (!header) return null;
  const m = /^\s*npt\s*=\s*([^-\s]+)\s*-\s*([^/\s]*)\s*(?:\/\s*\S*)?\s*$/i.exec(header);
  if (!m) return null;
  const start = parseNptTime(m[1]!);
  if (start === null) return null;
  if (m[2] === '') return { start, end: null };
  const end = parseNptTime(m[2]!);
  if (end === null || end <= start) return null;
  return { start, end };
}

/** Seconds with three decimals, as in `npt=12.500-245.000/245.000`. */
export function formatNptSeconds(seconds: number): string {
  return Math.max(0, seconds).toFixed(3);
}

/** The `TimeSeekRange.dlna.org` answer: `npt=<start>-<end>/<duration>`. */
export function formatTimeSeekRange(range: { start: number; end: number }, durationSeconds: number): string {
  return `npt=${formatNptSeconds(range.start)}-${formatNptSeconds(range.end)}/${formatNptSeconds(durationSeconds)}`;
}
