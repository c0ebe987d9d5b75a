// Playlists pushed from phones, end to end in the test LAN: a LocalSend peer (its own host, 10.77.0.3)
// sends songs and an m3u8 naming them by phone paths; the UPnP tree (Browse over SOAP) and the JSON API
// show the playlist in order; a playlist sent before its songs resolves once they arrive; entries never
// reach the file system; a restart keeps playlists; delete removes them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { makeWav } from '../helpers/fixtures.js';
import { getJson, pushFile } from '../helpers/api.js';
import { LocalSendPeer, type RequestResult, type UploadFile } from '../helpers/localsend.js';
import { browse, cdsCall } from '../helpers/dlna-upload.js';
import { testLan } from '../helpers/lan.js';
import { eventually } from '../helpers/wait.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const json = <T>(r: RequestResult): T => JSON.parse(r.body) as T;

interface PlaylistJson {
  id: string;
  name: string;
  device: string | null;
  format: string;
  entryCount: number;
  trackCount: number;
}
interface PlaylistDetail extends PlaylistJson {
  entries: Array<{ trackId: string | null; hint: { path: string; title?: string; artist?: string }; track: { title: string } | null }>;
}

async function playlists(d: TestDaemon): Promise<PlaylistJson[]> {
  const r = await getJson(`${d.url}/api/v1/playlists`);
  assert.equal(r.status, 200);
  return (r.body as { items: PlaylistJson[] }).items;
}

async function trackCount(d: TestDaemon): Promise<number> {
  return ((await getJson(`${d.url}/api/v1/status`)).body as { tracks: number }).tracks;
}

const text = (v: unknown): string => (typeof v === 'object' && v !== null ? String((v as Record<string, unknown>)['#text']) : String(v));

describe('playlists pushed from phones', function () {
  this.timeout(60_000);
  const lan = testLan();
  const url = `https://${lan.stereo}:53317`;
  let phone: LocalSendPeer;
  let d: TestDaemon;
  let dataDir: string;
  const songs = ['Alpha Tune', 'Beta Tune', 'Gamma Tune'].map((title, i) => ({ title, bytes: makeWav(9100 + i, { title, artist: 'Wave Band', album: 'Trip' }), phoneName: `WhatsApp Audio/AUD-20240101-WA000${i + 1}.wav` }));

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-playlists-'));
    phone = await LocalSendPeer.start('10.77.0.3', 'Pixel 8');
    d = await TestDaemon.start({ dataDir, args: ['--localsend-port', '53317'] });
    await d.idle();
  });
  after(async () => {
    await d?.dispose();
    await phone?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function prepare(files: UploadFile[]): Promise<{ sessionId: string; files: Record<string, string> }> {
    const r = await phone.prepareUpload(url, files);
    assert.equal(r.status, 200, r.body);
    return json(r);
  }

  async function upload(s: { sessionId: string; files: Record<string, string> }, fileId: string, bytes: Buffer): Promise<RequestResult> {
    return phone.upload(url, { sessionId: s.sessionId, fileId, token: s.files[fileId]! }, { base64: bytes.toString('base64') });
  }

  let tripId: string;

  it('takes a LocalSend transfer of 3 songs and an m3u8 naming them by phone paths, and lists it in order in m/playlists', async () => {
    // Phone paths, in the order 3, 1, 2; the songs' stored names come from their tags, not these.
    const m3u8 = Buffer.from(['#EXTM3U', ...[2, 0, 1].map((i) => `/storage/emulated/0/${songs[i]!.phoneName}`), ''].join('\n'));
    const files: UploadFile[] = [
      ...songs.map((s, i) => ({ id: `s${i}`, fileName: s.phoneName, size: s.bytes.length, fileType: 'audio/wav', sha256: sha256(s.bytes), preview: null })),
      { id: 'pl', fileName: 'Road Trip.m3u8', size: m3u8.length, fileType: 'application/vnd.apple.mpegurl', sha256: sha256(m3u8), preview: null },
    ];
    const s = await prepare(files);
    assert.deepEqual(Object.keys(s.files).sort(), ['pl', 's0', 's1', 's2'], 'the playlist gets a token too');
    const updateBefore = Number((await cdsCall(d.url, 'Browse', { ObjectID: 'm/playlists', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' })).out('UpdateID'));
    // One song first, then the playlist, then the rest: entries resolve whichever comes first.
    assert.equal((await upload(s, 's0', songs[0]!.bytes)).status, 200);
    const pl = await upload(s, 'pl', m3u8);
    assert.equal(pl.status, 200, pl.body);
    assert.equal(pl.body, '');
    for (const i of [1, 2]) assert.equal((await upload(s, `s${i}`, songs[i]!.bytes)).status, 200);

    const [p] = await playlists(d);
    assert.ok(p);
    assert.equal(p.name, 'Road Trip');
    assert.equal(p.device, 'Pixel 8');
    assert.equal(p.format, 'm3u');
    assert.equal(p.entryCount, 3);
    assert.equal(p.trackCount, 3);
    tripId = p.id;
    assert.equal(p.id, sha256(m3u8).slice(0, 16), 'its id is its content hash');

    const top = await browse(d.url, 'm/playlists');
    assert.equal(top.fault, null);
    assert.equal(top.containers.length, 1);
    const c = top.containers[0]!;
    assert.equal(c.id, `m/playlists/${p.id}`);
    assert.equal(c.parentID, 'm/playlists');
    assert.equal(c.childCount, '3');
    assert.equal(text(c['upnp:class']), 'object.container.playlistContainer');
    assert.equal(text(c['dc:title']), 'Road Trip');
    const items = (await browse(d.url, c.id as string)).items;
    assert.deepEqual(items.map((i) => text(i['dc:title'])), ['Gamma Tune', 'Alpha Tune', 'Beta Tune']);
    for (const i of items) {
      const tid = (i.id as string).split('/t/')[1]!;
      assert.equal(i.parentID, c.id);
      assert.equal(i.refID, `m/all/t/${tid}`, 'items point at the canonical track');
      const meta = await browse(d.url, i.id as string, 'BrowseMetadata');
      assert.equal(meta.items.length, 1, 'each item can be looked at by its id');
    }
    const updateAfter = Number((await cdsCall(d.url, 'Browse', { ObjectID: 'm/playlists', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' })).out('UpdateID'));
    assert.ok(updateAfter > updateBefore, `m/playlists' ContainerUpdateID moved (${updateBefore} → ${updateAfter})`);
    const music = await browse(d.url, 'm');
    assert.equal(music.containers.find((x) => x.id === 'm/playlists')!.childCount, '1');

    const detail = (await getJson(`${d.url}/api/v1/playlists/${p.id}`)).body as PlaylistDetail;
    assert.deepEqual(detail.entries.map((e) => e.track?.title), ['Gamma Tune', 'Alpha Tune', 'Beta Tune']);
    assert.equal(detail.entries[0]!.hint.path, `/storage/emulated/0/${songs[2]!.phoneName}`);
  });

  it('keeps a playlist sent before its songs and resolves it once they arrive (by EXTINF artist - title, or by file name)', async () => {
    const later = [makeWav(9200, { title: 'Delta Tune', artist: 'Wave Band' }), makeWav(9201, { title: 'Epsilon Tune', artist: 'Wave Band' })];
    const m3u = Buffer.from('#EXTM3U\r\n#EXTINF:2,Wave Band - Delta Tune\r\n/sdcard/Download/unrelated-name.wav\r\n/sdcard/Music/Wave Band/05 Epsilon Tune.flac\r\n', 'latin1');
    const s = await prepare([{ id: 'pl', fileName: 'later.m3u', size: m3u.length, fileType: 'audio/x-mpegurl', sha256: sha256(m3u), preview: null }]);
    assert.equal((await upload(s, 'pl', m3u)).status, 200);
    const p = (await playlists(d)).find((x) => x.name === 'later')!;
    assert.equal(p.trackCount, 0);
    assert.equal((await browse(d.url, `m/playlists/${p.id}`)).items.length, 0);
    const upd = async () => Number((await cdsCall(d.url, 'Browse', { ObjectID: `m/playlists/${p.id}`, BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' })).out('UpdateID'));
    const before = await upd();
    // The songs come by another way (the HTTP push API), under other names.
    for (const [i, b] of later.entries()) assert.equal((await pushFile(d.url, `x${i}.wav`, b)).status, 201);
    const items = await eventually(async () => {
      const r = await browse(d.url, `m/playlists/${p.id}`);
      return r.items.length === 2 && r.items;
    });
    assert.deepEqual(items.map((i) => text(i['dc:title'])), ['Delta Tune', 'Epsilon Tune']);
    assert.ok((await upd()) > before, 'the playlist container reports a new update id');
  });

  it('never lets a playlist entry touch the file system: ../../etc/passwd stays an unresolved hint', async () => {
    const tracksBefore = await trackCount(d);
    const body = Buffer.from('#EXTM3U\n../../etc/passwd\n/etc/passwd\nfile:///etc/shadow\n..\\..\\Windows\\win.ini\n');
    const r = await fetch(`${d.url}/api/v1/playlists`, { method: 'POST', body, headers: { 'Content-Type': 'audio/x-mpegurl', 'X-Filename': 'evil.m3u', 'X-Hifid-Device': 'Laptop' } });
    assert.equal(r.status, 201);
    const created = (await r.json()) as { playlist: PlaylistJson; duplicate: boolean };
    assert.equal(created.duplicate, false);
    assert.equal(created.playlist.name, 'evil');
    assert.equal(created.playlist.device, 'Laptop');
    const detail = (await getJson(`${d.url}/api/v1/playlists/${created.playlist.id}`)).body as PlaylistDetail;
    assert.deepEqual(detail.entries.map((e) => e.trackId), [null, null, null, null]);
    assert.equal(detail.entries[0]!.hint.path, '../../etc/passwd');
    assert.equal((await browse(d.url, `m/playlists/${created.playlist.id}`)).items.length, 0);
    assert.equal(await trackCount(d), tracksBefore, 'nothing was added to the library');
    const again = await fetch(`${d.url}/api/v1/playlists`, { method: 'POST', body, headers: { 'X-Filename': 'evil again.m3u' } });
    assert.equal(again.status, 200, 'the same file again is the same playlist');
    assert.equal(((await again.json()) as { playlist: PlaylistJson }).playlist.id, created.playlist.id);
  });

  it('refuses garbage (415) over HTTP and LocalSend, and stores nothing', async () => {
    const before = readdirSync(path.join(dataDir, 'playlists')).sort();
    const r = await fetch(`${d.url}/api/v1/playlists`, { method: 'POST', body: Buffer.from([0xff, 0xfb, 0x90, 0x00, 0x01, 0x02]), headers: { 'X-Filename': 'x.m3u' } });
    assert.equal(r.status, 415);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'not_playlist');
    const form = new FormData();
    form.append('file', new Blob(['<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><playlist/>']), 'x.xspf');
    const xxe = await fetch(`${d.url}/api/v1/playlists`, { method: 'POST', body: form });
    assert.equal(xxe.status, 415);
    const junk = Buffer.from('hello, this is not a playlist\n');
    const s = await prepare([{ id: 'j', fileName: 'junk.pls', size: junk.length, fileType: 'application/octet-stream', sha256: sha256(junk), preview: null }]);
    const u = await upload(s, 'j', junk);
    assert.equal(u.status, 415);
    assert.match(json<{ message: string }>(u).message, /PLS/);
    assert.deepEqual(readdirSync(path.join(dataDir, 'playlists')).sort(), before);
  });

  it('keeps playlists across a restart, with the same ids, and deletes them', async () => {
    const before = await playlists(d);
    const itemsBefore = (await browse(d.url, `m/playlists/${tripId}`)).items.map((i) => i.id);
    await d.stop();
    d = await TestDaemon.start({ dataDir, args: ['--localsend-port', '53317'] });
    await d.idle();
    assert.deepEqual(await playlists(d), before);
    assert.deepEqual((await browse(d.url, `m/playlists/${tripId}`)).items.map((i) => i.id), itemsBefore);

    const forbidden = await fetch(`${d.url}/api/v1/playlists/${tripId}`, { method: 'DELETE', headers: { Origin: 'http://evil.example' } });
    assert.equal(forbidden.status, 403, 'same write rules as tracks');
    const del = await fetch(`${d.url}/api/v1/playlists/${tripId}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await getJson(`${d.url}/api/v1/playlists/${tripId}`)).status, 404);
    assert.equal((await fetch(`${d.url}/api/v1/playlists/${tripId}`, { method: 'DELETE' })).status, 404);
    assert.ok(!(await browse(d.url, 'm/playlists')).containers.some((c) => c.id === `m/playlists/${tripId}`));
    assert.equal((await browse(d.url, `m/playlists/${tripId}`)).fault, 701);
    assert.ok(!readdirSync(path.join(dataDir, 'playlists')).includes(`${tripId}.json`));
    assert.equal((await playlists(d)).length, before.length - 1);
    // The songs stay: a playlist only points at them.
    assert.ok((await trackCount(d)) >= 5);
  });
});
