// The in-memory catalogue: queries, orders, albums and artists, and the change events UPnP relies on.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { albumIdOf, Catalog, folderTrackId, foldText, type CatalogChange } from '../../daemon/library/catalog.js';
import { STORE_ROOT, storedFields, type StoredTrack } from '../../daemon/library/track.js';
import { storedTrack } from '../helpers/tracks.js';

let seq = 0;
function track(t: Partial<StoredTrack> & { id: string }): StoredTrack {
  seq++;
  return storedTrack({ addedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, seq)).toISOString(), ...t });
}

const silent = pino({ level: 'silent' });
const ids = (list: Array<{ id: string }>) => list.map((t) => t.id);

/** A small library: two albums by two artists, a compilation and a few loose tracks. */
function library(): Catalog {
  const c = new Catalog(silent);
  c.load(
    [
      // Björk – Homogenic, out of order on purpose.
      track({ id: 'h3', title: 'Unravel', artist: 'Björk', album: 'Homogenic', trackNumber: 3, year: 1997, genre: 'Electronic', durationMs: 200_000 }),
      track({ id: 'h1', title: 'Hunter', artist: 'Björk', album: 'Homogenic', trackNumber: 1, year: 1997, genre: 'Electronic', durationMs: 250_000, hasArt: true }),
      track({ id: 'h2', title: 'Jóga', artist: 'Björk', album: 'Homogenic', trackNumber: 2, year: 1997, genre: 'Electronic', durationMs: 305_000 }),
      // A two-disc album: disc 2 track 1 must come after disc 1 track 2.
      track({ id: 'd21', title: 'Second Disc Opener', artist: 'Radiohead', album: 'OK Computer', discNumber: 2, trackNumber: 1, year: 1997, genre: 'Rock' }),
      track({ id: 'd12', title: 'Paranoid Android', artist: 'Radiohead', album: 'OK Computer', discNumber: 1, trackNumber: 2, year: 1997, genre: 'Rock', durationMs: 383_000 }),
      track({ id: 'd11', title: 'Airbag', artist: 'Radiohead', album: 'OK Computer', discNumber: 1, trackNumber: 1, year: 1997, genre: 'rock', durationMs: 284_000 }),
      // A compilation: album artist differs from the track artists.
      track({ id: 'c1', title: 'Café del Mar', artist: 'Energy 52', albumArtist: 'Various Artists', album: 'Ibiza', trackNumber: 1, year: 2001, genre: 'Trance', source: { kind: 'push', device: 'tablet' } }),
      track({ id: 'c2', title: 'Teardrop', artist: 'Massive Attack', albumArtist: 'Various Artists', album: 'Ibiza', trackNumber: 2, year: 2001, genre: 'Trip-Hop' }),
    ],
    41,
  );
  return c;
}

describe('Catalog', () => {
  describe('query', () => {
    it('lists everything in album order by default: album artist, album, disc, track', () => {
      const c = library();
      const page = c.query({});
      assert.equal(page.total, 8);
      assert.deepEqual(ids(page.items), ['h1', 'h2', 'h3', 'd11', 'd12', 'd21', 'c1', 'c2']);
    });

    it('pages with offset and limit and reports the full total', () => {
      const c = library();
      const all = ids(c.query({}).items);
      const p1 = c.query({ offset: 0, limit: 3 });
      const p2 = c.query({ offset: 3, limit: 3 });
      const p3 = c.query({ offset: 6, limit: 3 });
      assert.deepEqual([p1.total, p2.total, p3.total], [8, 8, 8]);
      assert.deepEqual([...ids(p1.items), ...ids(p2.items), ...ids(p3.items)], all);
      assert.equal(p3.items.length, 2);
    });

    it('answers an offset past the end with no items but the total', () => {
      const page = library().query({ offset: 100, limit: 10 });
      assert.deepEqual(page, { total: 8, items: [] });
    });

    it('treats limit 0 as "all"', () => {
      assert.equal(library().query({ offset: 2, limit: 0 }).items.length, 6);
    });

    it('searches title, artist, album, album artist and genre, ignoring case and accents', () => {
      const c = library();
      assert.deepEqual(ids(c.query({ q: 'joga' }).items), ['h2']);
      assert.deepEqual(ids(c.query({ q: 'JÓGA' }).items), ['h2']);
      assert.deepEqual(ids(c.query({ q: 'bjork' }).items), ['h1', 'h2', 'h3']);
      assert.deepEqual(ids(c.query({ q: 'cafe' }).items), ['c1']);
      assert.deepEqual(ids(c.query({ q: 'various' }).items), ['c1', 'c2']);
      assert.deepEqual(ids(c.query({ q: 'trip-hop' }).items), ['c2']);
      assert.deepEqual(ids(c.query({ q: '  computer ' }).items), ['d11', 'd12', 'd21']);
      assert.equal(c.query({ q: 'nothing like this' }).total, 0);
    });

    it('filters by exact artist, album artist, album, genre, year and device, case- and accent-blind', () => {
      const c = library();
      assert.deepEqual(ids(c.query({ artist: 'bjork' }).items), ['h1', 'h2', 'h3']);
      assert.equal(c.query({ artist: 'Bj' }).total, 0, 'artist is an exact match, not a search');
      assert.deepEqual(ids(c.query({ albumArtist: 'various artists' }).items), ['c1', 'c2']);
      assert.equal(c.query({ artist: 'Various Artists' }).total, 0, 'artist is the track artist');
      assert.deepEqual(ids(c.query({ album: 'ok computer' }).items), ['d11', 'd12', 'd21']);
      assert.deepEqual(ids(c.query({ genre: 'ROCK' }).items), ['d11', 'd12', 'd21'], '"rock" and "Rock" are one genre');
      assert.deepEqual(ids(c.query({ year: 2001 }).items), ['c1', 'c2']);
      assert.deepEqual(ids(c.query({ device: 'tablet' }).items), ['c1']);
      assert.deepEqual(ids(c.query({ albumId: albumIdOf('Radiohead', 'OK Computer') }).items), ['d11', 'd12', 'd21']);
      assert.equal(c.query({ albumId: 'no-such-album' }).total, 0);
    });

    it('combines filters, search and paging', () => {
      const c = library();
      const page = c.query({ year: 1997, q: 'a', sort: { key: 'title', descending: false }, offset: 1, limit: 2 });
      // 1997 and "a" somewhere: all of Radiohead ("radiohead"), and Jóga and Unravel by title.
      // In title order: Airbag, Jóga, Paranoid Android, Second Disc Opener, Unravel.
      assert.equal(page.total, 5);
      assert.deepEqual(ids(page.items), ['h2', 'd12']);
    });
  });

  describe('sort', () => {
    const c = library();
    const order = (key: Parameters<Catalog['sorted']>[0]['key'], descending = false) => ids(c.query({ sort: { key, descending } }).items);

    it('by title (folded, so "Café" sorts with "c")', () => {
      assert.deepEqual(order('title'), ['d11', 'c1', 'h1', 'h2', 'd12', 'd21', 'c2', 'h3']);
    });
    it('by title descending is the exact reverse', () => {
      assert.deepEqual(order('title', true), [...order('title')].reverse());
    });
    it('by artist, then album order', () => {
      assert.deepEqual(order('artist'), ['h1', 'h2', 'h3', 'c1', 'c2', 'd11', 'd12', 'd21']);
    });
    it('by album, then disc and track', () => {
      assert.deepEqual(order('album'), ['h1', 'h2', 'h3', 'c1', 'c2', 'd11', 'd12', 'd21']);
    });
    it('by album artist keeps every album in disc → track order', () => {
      assert.deepEqual(order('albumArtist'), ['h1', 'h2', 'h3', 'd11', 'd12', 'd21', 'c1', 'c2']);
    });
    it('by year, then album order', () => {
      assert.deepEqual(order('year'), ['h1', 'h2', 'h3', 'd11', 'd12', 'd21', 'c1', 'c2']);
      assert.deepEqual(order('year', true).slice(0, 2), ['c2', 'c1']);
    });
    it('by genre', () => {
      assert.deepEqual(order('genre'), ['h1', 'h2', 'h3', 'd11', 'd12', 'd21', 'c1', 'c2']);
    });
    it('by date added, newest first when descending', () => {
      const byAdded = [...c.all()].sort((a, b) => a.addedAt.localeCompare(b.addedAt)).map((t) => t.id);
      assert.deepEqual(order('added'), byAdded);
      assert.deepEqual(order('added', true), [...byAdded].reverse());
    });
    it('by duration', () => {
      const got = c.query({ sort: { key: 'duration', descending: false } }).items.map((t) => t.durationMs);
      assert.deepEqual(got, [...got].sort((a, b) => a - b));
      assert.equal(order('duration', true)[0], 'd12', 'the longest first');
    });
    it('puts tracks without a number after numbered ones, and a missing disc counts as disc 1', () => {
      const x = new Catalog(silent);
      x.load(
        [
          track({ id: 'none', album: 'A', trackNumber: null, title: 'a' }),
          track({ id: 'd2t1', album: 'A', discNumber: 2, trackNumber: 1 }),
          track({ id: 'noDisc2', album: 'A', discNumber: null, trackNumber: 2 }),
          track({ id: 'disc1t1', album: 'A', discNumber: 1, trackNumber: 1 }),
        ],
        0,
      );
      assert.deepEqual(ids(x.query({}).items), ['disc1t1', 'noDisc2', 'none', 'd2t1']);
    });
    it('orders titles exactly as their folded forms compare, ASCII or not', () => {
      // compareTitles lower-cases ASCII on the fly and keeps folded copies only of non-ASCII titles.
      const titles = ['abc', 'ABC', 'Abd', 'ab', 'ab[', 'AB_', 'Z', 'a', '', 'Jóga', 'joga', 'Joh', 'Jo', 'e\u0301', 'E', 'ea', 'Ｌｏｖｅ', 'love', 'Lovf', 'ドライフラワー', 'トライ', 'Ⅳ', 'iv', 'Straße', 'strasse', 'abc\u0301', 'Ω', 'ω'];
      const x = new Catalog(silent);
      x.load(titles.map((title, i) => track({ id: `t${String(i).padStart(2, '0')}`, title })), 0);
      const byId = new Map(x.all().map((t) => [t.id, t]));
      const sign = (n: number) => Math.sign(n);
      for (const a of byId.values()) {
        for (const b of byId.values()) {
          const fa = foldText(a.title);
          const fb = foldText(b.title);
          assert.equal(sign(x.compareTitles(a, b)), fa < fb ? -1 : fa > fb ? 1 : 0, `${JSON.stringify(a.title)} vs ${JSON.stringify(b.title)}`);
        }
      }
      // And a track whose title changed under the same id is compared by its new title.
      x.upsert([track({ id: 't00', title: 'zzz' })]);
      assert.equal(sign(x.compareTitles(x.get('t00')!, byId.get('t06')!)), 1);
    });
    it('finds text in titles exactly as their folded forms contain it, ASCII or not', () => {
      // titleContains compares ASCII titles case-insensitively in place and folds only non-ASCII ones.
      const titles = ['Love Song', 'GLOVES', 'lov', 'Lo\u0301ve', 'Lóve me', 'Ｌｏｖｅ', 'Beloved', 'ドライフラワー', 'Straße', 'e\u0301', 'Café Love', '', 'ab', 'LOVE'];
      const needles = ['love', 'lov', 'e', '', 'strasse', 'ドライ', 'é', 'ove song', 'x', 'loves', 'abc', 'cafe'];
      const x = new Catalog(silent);
      x.load(titles.map((title, i) => track({ id: `t${String(i).padStart(2, '0')}`, title })), 0);
      for (const t of x.all()) {
        for (const raw of needles) {
          const needle = foldText(raw);
          assert.equal(x.titleContains(t, needle), foldText(t.title).includes(needle), `${JSON.stringify(t.title)} contains ${JSON.stringify(needle)}`);
        }
      }
    });
    it('is stable for equal keys (same order on every page)', () => {
      const x = new Catalog(silent);
      x.load(Array.from({ length: 30 }, (_, i) => track({ id: `t${String(29 - i).padStart(2, '0')}`, title: 'Same' })), 0);
      const pages = [0, 10, 20].flatMap((offset) => ids(x.query({ sort: { key: 'title', descending: false }, offset, limit: 10 }).items));
      assert.equal(new Set(pages).size, 30);
      assert.deepEqual(pages, [...pages].sort());
    });
  });

  describe('albums and names', () => {
    it('lists albums by album artist then title, with track counts and an art track', () => {
      const albums = library().listAlbums();
      assert.deepEqual(
        albums.map((a) => [a.albumArtist, a.title, a.trackCount, a.year]),
        [
          ['Björk', 'Homogenic', 3, 1997],
          ['Radiohead', 'OK Computer', 3, 1997],
          ['Various Artists', 'Ibiza', 2, 2001],
        ],
      );
      assert.equal(albums[0]!.artTrackId, 'h1');
      assert.equal(albums[1]!.artTrackId, null);
      assert.equal(albums[0]!.id, albumIdOf('Björk', 'Homogenic'));
    });

    it('filters albums by track artist, album artist, genre and year', () => {
      const c = library();
      assert.deepEqual(c.listAlbums({ artist: 'massive attack' }).map((a) => a.title), ['Ibiza']);
      assert.deepEqual(c.listAlbums({ albumArtist: 'BJORK' }).map((a) => a.title), ['Homogenic']);
      assert.deepEqual(c.listAlbums({ genre: 'rock' }).map((a) => a.title), ['OK Computer']);
      assert.deepEqual(c.listAlbums({ year: 1997 }).map((a) => a.title), ['Homogenic', 'OK Computer']);
    });

    it('gives album tracks in disc → track order', () => {
      const c = library();
      assert.deepEqual(ids(c.albumTracks(albumIdOf('Radiohead', 'OK Computer'))), ['d11', 'd12', 'd21']);
      assert.deepEqual(ids(c.albumTracks(albumIdOf('björk', 'HOMOGENIC'))), ['h1', 'h2', 'h3'], 'album ids ignore case and accents');
      assert.deepEqual(c.albumTracks('nope'), []);
    });

    it('counts tracks and albums per artist, album artist and genre', () => {
      const c = library();
      assert.deepEqual(c.listNames('artist'), [
        { name: 'Björk', trackCount: 3, albumCount: 1 },
        { name: 'Energy 52', trackCount: 1, albumCount: 1 },
        { name: 'Massive Attack', trackCount: 1, albumCount: 1 },
        { name: 'Radiohead', trackCount: 3, albumCount: 1 },
      ]);
      assert.deepEqual(
        c.listNames('albumArtist').map((n) => [n.name, n.trackCount, n.albumCount]),
        [
          ['Björk', 3, 1],
          ['Radiohead', 3, 1],
          ['Various Artists', 2, 1],
        ],
      );
      const genres = c.listNames('genre');
      assert.deepEqual(genres.map((g) => [g.name.toLowerCase(), g.trackCount]), [
        ['electronic', 3],
        ['rock', 3],
        ['trance', 1],
        ['trip-hop', 1],
      ]);
    });

    it('leaves tracks without a genre out of the genre list', () => {
      const c = new Catalog(silent);
      c.load([track({ id: 'a', genre: null }), track({ id: 'b', genre: '' })], 0);
      assert.deepEqual(c.listNames('genre'), []);
    });
  });

  describe('changes', () => {
    it('starts at the loaded updateId without events', () => {
      const c = new Catalog(silent);
      let events = 0;
      c.on('change', () => events++);
      c.load([track({ id: 'a' })], 41);
      assert.equal(c.updateId, 41);
      assert.equal(events, 0);
      assert.equal(c.size, 1);
    });

    it('emits one change per batch with added and removed tracks, and bumps updateId', () => {
      const c = library();
      const seen: CatalogChange[] = [];
      c.on('change', (ch) => seen.push(ch));
      const a = track({ id: 'n1' });
      const b = track({ id: 'n2' });
      c.upsert([a, b]);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.updateId, 42);
      assert.equal(c.updateId, 42);
      assert.deepEqual(ids(seen[0]!.added), ['n1', 'n2']);
      assert.deepEqual(seen[0]!.removed, []);

      const removed = c.remove(['n1', 'missing']);
      assert.deepEqual(ids(removed), ['n1']);
      assert.equal(seen.length, 2);
      assert.equal(seen[1]!.updateId, 43);
      assert.deepEqual(ids(seen[1]!.removed), ['n1']);
    });

    it('does not emit or bump updateId when removing nothing', () => {
      const c = library();
      let events = 0;
      c.on('change', () => events++);
      assert.deepEqual(c.remove(['missing']), []);
      assert.equal(events, 0);
      assert.equal(c.updateId, 41);
    });

    it('keeps notifying other listeners when one throws', () => {
      const c = library();
      let got = 0;
      c.on('change', () => {
        throw new Error('listener bug');
      });
      c.on('change', () => got++);
      c.upsert([track({ id: 'x' })]);
      assert.equal(got, 1);
    });

    it('re-indexes an upserted track: new tags are searchable, old ones gone, album moves', () => {
      const c = library();
      const h2 = c.get('h2')!;
      const seen: CatalogChange[] = [];
      c.on('change', (ch) => seen.push(ch));
      c.upsert([{ ...storedFields(h2), title: 'Bachelorette', album: 'Homogenic (Deluxe)' }]);
      assert.equal(seen[0]!.removed[0]!.title, 'Jóga', 'the old version is reported as removed');
      assert.equal(seen[0]!.added[0]!.title, 'Bachelorette');
      assert.equal(c.size, 8);
      assert.equal(c.query({ q: 'joga' }).total, 0);
      assert.deepEqual(ids(c.query({ q: 'bachelorette' }).items), ['h2']);
      assert.equal(c.album(albumIdOf('Björk', 'Homogenic'))!.trackCount, 2);
      assert.equal(c.album(albumIdOf('Björk', 'Homogenic (Deluxe)'))!.trackCount, 1);
      // Cached orders are rebuilt: Bachelorette now sorts right after Airbag.
      assert.deepEqual(ids(c.query({ sort: { key: 'title', descending: false } }).items).slice(0, 3), ['d11', 'h2', 'c1']);
    });

    it('removes a track from every index: id, hash, location, search, album, names', () => {
      const c = library();
      const h1 = c.get('h1')!;
      c.remove(['h1']);
      assert.equal(c.get('h1'), undefined);
      assert.equal(c.getByHash(h1.sha256!), undefined);
      assert.equal(c.getByLocation(STORE_ROOT, h1.path), undefined);
      assert.equal(c.query({ q: 'hunter' }).total, 0);
      const album = c.album(albumIdOf('Björk', 'Homogenic'))!;
      assert.equal(album.trackCount, 2);
      assert.equal(album.artTrackId, null, 'the only track with art is gone');
      assert.equal(c.listNames('artist').find((n) => n.name === 'Björk')!.trackCount, 2);
    });

    it('hands album art to another track with art when the art track goes', () => {
      const c = library();
      c.upsert([{ ...storedFields(c.get('h3')!), hasArt: true }]);
      c.remove(['h1']);
      assert.equal(c.album(albumIdOf('Björk', 'Homogenic'))!.artTrackId, 'h3');
    });

    it('drops an album and its artist when its last track is removed', () => {
      const c = library();
      c.remove(['c1', 'c2']);
      assert.equal(c.album(albumIdOf('Various Artists', 'Ibiza')), undefined);
      assert.ok(!c.listAlbums().some((a) => a.title === 'Ibiza'));
      assert.ok(!c.listNames('artist').some((n) => n.name === 'Massive Attack'));
    });

    it('keeps every field of a track, whatever it stores shared, and writes it out whole', () => {
      const c = new Catalog(silent);
      const input = track({ id: 'all', title: 'T', artist: 'A', album: 'B', albumArtist: 'AA', trackNumber: 3, discNumber: 2, year: 1999, genre: 'G', durationMs: 1234.5, codec: 'alac', mime: 'audio/mp4', sampleRate: 96000, bitsPerSample: 24, channels: 6, bitrate: 4_000_000, size: 5_000_000_000, hasArt: true, source: { kind: 'push', device: 'phone', via: 'dlna' }, path: 'AA/B/2-03 T.m4a', mtimeMs: 1_700_000_000_123.25, folderArt: 'cover.jpg' });
      c.upsert([{ ...input }]);
      const kept = c.get('all')!;
      assert.deepEqual(storedFields(kept), input);
      assert.deepEqual(JSON.parse(JSON.stringify(kept)), input, 'the document and the journal get every field');
      assert.deepEqual(Object.keys(storedFields(kept)).sort(), Object.keys(input).sort());
    });
    it('keeps each track of an album its own values where they differ from the others, through changes', () => {
      const c = new Catalog(silent);
      const base = { album: 'Mixed', albumArtist: 'Various', year: 2000, genre: 'Pop', codec: 'mp3', mime: 'audio/mpeg', sampleRate: 44100, hasArt: false, folderArt: null, addedAt: '2024-02-02T00:00:00.000Z', root: '/srv/music', source: { kind: 'folder' as const, device: null }, sha256: null };
      const inputs = [
        track({ id: 'm1', ...base, artist: 'One' }),
        track({ id: 'm6', ...base, artist: 'One', trackNumber: 6, title: 'Six' }),
        track({ id: 'm2', ...base, artist: 'Two', year: 2001, hasArt: true }),
        track({ id: 'm3', ...base, artist: 'One', genre: null, folderArt: 'cover.jpg' }),
        track({ id: 'm4', ...base, artist: 'One', codec: 'flac', mime: 'audio/flac', sampleRate: 96000, bitsPerSample: 24 }),
        track({ id: 'm5', ...base, artist: 'One', source: { kind: 'push', device: 'phone' }, root: STORE_ROOT }),
        // The same album by its folded names, spelt otherwise: each track keeps its spelling.
        track({ id: 'm7', ...base, artist: 'One', album: 'MIXED', albumArtist: 'various' }),
      ];
      c.upsert(inputs.map((t) => ({ ...t })));
      for (const t of inputs) assert.deepEqual(storedFields(c.get(t.id)!), t, t.id);
      // The only track with its values changes, goes and comes back; the others are untouched.
      const m2 = { ...inputs[2]!, year: 1999, artist: 'Three' };
      c.upsert([{ ...m2 }]);
      c.remove(['m4']);
      c.upsert([{ ...inputs[4]! }]);
      for (const t of [inputs[0]!, inputs[1]!, m2, inputs[3]!, inputs[4]!, inputs[5]!, inputs[6]!]) assert.deepEqual(storedFields(c.get(t.id)!), t, t.id);
      assert.deepEqual(ids(c.albumTracks(albumIdOf('Various', 'Mixed'))).sort(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    });

    it('finds tracks by hash and by location', () => {
      const c = library();
      // A music-folder track's id is derived from its location: that is how it is found again.
      const id = folderTrackId('/srv/music', 'A/B/01 X.flac');
      c.upsert([track({ id, root: '/srv/music', path: 'A/B/01 X.flac', sha256: null })]);
      assert.equal(c.getByLocation('/srv/music', 'A/B/01 X.flac')?.id, id);
      assert.equal(c.getByLocation('/srv/other', 'A/B/01 X.flac'), undefined);
      assert.equal(c.getByLocation(STORE_ROOT, 'A/B/01 X.flac'), undefined, 'the same path under another root is another file');
      assert.equal(c.getByHash(c.get('d11')!.sha256!)?.id, 'd11');
    });
  });

  it('foldText removes case and accents', () => {
    assert.equal(foldText('Ÿ Éé Ñ Ç'), 'y ee n c');
  });
});
