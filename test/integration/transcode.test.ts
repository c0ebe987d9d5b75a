// Transcoding as renderers see it, with real ffmpeg/ffprobe against a real daemon in the test LAN:
// a PS3 gets playable WAV/MP3 for FLAC and Opus, VLC the original, time seek, no orphan ffmpeg
// after a disconnect, the cache with Range, downloads that keep tags and cover, profiles listed,
// broken user profiles skipped, the concurrency limit, and life without ffmpeg.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, fixturePath } from '../helpers/fixtures.js';
import { getJson, pushFile, rawRequest, type TrackJson } from '../helpers/api.js';

const PS3 = { 'User-Agent': 'UPnP/1.0 DLNADOC/1.50', 'X-AV-Client-Info': 'av=5.0; cn="Sony Computer Entertainment Inc."; mn="PLAYSTATION 3"; mv="1.0";' };
const VLC = { 'User-Agent': 'VLC/3.0.11.1 LibVLC/3.0.11.1' };
const WMP = { 'User-Agent': 'Microsoft-Windows/10.0 UPnP/1.0 Windows-Media-Player/12.0.10011.16384' };

interface ResourceJson {
  uri: string;
  mime: string;
  protocolInfo: string;
  contentFeatures: string;
  target: string | null;
  seek: string;
  size: number | null;
  durationMs: number;
  sampleFrequency: number | null;
  nrAudioChannels: number | null;
}

let scratch: string;

function save(name: string, body: Buffer): string {
  const f = path.join(scratch, name);
  writeFileSync(f, body);
  return f;
}

interface Probe {
  streams: Array<{ codec_type: string; codec_name: string; sample_rate?: string; channels?: number; disposition?: { attached_pic?: number } }>;
  format: { format_name: string; tags?: Record<string, string> };
}

function ffprobe(file: string): Probe {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { encoding: 'utf8' })) as Probe;
}

/** Seconds of audio ffmpeg really decodes from `file` (not what a header claims). */
function decodedSeconds(file: string, inputArgs: string[] = []): number {
  const r = spawnSync('ffmpeg', ['-v', 'error', ...inputArgs, '-i', file, '-ac', '1', '-ar', '8000', '-f', 's16le', '-'], { maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.length / 16000;
}

function lowerTags(p: Probe): Record<string, string> {
  return Object.fromEntries(Object.entries(p.format.tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/** ffmpeg processes whose parent is `pid`. */
function ffmpegChildren(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let list = '';
    try {
      list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of list.trim().split(/\s+/).filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'ffmpeg') out.push(Number(c));
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | null> | T | null, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An open GET whose body is not read (yet): the daemon's side blocks on a full socket. */
function openStream(base: string, p: string, headers: Record<string, string>): Promise<{ res: http.IncomingMessage; req: http.ClientRequest; first: Buffer }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      res.once('data', (first: Buffer) => {
        res.pause();
        resolve({ res, req, first });
      });
      res.once('error', () => undefined);
    });
    req.end();
  });
}

describe('transcoding and profiles (real ffmpeg)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  const tracks = new Map<string, TrackJson>();

  const resources = async (id: string, headers: Record<string, string>): Promise<{ profile: { id: string }; resources: ResourceJson[] }> => {
    const r = await rawRequest(d.url, { path: `/api/v1/tracks/${id}/resources`, headers });
    assert.equal(r.status, 200, r.body.toString());
    return JSON.parse(r.body.toString()) as { profile: { id: string }; resources: ResourceJson[] };
  };
  const pathOf = (uri: string) => new URL(uri).pathname;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'hifid-transcode-'));
    // A FLAC with an embedded cover (none of the fixtures has one), for export.
    const coverFlac = path.join(scratch, 'cover.flac');
    execFileSync('ffmpeg', ['-v', 'error', '-i', fixturePath('tone.flac'), '-i', fixturePath('cover.jpg'), '-map', '0:a', '-map', '1:v', '-c', 'copy', '-disposition:v', 'attached_pic', '-metadata', 'title=Covered', coverFlac]);
    // 120 s, so a transcode outlives the moment a test hangs up on it.
    const long = path.join(scratch, 'long.flac');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'aevalsrc=0.01*sin(2*PI*440*t):s=44100:d=120:c=stereo', '-c:a', 'flac', '-sample_fmt', 's16', '-metadata', 'title=Long', long]);
    d = await TestDaemon.start();
    await d.idle();
    for (const [name, bytes] of [['hires.flac', fixture('hires.flac')], ['tone.opus', fixture('tone.opus')], ['tone.flac', fixture('tone.flac')], ['art.mp3', fixture('art.mp3')], ['cover.flac', readFileSync(coverFlac)], ['long.flac', readFileSync(long)]] as const) {
      const r = await pushFile(d.url, name, bytes);
      assert.equal(r.status, 201, `${name}: ${JSON.stringify(r.body)}`);
      tracks.set(name, r.body.track as TrackJson);
    }
  });

  after(async () => {
    await d?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('lists the profiles', async () => {
    const r = await getJson(`${d.url}/api/v1/profiles`);
    assert.equal(r.status, 200);
    const items = r.body.items as Array<{ id: string; name: string; kind: string; plays: unknown[]; targets: string[]; default: boolean }>;
    const byId = new Map(items.map((p) => [p.id, p]));
    for (const id of ['generic', 'ps3', 'vlc', 'walkman', 'walkman-hires', 'phone', 'pc']) assert.ok(byId.has(id), id);
    assert.equal(byId.get('ps3')!.kind, 'renderer');
    assert.equal(byId.get('walkman')!.kind, 'export');
    assert.deepEqual(byId.get('ps3')!.targets, ['wav-16-44100', 'mp3-320']);
    assert.equal(byId.get('generic')!.default, true);
  });

  for (const name of ['hires.flac', 'tone.opus']) {
    it(`gives a PlayStation 3 a playable ${name}: WAV it decodes, the right length`, async () => {
      const t = tracks.get(name)!;
      const { profile, resources: res } = await resources(t.id, PS3);
      assert.equal(profile.id, 'ps3');
      assert.ok(!res.some((r) => r.mime === 'audio/flac' || r.mime === 'audio/ogg'), 'never only the original');
      const [r] = res;
      assert.equal(r!.mime, 'audio/wav');
      assert.match(r!.protocolInfo, /DLNA\.ORG_OP=10;DLNA\.ORG_CI=1/);
      const got = await rawRequest(d.url, { path: pathOf(r!.uri), headers: { ...PS3, 'getcontentFeatures.dlna.org': '1', 'transferMode.dlna.org': 'Streaming' } });
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-type'], 'audio/wav');
      assert.equal(got.headers['contentfeatures.dlna.org'], r!.contentFeatures);
      assert.equal(got.headers['transfermode.dlna.org'], 'Streaming');
      assert.equal(Number(got.headers['content-length']), got.body.length, 'exact length (estimateContentLength)');
      assert.equal(got.body.length, r!.size);
      const f = save(`ps3-${name}.wav`, got.body);
      const p = ffprobe(f);
      const a = p.streams.find((s) => s.codec_type === 'audio')!;
      assert.equal(a.codec_name, 'pcm_s16le');
      assert.equal(a.sample_rate, '44100');
      const secs = decodedSeconds(f);
      assert.ok(Math.abs(secs - t.durationMs / 1000) <= 0.2, `decoded ${secs} s of ${t.durationMs / 1000} s`);
    });
  }

  it('gives Windows Media Player MP3 320 for Opus, decodable and of the right length', async () => {
    const t = tracks.get('tone.opus')!;
    const { resources: res } = await resources(t.id, WMP);
    assert.equal(res.length, 1);
    assert.match(res[0]!.protocolInfo, /^http-get:\*:audio\/mpeg:DLNA\.ORG_PN=MP3;DLNA\.ORG_OP=10;DLNA\.ORG_CI=1/);
    const got = await rawRequest(d.url, { path: pathOf(res[0]!.uri), headers: WMP });
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-length'], undefined, 'made on the fly: no length');
    const f = save('wmp.mp3', got.body);
    assert.equal(ffprobe(f).streams[0]!.codec_name, 'mp3');
    const secs = decodedSeconds(f);
    assert.ok(Math.abs(secs - t.durationMs / 1000) <= 0.2, `decoded ${secs} s`);
  });

  it('gives VLC the original file, untouched', async () => {
    const t = tracks.get('hires.flac')!;
    const { profile, resources: res } = await resources(t.id, VLC);
    assert.equal(profile.id, 'vlc');
    assert.equal(res.length, 1);
    assert.equal(res[0]!.target, null);
    assert.equal(res[0]!.mime, 'audio/flac');
    assert.equal(res[0]!.size, t.size);
    const got = await rawRequest(d.url, { path: pathOf(res[0]!.uri), headers: VLC });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, fixture('hires.flac'));
  });

  it('honours a DLNA time seek: npt=1.0- starts near 1 s', async () => {
    const t = tracks.get('hires.flac')!;
    const got = await rawRequest(d.url, { path: `/media/${t.id}/lpcm-16-44100.l16`, headers: { ...VLC, 'TimeSeekRange.dlna.org': 'npt=1.0-' } });
    assert.equal(got.status, 200);
    assert.equal(got.headers['timeseekrange.dlna.org'], `npt=1.000-3.000/3.000`);
    assert.equal(got.headers['content-type'], 'audio/L16;rate=44100;channels=2');
    const secs = decodedSeconds(save('seek.l16', got.body), ['-f', 's16be', '-ar', '44100', '-ac', '2']);
    assert.ok(Math.abs(secs - 2) <= 0.2, `decoded ${secs} s after seeking to 1 s of 3 s`);
    // H:MM:SS form with an end.
    const part = await rawRequest(d.url, { path: `/media/${t.id}/lpcm-16-44100.l16`, headers: { ...VLC, 'TimeSeekRange.dlna.org': 'npt=0:00:00.500-0:00:01.500' } });
    assert.equal(part.headers['timeseekrange.dlna.org'], 'npt=0.500-1.500/3.000');
    assert.ok(Math.abs(part.body.length / (44100 * 4) - 1) <= 0.05, `${part.body.length} bytes for 1 s`);
    const bad = await rawRequest(d.url, { path: `/media/${t.id}/lpcm-16-44100.l16`, headers: { 'TimeSeekRange.dlna.org': 'npt=9-' } });
    assert.equal(bad.status, 416);
    const garbled = await rawRequest(d.url, { path: `/media/${t.id}/lpcm-16-44100.l16`, headers: { 'TimeSeekRange.dlna.org': 'bytes=0-' } });
    assert.equal(garbled.status, 400);
  });

  it('kills ffmpeg when the client goes away: no orphan', async () => {
    const t = tracks.get('long.flac')!;
    const pid = d.proc.pid!;
    // Every ffmpeg child of the daemon must be accounted for: a running transcode or a spare
    // waiting (idle, started ahead for the next track).
    const accounted = async () => (await getJson(`${d.url}/api/v1/transcodes`)).body as { active: Array<{ pid: number; warm: boolean }>; spares: Array<{ pid: number }> };
    await until('no ffmpeg from the pushes', async () => {
      const s = await accounted();
      return s.active.length === 0 && ffmpegChildren(pid).every((c) => s.spares.some((x) => x.pid === c));
    });
    const { req, first } = await openStream(d.url, `/media/${t.id}/wav-16-44100.wav`, VLC);
    assert.equal(first.subarray(0, 4).toString('ascii'), 'RIFF');
    const during = await accounted();
    assert.equal(during.active.length, 1, 'ffmpeg runs while the stream is open');
    assert.ok(ffmpegChildren(pid).includes(during.active[0]!.pid));
    req.destroy();
    await until('the transcode gone after the disconnect, no unaccounted ffmpeg', async () => {
      const s = await accounted();
      const children = ffmpegChildren(pid);
      return s.active.length === 0 && !children.includes(during.active[0]!.pid) && children.every((c) => s.spares.some((x) => x.pid === c));
    }, 3000);
    // Nothing half-written stays in the cache.
    const cached = readdirSync(path.join(d.dataDir, 'state', 'transcode-cache'));
    assert.ok(!cached.some((f) => f.includes('wav-16-44100') && f.startsWith(t.id)), cached.join(','));
  });

  it('starts the next transcode of the same kind on a spare ffmpeg, with the same result', async () => {
    const t = tracks.get('tone.flac')!;
    const p = `/media/${t.id}/lpcm-16-48000.l16`;
    const a = await rawRequest(d.url, { path: p, headers: VLC });
    await until('a spare for lpcm-16-48000', async () => ((await getJson(`${d.url}/api/v1/transcodes`)).body.spares as Array<{ target: string }>).some((s) => s.target === 'lpcm-16-48000'));
    const before = d.logs.length;
    const b = await rawRequest(d.url, { path: `/media/${tracks.get('hires.flac')!.id}/lpcm-16-48000.l16`, headers: VLC });
    assert.equal(b.status, 200);
    const started = d.logs.slice(before).find((l) => l.msg === 'transcode started');
    assert.equal(started?.warm, true);
    assert.ok(Math.abs(b.body.length / (48000 * 4) - 3) < 0.05, `${b.body.length} bytes for 3 s`);
    assert.ok(Math.abs(a.body.length / (48000 * 4) - 2) < 0.05, `${a.body.length} bytes for 2 s`);
  });

  it('serves a transcode played through once from the cache: exact length, Range, byte seek', async () => {
    const t = tracks.get('tone.flac')!;
    const p = `/media/${t.id}/mp3-320.mp3`;
    const first = await rawRequest(d.url, { path: p, headers: VLC });
    assert.equal(first.status, 200);
    assert.equal(first.headers['accept-ranges'], 'none');
    const second = await until('a cached copy', async () => {
      const r = await rawRequest(d.url, { path: p, headers: VLC });
      return r.headers['content-length'] ? r : null;
    });
    assert.equal(Number(second.headers['content-length']), first.body.length);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers['accept-ranges'], 'bytes');
    assert.match(String(second.headers['contentfeatures.dlna.org']), /DLNA\.ORG_PN=MP3;DLNA\.ORG_OP=01;DLNA\.ORG_CI=1/);
    const part = await rawRequest(d.url, { path: p, headers: { ...VLC, Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${first.body.length}`);
    assert.deepEqual(part.body, first.body.subarray(100, 200));
    // And the res now says so (a Windows Media Player gets exactly this transcode for a FLAC).
    const { resources: res } = await resources(t.id, WMP);
    assert.equal(res[0]!.size, first.body.length);
    assert.match(res[0]!.protocolInfo, /DLNA\.ORG_OP=01/);
  });

  it('caches a WAV with its real sizes in the header', async () => {
    const t = tracks.get('tone.opus')!;
    const p = `/media/${t.id}/wav-16-48000.wav`;
    await rawRequest(d.url, { path: p, headers: VLC });
    const cached = await until('a cached WAV', async () => {
      const r = await rawRequest(d.url, { path: p, headers: VLC });
      return r.headers['content-length'] ? r : null;
    });
    assert.equal(cached.body.readUInt32LE(4), cached.body.length - 8);
    assert.equal(cached.body.readUInt32LE(40), cached.body.length - 44);
  });

  it('exports in a profile\'s format with tags and cover kept, named from the tags', async () => {
    const t = tracks.get('cover.flac')!;
    const r = await rawRequest(d.url, { path: `/api/v1/tracks/${t.id}/download?profile=walkman` });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'audio/mpeg');
    assert.equal(r.headers['content-disposition'], `attachment; filename="04 Covered.mp3"; filename*=UTF-8''04%20Covered.mp3`);
    assert.equal(Number(r.headers['content-length']), r.body.length);
    const p = ffprobe(save('export.mp3', r.body));
    assert.equal(p.streams.find((s) => s.codec_type === 'audio')!.codec_name, 'mp3');
    const tags = lowerTags(p);
    assert.equal(tags.title, 'Covered');
    assert.equal(tags.artist, 'Test Artist');
    assert.equal(tags.album, 'Test Album');
    assert.match(tags.track ?? '', /^4(\/12)?$/);
    assert.ok(p.streams.some((s) => s.codec_type === 'video' && s.disposition?.attached_pic === 1), 'cover kept as an attached picture');
    // The second download comes from the cache, byte for byte.
    const again = await rawRequest(d.url, { path: `/api/v1/tracks/${t.id}/download?profile=walkman` });
    assert.deepEqual(again.body, r.body);
  });

  it('exports AAC in .m4a for a phone, tags kept', async () => {
    const t = tracks.get('tone.flac')!;
    const r = await rawRequest(d.url, { path: `/api/v1/tracks/${t.id}/download?profile=phone` });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'audio/mp4');
    assert.match(String(r.headers['content-disposition']), /filename\*=UTF-8''04%20Tone%204\.m4a$/);
    const p = ffprobe(save('export.m4a', r.body));
    assert.equal(p.streams[0]!.codec_name, 'aac');
    assert.equal(lowerTags(p).title, 'Tone 4');
  });

  it('exports a file the profile plays as the original bytes, cover and all', async () => {
    const t = tracks.get('art.mp3')!;
    const r = await rawRequest(d.url, { path: `/api/v1/tracks/${t.id}/download?profile=walkman` });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, fixture('art.mp3'));
    assert.match(String(r.headers['content-disposition']), /filename="12 Tone 12\.mp3"/);
    assert.ok(ffprobe(save('art-export.mp3', r.body)).streams.some((s) => s.disposition?.attached_pic === 1));
    const pc = await rawRequest(d.url, { path: `/api/v1/tracks/${tracks.get('hires.flac')!.id}/download?profile=pc` });
    assert.deepEqual(pc.body, fixture('hires.flac'));
    const unknown = await rawRequest(d.url, { path: `/api/v1/tracks/${t.id}/download?profile=zune` });
    assert.equal(unknown.status, 400);
  });

  it('answers HEAD with the DLNA headers and the exact length, without starting ffmpeg', async () => {
    const t = tracks.get('cover.flac')!; // never streamed before: not in the cache
    const before = d.logs.length;
    const r = await rawRequest(d.url, { method: 'HEAD', path: `/media/${t.id}/wav-16-44100.wav`, headers: { ...PS3, 'getcontentFeatures.dlna.org': '1' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], String(44 + 2 * 44100 * 4));
    assert.match(String(r.headers['contentfeatures.dlna.org']), /DLNA\.ORG_OP=10;DLNA\.ORG_CI=1/);
    assert.ok(!d.logs.slice(before).some((l) => l.msg === 'transcode started'));
    assert.equal((await rawRequest(d.url, { path: `/media/${t.id}/wav-16-44100.wav`, headers: { 'getcontentFeatures.dlna.org': '0' } })).status, 400);
  });

  it('refuses unknown targets and wrong extensions', async () => {
    const t = tracks.get('tone.flac')!;
    assert.equal((await rawRequest(d.url, { path: `/media/${t.id}/ogg-9.ogg` })).status, 404);
    assert.equal((await rawRequest(d.url, { path: `/media/${t.id}/mp3-320.wav` })).status, 404);
    assert.equal((await rawRequest(d.url, { path: `/media/ffffffffffffffff/mp3-320.mp3` })).status, 404);
    assert.equal((await rawRequest(d.url, { path: `/media/${t.id}/mp3-320.mp3`, headers: { 'transferMode.dlna.org': 'Interactive' } })).status, 406);
  });
});

describe('transcoding limits and failures', function () {
  this.timeout(60_000);

  it('runs at most --max-transcodes ffmpegs; the next request waits, then gets 503 with Retry-After', async () => {
    const d = await TestDaemon.start({ args: ['--max-transcodes', '1'] });
    const scratchDir = mkdtempSync(path.join(tmpdir(), 'hifid-limit-'));
    try {
      await d.idle();
      const long = path.join(scratchDir, 'long.flac');
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'aevalsrc=0.01*sin(2*PI*440*t):s=44100:d=120:c=stereo', '-c:a', 'flac', '-sample_fmt', 's16', long]);
      const pushed = await pushFile(d.url, 'long.flac', readFileSync(long));
      assert.equal(pushed.status, 201);
      const id = (pushed.body.track as TrackJson).id;
      await until('no ffmpeg from the push', () => ffmpegChildren(d.proc.pid!).length === 0);
      const held = await openStream(d.url, `/media/${id}/wav-16-44100.wav`, VLC);
      const t0 = Date.now();
      const second = await rawRequest(d.url, { path: `/media/${id}/wav-16-48000.wav`, headers: VLC });
      assert.equal(second.status, 503);
      assert.ok(Number(second.headers['retry-after']) >= 1);
      assert.ok(Date.now() - t0 >= 2500, 'waited for a free slot first');
      held.req.destroy();
      // The slot comes back: the next request is served.
      const third = await until('a free slot', async () => {
        const r = await rawRequest(d.url, { path: `/media/${id}/mp3-320.mp3`, headers: { ...VLC, 'TimeSeekRange.dlna.org': 'npt=119-' } });
        return r.status === 200 ? r : null;
      });
      assert.ok(third.body.length > 1000);
    } finally {
      await d.dispose();
      rmSync(scratchDir, { recursive: true, force: true });
    }
  });

  it('reports a broken user profile and skips it; the others still load', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-userprof-'));
    mkdirSync(path.join(dataDir, 'profiles'));
    writeFileSync(path.join(dataDir, 'profiles', 'broken.json'), JSON.stringify({ id: 'my-tv', name: 'My TV', plays: [{ codec: 'flak' }], targets: ['mp3-999'] }));
    writeFileSync(path.join(dataDir, 'profiles', 'amp.json'), JSON.stringify({ id: 'my-amp', name: 'My amp', match: [{ header: 'User-Agent', regex: '^MyAmp/' }], plays: [{ codec: 'mp3' }], targets: ['mp3-320'] }));
    const d = await TestDaemon.start({ dataDir });
    try {
      const log = await d.waitForLog('profile skipped: invalid');
      assert.match(String(log.file), /broken\.json$/);
      const problems = log.problems as string[];
      assert.ok(problems.some((p) => p.startsWith('plays[0].codec')) && problems.some((p) => p.startsWith('targets[0]')), JSON.stringify(problems));
      const ids = ((await getJson(`${d.url}/api/v1/profiles`)).body.items as Array<{ id: string }>).map((p) => p.id);
      assert.ok(!ids.includes('my-tv'));
      assert.equal(ids[0], 'my-amp');
      assert.ok(ids.includes('ps3') && ids.includes('generic'));
    } finally {
      await d.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('without ffmpeg: originals only, no transcoded res, one warning', async () => {
    const d = await TestDaemon.start({ args: ['--ffmpeg', '/nonexistent/ffmpeg'] });
    try {
      await d.idle();
      const warnings = d.logs.filter((l) => typeof l.msg === 'string' && /ffmpeg not found/.test(l.msg as string));
      assert.equal(warnings.length, 1);
      const pushed = await pushFile(d.url, 'hires.flac', fixture('hires.flac'));
      assert.equal(pushed.status, 201);
      const id = (pushed.body.track as TrackJson).id;
      const r = await rawRequest(d.url, { path: `/api/v1/tracks/${id}/resources`, headers: PS3 });
      const body = JSON.parse(r.body.toString()) as { resources: ResourceJson[] };
      assert.deepEqual(body.resources.map((x) => x.mime), ['audio/flac']);
      assert.equal((await rawRequest(d.url, { path: `/media/${id}/wav-16-44100.wav`, headers: PS3 })).status, 503);
      const dl = await rawRequest(d.url, { path: `/api/v1/tracks/${id}/download?profile=walkman` });
      assert.deepEqual(dl.body, fixture('hires.flac'), 'the original, as nothing else can be made');
    } finally {
      await d.dispose();
    }
  });
});
