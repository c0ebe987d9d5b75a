// The catalogue's record of one audio file, as every API shows it.

export type SourceKind = 'push' | 'folder';

export interface TrackSource {
  /** How the file arrived: pushed into the store, or indexed in a music folder. */
  kind: SourceKind;
  /** Which device pushed it (phone name, app alias, client address); null for folders. */
  device: string | null;
  /**
   * Set only for tracks that came in by DLNA upload: they are listed in the ContentDirectory's
   * Uploads container, and a control point may destroy them there. Absent for every other source.
   */
  via?: 'dlna';
}

export interface Track {
  /** Stable: derived from the content hash (store) or the file's path (music folders). */
  id: string;
  title: string;
  artist: string;
  album: string;
  albumArtist: string;
  trackNumber: number | null;
  discNumber: number | null;
  year: number | null;
  genre: string | null;
  durationMs: number;
  codec: string;
  mime: string;
  sampleRate: number | null;
  bitsPerSample: number | null;
  channels: number | null;
  /** bits per second */
  bitrate: number | null;
  size: number;
  /** null for folder tracks, which are indexed without being read whole. */
  sha256: string | null;
  hasArt: boolean;
  addedAt: string;
  source: TrackSource;
  /** Path relative to the track's root (the store's music/ or its music folder). */
  path: string;
}

/** What the catalogue keeps besides the public fields: where the file lives and how it looked. */
export interface StoredTrack extends Track {
  /** 'store' for <data-dir>/music, else the absolute path of the music folder. */
  root: string;
  mtimeMs: number;
  /** The folder's cover file name when there is no embedded art (cover.jpg, folder.jpg…). */
  folderArt: string | null;
}

export const STORE_ROOT = 'store';

/** The public fields, one by one: the catalogue's records compute some of them (CatalogTrack). */
export function publicTrack(t: Track): Track {
  return {
    id: t.id,
    title: t.title,
    artist: t.artist,
    album: t.album,
    albumArtist: t.albumArtist,
    trackNumber: t.trackNumber,
    discNumber: t.discNumber,
    year: t.year,
    genre: t.genre,
    durationMs: t.durationMs,
    codec: t.codec,
    mime: t.mime,
    sampleRate: t.sampleRate,
    bitsPerSample: t.bitsPerSample,
    channels: t.channels,
    bitrate: t.bitrate,
    size: t.size,
    sha256: t.sha256,
    hasArt: t.hasArt,
    addedAt: t.addedAt,
    source: t.source,
    path: t.path,
  };
}

/** Every stored field as a plain object (a copy to change, or to write out). */
export function storedFields(t: StoredTrack): StoredTrack {
  return { ...publicTrack(t), root: t.root, mtimeMs: t.mtimeMs, folderArt: t.folderArt };
}
