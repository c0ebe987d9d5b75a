// Pushing tracks over the HTTP API: formats, tags, dedup, refusals, limits — against the real daemon.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, makeWav } from '../helpers/fixtures.js';
import { filesUnder, pushFile, type TrackJson } from '../helpers/api.js';

describe('push over HTTP', function () {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(async () => d.dispose());

  const formats: Array<[string, string, string, number | null]> = [
    ['tone.mp3', 'mp3', 'audio/mpeg', 1],
    ['tone-v23.mp3', 'mp3', 'audio/mpeg', 2],
    ['tone-v1.mp3', 'mp3', 'audio/mpeg', 3],
    ['tone.flac', 'flac', 'audio/flac', 4],
    ['hires.flac', 'flac', 'audio/flac', 5],
    ['tone.m4a', 'aac', 'audio/mp4', 6],
    ['tone-alac.m4a', 'alac', 'audio/mp4', 7],
    ['tone.ogg', 'vorbis', 'audio/ogg', 8],
    ['tone.opus', 'opus', 'audio/ogg', 9],
    ['tone.wav', 'pcm', 'audio/wav', 10],
    ['tone.aiff', 'pcm', 'audio/aiff', 11],
  ];
  for (const [name, codec, mime, trackNo] of formats) {
    it(`stores ${name} once, with its tags, under Album Artist/Album/NN Title`, async () => {
      const bytes = fixture(name);
      const r = await pushFile(d.url, name, bytes);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const t = r.body.track as TrackJson;
      assert.equal(r.body.duplicate, false);
      assert.equal(t.title, `Tone ${trackNo}`);
      assert.equal(t.artist, 'Test Artist');
      assert.equal(t.album, 'Test Album');
      assert.equal(t.trackNumber, trackNo);
      assert.equal(t.year, 2024);
      assert.equal(t.genre, 'Electronic');
      assert.equal(t.codec, codec);
      assert.equal(t.mime, mime);
      assert.equal(t.size, bytes.length);
      assert.equal(t.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.ok(t.durationMs >= 1900 && t.durationMs <= 3100, `duration ${t.durationMs}`);
      assert.equal(t.source.kind, 'push');
      const onDisk = path.join(d.dataDir, 'music', t.path);
      assert.deepEqual(readFileSync(onDisk), bytes, 'stored bytes are the pushed bytes');
      assert.match(t.path, new RegExp(`^Test (Album )?Artist/Test Album/(1-)?${String(trackNo).padStart(2, '0')} Tone ${trackNo}\\.`));
    });
  }

  it('reports hi-res stream facts', async () => {
    const r = await pushFile(d.url, 'hires.flac', fixture('hires.flac'));
    const t = r.body.track as TrackJson;
    assert.equal(t.sampleRate, 96000);
    assert.equal(t.bitsPerSample, 24);
    assert.equal(t.channels, 2);
  });

  it('answers the same bytes again with 200 duplicate and keeps one file', async () => {
    const bytes = fixture('tone.mp3');
    const before = filesUnder(path.join(d.dataDir, 'music')).length;
    const r = await pushFile(d.url, 'renamed copy.mp3', bytes);
    assert.equal(r.status, 200);
    assert.equal(r.body.duplicate, true);
    assert.equal(filesUnder(path.join(d.dataDir, 'music')).length, before);
  });

  it('accepts a raw audio body named by X-Filename', async () => {
    const res = await fetch(`${d.url}/api/v1/tracks`, { method: 'POST', body: makeWav(1, { title: 'Raw Wave' }), headers: { 'Content-Type': 'audio/wav', 'X-Filename': encodeURIComponent('raw wave.wav') } });
    assert.equal(res.status, 201);
    const body = (await res.json()) as { track: TrackJson };
    assert.equal(body.track.title, 'Raw Wave');
    assert.equal(body.track.artist, 'Wave Artist');
  });

  it('names untagged files after the file name, by Unknown Artist / Unknown Album', async () => {
    const r = await pushFile(d.url, 'My_Song.mp3', fixture('untagged.mp3'));
    assert.equal(r.status, 201);
    assert.equal(r.body.track.title, 'My Song');
    assert.equal(r.body.track.artist, 'Unknown Artist');
    assert.equal(r.body.track.album, 'Unknown Album');
    assert.equal(r.body.track.path, 'Unknown Artist/Unknown Album/My Song.mp3');
  });

  it('keeps hostile tag text out of the file system but in the catalogue', async () => {
    const r = await pushFile(d.url, '../../evil.flac', fixture('unicode.flac'));
    assert.equal(r.status, 201);
    const t = r.body.track as TrackJson;
    assert.equal(t.title, '雨/の../ 日 <&> "q" 🎵');
    const segments = t.path.split('/');
    assert.equal(segments.length, 3);
    for (const s of segments) {
      assert.ok(s !== '..' && s !== '.' && !s.startsWith('.'), s);
      assert.doesNotMatch(s, /[<>:"\\|?*\u0000-\u001f]/);
    }
    assert.equal(segments[1], '_CON', 'reserved device names are defused');
    assert.ok(existsSync(path.join(d.dataDir, 'music', t.path)));
  });

  it('pushes several files in one form and reports each', async () => {
    const form = new FormData();
    form.append('a', new Blob([makeWav(101)]), 'a.wav');
    form.append('b', new Blob([fixture('notes.txt')]), 'notes.txt');
    form.append('c', new Blob([makeWav(102)]), 'c.wav');
    const res = await fetch(`${d.url}/api/v1/tracks`, { method: 'POST', body: form });
    assert.equal(res.status, 201);
    const body = (await res.json()) as { results: Array<{ status: number; track?: TrackJson; error?: { code: string } }> };
    assert.deepEqual(body.results.map((r) => r.status), [201, 415, 201]);
    assert.equal(body.results[1]!.error!.code, 'not_audio');
  });

  for (const bad of ['notes.txt', 'garbled.mp3', 'truncated.flac', 'headeronly.mp3']) {
    it(`refuses ${bad} with 415 and keeps nothing`, async () => {
      const before = (await (await fetch(`${d.url}/api/v1/tracks?limit=1`)).json()) as { total: number };
      const r = await pushFile(d.url, bad, fixture(bad));
      assert.equal(r.status, 415);
      assert.equal(r.body.error.code, 'not_audio');
      assert.equal(typeof r.body.error.message, 'string');
      assert.doesNotMatch(r.body.error.message, /incoming|\/tmp\//, 'no server paths in messages');
      const after = (await (await fetch(`${d.url}/api/v1/tracks?limit=1`)).json()) as { total: number };
      assert.equal(after.total, before.total);
      assert.deepEqual(filesUnder(path.join(d.dataDir, 'incoming')), []);
    });
  }

  it('leaves nothing behind when the client disconnects mid-upload', async () => {
    const before = filesUnder(path.join(d.dataDir, 'music')).length;
    const wav = makeWav(7, { seconds: 60, rate: 44100 });
    await new Promise<void>((resolve) => {
      const u = new URL(`${d.url}/api/v1/tracks`);
      const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'Content-Type': 'audio/wav', 'Content-Length': wav.length } });
      req.on('error', () => resolve());
      req.write(wav.subarray(0, 1 << 20));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    // Give the daemon a moment to notice and clean up.
    for (let i = 0; i < 40 && filesUnder(path.join(d.dataDir, 'incoming')).length; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(filesUnder(path.join(d.dataDir, 'incoming')), []);
    assert.equal(filesUnder(path.join(d.dataDir, 'music')).length, before);
    const status = (await (await fetch(`${d.url}/api/v1/status`)).json()) as { tracks: number };
    assert.equal(status.tracks, before);
  });
});
