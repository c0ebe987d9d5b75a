// ContentDirectory end to end in the test LAN: upnp-device-client as the control point (description,
// Browse, Search, faults), a raw GENA subscriber, GUPnP-AV reading our DIDL-Lite, media and art URLs with their
// DLNA headers, a push showing up without a rescan, and ids that survive a restart.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import { pushFile, rawRequest } from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, fixturePath, REPO_ROOT } from '../helpers/fixtures.js';
import { testLan } from '../helpers/lan.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);

// upnp-device-client is CommonJS without types; this is the part of it the tests use.
interface UpnpClient {
  callAction(service: string, action: string, params: Record<string, string | number>, cb: (err: (Error & { errorCode?: string }) | null, result: Record<string, string>) => void): void;
}
const UPnPClient = createRequire(import.meta.url)('upnp-device-client') as new (url: string) => UpnpClient;

function callAction(client: UpnpClient, action: string, params: Record<string, string | number>): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => client.callAction('ContentDirectory', action, params, (err, r) => (err ? reject(err) : resolve(r))));
}

async function upnpFault(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (err: Error & { errorCode?: string }) => err.errorCode === String(code), `expected UPnP error ${code}`);
}

type Obj = Record<string, string> & { res?: Array<Record<string, string>> };
const didlParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'item' || n === 'container' || n === 'res', processEntities: true, htmlEntities: false, parseTagValue: false, parseAttributeValue: false });
function didl(result: string): { containers: Obj[]; items: Obj[] } {
  const d = (didlParser.parse(result) as Record<string, { container?: Obj[]; item?: Obj[] }>)['DIDL-Lite'] ?? {};
  return { containers: d.container ?? [], items: d.item ?? [] };
}
const text = (v: unknown): string => (typeof v === 'object' && v !== null ? String((v as Record<string, unknown>)['#text']) : String(v));

interface GupnpItem {
  id: string;
  parentId: string;
  title: string;
  artist: string | null;
  album: string | null;
  trackNumber: number;
  upnpClass: string;
  albumArt: string | null;
  resources: Array<{ uri: string; protocolInfo: string; mime: string; profile: string | null; duration: number; size: number; bitrate: number; sampleFreq: number; channels: number }>;
}

/** GUPnP-AV (Debian's gir1.2-gupnp-av-1.0) parsing a DIDL-Lite document, in a child process. */
async function gupnpParse(xml: string): Promise<{ items: GupnpItem[]; containers: Array<{ id: string; title: string; childCount: number; upnpClass: string }> }> {
  const child = execFile('/usr/bin/python3', [path.join(REPO_ROOT, 'test', 'helpers', 'gupnp-didl.py')]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  child.stdin!.end(xml);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `gupnp-didl.py failed: ${err}`);
  return JSON.parse(out) as Awaited<ReturnType<typeof gupnpParse>>;
}

// The fixtures share album "Test Album" by "Test Album Artist", disc 1, track N, title "Tone N".
const ALBUM_FILES: Array<[string, string]> = [
  ['tone.mp3', '01 One.mp3'],
  ['tone-v23.mp3', '02 Two.mp3'],
  ['tone.flac', '04 Four.flac'],
  ['hires.flac', '05 Five.flac'],
  ['tone.m4a', '06 Six.m4a'],
  ['tone.ogg', '08 Eight.ogg'],
  ['art.mp3', '12 Twelve.mp3'],
];

describe('ContentDirectory over UPnP', function () {
  this.timeout(90_000);
  let music: string;
  let dataDir: string;
  let d: TestDaemon;
  let client: UpnpClient;

  const browse = async (id: string, o: { flag?: string; start?: number; count?: number; sort?: string; filter?: string } = {}) => {
    const r = await callAction(client, 'Browse', { ObjectID: id, BrowseFlag: o.flag ?? 'BrowseDirectChildren', Filter: o.filter ?? '*', StartingIndex: o.start ?? 0, RequestedCount: o.count ?? 0, SortCriteria: o.sort ?? '' });
    return { ...didl(r.Result!), raw: r.Result!, total: Number(r.TotalMatches), returned: Number(r.NumberReturned), updateId: Number(r.UpdateID) };
  };
  const search = async (criteria: string, o: { id?: string; start?: number; count?: number; sort?: string } = {}) => {
    const r = await callAction(client, 'Search', { ContainerID: o.id ?? '0', SearchCriteria: criteria, Filter: '*', StartingIndex: o.start ?? 0, RequestedCount: o.count ?? 0, SortCriteria: o.sort ?? '' });
    return { ...didl(r.Result!), total: Number(r.TotalMatches), returned: Number(r.NumberReturned) };
  };
  const child = async (parent: string, title: string): Promise<Obj> => {
    const r = await browse(parent);
    const c = r.containers.find((x) => x['dc:title'] === title);
    assert.ok(c, `no "${title}" in ${parent}: ${r.containers.map((x) => x['dc:title']).join(', ')}`);
    return c;
  };
  /** Every object id reachable from 0 (containers and items). */
  const walk = async (): Promise<string[]> => {
    const ids: string[] = [];
    const visit = async (id: string, depth: number) => {
      const r = await browse(id);
      for (const c of r.containers) {
        ids.push(c.id!);
        if (depth < 8) await visit(c.id!, depth + 1);
      }
      for (const i of r.items) ids.push(i.id!);
    };
    await visit('0', 0);
    return ids.sort();
  };

  before(async () => {
    music = mkdtempSync(path.join(tmpdir(), 'hifid-cds-music-'));
    const album = path.join(music, 'Test Album Artist', 'Test Album');
    mkdirSync(album, { recursive: true });
    for (const [src, dst] of ALBUM_FILES) copyFileSync(fixturePath(src), path.join(album, dst));
    mkdirSync(path.join(music, 'Other', 'Covered'), { recursive: true });
    copyFileSync(fixturePath('unicode.flac'), path.join(music, 'Other', 'Covered', 'u.flac'));
    copyFileSync(fixturePath('cover.jpg'), path.join(music, 'Other', 'Covered', 'cover.jpg'));
    copyFileSync(fixturePath('untagged.mp3'), path.join(music, 'Other', 'Loose.mp3'));
    writeFileSync(path.join(music, 'Other', 'notes.txt'), 'not music');
    dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-cds-data-'));
    d = await TestDaemon.start({ dataDir, args: ['--music-dir', music] });
    await d.idle();
    client = new UPnPClient(`${d.url}/upnp/description.xml`);
  });

  after(async () => {
    await d?.dispose();
    rmSync(music, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers the capability queries', async () => {
    const caps = await callAction(client, 'GetSearchCapabilities', {});
    assert.match(caps.SearchCaps!, /dc:title/);
    assert.match(caps.SearchCaps!, /upnp:class/);
    const sort = await callAction(client, 'GetSortCapabilities', {});
    assert.equal(sort.SortCaps, 'dc:title,upnp:artist,upnp:album,upnp:originalTrackNumber,dc:date,upnp:genre');
    assert.match((await callAction(client, 'GetSystemUpdateID', {})).Id!, /^\d+$/);
  });

  it('browses 0 → Music → the views, and albums list tracks in disc/track order', async () => {
    const root = await browse('0');
    assert.deepEqual(root.containers.map((c) => c['dc:title']), ['Music', 'Uploads']);
    const music = await browse(root.containers[0]!.id!);
    assert.deepEqual(music.containers.map((c) => c['dc:title']), ['All Tracks', 'Artists', 'Album Artists', 'Albums', 'Genres', 'Years', 'Folders', 'Recently Added', 'Pushed From', 'Playlists']);
    const albums = await child('m', 'Albums');
    const album = await child(albums.id!, 'Test Album');
    assert.equal(album['upnp:class'], 'object.container.album.musicAlbum');
    assert.equal(album.childCount, String(ALBUM_FILES.length));
    const tracks = await browse(album.id!);
    assert.deepEqual(tracks.items.map((i) => i['dc:title']), ['Tone 1', 'Tone 2', 'Tone 4', 'Tone 5', 'Tone 6', 'Tone 8', 'Tone 12']);
    assert.deepEqual(tracks.items.map((i) => i['upnp:originalTrackNumber']), ['1', '2', '4', '5', '6', '8', '12']);
    // artist → All Tracks + albums
    const artist = await child(music.containers[1]!.id!, 'Test Artist');
    assert.equal(artist['upnp:class'], 'object.container.person.musicArtist');
    const kids = await browse(artist.id!);
    assert.equal(kids.containers[0]!['dc:title'], 'All Tracks');
    assert.ok(kids.containers.some((c) => c['dc:title'] === 'Test Album'));
    // genres and years
    assert.ok((await browse((await child('m', 'Genres')).id!)).containers.some((c) => c['dc:title'] === 'Electronic'));
    assert.ok((await browse((await child('m', 'Years')).id!)).containers.some((c) => c['dc:title'] === '2024'));
  });

  it('shows the music folder layout under Folders', async () => {
    const folders = await browse('m/folders');
    const root = folders.containers.find((c) => c['dc:title'] === path.basename(music));
    assert.ok(root, folders.containers.map((c) => c['dc:title']).join());
    const top = await browse(root.id!);
    assert.deepEqual(top.containers.map((c) => c['dc:title']), ['Other', 'Test Album Artist']);
    const other = await browse(top.containers[0]!.id!);
    assert.deepEqual(other.containers.map((c) => c['dc:title']), ['Covered']);
    assert.deepEqual(other.items.map((i) => i['dc:title']), ['Loose']);
    assert.equal(other.containers[0]!['upnp:class'], 'object.container.storageFolder');
  });

  it('pages with StartingIndex/RequestedCount and exact TotalMatches; RequestedCount 0 is all', async () => {
    const all = await browse('m/all');
    assert.equal(all.total, ALBUM_FILES.length + 2);
    assert.equal(all.returned, all.total);
    const page = await browse('m/all', { start: 2, count: 3 });
    assert.equal(page.total, all.total);
    assert.equal(page.returned, 3);
    assert.deepEqual(page.items.map((i) => i.id), all.items.slice(2, 5).map((i) => i.id));
    const past = await browse('m/all', { start: 100, count: 3 });
    assert.equal(past.returned, 0);
    assert.equal(past.total, all.total);
  });

  it('sorts on request, case-insensitively, and refuses unknown keys with 709', async () => {
    const album = (await browse('m/albums')).containers.find((c) => c['dc:title'] === 'Test Album')!;
    const desc = await browse(album.id!, { sort: '-dc:title' });
    assert.deepEqual(desc.items.map((i) => i['dc:title']), ['Tone 8', 'Tone 6', 'Tone 5', 'Tone 4', 'Tone 2', 'Tone 12', 'Tone 1']);
    const byTrack = await browse('m/all', { sort: '+upnp:album,+upnp:originalTrackNumber' });
    assert.ok(byTrack.total > 0);
    await upnpFault(browse('m/all', { sort: '+upnp:rating' }), 709);
  });

  it('honours Filter', async () => {
    const r = await browse('m/all', { filter: 'dc:title,res@duration', count: 2 });
    assert.ok(r.raw.includes('duration='));
    assert.ok(!r.raw.includes('<upnp:album>'));
    assert.ok(!r.raw.includes('size='));
    assert.ok(r.raw.includes('protocolInfo='));
  });

  it('searches with exact counts', async () => {
    const tones = await search('upnp:class derivedfrom "object.item.audioItem" and dc:title contains "tone"');
    assert.equal(tones.total, ALBUM_FILES.length);
    const byArtist = await search('upnp:class derivedfrom "object.item.audioItem" and upnp:artist = "Test Artist"');
    assert.equal(byArtist.total, ALBUM_FILES.length);
    const albums = await search('upnp:class = "object.container.album.musicAlbum" and dc:title contains "test"');
    assert.deepEqual(albums.containers.map((c) => c['dc:title']), ['Test Album']);
    const page = await search('dc:title contains "tone"', { start: 1, count: 2, sort: '+dc:title' });
    assert.equal(page.total, ALBUM_FILES.length);
    assert.deepEqual(page.items.map((i) => i['dc:title']), ['Tone 12', 'Tone 2']);
  });

  it('answers faults 701, 708, 709, 720 and 402 as SOAP faults', async () => {
    await upnpFault(browse('m/no/such/thing'), 701);
    await upnpFault(browse('../../etc', { flag: 'BrowseMetadata' }), 701);
    await upnpFault(search('dc:title contains'), 708);
    await upnpFault(search('upnp:rating = "5"'), 708);
    await upnpFault(search('*', { sort: '+res@size' }), 709);
    const item = (await browse('m/all', { count: 1 })).items[0]!;
    await upnpFault(browse(item.id!), 720);
    await upnpFault(callAction(client, 'Browse', { ObjectID: '0', Filter: '*', StartingIndex: 0, RequestedCount: 0, SortCriteria: '' }), 402);
    await upnpFault(browse('0', { flag: 'BrowseAll' }), 402);
  });

  it('gives GUPnP-AV a DIDL-Lite it reads: titles, artist, album, res, protocolInfo, duration', async () => {
    const r = await browse('m/all');
    const parsed = await gupnpParse(r.raw);
    assert.equal(parsed.items.length, r.total);
    const tone1 = parsed.items.find((i) => i.title === 'Tone 1')!;
    assert.equal(tone1.artist, 'Test Artist');
    assert.equal(tone1.album, 'Test Album');
    assert.equal(tone1.trackNumber, 1);
    assert.equal(tone1.upnpClass, 'object.item.audioItem.musicTrack');
    assert.equal(tone1.parentId, 'm/all');
    const res = tone1.resources[0]!;
    assert.match(res.uri, new RegExp(`^${d.url}/media/[0-9a-f]{16}\\.mp3$`));
    assert.equal(res.mime, 'audio/mpeg');
    assert.equal(res.profile, 'MP3');
    assert.match(res.protocolInfo, /^http-get:\*:audio\/mpeg:DLNA\.ORG_PN=MP3;DLNA\.ORG_OP=01;DLNA\.ORG_FLAGS=01700000000000000000000000000000$/);
    assert.equal(res.duration, 2);
    assert.equal(res.channels, 2);
    assert.equal(res.sampleFreq, 44100);
    const uni = parsed.items.find((i) => i.artist === 'アーティスト')!;
    assert.equal(uni.title, '雨/の../ 日 <&> "q" 🎵');
    const flac = parsed.items.find((i) => i.title === 'Tone 4')!;
    assert.equal(flac.resources[0]!.mime, 'audio/flac');
    assert.equal(flac.resources[0]!.profile, null);
    const art = parsed.items.find((i) => i.title === 'Tone 12')!;
    assert.match(art.albumArt!, /\/art\/[0-9a-f]{16}\/tn\.jpg$/);
    const containers = await gupnpParse((await browse('m')).raw);
    assert.equal(containers.containers.length, 10);
    assert.equal(containers.containers[0]!.childCount, r.total);
  });

  it('serves media with DLNA headers, Range and HEAD', async () => {
    const r = await browse('m/all');
    const item = r.items.find((i) => i['dc:title'] === 'Tone 1')!;
    const res = item.res![0]!;
    const url = new URL(text(res));
    const head = await rawRequest(d.url, { method: 'HEAD', path: url.pathname, headers: { 'getcontentFeatures.dlna.org': '1' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers['contentfeatures.dlna.org'], 'DLNA.ORG_PN=MP3;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000');
    assert.equal(head.headers['transfermode.dlna.org'], 'Streaming');
    assert.equal(head.headers['content-type'], 'audio/mpeg');
    assert.equal(head.headers['content-length'], res.size);
    assert.equal(head.headers['accept-ranges'], 'bytes');
    assert.equal(head.body.length, 0);
    const part = await rawRequest(d.url, { path: url.pathname, headers: { Range: 'bytes=10-19', 'transferMode.dlna.org': 'Streaming' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${res.size}`);
    assert.deepEqual(part.body, fixture('tone.mp3').subarray(10, 20));
    const bg = await rawRequest(d.url, { method: 'HEAD', path: url.pathname, headers: { 'transferMode.dlna.org': 'Background' } });
    assert.equal(bg.headers['transfermode.dlna.org'], 'Background');
    assert.equal((await rawRequest(d.url, { method: 'HEAD', path: url.pathname, headers: { 'transferMode.dlna.org': 'Interactive' } })).status, 406);
    assert.equal((await rawRequest(d.url, { method: 'HEAD', path: url.pathname, headers: { 'TimeSeekRange.dlna.org': 'npt=10-' } })).status, 406);
    assert.equal((await rawRequest(d.url, { path: '/media/0000000000000000.mp3' })).status, 404);
    assert.equal((await rawRequest(d.url, { path: '/media/../../etc/passwd' })).status, 404);
    assert.equal((await rawRequest(d.url, { path: url.pathname, headers: { Host: 'evil.example' } })).status, 400);
  });

  it('serves cover thumbnails within JPEG_TN and JPEG_SM limits, cached, and 404 without art', async () => {
    const r = await browse('m/all');
    for (const title of ['Tone 12', '雨/の../ 日 <&> "q" 🎵']) {
      const item = r.items.find((i) => i['dc:title'] === title)!;
      const tn = new URL(text(item['upnp:albumArtURI']));
      assert.equal((item['upnp:albumArtURI'] as unknown as Record<string, string>)['dlna:profileID'], 'JPEG_TN');
      for (const [size, w, h] of [['tn', 160, 160], ['sm', 640, 480]] as const) {
        const p = tn.pathname.replace('/tn.jpg', `/${size}.jpg`);
        const got = await rawRequest(d.url, { path: p, headers: { 'getcontentFeatures.dlna.org': '1' } });
        assert.equal(got.status, 200, `${title} ${size}`);
        assert.equal(got.headers['content-type'], 'image/jpeg');
        assert.equal(got.headers['transfermode.dlna.org'], 'Interactive');
        assert.equal(got.headers['contentfeatures.dlna.org'], `DLNA.ORG_PN=${size === 'tn' ? 'JPEG_TN' : 'JPEG_SM'};DLNA.ORG_OP=01;DLNA.ORG_FLAGS=00f00000000000000000000000000000`);
        const file = path.join(dataDir, `probe-${size}.jpg`);
        writeFileSync(file, got.body);
        const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height,codec_name', '-of', 'json', file]);
        const s = (JSON.parse(stdout) as { streams: Array<{ width: number; height: number; codec_name: string }> }).streams[0]!;
        assert.equal(s.codec_name, 'mjpeg');
        assert.ok(s.width <= w && s.height <= h, `${size}: ${s.width}×${s.height}`);
        assert.ok(s.width > 0 && s.height > 0);
        const range = await rawRequest(d.url, { path: p, headers: { Range: 'bytes=0-1' } });
        assert.equal(range.status, 206);
        assert.deepEqual(range.body, Buffer.from([0xff, 0xd8]));
        // made once: the second answer is the same cached file (same validator)
        assert.equal(range.headers.etag, got.headers.etag);
      }
    }
    const cached = readdirSync(path.join(dataDir, 'state', 'art'));
    assert.deepEqual(cached.filter((f) => f.endsWith('.tn.jpg')).length, 2, cached.join());
    assert.ok(!cached.some((f) => f.endsWith('.tmp')));
    const bare = r.items.find((i) => i['dc:title'] === 'Tone 1')!;
    assert.equal(bare['upnp:albumArtURI'], undefined);
    const bareId = text(bare.res![0]!).match(/media\/([0-9a-f]{16})/)![1]!;
    assert.equal((await rawRequest(d.url, { path: `/art/${bareId}/tn.jpg` })).status, 404);
    assert.equal((await rawRequest(d.url, { path: `/art/${bareId}/big.jpg` })).status, 404);
    assert.equal((await rawRequest(d.url, { path: `/art/${bareId}/tn.jpg`, headers: { 'transferMode.dlna.org': 'Streaming' } })).status, 406);
  });

  it('shows a pushed track in open containers without a rescan, and events the change', async () => {
    // upnp-device-client cannot read GENA property sets written with the usual `e:` prefix (UDA's own
    // example) and never answers a NOTIFY, so this subscriber is a few lines of raw HTTP on the phone's address.
    const events: Array<Record<string, string>> = [];
    const sink = http.createServer((req, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString()));
      req.on('end', () => {
        const vars: Record<string, string> = {};
        for (const m of body.matchAll(/<(SystemUpdateID|ContainerUpdateIDs)>([^<]*)<\/\1>/g)) vars[m[1]!] = m[2]!;
        events.push(vars);
        res.end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, testLan().phone, resolve));
    const port = (sink.address() as AddressInfo).port;
    const sub = await rawRequest(d.url, { method: 'SUBSCRIBE', path: '/upnp/event/cds', localAddress: testLan().phone, headers: { CALLBACK: `<http://${testLan().phone}:${port}/>`, NT: 'upnp:event', TIMEOUT: 'Second-300' } });
    assert.equal(sub.status, 200);
    const sid = String(sub.headers.sid);
    try {
      await eventually(async () => events.some((e) => e.SystemUpdateID !== undefined));
      const before = Number((await callAction(client, 'GetSystemUpdateID', {})).Id);
      const allBefore = await browse('m/all');
      const pushed = await pushFile(d.url, 'Fresh.wav', fixture('tone.wav'), { 'X-Hifid-Device': 'Test Phone' });
      assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
      const after = Number((await callAction(client, 'GetSystemUpdateID', {})).Id);
      assert.ok(after > before);
      const allAfter = await browse('m/all');
      assert.equal(allAfter.total, allBefore.total + 1);
      assert.ok(allAfter.updateId > allBefore.updateId);
      const devices = await browse('m/pushed');
      const phone = devices.containers.find((c) => c['dc:title'] === 'Test Phone');
      assert.ok(phone);
      assert.equal((await browse(phone.id!)).items[0]!['dc:title'], 'Tone 10');
      assert.equal((await browse('m/recent')).items[0]!['dc:title'], 'Tone 10');
      const event = await eventually(async () => events.find((e) => e.ContainerUpdateIDs && Number(e.SystemUpdateID) >= after));
      const ids = event.ContainerUpdateIDs!.split(',').filter((_, i) => i % 2 === 0);
      for (const id of ['m/all', 'm/recent', 'm/pushed', phone.id!]) assert.ok(ids.includes(id), `${id} in ${event.ContainerUpdateIDs}`);
    } finally {
      await rawRequest(d.url, { method: 'UNSUBSCRIBE', path: '/upnp/event/cds', localAddress: testLan().phone, headers: { SID: sid } });
      await new Promise((resolve) => sink.close(resolve));
    }
  });

  it('keeps every object id across a restart', async () => {
    const first = await walk();
    assert.ok(first.length > 30);
    assert.ok(first.every((id) => /^[0-9a-z/]+$/.test(id)), 'ids never carry raw tag text');
    await d.stop();
    d = await TestDaemon.start({ dataDir, port: d.port, args: ['--music-dir', music] });
    await d.idle();
    client = new UPnPClient(`${d.url}/upnp/description.xml`);
    assert.deepEqual(await walk(), first);
  });
});
