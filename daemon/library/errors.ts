// Domain errors, defined once. Each API maps `code` to its own wire error (HTTP status, UPnP code…).

export type LibraryErrorCode =
  | 'not_audio'
  | 'not_playlist'
  | 'too_large'
  | 'disk_full'
  | 'checksum_mismatch'
  | 'size_mismatch'
  | 'aborted'
  | 'not_found'
  | 'read_only';

export class LibraryError extends Error {
  constructor(
    readonly code: LibraryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LibraryError';
  }
}

export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
