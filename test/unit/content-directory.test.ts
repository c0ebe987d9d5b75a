// ContentDirectory in process over a real Catalog: the tree, paging, sorting, Search, faults, events,
// id stability, and the cost at 50 000 tracks.
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { pino } from 'pino';
import { Catalog } from '../../daemon/library/catalog.js';
import { STORE_ROOT, storedFields, type StoredTrack } from '../../daemon/library/track.js';
import type { Quirk } from '../../daemon/profiles.js';
import { CDS_SCPD, createContentDirectory, MAX_RETURNED, type ContentDirectory } from '../../daemon/upnp/content-directory.js';
import { UpnpError, type ActionArgs, type UpnpRequestInfo } from '../../daemon/upnp/service.js';
import { storedTrack } from '../helpers/tracks.js';
import { PlaylistStore } from '../../daemon/library/playlists.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const silent = pino({ level: 'silent' });
const REQ: UpnpRequestInfo = { remoteAddress: '10.77.0.2', localAddress: '10.77.0.1', localPort: 8200, headers: {}, baseUrl: 'http://10.77.0.1:8200' };

let seq = 0;
function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}
function track(t: Partial<StoredTrack> & { n: number }): StoredTrack {
  const { n, ...rest } = t;
  seq++;
  return storedTrack({
    id: hex16(n),
    title: `Title ${n}`,
    codec: 'mp3',
    mime: 'audio/mpeg',
    bitsPerSample: null,
    bitrate: 320_000,
    size: 7_200_000,
    sha256: null,
    addedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, 0, seq)).toISOString(),
    source: { kind: 'folder', device: null },
    path: `${rest.artist ?? 'Artist'}/${rest.album ?? 'Album'}/${n}.mp3`,
    root: '/srv/music',
    ...rest,
  });
}

interface Didl {
  containers: Array<Record<string, string>>;
  items: Array<Record<string, string>>;
}
const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'item' || name === 'container' || name === 'res', processEntities: true, htmlEntities: false, parseTagValue: false, parseAttributeValue: false });
function parseDidl(s: string): Didl {
  const d = xml.parse(s)['DIDL-Lite'] ?? {};
  return { containers: d.container ?? [], items: d.item ?? [] };
}

function call(cd: ContentDirectory, action: string, args: ActionArgs) {
  return cd.handle(action, args, REQ) as Record<string, string | number>;
}
function browse(cd: ContentDirectory, id: string, o: { flag?: string; start?: number; count?: number; sort?: string; filter?: string } = {}) {
  const r = call(cd, 'Browse', { ObjectID: id, BrowseFlag: o.flag ?? 'BrowseDirectChildren', Filter: o.filter ?? '*', StartingIndex: String(o.start ?? 0), RequestedCount: String(o.count ?? 0), SortCriteria: o.sort ?? '' });
  return { ...parseDidl(String(r.Result)), total: Number(r.TotalMatches), returned: Number(r.NumberReturned), updateId: Number(r.UpdateID), raw: String(r.Result) };
}
function search(cd: ContentDirectory, criteria: string, o: { id?: string; start?: number; count?: number; sort?: string } = {}) {
  const r = call(cd, 'Search', { ContainerID: o.id ?? '0', SearchCriteria: criteria, Filter: '*', StartingIndex: String(o.start ?? 0), RequestedCount: String(o.count ?? 0), SortCriteria: o.sort ?? '' });
  return { ...parseDidl(String(r.Result)), total: Number(r.TotalMatches), returned: Number(r.NumberReturned) };
}
function fault(fn: () => unknown, code: number): void {
  assert.throws(fn, (err: unknown) => err instanceof UpnpError && err.code === code, `expected UPnP error ${code}`);
}
const titles = (objs: Array<Record<string, string>>) => objs.map((o) => String(o['dc:title']));

/** A small library: two artists, a two-disc album, a pushed track, nested folders. */
function smallLibrary(): StoredTrack[] {
  return [
    track({ n: 1, title: 'Zebra', artist: 'Beta Band', album: 'Three EPs', trackNumber: 2, discNumber: 1, year: 1998, genre: 'Rock', path: 'Beta Band/Three EPs/CD1/02 Zebra.mp3' }),
    track({ n: 2, title: 'Apple', artist: 'Beta Band', album: 'Three EPs', trackNumber: 1, discNumber: 2, year: 1998, genre: 'Rock', path: 'Beta Band/Three EPs/CD2/01 Apple.mp3' }),
    track({ n: 3, title: 'Mango', artist: 'Beta Band', album: 'Three EPs', trackNumber: 1, discNumber: 1, year: 1998, genre: 'Rock', path: 'Beta Band/Three EPs/CD1/01 Mango.mp3', hasArt: true }),
    track({ n: 4, title: 'Love Song', artist: 'Ábba', album: 'Arrival', trackNumber: 1, year: 1976, genre: 'Pop', path: 'Abba/Arrival/01 Love Song.mp3' }),
    track({ n: 5, title: 'Pushed Love', artist: 'Phone Artist', album: 'Singles', genre: null, root: STORE_ROOT, path: 'Phone Artist/Singles/Pushed Love.flac', codec: 'flac', mime: 'audio/flac', source: { kind: 'push', device: "Ann's Pixel" } }),
  ];
}

function makeCd(tracks: StoredTrack[]): { catalog: Catalog; cd: ContentDirectory } {
  const catalog = new Catalog(silent);
  catalog.load(tracks, 7);
  return { catalog, cd: createContentDirectory({ catalog, log: silent, artAvailable: true }) };
}

describe('ContentDirectory (in process)', () => {
  let catalog: Catalog;
  let cd: ContentDirectory;
  beforeEach(() => ({ catalog, cd } = makeCd(smallLibrary())));
  afterEach(() => cd.close());

  it('has 0 → Music → the ten views, with counts; Uploads last', () => {
    const root = browse(cd, '0');
    assert.deepEqual(titles(root.containers), ['Music', 'Uploads']);
    // Without DLNA upload wired in, Uploads is as restricted as everything else.
    assert.deepEqual(root.containers.map((c) => c.restricted), ['1', '1']);
    assert.equal(root.containers[0]!.parentID, '0');
    const meta = browse(cd, '0', { flag: 'BrowseMetadata' });
    assert.equal(meta.containers[0]!.id, '0');
    assert.equal(meta.containers[0]!.parentID, '-1');
    const music = browse(cd, 'm');
    assert.deepEqual(titles(music.containers), ['All Tracks', 'Artists', 'Album Artists', 'Albums', 'Genres', 'Years', 'Folders', 'Recently Added', 'Pushed From', 'Playlists']);
    const count = Object.fromEntries(music.containers.map((c) => [c['dc:title'], Number(c.childCount)]));
    assert.deepEqual(count, { 'All Tracks': 5, Artists: 3, 'Album Artists': 3, Albums: 3, Genres: 3, Years: 3, Folders: 2, 'Recently Added': 5, 'Pushed From': 1, Playlists: 0 });
    for (const c of music.containers) {
      assert.equal(c.searchable, '1');
      assert.equal(c.restricted, '1');
    }
  });

  it('lists All Tracks by title with canonical items and full res', () => {
    const all = browse(cd, 'm/all');
    assert.equal(all.total, 5);
    assert.deepEqual(titles(all.items), ['Apple', 'Love Song', 'Mango', 'Pushed Love', 'Zebra']);
    const mango = all.items[2]!;
    assert.equal(mango.id, `m/all/t/${hex16(3)}`);
    assert.equal(mango.parentID, 'm/all');
    assert.equal(mango.refID, undefined);
    assert.equal(mango['upnp:class'], 'object.item.audioItem.musicTrack');
    assert.equal(mango['upnp:albumArtURI'] !== undefined, true);
    const res = (mango.res as unknown as Array<Record<string, string>>)[0]!;
    assert.equal(res['#text'], `http://10.77.0.1:8200/media/${hex16(3)}.mp3`);
    assert.equal(res.protocolInfo, 'http-get:*:audio/mpeg:DLNA.ORG_PN=MP3;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000');
    assert.equal(res.bitrate, '40000');
    assert.equal(res.duration, '0:03:00.000');
  });

  it('pages with StartingIndex/RequestedCount and reports TotalMatches', () => {
    const p = browse(cd, 'm/all', { start: 1, count: 2 });
    assert.equal(p.total, 5);
    assert.equal(p.returned, 2);
    assert.deepEqual(titles(p.items), ['Love Song', 'Mango']);
    const past = browse(cd, 'm/all', { start: 10, count: 2 });
    assert.equal(past.returned, 0);
    assert.equal(past.total, 5);
  });

  it('lists artists → All Tracks + albums, albums in disc/track order', () => {
    const artists = browse(cd, 'm/artists');
    assert.deepEqual(titles(artists.containers), ['Ábba', 'Beta Band', 'Phone Artist']);
    const beta = artists.containers[1]!;
    assert.match(beta.id, /^m\/artists\/[0-9a-f]{16}$/);
    assert.equal(beta['upnp:class'], 'object.container.person.musicArtist');
    assert.equal(beta.childCount, '2');
    const kids = browse(cd, beta.id);
    assert.deepEqual(titles(kids.containers), ['All Tracks', 'Three EPs']);
    const album = kids.containers[1]!;
    assert.equal(album['upnp:class'], 'object.container.album.musicAlbum');
    assert.equal(album['upnp:artist'], 'Beta Band');
    assert.equal(album['dc:date'], '1998-01-01');
    assert.ok(String((album['upnp:albumArtURI'] as unknown as Record<string, string>)['#text']).endsWith(`/art/${hex16(3)}/tn.jpg`));
    const tracks = browse(cd, album.id);
    assert.deepEqual(titles(tracks.items), ['Mango', 'Zebra', 'Apple']);
    for (const it of tracks.items) {
      assert.equal(it.parentID, album.id);
      assert.equal(it.refID, `m/all/t/${it.id.slice(-16)}`);
    }
    // -dc:title reverses by title; +upnp:originalTrackNumber is disc then track
    assert.deepEqual(titles(browse(cd, album.id, { sort: '-dc:title' }).items), ['Zebra', 'Mango', 'Apple']);
    assert.deepEqual(titles(browse(cd, album.id, { sort: '+upnp:originalTrackNumber' }).items), ['Mango', 'Zebra', 'Apple']);
    assert.deepEqual(titles(browse(cd, album.id, { sort: '-upnp:originalTrackNumber' }).items), ['Apple', 'Zebra', 'Mango']);
  });

  it('answers BrowseMetadata for every listed object with the same object', () => {
    for (const cid of ['m', 'm/all', 'm/artists', 'm/albums', 'm/genres', 'm/years', 'm/folders', 'm/recent', 'm/pushed']) {
      const kids = browse(cd, cid);
      for (const o of [...kids.containers, ...kids.items]) {
        const meta = browse(cd, o.id, { flag: 'BrowseMetadata' });
        assert.equal(meta.total, 1);
        const m = [...meta.containers, ...meta.items][0]!;
        assert.equal(m.id, o.id);
        assert.equal(m.parentID, cid);
        assert.equal(m['dc:title'], o['dc:title']);
      }
    }
  });

  it('refuses item ids that name a container the track is not in', () => {
    const beta = browse(cd, 'm/artists').containers[1]!.id;
    fault(() => browse(cd, `${beta}/all/t/${hex16(4)}`, { flag: 'BrowseMetadata' }), 701);
    fault(() => browse(cd, `m/all/t/${hex16(99)}`, { flag: 'BrowseMetadata' }), 701);
    fault(() => browse(cd, 'm/albums/../../etc', { flag: 'BrowseMetadata' }), 701);
    fault(() => browse(cd, "0' OR '1'='1", { flag: 'BrowseMetadata' }), 701);
    fault(() => browse(cd, 'x'.repeat(10_000)), 701);
  });

  it('shows the on-disk layout under Folders, store first', () => {
    const roots = browse(cd, 'm/folders');
    assert.deepEqual(titles(roots.containers), ['Pushed music', 'music']);
    const music = roots.containers[1]!;
    const lvl1 = browse(cd, music.id);
    assert.deepEqual(titles(lvl1.containers), ['Abba', 'Beta Band']);
    const beta = browse(cd, lvl1.containers[1]!.id);
    const eps = browse(cd, beta.containers[0]!.id);
    assert.deepEqual(titles(eps.containers), ['CD1', 'CD2']);
    assert.deepEqual(titles(browse(cd, eps.containers[0]!.id).items), ['Mango', 'Zebra']);
    assert.equal(eps.containers[0]!['upnp:class'], 'object.container.storageFolder');
  });

  it('lists Recently Added newest first and Pushed From per device', () => {
    assert.deepEqual(titles(browse(cd, 'm/recent').items), ['Pushed Love', 'Love Song', 'Mango', 'Apple', 'Zebra']);
    const devices = browse(cd, 'm/pushed');
    assert.deepEqual(titles(devices.containers), ["Ann's Pixel"]);
    assert.deepEqual(titles(browse(cd, devices.containers[0]!.id).items), ['Pushed Love']);
  });

  it('lists genres and years with All Tracks and albums', () => {
    const genres = browse(cd, 'm/genres');
    assert.deepEqual(titles(genres.containers), ['Pop', 'Rock', 'Unknown Genre']);
    assert.equal(genres.containers[0]!['upnp:class'], 'object.container.genre.musicGenre');
    const years = browse(cd, 'm/years');
    assert.deepEqual(titles(years.containers), ['1976', '1998', 'Unknown Year']);
    assert.equal(years.containers[1]!.id, 'm/years/1998');
    assert.deepEqual(titles(browse(cd, 'm/years/1998').containers), ['All Tracks', 'Three EPs']);
  });

  it('sorts by any supported key, case-insensitively, and refuses others with 709', () => {
    assert.deepEqual(titles(browse(cd, 'm/all', { sort: '-dc:title' }).items), ['Zebra', 'Pushed Love', 'Mango', 'Love Song', 'Apple']);
    assert.deepEqual(titles(browse(cd, 'm/all', { sort: '+upnp:artist,-dc:title' }).items), ['Love Song', 'Zebra', 'Mango', 'Apple', 'Pushed Love']);
    assert.deepEqual(titles(browse(cd, 'm/all', { sort: '+dc:date,+dc:title' }).items), ['Love Song', 'Apple', 'Mango', 'Zebra', 'Pushed Love']);
    assert.deepEqual(titles(browse(cd, 'm/artists', { sort: '-dc:title' }).containers), ['Phone Artist', 'Beta Band', 'Ábba']);
    for (const s of ['+upnp:genre', '-upnp:album', '+upnp:originalTrackNumber', 'dc:title']) browse(cd, 'm/all', { sort: s });
    fault(() => browse(cd, 'm/all', { sort: '+upnp:rating' }), 709);
    fault(() => browse(cd, 'm/all', { sort: '+res@size' }), 709);
  });

  it('searches with exact counts over tracks and containers', () => {
    assert.equal(search(cd, 'dc:title contains "love"').total, 2);
    assert.equal(search(cd, 'upnp:class derivedfrom "object.item.audioItem" and dc:title contains "LOVE"').total, 2);
    assert.equal(search(cd, 'upnp:artist = "abba"').total, 2, 'the track and its album (accent- and case-insensitive)');
    assert.equal(search(cd, 'upnp:class derivedfrom "object.item.audioItem" and upnp:artist = "Beta Band"').total, 3);
    const albums = search(cd, 'upnp:class = "object.container.album.musicAlbum" and dc:title contains "e"');
    assert.deepEqual(titles(albums.containers), ['Singles', 'Three EPs']);
    const artists = search(cd, 'upnp:class = "object.container.person.musicArtist"');
    assert.equal(artists.total, 3);
    assert.equal(search(cd, '(upnp:class derivedfrom "object.item.audioItem" and (dc:title contains "love" or upnp:artist contains "love"))').total, 2);
    assert.equal(search(cd, 'upnp:class derivedfrom "object.item.audioItem" and @refID exists false').total, 5);
    assert.equal(search(cd, 'upnp:genre exists false and upnp:class derivedfrom "object.item"').total, 1);
    assert.equal(search(cd, 'dc:date >= "1990" and upnp:class derivedfrom "object.item"').total, 3);
    assert.equal(search(cd, 'dc:date < "1990-01-01" and upnp:class derivedfrom "object.item"').total, 1);
    assert.equal(search(cd, 'upnp:class derivedfrom "object.item" and dc:title doesNotContain "o"').total, 2);
    assert.equal(search(cd, '*').total, 5 + 3 + 3 + 2, 'tracks, albums, artists and named genres');
  });

  it('searches within a container and pages and sorts the hits', () => {
    const beta = browse(cd, 'm/artists').containers[1]!.id;
    const inBeta = search(cd, 'upnp:class derivedfrom "object.item"', { id: beta });
    assert.equal(inBeta.total, 3);
    for (const it of inBeta.items) assert.equal(it.parentID, `${beta}/all`);
    const page = search(cd, 'upnp:class derivedfrom "object.item"', { start: 1, count: 2, sort: '+dc:title' });
    assert.equal(page.total, 5);
    assert.deepEqual(titles(page.items), ['Love Song', 'Mango']);
    // a found item's id is browsable
    const found = search(cd, 'dc:title = "Apple"').items[0]!;
    assert.equal(browse(cd, found.id, { flag: 'BrowseMetadata' }).items[0]!['dc:title'], 'Apple');
  });

  it('answers faults: 401, 402, 701, 708, 709, 720', () => {
    fault(() => call(cd, 'UpdateObject', { ObjectID: 'm' }), 401);
    // Upload actions exist, but without DLNA upload wired in they cannot be carried out.
    fault(() => call(cd, 'DestroyObject', { ObjectID: 'm' }), 720);
    fault(() => call(cd, 'Browse', { ObjectID: '0', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' }), 402);
    fault(() => call(cd, 'Browse', { ObjectID: '0', BrowseFlag: 'BrowseEverything', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' }), 402);
    fault(() => call(cd, 'Browse', { ObjectID: '0', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '-1', RequestedCount: '0', SortCriteria: '' }), 402);
    fault(() => call(cd, 'Browse', { ObjectID: '0', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '99999999999', SortCriteria: '' }), 402);
    fault(() => browse(cd, 'm/nothing'), 701);
    fault(() => search(cd, 'dc:title contains'), 708);
    fault(() => search(cd, 'upnp:rating = "5"'), 708);
    fault(() => search(cd, '*', { sort: '+upnp:rating' }), 709);
    fault(() => search(cd, '*', { id: 'm/nothing' }), 701);
    fault(() => browse(cd, `m/all/t/${hex16(1)}`), 720);
  });

  it('answers the capability and update-id queries', () => {
    assert.equal(call(cd, 'GetSearchCapabilities', {}).SearchCaps, 'upnp:class,dc:title,dc:creator,upnp:artist,upnp:album,upnp:genre,dc:date,@id,@parentID,@refID');
    assert.equal(call(cd, 'GetSortCapabilities', {}).SortCaps, 'dc:title,upnp:artist,upnp:album,upnp:originalTrackNumber,dc:date,upnp:genre');
    assert.equal(call(cd, 'GetSystemUpdateID', {}).Id, 7);
    assert.match(cd.scpd(), /<name>ContainerUpdateIDs<\/name>/);
    assert.deepEqual(cd.eventedState(), { SystemUpdateID: 7, ContainerUpdateIDs: '', TransferIDs: '' });
  });

  it('events SystemUpdateID and the changed containers when a track arrives, and the tree shows it', () => {
    const events: Array<Record<string, string | number>> = [];
    const off = cd.onEvent!((e) => events.push(e));
    const before = browse(cd, 'm/all').updateId;
    const beta = browse(cd, 'm/artists').containers[1]!.id;
    catalog.upsert([track({ n: 6, title: 'New One', artist: 'Beta Band', album: 'Three EPs', trackNumber: 3, discNumber: 1, year: 1998, genre: 'Rock', path: 'Beta Band/Three EPs/CD1/03 New One.mp3' })]);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.SystemUpdateID, 8);
    const pairs = String(events[0]!.ContainerUpdateIDs).split(',');
    const changed = new Map<string, string>();
    for (let i = 0; i < pairs.length; i += 2) changed.set(pairs[i]!, pairs[i + 1]!);
    for (const id of ['m/all', 'm/artists', beta, `${beta}/all`, 'm/albums', 'm/recent', 'm']) assert.equal(changed.get(id), '8', id);
    assert.ok(!changed.has('m/pushed'), 'no pushed track changed');
    assert.ok(!changed.has('0'));
    assert.equal(browse(cd, 'm/all').updateId, 8);
    assert.notEqual(before, 8);
    assert.equal(browse(cd, 'm/playlists').updateId, 7, 'untouched containers keep their update id');
    assert.equal(browse(cd, 'm/all').total, 6);
    assert.equal(search(cd, 'dc:title = "New One"').total, 1);
    off();
  });

  it('answers the same after letting its views and cached searches go, and still follows changes', () => {
    // Every container, browsed plain and sorted, plus a few searches: what a release must not change.
    const answers = () => {
      const out: unknown[] = [];
      const queue = ['0'];
      while (queue.length) {
        const id = queue.shift()!;
        const plain = browse(cd, id);
        out.push(id, plain.raw, plain.total, plain.updateId, browse(cd, id, { sort: '-dc:title' }).raw, browse(cd, id, { flag: 'BrowseMetadata' }).raw);
        queue.push(...plain.containers.map((c) => String(c.id)));
      }
      for (const q of ['dc:title contains "love"', 'upnp:class = "object.container.person.musicArtist"', '*']) out.push(q, search(cd, q).total, titles(search(cd, q, { sort: '+dc:title' }).items));
      return out;
    };
    const before = answers();
    cd.releaseCaches();
    assert.deepEqual(answers(), before);
    cd.releaseCaches();
    catalog.upsert([track({ n: 6, title: 'After Release', artist: 'Beta Band', album: 'Three EPs', trackNumber: 3, discNumber: 1, year: 1998, genre: 'Rock', path: 'Beta Band/Three EPs/CD1/03 After Release.mp3' })]);
    assert.equal(browse(cd, 'm/all').total, 6);
    const beta = browse(cd, 'm/artists').containers.find((c) => c['dc:title'] === 'Beta Band')!;
    assert.ok(titles(browse(cd, `${String(beta.id)}/all`).items).includes('After Release'));
    assert.equal(search(cd, 'dc:title = "After Release"').total, 1);
  });

  it('keeps All Tracks in title order through adds, retags and removals', () => {
    browse(cd, 'm/all'); // builds the order that is then patched change by change
    const words = ['delta', 'Alpha', 'echo', 'Bravo', 'charlie', 'Éclair', 'alpha'];
    let n = 100;
    for (let round = 0; round < 20; round++) {
      catalog.upsert(words.map((w, i) => track({ n: n++, title: `${w} ${(round * 7 + i) % 5}` })));
      const all = catalog.all();
      catalog.upsert([{ ...storedFields(all[round % all.length]!), title: `retagged ${round}` }]);
      catalog.remove([catalog.all()[(round * 3) % catalog.size]!.id]);
      const got = browse(cd, 'm/all').items.map((i) => i.id.slice(-16));
      const fresh = makeCd(catalog.all());
      const want = browse(fresh.cd, 'm/all').items.map((i) => i.id.slice(-16));
      fresh.cd.close();
      assert.deepEqual(got, want, `round ${round}`);
    }
  });

  it('gives the same ids to the same files after a restart', () => {
    const collect = (c: ContentDirectory): string[] => {
      const ids: string[] = [];
      const walk = (id: string, depth: number) => {
        const r = browse(c, id);
        for (const o of [...r.containers, ...r.items]) {
          ids.push(o.id);
          if (depth < 6 && r.containers.includes(o)) walk(o.id, depth + 1);
        }
      };
      walk('0', 0);
      return ids.sort();
    };
    const first = collect(cd);
    const again = makeCd(smallLibrary().reverse());
    assert.deepEqual(collect(again.cd), first);
    again.cd.close();
    assert.ok(first.every((id) => /^[0-9a-z/]+$/.test(id)), 'ids are plain ASCII, never raw tag text');
  });
});

describe('ContainerUpdateIDs after a change to thousands of containers', () => {
  it('moves every container to the latest update id instead of keeping one entry each', () => {
    const { catalog, cd } = makeCd(smallLibrary());
    const before = browse(cd, 'm/playlists').updateId;
    // 2500 new albums: a first scan's batch; every album and folder container changes.
    catalog.upsert(Array.from({ length: 2500 }, (_, i) => track({ n: 1000 + i, artist: `Artist ${i % 50}`, album: `Album ${i}`, path: `Artist ${i % 50}/Album ${i}/01.mp3` })));
    const latest = Number(call(cd, 'GetSystemUpdateID', {}).Id);
    assert.ok(latest > before);
    assert.equal(browse(cd, 'm/all').updateId, latest, 'a changed container');
    assert.equal(browse(cd, 'm/playlists').updateId, latest, 'an unchanged one now reports the latest id too: a reload at worst, never a missed change');
    // A small change afterwards is tracked per container again.
    catalog.upsert([track({ n: 9000, artist: 'Artist 1', album: 'Album 1', path: 'Artist 1/Album 1/02.mp3' })]);
    assert.equal(browse(cd, 'm/all').updateId, latest + 1);
    assert.equal(browse(cd, 'm/playlists').updateId, latest);
  });
});

describe('ContentDirectory with renderer quirk flags', () => {
  const YAMAHA: UpnpRequestInfo = { ...REQ, remoteAddress: '10.77.0.3' };
  const SAMSUNG: UpnpRequestInfo = { ...REQ, remoteAddress: '10.77.0.4' };
  const flags = new Map<string, ReadonlySet<Quirk>>([
    [YAMAHA.remoteAddress, new Set<Quirk>(['forceSortByTrackNumber', 'asciiXml'])],
    [SAMSUNG.remoteAddress, new Set<Quirk>(['samsungExtensions'])],
  ]);
  let cd: ContentDirectory;
  beforeEach(() => {
    const catalog = new Catalog(silent);
    catalog.load(smallLibrary(), 7);
    cd = createContentDirectory({ catalog, log: silent, artAvailable: true, quirksFor: (req) => flags.get(req.remoteAddress) ?? new Set() });
  });
  afterEach(() => cd.close());
  const browseAs = (req: UpnpRequestInfo, id: string, sort: string) =>
    parseDidl(String((cd.handle('Browse', { ObjectID: id, BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: sort }, req) as Record<string, string>).Result));

  it('forceSortByTrackNumber: album children stay in disc/track order whatever SortCriteria asks; other views still sort', () => {
    const album = browse(cd, 'm/albums').containers.find((c) => c['dc:title'] === 'Three EPs')!;
    for (const sort of ['+dc:title', '-dc:title', '-upnp:originalTrackNumber', '+upnp:artist,-dc:date']) {
      assert.deepEqual(titles(browseAs(YAMAHA, album.id, sort).items), ['Mango', 'Zebra', 'Apple'], sort);
      assert.deepEqual(titles(browseAs(REQ, album.id, sort).items).length, 3);
    }
    assert.deepEqual(titles(browseAs(REQ, album.id, '+dc:title').items), ['Apple', 'Mango', 'Zebra'], 'others get what they ask for');
    assert.deepEqual(titles(browseAs(YAMAHA, 'm/all', '-dc:title').items), ['Zebra', 'Pushed Love', 'Mango', 'Love Song', 'Apple'], 'not an album: sorted as asked');
    fault(() => cd.handle('Browse', { ObjectID: album.id, BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '+upnp:rating' }, YAMAHA), 709);
  });

  it('samsungExtensions: X_GetFeatureList in the SCPD and answered with the Music container; 401 and the plain SCPD for others', () => {
    const list = String((cd.handle('X_GetFeatureList', {}, SAMSUNG) as Record<string, string>).FeatureList);
    assert.equal(XMLValidator.validate(list), true);
    const f = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(list).Features;
    assert.equal(f.xmlns, 'urn:schemas-upnp-org:av:avs');
    assert.equal(f.Feature.name, 'samsung.com_BASICVIEW');
    assert.deepEqual(f.Feature.container, { id: 'm', type: 'object.item.audioItem' });
    assert.equal(browse(cd, 'm', { flag: 'BrowseMetadata' }).containers[0]!['dc:title'], 'Music', 'the id is the Music container');
    fault(() => cd.handle('X_GetFeatureList', {}, REQ), 401);
    assert.match(cd.scpd(SAMSUNG), /<name>X_GetFeatureList<\/name>[\s\S]*<name>A_ARG_TYPE_Featurelist<\/name>/);
    assert.equal(XMLValidator.validate(cd.scpd(SAMSUNG)), true);
    assert.equal(cd.scpd(REQ), CDS_SCPD);
    assert.equal(cd.scpd(), CDS_SCPD);
    assert.equal(cd.scpd(SAMSUNG).replace(/\n {4}<action>\n {6}<name>X_GetFeatureList[\s\S]*?<\/action>|\n {4}<stateVariable sendEvents="no">\n {6}<name>A_ARG_TYPE_Featurelist[\s\S]*?<\/stateVariable>/g, ''), CDS_SCPD, 'the rest unchanged');
    assert.match(String((cd.handle('Browse', { ObjectID: 'm/all', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' }, SAMSUNG) as Record<string, string>).Result), /^<DIDL-Lite [^>]*xmlns:sec="http:\/\/www\.sec\.co\.kr\/">/);
  });
});

describe('ContentDirectory at 50 000 tracks', function () {
  this.timeout(120_000);
  let cd: ContentDirectory;
  before(() => {
    const tracks: StoredTrack[] = [];
    for (let n = 0; n < 50_000; n++) {
      const a = Math.floor(n / 50);
      const artist = `Artist ${String(a).padStart(4, '0')}`;
      const album = `Album ${a}-${Math.floor((n % 50) / 10)}`;
      tracks.push(track({ n, title: `Song ${n} ${n % 3 === 0 ? 'Love' : 'Night'}`, artist, album, trackNumber: (n % 10) + 1, year: 1970 + (a % 50), genre: `Genre ${a % 10}`, path: `${artist}/${album}/${n}.mp3` }));
    }
    ({ cd } = makeCd(tracks));
  });
  after(() => cd.close());

  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

  it('pages All Tracks in O(page): the last page costs what the first does', () => {
    const page = (start: number) => call(cd, 'Browse', { ObjectID: 'm/all', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: String(start), RequestedCount: '100', SortCriteria: '' });
    page(0); // the catalogue sorts once
    const timed = (start: number) => {
      const t0 = performance.now();
      const r = page(start);
      const ms = performance.now() - t0;
      assert.equal(r.NumberReturned, 100);
      return ms;
    };
    const head: number[] = [];
    const tail: number[] = [];
    for (let i = 0; i < 200; i++) {
      head.push(timed(0));
      tail.push(timed(49_900));
    }
    // A ratio, not a time, so a busy box cannot fail it: no cost grows with the offset. Latency
    // itself is measured by scripts/bench/browse.
    assert.ok(pct(tail, 0.5) < pct(head, 0.5) * 3 + 0.5, `offset 0: ${pct(head, 0.5).toFixed(2)} ms, offset 49 900: ${pct(tail, 0.5).toFixed(2)} ms`);
  });

  it('searches every track for a contains with exact counts', () => {
    // Each criteria string differs by trailing spaces, so the result cache never answers.
    const counts = { love: 16_667, night: 33_333, 'song 4': 11_111 };
    Object.entries(counts).forEach(([word, n], i) => {
      const r = call(cd, 'Search', { ContainerID: '0', SearchCriteria: `upnp:class derivedfrom "object.item.audioItem" and dc:title contains "${word}"${' '.repeat(i)}`, Filter: '*', StartingIndex: '0', RequestedCount: '100', SortCriteria: '' });
      assert.equal(r.TotalMatches, n, word);
      assert.equal(r.NumberReturned, 100);
    });
    assert.equal(search(cd, 'upnp:artist = "Artist 0042"').total, 50 + 5, '50 tracks and 5 albums');
  });

  it('answers RequestedCount 0 on 50 000 tracks with a bounded page and the exact TotalMatches', () => {
    const r = call(cd, 'Browse', { ObjectID: 'm/all', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '49000', RequestedCount: '0', SortCriteria: '' });
    assert.equal(r.TotalMatches, 50_000);
    assert.equal(r.NumberReturned, 1000);
    const all = call(cd, 'Browse', { ObjectID: 'm/all', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' });
    assert.equal(all.NumberReturned, MAX_RETURNED);
    assert.equal(all.TotalMatches, 50_000);
  });

  it('browses the big views after a rebuild', () => {
    const artists = browse(cd, 'm/artists', { count: 100 });
    assert.equal(artists.total, 1000);
    const albums = browse(cd, 'm/albums', { count: 100 });
    assert.equal(albums.total, 5000);
    const folders = browse(cd, 'm/folders');
    assert.equal(folders.total, 2);
  });
});

describe('ContentDirectory playlists (in process, real playlist store)', () => {
  let catalog: Catalog;
  let cd: ContentDirectory;
  let store: PlaylistStore;
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hifid-cd-playlists-'));
    catalog = new Catalog(silent);
    catalog.load(smallLibrary(), 7);
    store = new PlaylistStore(dir, catalog, silent);
    await store.load();
    cd = createContentDirectory({ catalog, log: silent, artAvailable: true, playlists: store });
  });
  afterEach(async () => {
    cd.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function changedIds(e: Record<string, string | number>): Map<string, string> {
    const pairs = String(e.ContainerUpdateIDs).split(',');
    const m = new Map<string, string>();
    for (let i = 0; i < pairs.length; i += 2) m.set(pairs[i]!, pairs[i + 1]!);
    return m;
  }

  it('lists playlists as playlistContainers whose items are the resolved tracks in order, with refIDs; changes are evented', () => {
    const events: Array<Record<string, string | number>> = [];
    cd.onEvent!((e) => events.push(e));
    return (async () => {
      const allBefore = browse(cd, 'm/all').updateId;
      const { playlist } = await store.add(Buffer.from('#EXTM3U\n#EXTINF:1,Ábba - love song\nx.mp3\n/sdcard/Music/02 Zebra.mp3\nnot/there/Missing.mp3\n/sdcard/03 mango.mp3\n'), { fileName: 'Mix.m3u', device: 'Pixel' });
      const pid = `m/playlists/${playlist.id}`;
      assert.equal(events.length, 1);
      const changed = changedIds(events[0]!);
      for (const id of ['m', 'm/playlists', pid]) assert.equal(changed.get(id), '8', id);
      assert.ok(!changed.has('m/all'), 'track views are not touched');
      assert.equal(browse(cd, 'm/all').updateId, allBefore);
      const top = browse(cd, 'm/playlists');
      assert.equal(top.updateId, 8);
      assert.deepEqual(top.containers.map((c) => [c.id, c['dc:title'], c['upnp:class'], c.childCount]), [[pid, 'Mix', 'object.container.playlistContainer', '3']]);
      assert.equal(browse(cd, 'm').containers.find((c) => c.id === 'm/playlists')!.childCount, '1');
      const items = browse(cd, pid);
      assert.deepEqual(titles(items.items), ['Love Song', 'Zebra', 'Mango']);
      assert.deepEqual(items.items.map((i) => i.refID), [hex16(4), hex16(1), hex16(3)].map((t) => `m/all/t/${t}`));
      assert.deepEqual(titles(browse(cd, `${pid}/t/${hex16(1)}`, { flag: 'BrowseMetadata' }).items), ['Zebra']);
      fault(() => browse(cd, `${pid}/t/${hex16(2)}`, { flag: 'BrowseMetadata' }), 701);
      assert.equal(search(cd, 'dc:title = "Mango"', { id: pid }).total, 1);
      // A track of the playlist removed: the playlist's container changes with it.
      catalog.remove([hex16(1)]);
      const again = changedIds(events.at(-1)!);
      assert.equal(again.get(pid), '9');
      assert.deepEqual(titles(browse(cd, pid).items), ['Love Song', 'Mango']);
      await store.remove(playlist.id);
      assert.equal(browse(cd, 'm/playlists').total, 0);
      fault(() => browse(cd, pid), 701);
    })();
  });
});
