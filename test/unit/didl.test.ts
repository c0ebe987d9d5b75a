// The DIDL-Lite writer: golden files for a fixed set of objects (hostile text included), filters,
// escaping and well-formedness.
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseFilter, writeDidl, xmlEscape, type DidlContainer, type DidlItem } from '../../daemon/upnp/didl.js';
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

  it('escapes the five XML characters', () => {
    assert.equal(xmlEscape(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
    assert.equal(xmlEscape('plain'), 'plain');
    assert.equal(xmlEscape('tab\tnl\ncr\r'), 'tab\tnl\ncr&#13;');
  });
});
