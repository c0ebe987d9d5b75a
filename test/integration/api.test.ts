// The JSON API and streaming as a phone app or a player sees them, against one real daemon.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, makeWav } from '../helpers/fixtures.js';
import { getJson, pushFile, rawRequest, type TrackJson } from '../helpers/api.js';

import type { AlbumJson } from '../../daemon/http/api.js';

function assertErrorShape(body: unknown, code: string): void {
  assert.ok(body && typeof body === 'object', JSON.stringify(body));
  const e = (body as { error?: { code?: unknown; message?: unknown } }).error;
  assert.ok(e, JSON.stringify(body));
  assert.equal(e.code, code);
  assert.equal(typeof e.message, 'string');
  assert.ok((e.message as string).length > 0);
  assert.deepEqual(Object.keys(body as object), ['error']);
}

describe('JSON API and streaming', function () {
  let d: TestDaemon;
  let api: string;
  /** Pushed tracks by fixture name. */
  const pushed = new Map<string, TrackJson>();

  // The tone fixtures are tracks N/12 of "Test Album" (disc 1 of 2): pushed out of order on purpose.
  const albumFixtures = ['art.mp3', 'tone.flac', 'tone.mp3', 'tone.ogg', 'tone-v23.mp3', 'tone.m4a'];
  const wavs: Array<[string, { title: string; artist: string; album: string }]> = [
    ['joga.wav', { title: 'Jóga', artist: 'Björk', album: 'Homogenic' }],
    ['hunter.wav', { title: 'Hunter', artist: 'Björk', album: 'Homogenic' }],
    ['teardrop.wav', { title: 'Teardrop', artist: 'Massive Attack', album: 'Mezzanine' }],
  ];

  before(async () => {
    d = await TestDaemon.start();
    api = `${d.url}/api/v1`;
    await d.idle();
    for (const name of albumFixtures) {
      const r = await pushFile(d.url, name, fixture(name));
      assert.equal(r.status, 201, `${name}: ${JSON.stringify(r.body)}`);
      pushed.set(name, r.body.track);
    }
    let seed = 500;
    for (const [name, tags] of wavs) {
      const r = await pushFile(d.url, name, makeWav(seed++, tags));
      assert.equal(r.status, 201, `${name}: ${JSON.stringify(r.body)}`);
      pushed.set(name, r.body.track);
    }
  });
  after(async () => d?.dispose());

  const total = () => albumFixtures.length + wavs.length;
  const list = async (query: string) => {
    const r = await getJson(`${api}/tracks${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { total: number; offset: number; items: TrackJson[] };
  };
  const titles = (items: TrackJson[]) => items.map((t) => t.title);

  describe('GET /tracks', () => {
    it('lists every track in album order: album artist, album, disc, track', async () => {
      const page = await list('');
      assert.equal(page.total, total());
      assert.equal(page.offset, 0);
      assert.deepEqual(titles(page.items), ['Hunter', 'Jóga', 'Teardrop', 'Tone 1', 'Tone 2', 'Tone 4', 'Tone 6', 'Tone 8', 'Tone 12']);
    });

    it('shows public fields only, never server paths', async () => {
      const t = (await list('?q=tone%2012')).items[0]!;
      assert.equal(t.title, 'Tone 12');
      assert.equal(t.hasArt, true);
      for (const k of ['root', 'mtimeMs', 'folderArt']) assert.ok(!(k in t), `${k} leaked`);
      assert.ok(!t.path.startsWith('/'), t.path);
      assert.ok(!JSON.stringify(t).includes(d.dataDir), 'no data dir in the JSON');
    });

    it('pages with offset and limit, reporting the total on every page', async () => {
      const all = titles((await list('')).items);
      const pages = await Promise.all([0, 4, 8].map((o) => list(`?offset=${o}&limit=4`)));
      assert.deepEqual(pages.map((p) => [p.total, p.offset, p.items.length]), [
        [total(), 0, 4],
        [total(), 4, 4],
        [total(), 8, 1],
      ]);
      assert.deepEqual(pages.flatMap((p) => titles(p.items)), all);
      const past = await list('?offset=100');
      assert.deepEqual([past.total, past.items.length], [total(), 0]);
    });

    it('searches with q, ignoring case and accents', async () => {
      assert.deepEqual(titles((await list('?q=joga')).items), ['Jóga']);
      assert.deepEqual(titles((await list(`?q=${encodeURIComponent('BJÖRK')}`)).items), ['Hunter', 'Jóga']);
      assert.deepEqual(titles((await list('?q=mezzanine')).items), ['Teardrop']);
      assert.equal((await list('?q=zzzz')).total, 0);
    });

    it('filters by artist, album and genre', async () => {
      assert.deepEqual(titles((await list('?artist=bjork')).items), ['Hunter', 'Jóga']);
      assert.equal((await list(`?artist=${encodeURIComponent('Test Artist')}`)).total, albumFixtures.length);
      assert.deepEqual(titles((await list('?album=Homogenic')).items), ['Hunter', 'Jóga']);
      assert.equal((await list('?genre=electronic')).total, albumFixtures.length);
      assert.equal((await list('?genre=Jazz')).total, 0);
      assert.deepEqual(titles((await list('?artist=bjork&q=hunt')).items), ['Hunter']);
    });

    it('sorts by a key, and reversed with "-"', async () => {
      const byTitle = titles((await list('?sort=title')).items);
      assert.deepEqual(byTitle, ['Hunter', 'Jóga', 'Teardrop', 'Tone 1', 'Tone 12', 'Tone 2', 'Tone 4', 'Tone 6', 'Tone 8']);
      assert.deepEqual(titles((await list('?sort=-title')).items), [...byTitle].reverse());
      const byArtist = (await list('?sort=artist')).items.map((t) => t.artist);
      assert.deepEqual(byArtist.slice(0, 3), ['Björk', 'Björk', 'Massive Attack']);
      const added = (await list('?sort=-added')).items;
      assert.equal(added[0]!.title, 'Teardrop', 'the newest push first');
    });

    const bad = ['sort=bogus', 'sort=-', 'sort=title&sort=artist', 'limit=-1', 'limit=abc', 'limit=1.5', 'offset=x', 'q=a&q=b'];
    for (const query of bad) {
      it(`answers ?${query} with 400 bad_parameter`, async () => {
        const r = await getJson(`${api}/tracks?${query}`);
        assert.equal(r.status, 400);
        assert.match(r.headers.get('content-type') ?? '', /application\/json/);
        assertErrorShape(r.body, 'bad_parameter');
      });
    }
  });

  describe('GET /tracks/:id', () => {
    it('answers one track', async () => {
      const t = pushed.get('tone.flac')!;
      const r = await getJson(`${api}/tracks/${t.id}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, t);
    });

    it('answers an unknown id with 404 and a JSON error', async () => {
      const r = await getJson(`${api}/tracks/0000000000000000`);
      assert.equal(r.status, 404);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      assertErrorShape(r.body, 'not_found');
    });

    it('answers an unknown API path with the same JSON error shape', async () => {
      const r = await getJson(`${api}/nothing-here`);
      assert.equal(r.status, 404);
      assertErrorShape(r.body, 'not_found');
    });
  });

  describe('stream', () => {
    let t: TrackJson;
    let bytes: Buffer;
    let url: string;
    before(() => {
      t = pushed.get('tone.flac')!;
      bytes = fixture('tone.flac');
      url = `${api}/tracks/${t.id}/stream`;
    });

    it('serves the whole file with type, length, ranges, ETag and Last-Modified', async () => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'audio/flac');
      assert.equal(res.headers.get('content-length'), String(bytes.length));
      assert.equal(res.headers.get('accept-ranges'), 'bytes');
      assert.equal(res.headers.get('etag'), `"${t.sha256!.slice(0, 32)}"`);
      const mtime = statSync(path.join(d.dataDir, 'music', t.path)).mtime;
      assert.equal(res.headers.get('last-modified'), new Date(Math.floor(mtime.getTime() / 1000) * 1000).toUTCString());
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
    });

    it('serves the type of each format', async () => {
      for (const [name, mime] of [['tone.mp3', 'audio/mpeg'], ['tone.m4a', 'audio/mp4'], ['tone.ogg', 'audio/ogg'], ['joga.wav', 'audio/wav']] as const) {
        const res = await fetch(`${api}/tracks/${pushed.get(name)!.id}/stream`);
        assert.equal(res.headers.get('content-type'), mime, name);
        await res.arrayBuffer();
      }
    });

    it('answers bytes=10-19 with 206, Content-Range and exactly those bytes', async () => {
      const res = await fetch(url, { headers: { Range: 'bytes=10-19' } });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes 10-19/${bytes.length}`);
      assert.equal(res.headers.get('content-length'), '10');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(10, 20));
    });

    it('answers a suffix range bytes=-100 with the last 100 bytes', async () => {
      const res = await fetch(url, { headers: { Range: 'bytes=-100' } });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes ${bytes.length - 100}-${bytes.length - 1}/${bytes.length}`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(bytes.length - 100));
    });

    it('answers an open range from the middle to the end', async () => {
      const res = await fetch(url, { headers: { Range: `bytes=${bytes.length - 5}-` } });
      assert.equal(res.status, 206);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(bytes.length - 5));
    });

    it('answers a range past the end with 416 and Content-Range: bytes */size', async () => {
      const res = await fetch(url, { headers: { Range: 'bytes=999999999-' } });
      assert.equal(res.status, 416);
      assert.equal(res.headers.get('content-range'), `bytes */${bytes.length}`);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    });

    it('answers HEAD with the same headers and no body', async () => {
      const get = await fetch(url);
      await get.arrayBuffer();
      const head = await rawRequest(url, { method: 'HEAD', path: new URL(url).pathname });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      for (const h of ['content-type', 'content-length', 'accept-ranges', 'etag', 'last-modified']) {
        assert.equal(head.headers[h], get.headers.get(h), h);
      }
      const headRange = await rawRequest(url, { method: 'HEAD', path: new URL(url).pathname, headers: { Range: 'bytes=0-99' } });
      assert.equal(headRange.status, 206);
      assert.equal(headRange.headers['content-length'], '100');
      assert.equal(headRange.body.length, 0);
    });

    it('answers If-None-Match with the current ETag with 304 and no body', async () => {
      const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag')!;
      const res = await fetch(url, { headers: { 'If-None-Match': etag } });
      assert.equal(res.status, 304);
      assert.equal(res.headers.get('etag'), etag);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
      const list = await fetch(url, { headers: { 'If-None-Match': `"other", ${etag}` } });
      assert.equal(list.status, 304);
      const other = await fetch(url, { headers: { 'If-None-Match': '"something-else"' } });
      assert.equal(other.status, 200);
      assert.equal((await other.arrayBuffer()).byteLength, bytes.length);
    });

    it('answers If-Modified-Since (not older than the file) with 304', async () => {
      const lm = (await fetch(url, { method: 'HEAD' })).headers.get('last-modified')!;
      assert.equal((await fetch(url, { headers: { 'If-Modified-Since': lm } })).status, 304);
      const older = new Date(Date.parse(lm) - 3600_000).toUTCString();
      const res = await fetch(url, { headers: { 'If-Modified-Since': older } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    });

    it('sends the whole file when If-Range does not match', async () => {
      const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag')!;
      const fresh = await fetch(url, { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
      assert.equal(fresh.status, 206);
      await fresh.arrayBuffer();
      const stale = await fetch(url, { headers: { Range: 'bytes=0-9', 'If-Range': '"stale"' } });
      assert.equal(stale.status, 200);
      assert.equal((await stale.arrayBuffer()).byteLength, bytes.length);
    });

    it('answers a header with 500 ranges with the whole file (no many-range amplification)', async () => {
      const ranges = Array.from({ length: 500 }, (_, i) => `${i}-${i}`).join(',');
      const res = await fetch(url, { headers: { Range: `bytes=${ranges}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-range'), null);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
    });

    it('keeps the connection alive between requests (one socket for a player seeking twice)', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const sockets: Socket[] = [];
        const get = (range: string) =>
          new Promise<{ status: number; body: Buffer; reused: boolean }>((resolve, reject) => {
            const req = http.get(url, { agent, headers: { Range: range } }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), reused: req.reusedSocket }));
            });
            req.on('socket', (s) => sockets.push(s));
            req.on('error', reject);
          });
        const a = await get('bytes=0-99');
        const b = await get('bytes=100-199');
        assert.deepEqual([a.status, b.status], [206, 206]);
        assert.deepEqual(Buffer.concat([a.body, b.body]), bytes.subarray(0, 200));
        assert.equal(b.reused, true, 'the second request went over the first one\'s socket');
        assert.equal(sockets[0], sockets[1]);
      } finally {
        agent.destroy();
      }
    });

    it('answers a stream for an unknown track with 404', async () => {
      const res = await fetch(`${api}/tracks/ffffffffffffffff/stream`);
      assert.equal(res.status, 404);
      assertErrorShape(await res.json(), 'not_found');
    });
  });

  describe('art', () => {
    it('serves the embedded cover of art.mp3 as the exact JPEG', async () => {
      const t = pushed.get('art.mp3')!;
      assert.equal(t.hasArt, true);
      const res = await fetch(`${api}/tracks/${t.id}/art`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      const img = Buffer.from(await res.arrayBuffer());
      // make-fixtures.sh embeds cover.jpg unchanged (-c:v copy).
      assert.deepEqual(img, fixture('cover.jpg'));
      assert.equal(res.headers.get('content-length'), String(img.length));
    });

    it('answers a track without art with 404 no_art', async () => {
      const t = pushed.get('tone.flac')!;
      assert.equal(t.hasArt, false);
      const res = await fetch(`${api}/tracks/${t.id}/art`);
      assert.equal(res.status, 404);
      assertErrorShape(await res.json(), 'no_art');
    });
  });

  describe('artists and albums', () => {
    it('lists artists with track and album counts', async () => {
      const r = await getJson(`${api}/artists`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.items, [
        { name: 'Björk', trackCount: 2, albumCount: 1 },
        { name: 'Massive Attack', trackCount: 1, albumCount: 1 },
        { name: 'Test Artist', trackCount: albumFixtures.length, albumCount: 1 },
      ]);
      const aa = await getJson(`${api}/artists?kind=album`);
      assert.ok(aa.body.items.some((n: { name: string; trackCount: number }) => n.name === 'Test Album Artist' && n.trackCount === albumFixtures.length), JSON.stringify(aa.body));
    });

    it('lists genres', async () => {
      const r = await getJson(`${api}/genres`);
      assert.deepEqual(r.body.items, [{ name: 'Electronic', trackCount: albumFixtures.length, albumCount: 1 }]);
    });

    it('lists albums with track count, art flag and a working art URL', async () => {
      const r = await getJson(`${api}/albums`);
      assert.equal(r.status, 200);
      const albums = r.body.items as AlbumJson[];
      assert.equal(r.body.total, 3);
      assert.deepEqual(albums.map((a) => [a.albumArtist, a.title, a.trackCount, a.hasArt]), [
        ['Björk', 'Homogenic', 2, false],
        ['Massive Attack', 'Mezzanine', 1, false],
        ['Test Album Artist', 'Test Album', albumFixtures.length, true],
      ]);
      assert.equal(albums[0]!.artUrl, null);
      const test = albums[2]!;
      assert.equal(test.year, 2024);
      assert.equal(test.artUrl, `/api/v1/tracks/${pushed.get('art.mp3')!.id}/art`);
      const art = await fetch(`${d.url}${test.artUrl}`);
      assert.equal(art.status, 200);
      assert.deepEqual(Buffer.from(await art.arrayBuffer()), fixture('cover.jpg'));
    });

    it('pages albums with offset and limit', async () => {
      const r = await getJson(`${api}/albums?offset=1&limit=1`);
      assert.deepEqual([r.body.total, r.body.offset, r.body.items.map((a: AlbumJson) => a.title)], [3, 1, ['Mezzanine']]);
    });

    it('gives an album\'s tracks in disc → track order, whatever the push order', async () => {
      const albums = (await getJson(`${api}/albums`)).body.items as AlbumJson[];
      const test = albums.find((a) => a.title === 'Test Album')!;
      const r = await getJson(`${api}/albums/${test.id}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.title, 'Test Album');
      assert.equal(r.body.trackCount, albumFixtures.length);
      assert.deepEqual(r.body.tracks.map((t: TrackJson) => t.trackNumber), [1, 2, 4, 6, 8, 12]);
      assert.ok(r.body.tracks.every((t: TrackJson) => t.discNumber === 1));
      const byAlbumId = await list(`?albumId=${test.id}`);
      assert.deepEqual(byAlbumId.items.map((t) => t.trackNumber), [1, 2, 4, 6, 8, 12]);
    });

    it('answers an unknown album with 404', async () => {
      const r = await getJson(`${api}/albums/0123456789abcdef`);
      assert.equal(r.status, 404);
      assertErrorShape(r.body, 'not_found');
    });
  });

  describe('DELETE /tracks/:id', () => {
    it('removes the track, its file and its listings; stream and art then 404', async () => {
      const r = await pushFile(d.url, 'doomed.wav', makeWav(900, { title: 'Doomed', artist: 'Nobody', album: 'Gone' }));
      assert.equal(r.status, 201);
      const t = r.body.track as TrackJson;
      const file = path.join(d.dataDir, 'music', t.path);
      assert.ok(existsSync(file));

      const del = await fetch(`${api}/tracks/${t.id}`, { method: 'DELETE' });
      assert.equal(del.status, 204);
      assert.equal((await del.arrayBuffer()).byteLength, 0);
      assert.equal(existsSync(file), false, 'the file is gone from the data dir');
      assert.equal(existsSync(path.dirname(file)), false, 'its now-empty album folder too');

      assert.equal((await fetch(`${api}/tracks/${t.id}`)).status, 404);
      assert.equal((await fetch(`${api}/tracks/${t.id}/stream`)).status, 404);
      assert.equal((await list('?q=doomed')).total, 0);
      assert.ok(!((await getJson(`${api}/artists`)).body.items as Array<{ name: string }>).some((a) => a.name === 'Nobody'));
      const again = await fetch(`${api}/tracks/${t.id}`, { method: 'DELETE' });
      assert.equal(again.status, 404);
      assertErrorShape(await again.json(), 'not_found');
    });

    it('lets the same file be pushed again after a delete', async () => {
      const wav = makeWav(901, { title: 'Phoenix', artist: 'Nobody', album: 'Again' });
      const first = await pushFile(d.url, 'p.wav', wav);
      assert.equal((await fetch(`${api}/tracks/${first.body.track.id}`, { method: 'DELETE' })).status, 204);
      const second = await pushFile(d.url, 'p.wav', wav);
      assert.equal(second.status, 201);
      assert.equal(second.body.duplicate, false);
      const res = await fetch(`${api}/tracks/${second.body.track.id}/stream`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), wav);
    });
  });
});
