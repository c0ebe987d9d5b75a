// Catalogue records made in memory for unit tests: plain FLAC defaults, any field overridden.
import { STORE_ROOT, type StoredTrack } from '../../daemon/library/track.js';

export function storedTrack(over: Partial<StoredTrack> & { id: string }): StoredTrack {
  return {
    title: `Title ${over.id}`,
    artist: 'Artist',
    album: 'Album',
    albumArtist: over.artist ?? 'Artist',
    trackNumber: null,
    discNumber: null,
    year: null,
    genre: null,
    durationMs: 180_000,
    codec: 'flac',
    mime: 'audio/flac',
    sampleRate: 44100,
    bitsPerSample: 16,
    channels: 2,
    bitrate: 900_000,
    size: 1000,
    sha256: over.id.padEnd(64, '0'),
    hasArt: false,
    addedAt: '2024-01-01T00:00:00.000Z',
    source: { kind: 'push', device: 'phone' },
    path: `${over.id}.flac`,
    root: STORE_ROOT,
    mtimeMs: 0,
    folderArt: null,
    ...over,
  };
}
