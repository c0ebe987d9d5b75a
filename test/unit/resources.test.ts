// Targets and res lists, pure: what each target makes of a source, exact PCM lengths and WAV
// headers, and what resourcesFor offers a PS3, a generic renderer and VLC.
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/fixtures.js';
import type { StoredTrack } from '../../daemon/library/track.js';
import { loadProfileDir, ProfileSet } from '../../daemon/profiles.js';
import { exactLength, outputOf, wavHeader, WAV_HEADER_BYTES } from '../../daemon/media/targets.js';
import { resourcesFor, type ResourceContext } from '../../daemon/media/resources.js';
import { storedTrack } from '../helpers/tracks.js';

function track(over: Partial<StoredTrack>): StoredTrack {
  return storedTrack({
    id: '0123456789abcdef', title: 'T', artist: 'A', album: 'B', albumArtist: 'A', trackNumber: 1, discNumber: 1, year: 2024,
    durationMs: 3000, sampleRate: 96000, bitsPerSample: 24, bitrate: 2_000_000, size: 80_000, sha256: null,
    source: { kind: 'push', device: null }, path: 'a/b.flac', mtimeMs: 1, ...over,
  });
}

const BASE = 'http://10.77.0.1:8200';
const ctx: ResourceContext = { transcoding: true, cachedSize: () => null };

describe('transcode targets', () => {
  it('keep hi-res within their caps and bits where the source has them', () => {
    assert.deepEqual([outputOf('flac-24-96', { sampleRate: 192000, bitsPerSample: 24, channels: 2 })].map((o) => [o.sampleRate, o.bitsPerSample]), [[96000, 24]]);
    assert.equal(outputOf('flac-24-96', { sampleRate: 176400, bitsPerSample: 24, channels: 2 }).sampleRate, 88200);
    assert.deepEqual([outputOf('flac-24-96', { sampleRate: 44100, bitsPerSample: 16, channels: 2 })].map((o) => [o.sampleRate, o.bitsPerSample]), [[44100, 16]]);
    assert.equal(outputOf('flac-24-96', { sampleRate: 48000, bitsPerSample: null, channels: 2 }).bitsPerSample, 16);
    assert.equal(outputOf('wav-24-192', { sampleRate: 384000, bitsPerSample: 32, channels: 2 }).sampleRate, 192000);
  });

  it('choose 44.1 or 48 kHz for lossy targets by the source family', () => {
    assert.equal(outputOf('mp3-320', { sampleRate: 96000, bitsPerSample: 24, channels: 2 }).sampleRate, 48000);
    assert.equal(outputOf('mp3-320', { sampleRate: 88200, bitsPerSample: 24, channels: 2 }).sampleRate, 44100);
    assert.equal(outputOf('mp3-320', { sampleRate: null, bitsPerSample: null, channels: null }).sampleRate, 44100);
    assert.equal(outputOf('aac-256', { sampleRate: 48000, bitsPerSample: null, channels: 1 }).channels, 2);
  });

  it('describe LPCM as DLNA does, mono kept mono, more channels folded to two', () => {
    assert.equal(outputOf('lpcm-16-44100', { sampleRate: 96000, bitsPerSample: 24, channels: 2 }).mime, 'audio/L16;rate=44100;channels=2');
    assert.equal(outputOf('lpcm-16-48000', { sampleRate: 22050, bitsPerSample: 16, channels: 1 }).mime, 'audio/L16;rate=48000;channels=1');
    assert.equal(outputOf('lpcm-16-44100', { sampleRate: 48000, bitsPerSample: 24, channels: 6 }).channels, 2);
  });

  it('know the exact length of PCM streams and write a matching WAV header', () => {
    const wav = outputOf('wav-16-44100', { sampleRate: 96000, bitsPerSample: 24, channels: 2 });
    assert.equal(exactLength(wav, 3), WAV_HEADER_BYTES + 44100 * 3 * 4);
    assert.equal(exactLength(outputOf('lpcm-16-44100', { sampleRate: 44100, bitsPerSample: 16, channels: 1 }), 1.5), 66150 * 2);
    assert.equal(exactLength(outputOf('mp3-320', { sampleRate: 44100, bitsPerSample: 16, channels: 2 }), 3), null);
    const h = wavHeader(wav, 1000);
    assert.equal(h.toString('ascii', 0, 4), 'RIFF');
    assert.equal(h.readUInt32LE(4), 1036);
    assert.equal(h.readUInt32LE(24), 44100);
    assert.equal(h.readUInt16LE(32), 4);
    assert.equal(h.readUInt32LE(40), 1000);
    assert.equal(wavHeader(wav, null).readUInt32LE(40), 0xffffffff);
  });
});

describe('resourcesFor', () => {
  let set: ProfileSet;
  before(async () => {
    const d = await loadProfileDir(path.join(REPO_ROOT, 'profiles'), false);
    set = new ProfileSet(d.profiles);
  });

  it('gives a PlayStation 3 one WAV res for a hi-res FLAC: honest values, time seek, exact size', () => {
    const r = resourcesFor(track({}), set.get('ps3')!, BASE, ctx);
    assert.equal(r.length, 1);
    const [w] = r;
    assert.equal(w!.mime, 'audio/wav');
    assert.equal(w!.uri, `${BASE}/media/0123456789abcdef/wav-16-44100.wav`);
    assert.equal(w!.protocolInfo, 'http-get:*:audio/wav:DLNA.ORG_OP=10;DLNA.ORG_CI=1;DLNA.ORG_FLAGS=01700000000000000000000000000000');
    assert.deepEqual([w!.sampleFrequency, w!.bitsPerSample, w!.nrAudioChannels, w!.bytesPerSecond], [44100, 16, 2, 176400]);
    assert.equal(w!.size, 44 + 3 * 44100 * 4);
    assert.equal(w!.seek, 'time');
    assert.equal(w!.target, 'wav-16-44100');
  });

  it('lists the original first for a generic renderer, then LPCM with DLNA.ORG_PN=LPCM', () => {
    const r = resourcesFor(track({}), set.generic, BASE, ctx);
    assert.deepEqual(r.map((x) => x.mime), ['audio/flac', 'audio/L16;rate=44100;channels=2']);
    assert.equal(r[0]!.protocolInfo, 'http-get:*:audio/flac:DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000');
    assert.equal(r[0]!.size, 80_000);
    assert.equal(r[1]!.protocolInfo, 'http-get:*:audio/L16;rate=44100;channels=2:DLNA.ORG_PN=LPCM;DLNA.ORG_OP=10;DLNA.ORG_CI=1;DLNA.ORG_FLAGS=01700000000000000000000000000000');
    assert.equal(r[1]!.size, null, 'no exact length promised without estimateContentLength');
  });

  it('gives MP3 320 with DLNA.ORG_PN=MP3 where that is the target', () => {
    const r = resourcesFor(track({ codec: 'opus', mime: 'audio/ogg', sampleRate: 48000, bitsPerSample: null }), set.get('windows-media-player')!, BASE, ctx);
    assert.equal(r.length, 1);
    assert.match(r[0]!.protocolInfo, /^http-get:\*:audio\/mpeg:DLNA\.ORG_PN=MP3;DLNA\.ORG_OP=10;DLNA\.ORG_CI=1;/);
    assert.equal(r[0]!.bytesPerSecond, 40000);
    assert.equal(r[0]!.sampleFrequency, 48000);
  });

  it('offers a complete cached transcode byte-seekable with its size', () => {
    const r = resourcesFor(track({}), set.get('ps3')!, BASE, { transcoding: true, cachedSize: () => 123456 });
    assert.equal(r[0]!.size, 123456);
    assert.equal(r[0]!.seek, 'byte');
    assert.match(r[0]!.protocolInfo, /DLNA\.ORG_OP=01;DLNA\.ORG_CI=1;/);
  });

  it('gives VLC the original only, at the URL the context names', () => {
    const r = resourcesFor(track({}), set.get('vlc')!, BASE, { transcoding: true, originalUrl: (t, b) => `${b}/media/${t.id}.flac` });
    assert.deepEqual(r.map((x) => [x.uri, x.target]), [[`${BASE}/media/0123456789abcdef.flac`, null]]);
  });

  it('falls back to the original without ffmpeg', () => {
    const r = resourcesFor(track({}), set.get('ps3')!, BASE, { transcoding: false });
    assert.deepEqual(r.map((x) => x.mime), ['audio/flac']);
  });
});
