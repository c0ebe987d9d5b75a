// DLNA facts: profiles per codec, the OP/CI/FLAGS fields, protocolInfo, transfer modes and durations.
import assert from 'node:assert/strict';
import {
  acceptsTransferMode,
  contentFeaturesFor,
  DLNA_FLAGS_INTERACTIVE,
  DLNA_FLAGS_STREAMING,
  dlnaProfileFor,
  formatDuration,
  protocolInfoFor,
  servedProtocolInfos,
} from '../../daemon/media/dlna.js';

describe('dlna', () => {
  it('gives MP3 files the MP3 profile and MPEG layer II none', () => {
    assert.equal(dlnaProfileFor({ mime: 'audio/mpeg', codec: 'mp3', sampleRate: 44100, bitrate: 320_000 }), 'MP3');
    assert.equal(dlnaProfileFor({ mime: 'audio/mpeg', codec: 'mp2' }), null);
  });

  it('gives LPCM to audio/L16 at 44.1/48 kHz, mono or stereo, and nothing else', () => {
    assert.equal(dlnaProfileFor({ mime: 'audio/L16;rate=44100;channels=2' }), 'LPCM');
    assert.equal(dlnaProfileFor({ mime: 'audio/L16;rate=48000;channels=1' }), 'LPCM');
    assert.equal(dlnaProfileFor({ mime: 'audio/L16;rate=96000;channels=2' }), null);
    assert.equal(dlnaProfileFor({ mime: 'audio/L16;rate=44100;channels=6' }), null);
  });

  it('picks AAC_ISO_320 or AAC_ISO by bitrate and sample rate, none for ALAC', () => {
    assert.equal(dlnaProfileFor({ mime: 'audio/mp4', codec: 'aac', sampleRate: 44100, channels: 2, bitrate: 256_000 }), 'AAC_ISO_320');
    assert.equal(dlnaProfileFor({ mime: 'audio/mp4', codec: 'aac', sampleRate: 48000, channels: 2, bitrate: 320_000 }), 'AAC_ISO_320');
    assert.equal(dlnaProfileFor({ mime: 'audio/mp4', codec: 'aac', sampleRate: 48000, channels: 2, bitrate: 400_000 }), 'AAC_ISO');
    assert.equal(dlnaProfileFor({ mime: 'audio/mp4', codec: 'aac', sampleRate: 44100, channels: 2, bitrate: 700_000 }), null);
    assert.equal(dlnaProfileFor({ mime: 'audio/mp4', codec: 'aac', sampleRate: 96000, channels: 2, bitrate: 256_000 }), null);
    assert.equal(dlnaProfileFor({ mime: 'audio/mp4', codec: 'aac', sampleRate: 48000, channels: 6, bitrate: 640_000 }), 'AAC_MULT5_ISO');
    assert.equal(dlnaProfileFor({ mime: 'audio/mp4', codec: 'alac', sampleRate: 44100, channels: 2, bitrate: 900_000 }), null);
  });

  it('picks WMABASE or WMAFULL by bitrate', () => {
    assert.equal(dlnaProfileFor({ mime: 'audio/x-ms-wma', codec: 'wma', sampleRate: 44100, channels: 2, bitrate: 128_000 }), 'WMABASE');
    assert.equal(dlnaProfileFor({ mime: 'audio/x-ms-wma', codec: 'wma', sampleRate: 44100, channels: 2, bitrate: 320_000 }), 'WMAFULL');
    assert.equal(dlnaProfileFor({ mime: 'audio/x-ms-wma', codec: 'wma', sampleRate: 96000, channels: 2, bitrate: 128_000 }), null);
  });

  it('gives no profile to FLAC, Opus, Vorbis and WAV', () => {
    for (const [mime, codec] of [['audio/flac', 'flac'], ['audio/ogg', 'opus'], ['audio/ogg', 'vorbis'], ['audio/wav', 'pcm'], ['audio/aiff', 'pcm']] as const) {
      assert.equal(dlnaProfileFor({ mime, codec, sampleRate: 44100 }), null, mime);
    }
  });

  it('writes contentFeatures with byte seek for files, time seek and CI=1 for transcodes', () => {
    assert.equal(contentFeaturesFor({ mime: 'audio/mpeg', codec: 'mp3' }), `DLNA.ORG_PN=MP3;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=${DLNA_FLAGS_STREAMING}`);
    assert.equal(contentFeaturesFor({ mime: 'audio/flac', codec: 'flac' }), `DLNA.ORG_OP=01;DLNA.ORG_FLAGS=${DLNA_FLAGS_STREAMING}`);
    assert.equal(
      contentFeaturesFor({ mime: 'audio/L16;rate=44100;channels=2' }, { transcoded: true }),
      `DLNA.ORG_PN=LPCM;DLNA.ORG_OP=10;DLNA.ORG_CI=1;DLNA.ORG_FLAGS=${DLNA_FLAGS_STREAMING}`,
    );
    assert.equal(contentFeaturesFor({ mime: 'image/jpeg', imageProfile: 'JPEG_TN' }), `DLNA.ORG_PN=JPEG_TN;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=${DLNA_FLAGS_INTERACTIVE}`);
  });

  it('uses the DLNA 1.5 flag words: streaming+background+stall+v1.5, interactive for images', () => {
    assert.equal(DLNA_FLAGS_STREAMING, '01700000000000000000000000000000');
    assert.equal(DLNA_FLAGS_INTERACTIVE, '00f00000000000000000000000000000');
    const bits = Number.parseInt(DLNA_FLAGS_STREAMING.slice(0, 8), 16);
    assert.equal(bits, (1 << 24) | (1 << 22) | (1 << 21) | (1 << 20));
  });

  it('writes protocolInfo as http-get:*:<mime>:<features>', () => {
    assert.equal(protocolInfoFor({ mime: 'audio/mp4', codec: 'aac', sampleRate: 44100, channels: 2, bitrate: 128_000 }), `http-get:*:audio/mp4:DLNA.ORG_PN=AAC_ISO_320;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=${DLNA_FLAGS_STREAMING}`);
  });

  it('lists every served protocolInfo, well formed and without duplicates', () => {
    const list = servedProtocolInfos();
    assert.ok(list.includes('http-get:*:audio/mpeg:DLNA.ORG_PN=MP3'));
    assert.ok(list.includes('http-get:*:audio/L16;rate=44100;channels=2:DLNA.ORG_PN=LPCM'));
    assert.ok(list.includes('http-get:*:audio/flac:*'));
    assert.ok(list.includes('http-get:*:image/jpeg:DLNA.ORG_PN=JPEG_TN'));
    assert.equal(new Set(list).size, list.length);
    for (const p of list) {
      assert.match(p, /^http-get:\*:[^:,]+:[^,]+$/);
      assert.ok(!p.includes(','), 'a comma would split the CSV list');
    }
  });

  it('accepts Streaming/Background for audio, Interactive/Background for images', () => {
    assert.equal(acceptsTransferMode('audio/flac', 'Streaming'), 'Streaming');
    assert.equal(acceptsTransferMode('audio/flac', 'background'), 'Background');
    assert.equal(acceptsTransferMode('audio/flac', 'Interactive'), null);
    assert.equal(acceptsTransferMode('image/jpeg', 'Interactive'), 'Interactive');
    assert.equal(acceptsTransferMode('image/jpeg', 'Streaming'), null);
    assert.equal(acceptsTransferMode('audio/mpeg', 'bogus'), null);
  });

  it('formats durations as H:MM:SS.mmm', () => {
    assert.equal(formatDuration(0), '0:00:00.000');
    assert.equal(formatDuration(1), '0:00:00.001');
    assert.equal(formatDuration(61_500), '0:01:01.500');
    assert.equal(formatDuration(3_723_004), '1:02:03.004');
    assert.equal(formatDuration(36_000_000 * 3), '30:00:00.000');
    assert.equal(formatDuration(-5), '0:00:00.000');
    assert.equal(formatDuration(Number.NaN), '0:00:00.000');
  });
});
