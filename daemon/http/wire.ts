// JSON shapes of the HTTP API that are not catalogue records as they are. Type-only imports, so the
// web remote can use them without bundling anything of the daemon.
import type { Album } from '../library/listing.js';

/** An album as the API sends it. */
export type AlbumJson = Album & { hasArt: boolean; artUrl: string | null };

/** A device that pushed tracks, as `/api/v1/devices` lists it. */
export interface DeviceJson {
  name: string;
  trackCount: number;
  /** When this device last pushed a track (ISO 8601). */
  lastAddedAt: string;
}
