// The catalogue's own record of a track. At 50 000 tracks each field of it costs 0.4 MB, so what
// the tracks of one album from one place have in common (artists, album, genre, year, when and how
// they came, the folder's cover, the audio format) is one SharedFields object that they all point
// to, read through getters: a record has 11 fields instead of 21.
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

/** The fields of StoredTrack that a CatalogTrack reads from its SharedFields. */
type SharedKey = 'artist' | 'album' | 'albumArtist' | 'genre' | 'year' | 'addedAt' | 'source' | 'root' | 'folderArt' | 'hasArt';

/**
 * The values one album's tracks from one place usually have in common. The catalogue keeps one per
 * distinct combination within an album (a compilation has one per artist) and counts its users, so
 * it goes when its last track does.
 */
export class SharedFields implements Pick<StoredTrack, SharedKey> {
  /** How many catalogue records point here (the catalogue's bookkeeping). */
  uses = 0;

  constructor(
    readonly artist: string,
    readonly album: string,
    readonly albumArtist: string,
    readonly genre: string | null,
    readonly year: number | null,
    readonly addedAt: string,
    readonly source: TrackSource,
    readonly root: string,
    readonly folderArt: string | null,
    readonly hasArt: boolean,
    readonly format: TrackFormat,
  ) {}

  /** Whether a track with these values (strings already interned, format shared) can point here. */
  fits(t: Pick<StoredTrack, SharedKey>, format: TrackFormat): boolean {
    return (
      this.artist === t.artist &&
      this.album === t.album &&
      this.albumArtist === t.albumArtist &&
      this.genre === t.genre &&
      this.year === t.year &&
      this.addedAt === t.addedAt &&
      this.source === t.source &&
      this.root === t.root &&
      this.folderArt === t.folderArt &&
      this.hasArt === t.hasArt &&
      this.format === format
    );
  }
}

/**
 * A number as V8 keeps it most cheaply: an integral value that came out of a floating-point
 * operation (a bitrate from music-metadata, a size from JSON) is a boxed 16-byte heap number unless
 * made a small integer again, and one boxed value in a field boxes that field in every record.
 */
function small(n: number): number {
  return n >= 0 && n <= 0x3fffffff && Number.isInteger(n) ? n | 0 : n;
}

function smallOrNull(n: number | null): number | null {
  return n === null ? null : small(n);
}

/**
 * The fields a CatalogTrack holds itself, declared once in StoredTrack (declaration merging); the
 * shared and format fields are getters. The constructor must set each: a catalogue test compares
 * every field.
 */
export interface CatalogTrack extends Omit<StoredTrack, SharedKey | keyof TrackFormat> {}

export class CatalogTrack implements StoredTrack {
  readonly shared: SharedFields;

  /** `t`'s own fields, the rest from `shared` (which must fit `t`). */
  constructor(t: StoredTrack, shared: SharedFields) {
    this.id = t.id;
    this.title = t.title;
    this.path = t.path;
    this.trackNumber = smallOrNull(t.trackNumber);
    this.discNumber = smallOrNull(t.discNumber);
    this.durationMs = small(t.durationMs);
    this.bitrate = smallOrNull(t.bitrate);
    this.size = small(t.size);
    this.sha256 = t.sha256;
    this.mtimeMs = t.mtimeMs;
    this.shared = shared;
  }

  get artist(): string {
    return this.shared.artist;
  }
  get album(): string {
    return this.shared.album;
  }
  get albumArtist(): string {
    return this.shared.albumArtist;
  }
  get genre(): string | null {
    return this.shared.genre;
  }
  get year(): number | null {
    return this.shared.year;
  }
  get addedAt(): string {
    return this.shared.addedAt;
  }
  get source(): TrackSource {
    return this.shared.source;
  }
  get root(): string {
    return this.shared.root;
  }
  get folderArt(): string | null {
    return this.shared.folderArt;
  }
  get hasArt(): boolean {
    return this.shared.hasArt;
  }
  get codec(): string {
    return this.shared.format.codec;
  }
  get mime(): string {
    return this.shared.format.mime;
  }
  get sampleRate(): number | null {
    return this.shared.format.sampleRate;
  }
  get bitsPerSample(): number | null {
    return this.shared.format.bitsPerSample;
  }
  get channels(): number | null {
    return this.shared.format.channels;
  }
  /** The plain record (the catalogue document, the journal): every field, none of the sharing. */
  toJSON(): StoredTrack {
    return storedFields(this);
  }
}
