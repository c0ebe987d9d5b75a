// Playlist files as phones write them (M3U/M3U8, PLS, XSPF), garbage refused, and the store:
// durable files, dedup by content, entry resolution against a real catalogue, re-resolution.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parsePlaylist, PlaylistParseError, MAX_PLAYLIST_ENTRIES, decodePlaylistText } from '../../daemon/library/playlist-parse.js';
import { PlaylistStore, entryBaseName, receivedNameKey } from '../../daemon/library/playlists.js';
import { Catalog, type CatalogChange } from '../../daemon/library/catalog.js';
import { LibraryError } from '../../daemon/library/errors.js';
import { storedTrack } from '../helpers/tracks.js';

const silent = pino({ level: 'silent' });
const utf8 = (s: string) => Buffer.from(s, 'utf8');

describe('playlist parsing', () => {
  it('reads an extended M3U with EXTINF (Artist - Title, duration), #PLAYLIST and CRLF line ends', () => {
    const text = '#EXTM3U\r\n#PLAYLIST:Road Trip\r\n#EXTINF:215,Daft Punk - One More Time\r\n/storage/emulated/0/Music/Daft Punk/01 One More Time.flac\r\n\r\n#EXTINF:-1,Just A Title\r\nhttp://radio.example/stream\r\nrelative/02 Song.mp3\r\n';
    const p = parsePlaylist(utf8(text), 'trip.m3u8');
    assert.equal(p.format, 'm3u');
    assert.equal(p.name, 'Road Trip');
    assert.deepEqual(p.entries, [
      { path: '/storage/emulated/0/Music/Daft Punk/01 One More Time.flac', title: 'One More Time', artist: 'Daft Punk', durationS: 215 },
      { path: 'http://radio.example/stream', title: 'Just A Title' },
      { path: 'relative/02 Song.mp3' },
    ]);
  });

  it('takes EXTINF attributes (IPTV style) and a UTF-8 BOM', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('#EXTM3U\n#EXTINF:100 tvg-id="x" group="y",Björk - Jóga\nJóga.mp3\n')]);
    const p = parsePlaylist(bytes, 'x.m3u');
    assert.deepEqual(p.entries, [{ path: 'Jóga.mp3', title: 'Jóga', artist: 'Björk', durationS: 100 }]);
  });

  it('reads a Latin-1 .m3u (Windows) and a UTF-8 one alike', () => {
    const latin1 = Buffer.from('#EXTM3U\r\n#EXTINF:10,Motörhead - Ace\r\nC:\\Musik\\Motörhead\\01 Ace.mp3\r\n', 'latin1');
    const p = parsePlaylist(latin1, 'old.m3u');
    assert.equal(p.entries[0]!.artist, 'Motörhead');
    assert.equal(p.entries[0]!.path, 'C:\\Musik\\Motörhead\\01 Ace.mp3');
    assert.equal(entryBaseName(p.entries[0]!.path), '01 Ace.mp3');
    assert.equal(decodePlaylistText(utf8('Motörhead')), 'Motörhead');
  });

  it('reads a plain M3U of Windows paths, URLs and file:// URLs (percent-encoded)', () => {
    const p = parsePlaylist(utf8('..\\Album\\01 Song.mp3\nfile:///storage/emulated/0/Music/My%20Song%20%C3%A9.flac\nhttps://host.example/a/b.ogg?x=1\n'), 'list.m3u');
    assert.deepEqual(p.entries.map((e) => entryBaseName(e.path)), ['01 Song.mp3', 'My Song é.flac', 'b.ogg']);
    assert.equal(receivedNameKey('Music/MY_SONG É.flac'), receivedNameKey('file:///x/My%20Song%20%C3%A9.flac'));
  });

  it('reads PLS in entry-number order, with titles and lengths', () => {
    const text = '[playlist]\nFile2=/sdcard/Music/02 Two.mp3\nTitle2=Band - Two\nLength2=200\nFile1=/sdcard/Music/01 One.mp3\nTitle1=One\nLength1=-1\nNumberOfEntries=2\nVersion=2\n';
    const p = parsePlaylist(utf8(text), 'radio.pls');
    assert.equal(p.format, 'pls');
    assert.deepEqual(p.entries, [
      { path: '/sdcard/Music/01 One.mp3', title: 'One' },
      { path: '/sdcard/Music/02 Two.mp3', title: 'Two', artist: 'Band', durationS: 200 },
    ]);
  });

  it('reads XSPF: title, locations, creators, durations in ms, entities and CDATA', () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<playlist version="1" xmlns="http://xspf.org/ns/0/">
  <title>Rock &amp; Roll</title>
  <trackList>
    <track><location>file:///music/01%20A.flac</location><title>A &lt;1&gt;</title><creator>Ann</creator><duration>61500</duration></track>
    <track><title>no location: skipped</title></track>
    <track><location><![CDATA[/music/B & C.mp3]]></location></track>
  </trackList>
</playlist>`;
    const p = parsePlaylist(utf8(text), 'x.xspf');
    assert.equal(p.format, 'xspf');
    assert.equal(p.name, 'Rock & Roll');
    assert.deepEqual(p.entries, [
      { path: 'file:///music/01%20A.flac', title: 'A <1>', artist: 'Ann', durationS: 62 },
      { path: '/music/B & C.mp3' },
    ]);
  });

  it('refuses XSPF with a DOCTYPE or entity declarations (XXE, billion laughs) and malformed XML', () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><playlist><trackList><track><location>&x;</location></track></trackList></playlist>';
    assert.throws(() => parsePlaylist(utf8(xxe), 'a.xspf'), /document type declarations/);
    assert.throws(() => parsePlaylist(utf8('<playlist><trackList><track>'), 'a.xspf'), /malformed XML/);
    assert.throws(() => parsePlaylist(utf8('<html><body/></html>'), 'a.xspf'), /not an XSPF/);
    assert.throws(() => parsePlaylist(utf8('<playlist><trackList><track><location>&foo;</location></track></trackList></playlist>'), 'a.xspf'), /undefined entity/);
  });

  it('refuses garbage: binary, prose, empty lists, too many entries, too many bytes', () => {
    const refuse = (b: Buffer, name: string | null, re: RegExp) => assert.throws(() => parsePlaylist(b, name), (e: unknown) => e instanceof PlaylistParseError && re.test(e.message));
    refuse(Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x01, 0x02, 0xff, 0xfb]), 'song.m3u', /binary/);
    refuse(utf8('Dear diary, today I made a playlist\n'), 'notes.m3u', /does not name a file/);
    refuse(utf8('#EXTM3U\n# nothing here\n'), 'empty.m3u8', /no entries/);
    refuse(utf8('[playlist]\nNumberOfEntries=0\n'), 'e.pls', /no entries/);
    refuse(utf8('[playlist]\nhello world\n'), 'e.pls', /not a PLS key/);
    refuse(utf8('#EXTM3U\n' + 'a.mp3\n'.repeat(MAX_PLAYLIST_ENTRIES + 1)), 'big.m3u', /more than 10000 entries/);
    refuse(Buffer.alloc(1024 * 1024 + 1, 0x61), 'huge.m3u', /larger than/);
  });
});

describe('playlist store', () => {
  let dir: string;
  let catalog: Catalog;
  let store: PlaylistStore;
  const one = storedTrack({ id: '1111111111111111', title: 'One More Time', artist: 'Daft Punk', path: 'Daft Punk/Discovery/01 One More Time.flac' });
  const two = storedTrack({ id: '2222222222222222', title: 'Aerodynamic', artist: 'Daft Punk', path: 'Daft Punk/Discovery/02 Aerodynamic.flac' });
  const three = storedTrack({ id: '3333333333333333', title: 'Digital Love', artist: 'Daft Punk', path: 'Daft Punk/Discovery/03 Digital Love.flac' });

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hifid-playlists-'));
    catalog = new Catalog(silent);
    catalog.load([one, two], 1);
    store = new PlaylistStore(dir, catalog, silent);
    await store.load();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const m3u = utf8('#EXTM3U\n#EXTINF:320,DAFT PUNK - one more time\n/storage/emulated/0/Music/x.flac\n/storage/emulated/0/Music/DP/02_Aerodynamic.mp3\n/storage/emulated/0/Music/03 Digital Love.flac\n../../etc/passwd\n');

  it('stores a playlist durably, resolves entries by artist + title and by file name, and dedups by content', async () => {
    const changes: CatalogChange[] = [];
    catalog.on('change', (c) => changes.push(c));
    const r = await store.add(m3u, { fileName: 'Discovery.m3u8', device: 'Pixel' });
    assert.equal(r.duplicate, false);
    assert.equal(r.playlist.name, 'Discovery');
    assert.deepEqual(r.playlist.entries.map((e) => e.trackId), [one.id, two.id, null, null]);
    assert.deepEqual(store.tracksOf(r.playlist).map((t) => t.id), [one.id, two.id]);
    assert.deepEqual(readdirSync(path.join(dir, 'playlists')), [`${r.playlist.id}.json`]);
    assert.deepEqual(changes.map((c) => c.playlists), [[r.playlist.id]]);
    const again = await store.add(m3u, { fileName: 'other name.m3u', device: 'Other' });
    assert.equal(again.duplicate, true);
    assert.equal(again.playlist.id, r.playlist.id);
    assert.equal(store.size, 1);
  });

  it('resolves open entries when their track arrives, and keeps everything across a reload', async () => {
    const { playlist } = await store.add(m3u, { fileName: 'Discovery.m3u8', device: 'Pixel' });
    const changed = new Promise<CatalogChange>((resolve) => catalog.on('change', (c) => c.playlists && resolve(c)));
    catalog.upsert([three]);
    assert.deepEqual((await changed).playlists, [playlist.id]);
    assert.deepEqual(store.tracksOf(store.get(playlist.id)!).map((t) => t.id), [one.id, two.id, three.id]);
    await store.close();
    store = new PlaylistStore(dir, catalog, silent);
    await store.load();
    const back = store.get(playlist.id)!;
    assert.equal(back.name, 'Discovery');
    assert.equal(back.device, 'Pixel');
    assert.deepEqual(back.entries.map((e) => e.trackId), [one.id, two.id, three.id, null]);
    assert.equal(back.entries[3]!.hint.path, '../../etc/passwd');
  });

  it('matches names received in the same transfer first, even when the playlist came first', async () => {
    const list = utf8('/sdcard/Music/zz-renamed.flac\n');
    const { playlist } = await store.add(list, { fileName: 'x.m3u', device: 'Pixel', received: new Map() });
    assert.equal(playlist.entries[0]!.trackId, null);
    await store.resolveReceived([playlist.id], new Map([[receivedNameKey('Music/ZZ-Renamed.flac'), two.id]]));
    assert.equal(store.get(playlist.id)!.entries[0]!.trackId, two.id);
  });

  it('refuses garbage with not_playlist and stores nothing; deletes durably', async () => {
    await assert.rejects(store.add(Buffer.from([0, 1, 2, 3]), { fileName: 'a.m3u', device: null }), (e: unknown) => e instanceof LibraryError && e.code === 'not_playlist');
    assert.deepEqual(readdirSync(path.join(dir, 'playlists')), []);
    const { playlist } = await store.add(m3u, { fileName: 'a.m3u', device: null });
    await store.remove(playlist.id);
    assert.deepEqual(readdirSync(path.join(dir, 'playlists')), []);
    await assert.rejects(store.remove(playlist.id), (e: unknown) => e instanceof LibraryError && e.code === 'not_found');
  });

  it('removes temp files of an interrupted write at load and skips a broken file', async () => {
    await store.close();
    writeFileSync(path.join(dir, 'playlists', '.abcdefabcdefabcd.json.1.x.tmp'), '{');
    writeFileSync(path.join(dir, 'playlists', 'abcdefabcdefabcd.json'), '{broken');
    store = new PlaylistStore(dir, catalog, silent);
    await store.load();
    assert.equal(store.size, 0);
    assert.deepEqual(readdirSync(path.join(dir, 'playlists')), ['abcdefabcdefabcd.json']);
  });
});
