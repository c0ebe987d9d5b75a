// Reading tags through 64 KiB blocks must find exactly what music-metadata's own file reader finds,
// wherever in the file the tags are: the head (ID3v2, FLAC), the end (ID3v1, an MP4 'moov' after
// the audio) or across block boundaries.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFile, parseFromTokenizer, type IAudioMetadata } from 'music-metadata';
import { EndOfStreamError } from 'strtok3';
import { BufferedFileTokenizer } from '../../daemon/library/buffered-file-tokenizer.js';
import { fixturePath } from '../helpers/fixtures.js';

async function viaBlocks(file: string): Promise<IAudioMetadata> {
  const t = await BufferedFileTokenizer.open(file);
  try {
    return await parseFromTokenizer(t, { duration: false, skipCovers: false });
  } finally {
    await t.close();
  }
}

const comparable = (m: IAudioMetadata) => ({ format: m.format, common: m.common, native: m.native });

describe('BufferedFileTokenizer', () => {
  let dir: string;
  before(function () {
    this.timeout(60_000);
    dir = mkdtempSync(path.join(tmpdir(), 'hifid-tokenizer-'));
    const ff = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args]);
    const tone = ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=20:sample_rate=44100'];
    const tags = ['-metadata', 'title=Long Tone', '-metadata', 'artist=Block Artist', '-metadata', 'album=Block Album', '-metadata', 'track=7/9'];
    // 20 s files are several blocks long: the MP4 index and the ID3v1 tag sit in the last one.
    ff(...tone, '-c:a', 'aac', '-b:a', '128k', ...tags, path.join(dir, 'moov-at-end.m4a'));
    ff(...tone, '-c:a', 'libmp3lame', '-b:a', '128k', '-id3v2_version', '0', '-write_id3v1', '1', '-metadata', 'TIT2=Long Tone', '-metadata', 'TPE1=Block Artist', '-metadata', 'TALB=Block Album', path.join(dir, 'id3v1-at-end.mp3'));
    ff(...tone, '-c:a', 'flac', ...tags, path.join(dir, 'long.flac'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const shipped = ['tone.mp3', 'tone-v23.mp3', 'tone-v1.mp3', 'untagged.mp3', 'tone.flac', 'hires.flac', 'tone.m4a', 'tone-alac.m4a', 'tone.ogg', 'tone.opus', 'tone.wav', 'tone.aiff', 'art.mp3', 'unicode.flac'];
  for (const name of shipped) {
    it(`reads ${name} exactly as music-metadata's file reader does`, async () => {
      const file = fixturePath(name);
      assert.deepEqual(comparable(await viaBlocks(file)), comparable(await parseFile(file, { duration: false, skipCovers: false })));
    });
  }

  for (const [name, title] of [['moov-at-end.m4a', 'Long Tone'], ['id3v1-at-end.mp3', 'Long Tone'], ['long.flac', 'Long Tone']] as const) {
    it(`finds the tags of a multi-block ${name}`, async () => {
      const file = path.join(dir, name);
      const meta = await viaBlocks(file);
      assert.equal(meta.common.title, title);
      assert.equal(meta.common.artist, 'Block Artist');
      assert.deepEqual(comparable(meta), comparable(await parseFile(file, { duration: false, skipCovers: false })));
    });
  }

  it('reads many files at once, again and again, each with its own bytes (blocks go from closed readers to new ones)', async () => {
    const files = [...shipped.map((n) => fixturePath(n)), ...['moov-at-end.m4a', 'id3v1-at-end.mp3', 'long.flac'].map((n) => path.join(dir, n))];
    const expected = await Promise.all(files.map(async (f) => comparable(await parseFile(f, { duration: false, skipCovers: false }))));
    for (let round = 0; round < 3; round++) {
      const got = await Promise.all(files.map(async (f) => comparable(await viaBlocks(f))));
      files.forEach((f, i) => assert.deepEqual(got[i], expected[i], `${path.basename(f)}, round ${round}`));
    }
  });

  it('reads across block boundaries and reports the end of the file', async () => {
    const file = path.join(dir, 'counting.bin');
    const bytes = Buffer.alloc(200_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 251;
    writeFileSync(file, bytes);
    const t = await BufferedFileTokenizer.open(file);
    try {
      const across = new Uint8Array(10);
      await t.peekBuffer(across, { position: 65_531 });
      assert.deepEqual(Buffer.from(across), bytes.subarray(65_531, 65_541));
      const big = new Uint8Array(70_000);
      assert.equal(await t.readBuffer(big, { position: 100_000 }), 70_000);
      assert.deepEqual(Buffer.from(big), bytes.subarray(100_000, 170_000));
      assert.equal(t.position, 170_000);
      const tail = new Uint8Array(100);
      assert.equal(await t.readBuffer(tail, { position: 199_950, mayBeLess: true }), 50);
      await assert.rejects(t.readBuffer(tail, { position: 199_950 }), EndOfStreamError);
    } finally {
      await t.close();
    }
  });
});
