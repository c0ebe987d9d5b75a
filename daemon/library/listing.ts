// The catalogue's listing shapes, as the JSON API sends them and the web remote reads them. No
// imports, so the page can take the types without bundling anything of the daemon.

export interface Page<T> {
  total: number;
  items: T[];
}

export interface Album {
  id: string;
  title: string;
  albumArtist: string;
  year: number | null;
  genre: string | null;
  trackCount: number;
  /** id of a track whose art stands for the album, or null */
  artTrackId: string | null;
}

export interface NamedCount {
  name: string;
  trackCount: number;
  albumCount: number;
}
