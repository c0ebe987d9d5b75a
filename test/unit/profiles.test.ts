// Profiles: the shipped files are valid and recognise the devices they were written from; the
// validator reports every problem; matching, the per-address memory, user overrides and decide().
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { QUIRKS, ProfileSet, decide, loadProfileDir, loadProfiles, matchProfile, validateProfile, type Profile, type TrackAudio } from '../../daemon/profiles.js';

const SHIPPED = path.join(REPO_ROOT, 'profiles');

const FLAC_24_96: TrackAudio = { codec: 'flac', mime: 'audio/flac', sampleRate: 96000, bitsPerSample: 24, channels: 2, bitrate: 2_500_000 };
const FLAC_16_44: TrackAudio = { codec: 'flac', mime: 'audio/flac', sampleRate: 44100, bitsPerSample: 16, channels: 2, bitrate: 900_000 };
const OPUS: TrackAudio = { codec: 'opus', mime: 'audio/ogg', sampleRate: 48000, bitsPerSample: null, channels: 2, bitrate: 64_000 };
const MP3: TrackAudio = { codec: 'mp3', mime: 'audio/mpeg', sampleRate: 44100, bitsPerSample: null, channels: 2, bitrate: 128_000 };

function profileFrom(raw: Record<string, unknown>): Profile {
  const r = validateProfile({ name: 'Test', targets: [], plays: [{ codec: '*' }], ...raw }, 'test.json');
  assert.deepEqual(r.errors, []);
  return r.profile!;
}

describe('profiles', () => {
  let set: ProfileSet;
  let shipped: Profile[];

  before(async () => {
    const dir = await loadProfileDir(SHIPPED, false);
    // A broken shipped profile is a bug: fail here, naming file and key.
    assert.deepEqual(dir.errors, [], JSON.stringify(dir.errors, null, 2));
    shipped = dir.profiles;
    set = new ProfileSet(shipped);
  });

  describe('shipped files', () => {
    it('are all valid, one profile per file, ids unique', () => {
      const files = readdirSync(SHIPPED).filter((f) => f.endsWith('.json'));
      assert.equal(shipped.length, files.length);
      assert.equal(new Set(shipped.map((p) => p.id)).size, shipped.length);
    });

    it('include every family the issue names', () => {
      const renderers = ['generic', 'vlc', 'kodi', 'bubbleupnp', 'foobar2000', 'windows-media-player', 'ps3', 'sony-bravia', 'sony-audio', 'samsung-tv', 'lg-tv', 'yamaha-musiccast', 'denon-marantz-heos'];
      for (const id of renderers) assert.equal(set.get(id)?.kind, 'renderer', id);
      for (const id of ['walkman', 'walkman-hires', 'phone', 'pc']) assert.equal(set.get(id)?.kind, 'export', id);
      assert.equal(set.generic.id, 'generic');
    });

    it('recognise every recorded client as their own profile, and no earlier one claims it', () => {
      let checked = 0;
      for (const p of shipped) {
        if (p.kind !== 'renderer' || p.id === 'generic') continue;
        assert.ok(p.seen.length > 0, `${p.id}: no headers.seen recorded`);
        for (const s of p.seen) {
          const got = set.match({ headers: s.headers, device: s.device ?? null });
          assert.equal(got.id, p.id, `${path.basename(p.file)}: ${JSON.stringify(s)} matched ${got.id}`);
          checked++;
        }
      }
      assert.ok(checked >= 30, `only ${checked} recorded clients`);
    });

    it('say where their facts come from', () => {
      for (const p of shipped) assert.ok(p.sources.length > 0, `${p.id}: no sources`);
    });

    it('document every quirk flag in profiles/README.md, and only those', () => {
      const readme = readFileSync(path.join(SHIPPED, 'README.md'), 'utf8');
      const table = [...readme.matchAll(/^\| `([a-zA-Z]+)` \| (?:HTTP|DIDL|ContentDirectory)/gm)].map((m) => m[1]);
      assert.deepEqual([...table].sort(), Object.keys(QUIRKS).sort());
      for (const p of shipped) for (const q of p.quirks) assert.ok(q in QUIRKS);
    });
  });

  describe('matching', () => {
    it('knows a PlayStation 3 by X-AV-Client-Info or by User-Agent alone', () => {
      const xav = 'av=5.0; cn="Sony Computer Entertainment Inc."; mn="PLAYSTATION 3"; mv="1.0";';
      assert.equal(set.match({ headers: { 'user-agent': 'UPnP/1.0 DLNADOC/1.50', 'x-av-client-info': xav } }).id, 'ps3');
      assert.equal(set.match({ headers: { 'User-Agent': 'PLAYSTATION 3' } }).id, 'ps3');
    });

    it('falls back to the generic profile', () => {
      assert.equal(set.match({ headers: { 'user-agent': 'curl/8.0' } }).id, 'generic');
      assert.equal(set.match({ headers: {} }).id, 'generic');
    });

    it('matches device description fields', () => {
      assert.equal(set.match({ headers: {}, device: { manufacturer: 'Yamaha Corporation', modelName: 'R-N803D' } }).id, 'yamaha-musiccast');
    });

    it('matchProfile is the same first-match rule as a pure function', () => {
      assert.equal(matchProfile(shipped, { headers: { 'user-agent': 'VLC/3.0.20 LibVLC/3.0.20' } }, set.generic).id, 'vlc');
      assert.equal(matchProfile(shipped, { headers: { 'user-agent': 'x' } }, set.generic).id, 'generic');
    });

    it('remembers a recognised client by address for its unrecognisable requests', () => {
      const s = new ProfileSet(shipped);
      assert.equal(s.forClient('10.0.0.5', { headers: { 'user-agent': 'DLNADOC/1.50 SEC_HHP_[TV] Samsung Q70 Series/1.0 UPnP/1.0' } }).id, 'samsung-tv');
      assert.equal(s.forClient('10.0.0.5', { headers: { 'user-agent': 'Mozilla/4.0 (compatible)' } }).id, 'samsung-tv');
      assert.equal(s.forClient('10.0.0.6', { headers: { 'user-agent': 'Mozilla/4.0 (compatible)' } }).id, 'generic');
      // A new specific match replaces the old one.
      assert.equal(s.forClient('10.0.0.5', { headers: { 'user-agent': 'VLC/3.0.20 LibVLC/3.0.20' } }).id, 'vlc');
      assert.equal(s.forClient('10.0.0.5', { headers: {} }).id, 'vlc');
    });

    it('learns a client from its device description', () => {
      const s = new ProfileSet(shipped);
      assert.equal(s.rememberDevice('10.0.0.9', { friendlyName: 'x4200w', manufacturer: 'DENON', modelName: 'AVR-X4200W' }).id, 'denon-marantz-heos');
      assert.equal(s.forClient('10.0.0.9', { headers: { 'user-agent': 'Mozilla/4.0 (compatible)' } }).id, 'denon-marantz-heos');
    });

    it('keeps at most 256 addresses', () => {
      const s = new ProfileSet(shipped);
      for (let i = 0; i < 300; i++) s.forClient(`10.1.${i >> 8}.${i & 255}`, { headers: { 'user-agent': 'PLAYSTATION 3' } });
      assert.equal(s.forClient('10.1.0.0', { headers: {} }).id, 'generic', 'the oldest address was forgotten');
      assert.equal(s.forClient('10.1.1.43', { headers: {} }).id, 'ps3');
    });
  });

  describe('validation', () => {
    it('reports every problem at once, each naming its key', () => {
      const r = validateProfile(
        {
          id: 'Bad Id',
          name: '',
          kind: 'speaker',
          match: [{ header: 'User-Agent', regex: '([' }, { regex: 'x' }],
          plays: [{ codec: 'flak', maxSampleRate: -1 }, { codec: 'mp3', mime: 'audio mpeg' }],
          targets: ['mp3-999'],
          quirks: ['lpcmAsWAV'],
          headers: { seen: [{ headers: { 'User-Agent': 1 } }] },
          colour: 'red',
        },
        'bad.json',
      );
      assert.equal(r.profile, null);
      const keys = r.errors.map((e) => e.split(':')[0]);
      for (const k of ['colour', 'id', 'name', 'kind', 'match[0].regex', 'match[1]', 'plays[0].codec', 'plays[0].maxSampleRate', 'plays[1].mime', 'targets[0]', 'quirks[0]', 'headers.seen[0].headers', 'headers.seen[0].source']) {
        assert.ok(keys.includes(k), `no error for ${k} in ${JSON.stringify(r.errors, null, 1)}`);
      }
      assert.ok(r.errors.some((e) => e.includes('did you mean "lpcmAsWav"')), 'suggests the near quirk name');
    });

    it('refuses match rules on export profiles and non-objects', () => {
      assert.ok(validateProfile({ id: 'x', name: 'X', kind: 'export', plays: [{ codec: '*' }], targets: [], match: [{ header: 'User-Agent', regex: 'x' }] }, 'f').errors.some((e) => e.startsWith('match:')));
      assert.deepEqual(validateProfile([], 'f').errors, ['expected a JSON object']);
    });
  });

  describe('user profiles', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'hifid-profiles-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('replace a shipped profile by id in its place, go first with a new id, and a broken one is skipped with its errors', async () => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'ps3.json'), JSON.stringify({ id: 'ps3', name: 'My PS3', match: [{ header: 'User-Agent', regex: 'PLAYSTATION 3' }], plays: [{ codec: 'mp3' }], targets: ['mp3-320'] }));
      writeFileSync(path.join(dir, 'mine.json'), JSON.stringify({ id: 'my-amp', name: 'My amp', match: [{ header: 'User-Agent', regex: 'Kodi' }], plays: [{ codec: '*' }], targets: [] }));
      writeFileSync(path.join(dir, 'broken.json'), JSON.stringify({ id: 'broken', plays: [], targets: ['nope'] }));
      writeFileSync(path.join(dir, 'notjson.json'), '{ "id": ');
      const { profiles, errors } = await loadProfiles({ shipped: SHIPPED, user: dir });
      assert.equal(profiles.get('ps3')!.name, 'My PS3');
      assert.equal(profiles.all.findIndex((p) => p.id === 'ps3'), shipped.findIndex((p) => p.id === 'ps3') + 1, 'in the shipped place, after the new user profile');
      assert.equal(profiles.all[0]!.id, 'my-amp');
      assert.equal(profiles.match({ headers: { 'user-agent': 'UPnP/1.0 DLNADOC/1.50 Kodi' } }).id, 'my-amp', 'a user profile is tried before the shipped ones');
      assert.equal(profiles.get('broken'), undefined);
      assert.equal(errors.length, 2);
      const broken = errors.find((e) => e.file.endsWith('broken.json'))!;
      assert.equal(broken.user, true);
      assert.ok(broken.problems.length >= 3, JSON.stringify(broken.problems));
      assert.ok(errors.find((e) => e.file.endsWith('notjson.json'))!.problems[0]!.startsWith('not valid JSON'));
    });
  });

  describe('decide', () => {
    it('gives VLC and foobar2000 the original, whatever it is', () => {
      for (const id of ['vlc', 'foobar2000', 'kodi']) {
        assert.deepEqual(decide(FLAC_24_96, set.get(id)!), { original: true, originalMime: 'audio/flac', target: null });
        assert.deepEqual(decide(OPUS, set.get(id)!), { original: true, originalMime: 'audio/ogg', target: null });
      }
    });

    it('gives a PlayStation 3 WAV instead of FLAC or Opus, and its MP3 as it is', () => {
      assert.deepEqual(decide(FLAC_24_96, set.get('ps3')!), { original: false, originalMime: 'audio/flac', target: 'wav-16-44100' });
      assert.deepEqual(decide(OPUS, set.get('ps3')!), { original: false, originalMime: 'audio/ogg', target: 'wav-16-44100' });
      assert.equal(decide(MP3, set.get('ps3')!).original, true);
    });

    it('transcodes FLAC 24/96 for a FLAC ≤ 16/48 device, skipping a FLAC target it would not play either', () => {
      const p = profileFrom({ id: 'small', plays: [{ codec: 'flac', maxSampleRate: 48000, maxBitsPerSample: 16 }, { codec: 'pcm', mime: 'audio/L16' }], targets: ['flac-24-96', 'lpcm-16-48000'] });
      assert.deepEqual(decide(FLAC_24_96, p), { original: false, originalMime: 'audio/flac', target: 'lpcm-16-48000' });
      assert.deepEqual(decide(FLAC_16_44, p), { original: true, originalMime: 'audio/flac', target: null });
      // 192 kHz to a 96 kHz FLAC device: the FLAC target halves the rate, and fits.
      const q = profileFrom({ id: 'mid', plays: [{ codec: 'flac', maxSampleRate: 96000, maxBitsPerSample: 24 }], targets: ['flac-24-96'] });
      assert.equal(decide({ ...FLAC_24_96, sampleRate: 192000 }, q).target, 'flac-24-96');
    });

    it('honours channel limits', () => {
      const p = profileFrom({ id: 'stereo', plays: [{ codec: 'flac', maxChannels: 2 }], targets: ['mp3-320'] });
      assert.equal(decide({ ...FLAC_16_44, channels: 6 }, p).target, 'mp3-320');
    });

    it('offers unknown renderers the original and, for formats without a DLNA profile, LPCM after it', () => {
      const g = set.generic;
      assert.deepEqual(decide(FLAC_16_44, g), { original: true, originalMime: 'audio/flac', target: 'lpcm-16-44100' });
      assert.deepEqual(decide(MP3, g), { original: true, originalMime: 'audio/mpeg', target: null });
    });

    it('names FLAC as a Samsung TV wants it', () => {
      assert.equal(decide(FLAC_16_44, set.get('samsung-tv')!).originalMime, 'audio/x-flac');
    });

    it('exports lossy sources to a lossy target even where a lossless one comes first', () => {
      assert.equal(decide(OPUS, set.get('walkman-hires')!).target, 'mp3-320');
      assert.equal(decide({ ...FLAC_24_96, sampleRate: 192000 }, set.get('walkman-hires')!).target, 'flac-24-96');
      assert.equal(decide(FLAC_16_44, set.get('phone')!).target, 'aac-256');
      assert.deepEqual(decide(OPUS, set.get('pc')!), { original: true, originalMime: 'audio/ogg', target: null });
    });
  });
});
