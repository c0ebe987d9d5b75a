// The DIDL and ContentDirectory quirk flags of renderer profiles, through real SOAP to a real daemon:
// each shipped profile's recorded headers get the behaviour its flags name, while a client that
// matches no profile gets what everyone got before the flags were applied.
// Profiles are remembered per client address, so the quirky clients speak from the phone's
// address and the generic one from the stereo's own, which no profile is ever matched to.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, makeWav } from '../helpers/fixtures.js';
import { pushFile } from '../helpers/api.js';
import { testLan } from '../helpers/lan.js';
import { faultCode, rawRequest, soap, xmlText } from '../helpers/upnp.js';

const CDS = 'urn:schemas-upnp-org:service:ContentDirectory:1';
// Recorded headers, as in profiles/*.json headers.seen.
const YAMAHA = { 'User-Agent': 'KnOS/3.2 UPnP/1.0 DMP/3.5' };
const SAMSUNG = { 'User-Agent': 'DLNADOC/1.50 SEC_HHP_[TV] Samsung Q70 Series/1.0 UPnP/1.0' };
const BRAVIA = { 'X-AV-Client-Info': 'av=5.0; cn="Sony Corporation"; mn="BRAVIA KDL-42W805A"; mv="1.7";' };
const PS3 = { 'User-Agent': 'UPnP/1.0 DLNADOC/1.50', 'X-AV-Client-Info': 'av=5.0; cn="Sony Computer Entertainment Inc."; mn="PLAYSTATION 3"; mv="1.0";' };
// No shipped profile sets dlnaStrictXml (Bose SoundTouch, which needs it, has no recorded headers
// yet), so a user profile in <data-dir>/profiles/ carries it, as a user would write one.
const STRICT = { 'User-Agent': 'StrictRenderer/1.0 UPnP/1.0' };
const STRICT_PROFILE = {
  id: 'strict-renderer',
  name: 'A renderer that wants strictly valid XML',
  match: [{ header: 'User-Agent', regex: '^StrictRenderer/' }],
  plays: [{ codec: '*' }],
  targets: [],
  quirks: ['dlnaStrictXml'],
  headers: { seen: [{ headers: STRICT, source: 'hifid integration test (user profile)' }] },
};
// noDlnaPn has no shipped profile either (MiniDLNA FLAG_SKIP_DLNA_PN, Samsung BD-J5500).
const NO_PN = { 'User-Agent': 'NoPnRenderer/2.0 UPnP/1.0' };
const NO_PN_PROFILE = { ...STRICT_PROFILE, id: 'no-pn-renderer', name: 'A renderer that refuses DLNA.ORG_PN', match: [{ header: 'User-Agent', regex: '^NoPnRenderer/' }], quirks: ['noDlnaPn'], headers: { seen: [{ headers: NO_PN, source: 'hifid integration test (user profile)' }] } };
const GENERIC = { 'User-Agent': 'SomeControlPoint/1.0 UPnP/1.0' };

const JAPANESE_TITLE = '雨/の../ 日 <&> "q" 🎵';
// Tag reading already turns C0 controls into spaces (library/tags.ts) and the writer drops C1
// controls for everyone; the Unicode noncharacters XML 1.0 discourages reach the DIDL of anyone but a
// strict client.
const CONTROL_TITLE = 'Bell\u0007 next\u0085 to\ufdd0 odd\u{1fffe} end';

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', processEntities: true, htmlEntities: true, parseTagValue: false, parseAttributeValue: false, trimValues: false, isArray: (n) => n === 'item' || n === 'container' || n === 'upnp:albumArtURI' });

interface Answer {
  status: number;
  body: string;
  didl: string;
  items: Array<Record<string, unknown>>;
  containers: Array<Record<string, unknown>>;
}

function probeImage(bytes: Buffer): { codec: string; width: number; height: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hifid-probe-'));
  try {
    const f = path.join(dir, 'x');
    writeFileSync(f, bytes);
    const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', f]).toString();
    const s = (JSON.parse(out) as { streams: Array<{ codec_name: string; width: number; height: number }> }).streams[0]!;
    return { codec: s.codec_name, width: s.width, height: s.height };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Three tracks of one album whose title order is not their disc/track order. */
function orderedAlbum(dir: string): Array<{ name: string; bytes: Buffer }> {
  const tracks = [
    { title: 'Alpha', track: '1/2', disc: '2/2', freq: 300 },
    { title: 'Bravo', track: '2/2', disc: '1/2', freq: 400 },
    { title: 'Charlie', track: '1/2', disc: '1/2', freq: 500 },
  ];
  return tracks.map((t) => {
    const file = path.join(dir, `${t.title}.mp3`);
    execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=0.2*sin(2*PI*${t.freq}*t):s=44100:d=1`, '-c:a', 'libmp3lame', '-b:a', '64k', '-metadata', `title=${t.title}`, '-metadata', 'artist=Order Artist', '-metadata', 'album_artist=Order Artist', '-metadata', 'album=Order Test', '-metadata', `track=${t.track}`, '-metadata', `disc=${t.disc}`, file]);
    return { name: `${t.title}.mp3`, bytes: readFileSync(file) };
  });
}

describe('renderer quirk flags in DIDL and ContentDirectory answers', function () {
  this.timeout(90_000);
  const lan = testLan();
  let d: TestDaemon;
  let dataDir: string;
  let work: string;
  let albumId: string;

  /** Browse as a client: quirky clients from the phone's address, the generic one from the stereo's. */
  async function browse(headers: Record<string, string>, objectId: string, o: { sort?: string; flag?: string } = {}): Promise<Answer> {
    const r = await soap(`${d.url}/upnp/control/cds`, CDS, 'Browse', {
      headers,
      localAddress: headers === GENERIC ? lan.stereo : lan.phone,
      args: { ObjectID: objectId, BrowseFlag: o.flag ?? 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: o.sort ?? '' },
    });
    assert.equal(r.status, 200, r.body);
    const didl = unescapeXml(xmlText(r.body, 'Result') ?? '');
    const root = (parser.parse(didl) as Record<string, Record<string, unknown>>)['DIDL-Lite'] ?? {};
    return { status: r.status, body: r.body, didl, items: (root.item as Array<Record<string, unknown>>) ?? [], containers: (root.container as Array<Record<string, unknown>>) ?? [] };
  }
  const titleOf = (i: Record<string, unknown>) => String(i['dc:title']);

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-quirks-'));
    work = mkdtempSync(path.join(tmpdir(), 'hifid-quirks-src-'));
    mkdirSync(path.join(dataDir, 'profiles'));
    writeFileSync(path.join(dataDir, 'profiles', 'strict-renderer.json'), JSON.stringify(STRICT_PROFILE, null, 2));
    writeFileSync(path.join(dataDir, 'profiles', 'no-pn-renderer.json'), JSON.stringify(NO_PN_PROFILE, null, 2));
    d = await TestDaemon.start({ dataDir });
    for (const f of ['unicode.flac', 'art.mp3']) assert.equal((await pushFile(d.url, f, fixture(f))).status, 201, f);
    assert.equal((await pushFile(d.url, 'control.wav', makeWav(77, { title: CONTROL_TITLE, album: 'Control Album' }))).status, 201);
    for (const t of orderedAlbum(work)) assert.equal((await pushFile(d.url, t.name, t.bytes)).status, 201, t.name);
    const albums = await browse(GENERIC, 'm/albums');
    const album = albums.containers.find((c) => c['dc:title'] === 'Order Test');
    assert.ok(album, 'the album is listed');
    albumId = String(album.id);
  });
  after(async () => {
    await d?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('asciiXml (Yamaha MusicCast): a Japanese title comes as &#x…; references that parse back to the same title', async () => {
    const yamaha = await browse(YAMAHA, 'm/all');
    assert.ok(/^[\x00-\x7f]*$/.test(yamaha.body), 'the whole SOAP answer is ASCII');
    assert.ok(yamaha.didl.includes('&#x96E8;/&#x306E;../ &#x65E5; &lt;&amp;&gt; &quot;q&quot; &#x1F3B5;'), yamaha.didl);
    assert.equal(XMLValidator.validate(yamaha.didl), true);
    assert.ok(yamaha.items.some((i) => titleOf(i) === JAPANESE_TITLE), 'parses to the same title');
    assert.ok(yamaha.items.some((i) => i['upnp:artist'] === 'アーティスト'));
    // Anyone else: UTF-8 as before, and the same text once the references are read.
    const generic = await browse(GENERIC, 'm/all');
    assert.ok(generic.didl.includes('<dc:title>雨/の../ 日 &lt;&amp;&gt; &quot;q&quot; 🎵</dc:title>'));
    const texts = (didl: string) => [...didl.matchAll(/<(dc:title|dc:creator|upnp:artist|upnp:album)>([^<]*)</g)].map((m) => m[2]!);
    assert.deepEqual(texts(yamaha.didl).map((t) => t.replace(/&#x([0-9A-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))), texts(generic.didl));
  });

  it('forceSortByTrackNumber (Yamaha MusicCast): album children in disc/track order even when SortCriteria asks for +dc:title', async () => {
    assert.deepEqual((await browse(YAMAHA, albumId, { sort: '+dc:title' })).items.map(titleOf), ['Charlie', 'Bravo', 'Alpha']);
    assert.deepEqual((await browse(YAMAHA, albumId, { sort: '-upnp:originalTrackNumber' })).items.map(titleOf), ['Charlie', 'Bravo', 'Alpha']);
    assert.deepEqual((await browse(GENERIC, albumId, { sort: '+dc:title' })).items.map(titleOf), ['Alpha', 'Bravo', 'Charlie'], 'others get the order they ask for');
    assert.deepEqual((await browse(GENERIC, albumId)).items.map(titleOf), ['Charlie', 'Bravo', 'Alpha'], "the album's own order");
  });

  it('dlnaStrictXml (user profile): a title with control characters gives well-formed XML 1.0 with no controls and no vendor namespace', async () => {
    const strict = await browse(STRICT, 'm/all');
    assert.equal(XMLValidator.validate(strict.didl), true);
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(strict.didl), 'no control character, TAB/LF/CR included');
    assert.ok(!strict.didl.includes('&#13;'));
    assert.ok(!/[\ufdd0-\ufdef]|\u{1fffe}/u.test(strict.didl), 'no noncharacter');
    assert.ok(strict.items.some((i) => titleOf(i) === 'Bell next to odd end'), strict.items.map(titleOf).join(' | '));
    const ns = [...strict.didl.matchAll(/xmlns(?::(\w+))?="/g)].map((m) => m[1] ?? '');
    assert.deepEqual(ns, ['', 'dc', 'upnp', 'dlna'], 'DIDL-Lite, dc, upnp and dlna only');
    assert.ok(!/ (sec|pv|av):\w+=/.test(strict.didl), 'no vendor attribute');
    // Anyone else loses only what XML forbids, as before.
    const generic = await browse(GENERIC, 'm/all');
    assert.ok(generic.didl.includes('<dc:title>Bell next to\ufdd0 odd\u{1fffe} end</dc:title>'), generic.items.map(titleOf).join(' | '));
  });

  it('albumArtJpegTn (Sony Bravia, PS3): exactly one albumArtURI, JPEG_TN, and it is a JPEG of at most 160 px', async () => {
    for (const headers of [BRAVIA, PS3]) {
      const b = await browse(headers, 'm/all');
      const item = b.items.find((i) => titleOf(i) === 'Tone 12');
      assert.ok(item, 'the track with a cover');
      const art = item['upnp:albumArtURI'] as Array<Record<string, string>>;
      assert.equal(art.length, 1);
      assert.equal(art[0]!['dlna:profileID'], 'JPEG_TN');
      const res = await fetch(art[0]!['#text']!, { headers });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      assert.match(res.headers.get('contentfeatures.dlna.org') ?? '', /DLNA\.ORG_PN=JPEG_TN/);
      const img = probeImage(Buffer.from(await res.arrayBuffer()));
      assert.equal(img.codec, 'mjpeg');
      assert.ok(img.width <= 160 && img.height <= 160 && img.width > 0, `${img.width}x${img.height}`);
    }
  });

  it('samsungExtensions (Samsung TV): the sec: namespace on DIDL-Lite, X_GetFeatureList in the SCPD and answered with valid XML', async () => {
    const tv = await browse(SAMSUNG, 'm/all');
    assert.match(tv.didl, /^<DIDL-Lite [^>]*xmlns:sec="http:\/\/www\.sec\.co\.kr\/">/);
    assert.equal(XMLValidator.validate(tv.didl), true);
    const scpd = await rawRequest(`${d.url}/upnp/scpd/cds.xml`, { headers: SAMSUNG, localAddress: lan.phone });
    assert.equal(scpd.status, 200);
    assert.equal(XMLValidator.validate(scpd.body), true);
    assert.match(scpd.body, /<name>X_GetFeatureList<\/name>/);
    const r = await soap(`${d.url}/upnp/control/cds`, CDS, 'X_GetFeatureList', { headers: SAMSUNG, localAddress: lan.phone });
    assert.equal(r.status, 200, r.body);
    const list = unescapeXml(xmlText(r.body, 'FeatureList') ?? '');
    assert.equal(XMLValidator.validate(list), true, list);
    const features = (parser.parse(list) as { Features: { xmlns: string; Feature: { name: string; container: Array<Record<string, string>> } } }).Features;
    assert.equal(features.xmlns, 'urn:schemas-upnp-org:av:avs');
    assert.equal(features.Feature.name, 'samsung.com_BASICVIEW');
    assert.deepEqual(features.Feature.container, [{ id: 'm', type: 'object.item.audioItem' }]);
    // The container it names is there to browse.
    assert.ok((await browse(SAMSUNG, 'm')).containers.length > 0);
  });

  it("noDlnaPn (user profile): no DLNA.ORG_PN in the original's res, nor in the contentFeatures.dlna.org header it is served with", async () => {
    const uriOf = (a: Answer) => {
      const item = a.items.find((i) => titleOf(i) === 'Tone 12')!;
      const res = item.res as Record<string, string>;
      return { protocolInfo: res.protocolInfo!, uri: res['#text']! };
    };
    const noPn = uriOf(await browse(NO_PN, 'm/all'));
    assert.equal(noPn.protocolInfo, 'http-get:*:audio/mpeg:DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000');
    const got = await rawRequest(noPn.uri, { method: 'HEAD', headers: NO_PN, localAddress: lan.phone });
    assert.equal(got.status, 200);
    assert.equal(got.headers['contentfeatures.dlna.org'], noPn.protocolInfo.split(':')[3]);
    const generic = uriOf(await browse(GENERIC, 'm/all'));
    assert.equal(generic.protocolInfo, 'http-get:*:audio/mpeg:DLNA.ORG_PN=MP3;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000');
    const plain = await rawRequest(generic.uri, { method: 'HEAD', headers: GENERIC, localAddress: lan.stereo });
    assert.equal(plain.headers['contentfeatures.dlna.org'], 'DLNA.ORG_PN=MP3;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000');
  });

  it('a client that matches no profile gets none of it: no sec: namespace, no X_GetFeatureList', async () => {
    const generic = await browse(GENERIC, 'm/all');
    assert.ok(generic.didl.startsWith('<DIDL-Lite xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" xmlns:dlna="urn:schemas-dlna-org:metadata-1-0/">'));
    const scpd = await rawRequest(`${d.url}/upnp/scpd/cds.xml`, { headers: GENERIC, localAddress: lan.stereo });
    assert.equal(scpd.status, 200);
    assert.doesNotMatch(scpd.body, /X_GetFeatureList/);
    const r = await soap(`${d.url}/upnp/control/cds`, CDS, 'X_GetFeatureList', { headers: GENERIC, localAddress: lan.stereo });
    assert.equal(faultCode(r.body), 401);
  });
});
