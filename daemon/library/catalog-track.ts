// The catalogue's own record of a track. At 50 000 tracks each field costs 0.4 MB, so the audio
// format (codec, MIME type, rate, depth, channels), which a whole library shares among a handful of
// values, is one object per distinct value, read through getters.
//
// Tried and left out: sharing one folder object per directory and keeping only the file name. A
// file name cut from a path is a V8 sliced string that keeps the whole path alive (the substring
// builtins ignore --no-string-slices), and copying 50 000 of them cost 46 ms at start-up for 0.4 MB.
import { storedFields, type StoredTrack, type TrackSource } from './track.js';

export interface TrackFormat {
  readonly codec: string;
  readonly mime: string;
  readonly sampleRate: number | null;
  readonly bitsPerSample: number | null;
  readonly channels: number | null;
}

/**
 * The fields a CatalogTrack holds itself, declared once in StoredTrack (declaration merging); the
 * format's five are getters. The constructor must set each: a catalogue test compares every field.
 */
export interface CatalogTrack extends Omit<StoredTrack, keyof TrackFormat> {}

export class CatalogTrack implements StoredTrack {
  readonly format: TrackFormat;

  /** `t`'s fields, with the shared values given (already interned by the catalogue). */
  constructor(t: StoredTrack, shared: { artist: string; album: string; albumArtist: string; genre: string | null; addedAt: string; source: TrackSource; root: string; format: TrackFormat }) {
    this.id = t.id;
    this.title = t.title;
    this.artist = shared.artist;
    this.album = shared.album;
    this.albumArtist = shared.albumArtist;
    this.trackNumber = t.trackNumber;
    this.discNumber = t.discNumber;
    this.year = t.year;
    this.genre = shared.genre;
    this.durationMs = t.durationMs;
    this.bitrate = t.bitrate;
    this.size = t.size;
    this.sha256 = t.sha256;
    this.hasArt = t.hasArt;
    this.addedAt = shared.addedAt;
    this.source = shared.source;
    this.path = t.path;
    this.root = shared.root;
    this.mtimeMs = t.mtimeMs;
    this.folderArt = t.folderArt;
    this.format = shared.format;
  }

  get codec(): string {
    return this.format.codec;
  }
  get mime(): string {
    return this.format.mime;
  }
  get sampleRate(): number | null {
    return this.format.sampleRate;
  }
  get bitsPerSample(): number | null {
    return this.format.bitsPerSample;
  }
  get channels(): number | null {
    return this.format.channels;
  }
  /** The plain record (the catalogue document, the journal): every field, none of the sharing. */
  toJSON(): StoredTrack {
    return storedFields(this);
  }
}
