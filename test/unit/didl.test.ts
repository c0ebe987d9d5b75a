// The DIDL-Lite writer: golden files for a fixed set of objects (hostile text included), filters,
// escaping and well-formedness.
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DIDL_OPEN, parseFilter, writeDidl, xmlEscape, type DidlContainer, type DidlItem } from '../../daemon/upnp/didl.js';
import { assertGolden } from '../helpers/golden.js';

const BASE = 'http://10.77.0.1:8200';

const track: DidlItem = {
  kind: 'item',
  id: 'm/all/t/0123456789abcdef',
  parentId: 'm/all',
  title: 'Love & <Hate> "Live" \'97',
  upnpClass: 'object.item.audioItem.musicTrack',
  creator: 'Simon & Garfunkel',
  artist: 'Simon & Garfunkel',
  album: 'Bridge <Over> Troubled Water',
  genre: 'Folk',
  originalTrackNumber: 3,
  date: '1970-01-01',
  albumArtUri: `${BASE}/art/0123456789abcdef/tn.jpg`,
  resources: [
    {
      uri: `${BASE}/media/0123456789abcdef.flac`,
      protocolInfo: 'http-get:*:audio/flac:DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000',
      size: 31_457_280,
      durationMs: 245_123,
      bytesPerSecond: 126_000,
      sampleFrequency: 96000,
      nrAudioChannels: 2,
      bitsPerSample: 24,
    },
  ],
};

const hostile: DidlItem = {
  kind: 'item',
  id: 'm/artists/00112233445566aa/all/t/fedcba9876543210',
  parentId: 'm/artists/00112233445566aa/all',
  refId: 'm/all/t/fedcba9876543210',
  // emoji (a surrogate pair), a lone surrogate, C0 and C1 controls, U+FFFE, and markup
  title: 'Smile 😀 \ud800bad\u0001\u0008\u001f\u007f\u0085\ufffe <b>bold</b> ]]> &amp;',
  upnpClass: 'object.item.audioItem.musicTrack',
  creator: 'Sigur Rós',
  artist: 'Sigur Rós',
  album: '()',
  genre: null,
  originalTrackNumber: null,
  date: null,
  albumArtUri: null,
  resources: [
    {
      uri: `${BASE}/media/fedcba9876543210.mp3`,
      protocolInfo: 'http-get:*:audio/mpeg:DLNA.ORG_PN=MP3;DLNA.ORG_OP=01;DLNA.ORG_FLAGS=01700000000000000000000000000000',
      size: 4_000_000,
      durationMs: 1000,
      bytesPerSecond: 40_000,
      sampleFrequency: 44100,
      nrAudioChannels: 2,
      bitsPerSample: null,
    },
  ],
};

const album: DidlContainer = {
  kind: 'container',
  id: 'm/albums/0011223344556677',
  parentId: 'm/albums',
  title: 'Kid A',
  upnpClass: 'object.container.album.musicAlbum',
  childCount: 10,
  searchable: true,
  creator: 'Radiohead',
  artist: 'Radiohead',
  genre: 'Electronic',
  date: '2000-01-01',
  albumArtUri: `${BASE}/art/0123456789abcdef/tn.jpg`,
};

const folder: DidlContainer = { kind: 'container', id: 'm/folders/aabbccddeeff0011', parentId: 'm/folders', title: 'Tom\'s "Mix" & <more>', upnpClass: 'object.container.storageFolder', childCount: 0, searchable: true };

describe('DIDL-Lite writer', () => {
  it('writes a music track (golden)', () => {
    assertGolden('didl-track.xml', writeDidl([track]));
  });

  it('escapes markup, keeps emoji and drops XML-illegal characters (golden)', () => {
    const xml = writeDidl([hostile]);
    assertGolden('didl-hostile.xml', xml);
    assert.ok(xml.includes('😀'));
    assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]/.test(xml));
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(xml), 'no lone high surrogate');
    assert.ok(xml.includes('&lt;b&gt;bold&lt;/b&gt; ]]&gt; &amp;amp;'));
  });

  it('writes containers with childCount, searchable and restricted (golden)', () => {
    assertGolden('didl-containers.xml', writeDidl([album, folder]));
  });

  it('honours a Filter list: required properties always, optional ones only when listed (golden)', () => {
    const xml = writeDidl([track, album], { filter: parseFilter('upnp:artist,res@duration,@childCount') });
    assertGolden('didl-filtered.xml', xml);
    assert.ok(xml.includes('<upnp:artist>'));
    assert.ok(xml.includes('duration="0:04:05.123"'));
    assert.ok(xml.includes('protocolInfo='), 'res@protocolInfo is required whenever res is there');
    assert.ok(!xml.includes('size='));
    assert.ok(!xml.includes('<upnp:album>'));
    assert.ok(!xml.includes('albumArtURI'));
    assert.ok(!xml.includes('searchable='));
    assert.ok(xml.includes('childCount="10"'));
    assert.ok(xml.includes('<dc:title>') && xml.includes('<upnp:class>'));
  });

  it('leaves res out when the filter does not ask for it, and reads * anywhere in the list', () => {
    assert.ok(!writeDidl([track], { filter: parseFilter('dc:title') }).includes('<res'));
    assert.equal(writeDidl([track], { filter: parseFilter('dc:title,*') }), writeDidl([track]));
    assert.equal(writeDidl([track], { filter: parseFilter('') }), writeDidl([track]));
  });

  it('writes bitrate in bytes per second and duration as H:MM:SS.mmm', () => {
    const xml = writeDidl([track]);
    assert.ok(xml.includes('bitrate="126000"'));
    assert.ok(xml.includes('duration="0:04:05.123"'));
  });

  it('produces documents an XML parser reads back to the same text', () => {
    for (const objs of [[track], [hostile], [album, folder], []]) {
      const xml = writeDidl(objs);
      assert.equal(XMLValidator.validate(xml), true, xml);
    }
    const parsed = new XMLParser({ ignoreAttributes: false, processEntities: true, htmlEntities: false }).parse(writeDidl([track]));
    const item = parsed['DIDL-Lite'].item;
    assert.equal(item['dc:title'], 'Love & <Hate> "Live" \'97');
    assert.equal(item['upnp:album'], 'Bridge <Over> Troubled Water');
    assert.equal(item['@_parentID'], 'm/all');
  });

  it('gives the same bytes with no quirk set as with no quirks at all', () => {
    for (const objs of [[track], [hostile], [album, folder]]) {
      assert.equal(writeDidl(objs, { quirks: {} }), writeDidl(objs));
      assert.equal(writeDidl(objs, { quirks: { asciiXml: false, dlnaStrictXml: false, samsungExtensions: false } }), writeDidl(objs));
    }
  });

  it('asciiXml: every non-ASCII character as a numeric reference that parses back to the same text', () => {
    const jp: DidlItem = { ...track, title: '雨の日 🎵', artist: 'アーティスト', creator: 'Sigur Rós', album: 'Ágætis byrjun' };
    const out = writeDidl([jp, hostile, album], { quirks: { asciiXml: true } });
    assert.ok(/^[\x00-\x7f]*$/.test(out), 'ASCII only');
    assert.ok(out.includes('<dc:title>&#x96E8;&#x306E;&#x65E5; &#x1F3B5;</dc:title>'), 'one reference per code point, emoji included');
    assert.equal(XMLValidator.validate(out), true);
    const items = new XMLParser({ ignoreAttributes: false, processEntities: true, htmlEntities: true, isArray: (n) => n === 'item' }).parse(out)['DIDL-Lite'].item;
    assert.equal(items[0]['dc:title'], '雨の日 🎵');
    assert.equal(items[0]['upnp:artist'], 'アーティスト');
    assert.equal(items[0]['upnp:album'], 'Ágætis byrjun');
    // The same document otherwise: decoding the references gives today's output.
    const decoded = out.replace(/&#x([0-9A-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)));
    assert.equal(decoded, writeDidl([jp, hostile, album]));
  });

  it('dlnaStrictXml: no control characters, no noncharacters, no vendor namespace, still well-formed', () => {
    const nasty: DidlItem = { ...hostile, title: 'A\tB\nC\rD\u0001E\u0085F\ufdd0G\u{1fffe}H\u{10ffff}I 😀', album: 'line\r\nbreak' };
    const out = writeDidl([nasty, track, album], { quirks: { dlnaStrictXml: true, samsungExtensions: true } });
    assert.equal(XMLValidator.validate(out), true, out);
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(out), 'no C0/C1 control, not even TAB/LF/CR');
    assert.ok(!out.includes('&#13;'));
    assert.ok(!/[\ufdd0-\ufdef]|\u{1fffe}|\u{10ffff}/u.test(out), 'no noncharacters');
    assert.ok(out.includes('<dc:title>A B C DEFGHI 😀</dc:title>'), out);
    assert.ok(!out.includes('xmlns:sec'), 'strict wins over samsungExtensions');
    assert.ok(out.startsWith(DIDL_OPEN), 'only the DIDL-Lite, dc, upnp and dlna namespaces');
    // Text without anything to remove is written as it is for everyone.
    assert.equal(writeDidl([track, album], { quirks: { dlnaStrictXml: true } }), writeDidl([track, album]));
  });

  it('samsungExtensions: declares the sec: namespace on DIDL-Lite, and nothing else changes', () => {
    const out = writeDidl([track, album], { quirks: { samsungExtensions: true } });
    assert.ok(out.startsWith('<DIDL-Lite xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" xmlns:dlna="urn:schemas-dlna-org:metadata-1-0/" xmlns:sec="http://www.sec.co.kr/">'));
    assert.equal(out.replace(' xmlns:sec="http://www.sec.co.kr/"', ''), writeDidl([track, album]));
    assert.equal(XMLValidator.validate(out), true);
  });

  it('albumArtJpegTn: one albumArtURI per object, JPEG_TN, for every client', () => {
    for (const quirks of [{}, { asciiXml: true, dlnaStrictXml: true, samsungExtensions: true }]) {
      const out = writeDidl([track], { quirks });
      assert.equal(out.match(/<upnp:albumArtURI/g)?.length, 1);
      assert.ok(out.includes('<upnp:albumArtURI dlna:profileID="JPEG_TN">http://10.77.0.1:8200/art/0123456789abcdef/tn.jpg</upnp:albumArtURI>'));
    }
  });

  it('escapes the five XML characters', () => {
    assert.equal(xmlEscape(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
    assert.equal(xmlEscape('plain'), 'plain');
    assert.equal(xmlEscape('tab\tnl\ncr\r'), 'tab\tnl\ncr&#13;');
  });
});
