// The pure parts of DLNA upload: CreateObject's Elements checks, the SourceURI rules (the SSRF
// boundary), the client name, and what the DIDL writer and the description say about uploads.
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';
import { deviceDescription } from '../../daemon/upnp/description.js';
import { writeDidl, parseFilter, type DidlContainer } from '../../daemon/upnp/didl.js';
import { isStrictIpv4, parseImportSource, SourceRefused } from '../../daemon/upnp/import-source.js';
import { UpnpError } from '../../daemon/upnp/service.js';
import { isAudioItemClass, parseCreateElements } from '../../daemon/upnp/upload-elements.js';
import { productOf, UPLOAD_DLNA_CAPS, UPLOADS_CREATE_CLASSES, UPLOADS_OCM } from '../../daemon/upnp/uploads.js';
import { assertGolden } from '../helpers/golden.js';

// Exactly what gupnp-upload sends (item-creation.c), namespaces as GUPnP-AV writes them.
const GUPNP_UPLOAD_ELEMENTS =
  '<?xml version="1.0"?>\n<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/" xmlns:dlna="urn:schemas-dlna-org:metadata-1-0/">' +
  '<item id="" parentID="u" restricted="0"><dc:title>01 Song &amp; Dance.mp3</dc:title><res protocolInfo="*:*:audio/mpeg:*"></res><upnp:class>object.item.audioItem.musicTrack</upnp:class></item></DIDL-Lite>';

function code(fn: () => unknown): number | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof UpnpError) return err.code;
    throw err;
  }
}

describe('CreateObject Elements', () => {
  it("reads gupnp-upload's item: title (entities decoded), class, MIME type", () => {
    assert.deepEqual(parseCreateElements(GUPNP_UPLOAD_ELEMENTS), { title: '01 Song & Dance.mp3', upnpClass: 'object.item.audioItem.musicTrack', mime: 'audio/mpeg' });
  });

  it('takes any prefix for the DIDL namespaces, CDATA titles, and true/false for restricted', () => {
    const els = '<d:DIDL-Lite xmlns:d="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/" xmlns:x="http://purl.org/dc/elements/1.1/" xmlns:u="urn:schemas-upnp-org:metadata-1-0/upnp/"><d:item id="" restricted="false"><x:title><![CDATA[A <b> title]]></x:title><u:class>object.item.audioItem</u:class></d:item></d:DIDL-Lite>';
    assert.deepEqual(parseCreateElements(els), { title: 'A <b> title', upnpClass: 'object.item.audioItem', mime: null });
  });

  it('refuses bad metadata with 712 and containers with 713', () => {
    const item = (inner: string, attrs = 'id="" restricted="0"') => `<DIDL-Lite xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/"><item ${attrs}>${inner}</item></DIDL-Lite>`;
    const good = '<dc:title>t</dc:title><upnp:class>object.item.audioItem</upnp:class>';
    assert.equal(code(() => parseCreateElements(item(good))), null);
    const cases: Array<[string, string, number]> = [
      ['empty', '', 712],
      ['not XML', 'hello', 712],
      ['unclosed', '<DIDL-Lite><item id="" restricted="0">', 712],
      ['DOCTYPE', `<!DOCTYPE DIDL-Lite [<!ENTITY x "y">]>${item(good)}`, 712],
      ['comment', item(`<!-- x -->${good}`), 712],
      ['__proto__', item(`<__proto__>1</__proto__>${good}`), 712],
      ['undefined entity', item('<dc:title>&nbsp;</dc:title><upnp:class>object.item.audioItem</upnp:class>'), 712],
      ['bad character reference', item('<dc:title>&#0;</dc:title><upnp:class>object.item.audioItem</upnp:class>'), 712],
      ['id given', item(good, 'id="1" restricted="0"'), 712],
      ['no id', item(good, 'restricted="0"'), 712],
      ['restricted 1', item(good, 'id="" restricted="1"'), 712],
      ['restricted true', item(good, 'id="" restricted="true"'), 712],
      ['no restricted', item(good, 'id=""'), 712],
      ['no title', item('<upnp:class>object.item.audioItem</upnp:class>'), 712],
      ['two titles', item(`<dc:title>a</dc:title>${good}`), 712],
      ['no class', item('<dc:title>t</dc:title>'), 712],
      ['class not object…', item('<dc:title>t</dc:title><upnp:class>item.audio</upnp:class>'), 712],
      ['UPLOAD flag', item(good, 'id="" restricted="0" dlna:dlnaManaged="00000001"'), 712],
      ['bad flags', item(good, 'id="" restricted="0" dlna:dlnaManaged="zz"'), 712],
      ['two objects', `<DIDL-Lite><item id="" restricted="0">${good}</item><item id="" restricted="0">${good}</item></DIDL-Lite>`, 712],
      ['no object', '<DIDL-Lite></DIDL-Lite>', 712],
      ['other root', `<foo><item id="" restricted="0">${good}</item></foo>`, 712],
      ['deep nesting', `<DIDL-Lite>${'<a>'.repeat(50)}${'</a>'.repeat(50)}</DIDL-Lite>`, 712],
      ['container', `<DIDL-Lite><container id="" restricted="0">${good}</container></DIDL-Lite>`, 713],
    ];
    for (const [what, els, want] of cases) assert.equal(code(() => parseCreateElements(els)), want, what);
    // DESTROYABLE is an item's own flag and is fine.
    assert.equal(code(() => parseCreateElements(item(good, 'id="" restricted="0" dlna:dlnaManaged="00000004"'))), null);
  });

  it('knows which classes are audio items', () => {
    for (const c of ['object.item.audioItem', 'object.item.audioItem.musicTrack', 'object.item.audioItem.audioBook']) assert.ok(isAudioItemClass(c), c);
    for (const c of ['object.item', 'object.item.audioItemX', 'object.item.videoItem', 'object.container']) assert.ok(!isAudioItemClass(c), c);
  });
});

describe('ImportResource SourceURI', () => {
  const local = { address: '10.77.0.1', netmask: '255.255.255.0' };
  const own = new Set(['10.77.0.1', '127.0.0.1']);
  const refused = (uri: string) => {
    try {
      parseImportSource(uri, local, own);
      return false;
    } catch (err) {
      if (err instanceof SourceRefused) return true;
      throw err;
    }
  };

  it('accepts an IPv4 host on the subnet, any port, and percent-encodes a raw path as gupnp-upload sends it', () => {
    assert.deepEqual(parseImportSource('http://10.77.0.2:45072/tmp/x/01 My Song é.mp3', local, own), { host: '10.77.0.2', port: 45072, path: '/tmp/x/01%20My%20Song%20%C3%A9.mp3' });
    assert.deepEqual(parseImportSource('HTTP://10.77.0.200/a%20b?x=1&y=[2]#frag', local, own), { host: '10.77.0.200', port: 80, path: '/a%20b?x=1&y=%5B2%5D%23frag' });
    assert.deepEqual(parseImportSource('http://10.77.0.2:8080', local, own), { host: '10.77.0.2', port: 8080, path: '/' });
    assert.equal(parseImportSource('http://10.77.0.2/100%zz', local, own).path, '/100%25zz');
    assert.equal(parseImportSource('http://10.77.0.2/🎵', local, own).path, '/%F0%9F%8E%B5');
  });

  it('refuses names, other forms of numbers, other schemes, user info, other subnets and special addresses', () => {
    for (const uri of [
      'http://localhost/a',
      'http://hifid.local/a',
      'http://10.77.0.2.nip.io/a',
      'http://127.0.0.1/a',
      'http://127.1/a',
      'http://10.77.0.1:8200/a',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://0177.0.0.1/',
      'http://010.77.0.2/',
      'http://10.77.0.02/',
      'http://10.77.0.256/',
      'http://[::1]/',
      'http://[fe80::1%25phone0]/',
      'file:///etc/passwd',
      'ftp://10.77.0.2/a',
      'https://10.77.0.2/a',
      'http://10.77.0.2@127.0.0.1/',
      'http://u:p@10.77.0.2/',
      'http://10.77.1.2/',
      'http://10.77.0.0/',
      'http://10.77.0.255/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
      'http://0.0.0.0/',
      'http://10.77.0.2:0/',
      'http://10.77.0.2:65536/',
      'http://10.77.0.2/a\nb',
      'http://10.77.0.2/a\u0000',
      ' http://10.77.0.2/',
      'http://10.77.0.2\\@127.0.0.1/',
      `http://10.77.0.2/${'a'.repeat(2100)}`,
    ]) {
      assert.ok(refused(uri), uri);
    }
  });

  it('reads dotted quads strictly', () => {
    assert.ok(isStrictIpv4('10.77.0.2'));
    assert.ok(isStrictIpv4('0.0.0.0'));
    for (const h of ['10.77.0', '10.77.0.2.1', '10.077.0.2', '1e1.0.0.1', '10.77.0.2 ', '', '256.1.1.1']) assert.ok(!isStrictIpv4(h), h);
  });
});

describe('DLNA client names', () => {
  it('takes the product from User-Agent, skipping OS, UPnP and DLNA tokens', () => {
    assert.equal(productOf('gupnp-upload GUPnP/1.6.6 DLNADOC/1.50'), 'gupnp-upload');
    assert.equal(productOf('Linux/6.1 UPnP/1.0 dLeyna/0.8.2'), 'dLeyna');
    assert.equal(productOf('Linux/3.4.0 (Android 11) UPnP/1.0 BubbleUPnP/3.7.1'), 'BubbleUPnP');
    assert.equal(productOf('Mozilla/5.0 (Linux; Android 13) Dalvik/2.1.0'), null);
    assert.equal(productOf('UPnP/1.0'), null);
    assert.equal(productOf(undefined), null);
    assert.equal(productOf(`Evil\u0000\u001bName/1 ${'x'.repeat(100)}`), 'EvilName');
  });
});

describe('DIDL and description for uploads', () => {
  const uploads: DidlContainer = {
    kind: 'container',
    id: 'u',
    parentId: '0',
    title: 'Uploads',
    upnpClass: 'object.container.storageFolder',
    childCount: 0,
    searchable: true,
    restricted: false,
    dlnaManaged: UPLOADS_OCM,
    createClasses: UPLOADS_CREATE_CLASSES,
  };

  it('writes the writable container with %08x dlnaManaged and createClass, and a placeholder with importUri', () => {
    const xml = writeDidl([
      uploads,
      { kind: 'item', id: 'u/p/0123456789abcdef', parentId: 'u', title: '01 Song.mp3', upnpClass: 'object.item.audioItem.musicTrack', restricted: false, dlnaManaged: 4, resources: [{ uri: '', protocolInfo: 'http-get:*:audio/mpeg:*', importUri: 'http://10.77.0.1:8200/upload/0123456789abcdef' }] },
    ]);
    assert.equal(XMLValidator.validate(xml), true);
    assertGolden('didl-uploads.xml', xml);
    // A filter that does not ask for them leaves them out.
    const filtered = writeDidl([uploads], { filter: parseFilter('dc:title') });
    assert.doesNotMatch(filtered, /createClass|dlnaManaged/);
    assert.match(writeDidl([uploads], { filter: parseFilter('upnp:createClass,@dlna:dlnaManaged') }), /dlna:dlnaManaged="0000000d".*<upnp:createClass includeDerived="1">/);
  });

  it('puts X_DLNACAP beside X_DLNADOC only when uploads are on', () => {
    const input = { udn: 'uuid:5e1f0c2a-9b7d-4c3e-8a61-0123456789ab', friendlyName: 'Hi-Fi', version: '1.0.0', services: [] };
    const on = deviceDescription({ ...input, dlnaCaps: UPLOAD_DLNA_CAPS });
    assert.match(on, /<dlna:X_DLNADOC xmlns:dlna="urn:schemas-dlna-org:device-1-0">DMS-1.50<\/dlna:X_DLNADOC>\n {4}<dlna:X_DLNACAP xmlns:dlna="urn:schemas-dlna-org:device-1-0">audio-upload,create-item-with-OCM-destroy-item<\/dlna:X_DLNACAP>\n/);
    assert.equal(XMLValidator.validate(on), true);
    assert.doesNotMatch(deviceDescription({ ...input, dlnaCaps: [] }), /X_DLNACAP/);
    assert.doesNotMatch(deviceDescription(input), /X_DLNACAP/);
  });
});
