// Renderer discovery, in process: SSDP announcements parsed (ssdp.ts), the LOCATION rules (what is
// never fetched), and device descriptions read, as real renderers write them and as nobody should.
import assert from 'node:assert/strict';
import { parseAnnouncement, parseSearch } from '../../daemon/upnp/ssdp.js';
import { DescriptionError, descriptionSource, parseRendererDescription, sameHostUrl } from '../../daemon/upnp/renderer-discovery.js';
import { SourceRefused } from '../../daemon/upnp/import-source.js';

const RENDERER = 'urn:schemas-upnp-org:device:MediaRenderer:1';
const UDN = 'uuid:5e2b0c1a-7d55-4c39-9f0e-2b1f0a6c0001';
const LOCAL = { address: '10.77.0.1', netmask: '255.255.255.0' };
const OWN = new Set(['10.77.0.1']);

function datagram(lines: string[]): Buffer {
  return Buffer.from([...lines, '', ''].join('\r\n'), 'latin1');
}

describe('SSDP announcements (NOTIFY and search responses)', () => {
  const alive = ['NOTIFY * HTTP/1.1', 'HOST: 239.255.255.250:1900', 'CACHE-CONTROL: max-age=1800', 'LOCATION: http://10.77.0.2:49152/description.xml', `NT: ${RENDERER}`, 'NTS: ssdp:alive', 'SERVER: Linux/4.9 UPnP/1.0 GUPnP/1.6', `USN: ${UDN}::${RENDERER}`];

  it('reads ssdp:alive, ssdp:byebye and a search response', () => {
    assert.deepEqual(parseAnnouncement(datagram(alive)), { kind: 'alive', type: RENDERER, usn: `${UDN}::${RENDERER}`, udn: UDN, location: 'http://10.77.0.2:49152/description.xml', maxAgeSeconds: 1800 });
    const bye = parseAnnouncement(datagram(['NOTIFY * HTTP/1.1', 'HOST: 239.255.255.250:1900', `NT: ${RENDERER}`, 'NTS: ssdp:byebye', `USN: ${UDN}::${RENDERER}`]));
    assert.deepEqual(bye, { kind: 'byebye', type: RENDERER, usn: `${UDN}::${RENDERER}`, udn: UDN, location: null, maxAgeSeconds: null });
    const response = parseAnnouncement(datagram(['HTTP/1.1 200 OK', 'CACHE-CONTROL: max-age = 900', 'EXT:', 'LOCATION: http://10.77.0.2:8080/dd.xml', 'SERVER: Linux UPnP/1.0 Sonos/70.1', `ST: ${RENDERER}`, `USN: ${UDN.toUpperCase()}::${RENDERER}`]));
    assert.equal(response?.kind, 'response');
    assert.equal(response?.type, RENDERER);
    assert.equal(response?.udn, UDN, 'the UDN is compared in lower case');
    assert.equal(response?.maxAgeSeconds, 900);
  });

  it('takes LF-only line ends and no final blank line', () => {
    const a = parseAnnouncement(Buffer.from(alive.join('\n'), 'latin1'));
    assert.equal(a?.kind, 'alive');
  });

  const bad: Array<[string, string[]]> = [
    ['an M-SEARCH', ['M-SEARCH * HTTP/1.1', 'HOST: 239.255.255.250:1900', 'MAN: "ssdp:discover"', 'MX: 1', `ST: ${RENDERER}`]],
    ['ssdp:update', alive.map((l) => l.replace('ssdp:alive', 'ssdp:update'))],
    ['no NTS', alive.filter((l) => !l.startsWith('NTS'))],
    ['no NT', alive.filter((l) => !l.startsWith('NT:'))],
    ['an alive without LOCATION', alive.filter((l) => !l.startsWith('LOCATION'))],
    ['a USN without uuid:', alive.map((l) => (l.startsWith('USN') ? `USN: ${RENDERER}` : l))],
    ['two LOCATIONs', [...alive, 'LOCATION: http://10.77.0.9/x.xml']],
    ['two USNs', [...alive, 'USN: uuid:other']],
    ['a header line without a colon', [...alive, 'garbage']],
    ['a 404 response', ['HTTP/1.1 404 Not Found', 'LOCATION: http://10.77.0.2/x', `ST: ${RENDERER}`, `USN: ${UDN}`]],
    ['too many header lines', [...alive, ...Array.from({ length: 40 }, (_, i) => `X-${i}: y`)]],
  ];
  for (const [what, lines] of bad) {
    it(`ignores ${what}`, () => assert.equal(parseAnnouncement(datagram(lines)), null));
  }

  it('ignores NULs and giant datagrams', () => {
    assert.equal(parseAnnouncement(Buffer.concat([datagram(alive), Buffer.from([0])])), null);
    assert.equal(parseAnnouncement(datagram([...alive.slice(0, 3), `X-PAD: ${'a'.repeat(9000)}`, ...alive.slice(3)])), null);
  });

  it('leaves the M-SEARCH parser as it was (a repeated NT there is no reason to refuse it)', () => {
    assert.ok(parseSearch(datagram(['M-SEARCH * HTTP/1.1', 'HOST: 239.255.255.250:1900', 'MAN: "ssdp:discover"', 'MX: 1', 'ST: ssdp:all', 'NT: a', 'NT: b'])));
    assert.equal(parseSearch(datagram(alive)), null);
  });
});

describe('which LOCATIONs are fetched', () => {
  it('fetches http:// to the sender itself on the served subnet', () => {
    assert.deepEqual(descriptionSource('http://10.77.0.2:49152/dd.xml', '10.77.0.2', LOCAL, OWN), { host: '10.77.0.2', port: 49152, path: '/dd.xml' });
    assert.deepEqual(descriptionSource('http://10.77.0.2/', '10.77.0.2', LOCAL, OWN), { host: '10.77.0.2', port: 80, path: '/' });
  });

  const refused: Array<[string, string, RegExp]> = [
    ['http://10.77.0.3:49152/dd.xml', 'another LAN host than the sender', /not the announcing address 10\.77\.0\.2/],
    ['http://10.77.0.1:8200/upnp/description.xml', 'the stereo itself', /own address/],
    ['http://renderer.local:49152/dd.xml', 'a host name', /IPv4 address/],
    ['http://localhost:49152/dd.xml', 'localhost', /IPv4 address/],
    ['https://10.77.0.2:49152/dd.xml', 'https', /must be http:\/\//],
    ['ftp://10.77.0.2/dd.xml', 'another scheme', /must be http:\/\//],
    ['http://user@10.77.0.2/dd.xml', 'user info', /no user info/],
    ['http://[::1]:49152/dd.xml', 'IPv6', /IPv4/],
    ['http://0x0a4d0002/dd.xml', 'a hex address', /IPv4/],
    ['http://10.077.0.2/dd.xml', 'an octal-looking octet', /dotted-quad/],
    ['http://127.0.0.1:49152/dd.xml', 'loopback', /single LAN host/],
    ['http://169.254.169.254/latest/meta-data', 'a metadata address off the subnet', /not on the subnet/],
    ['http://192.168.1.1/dd.xml', 'another subnet', /not on the subnet/],
    ['http://10.77.0.255/dd.xml', 'the broadcast address', /not on the subnet/],
    ['http://10.77.0.2:0/dd.xml', 'port 0', /port out of range/],
  ];
  for (const [location, what, reason] of refused) {
    it(`never fetches ${what} (${location})`, () => {
      const from = location.includes('10.77.0.255') ? '10.77.0.255' : '10.77.0.2';
      assert.throws(() => descriptionSource(location, from, LOCAL, OWN), (err: unknown) => err instanceof SourceRefused && reason.test(err.message) && !err.message.includes('SourceURI'));
    });
  }
});

describe('device descriptions', () => {
  const LOCATION = 'http://10.77.0.2:49152/description.xml';
  const service = (type: string, control: string) => `<service><serviceType>${type}</serviceType><serviceId>urn:upnp-org:serviceId:x</serviceId><SCPDURL>/scpd.xml</SCPDURL><controlURL>${control}</controlURL><eventSubURL>/ev</eventSubURL></service>`;
  const device = (udn: string, type: string, inner = '', fields = '<friendlyName>Living room TV</friendlyName><manufacturer>Sony Corporation</manufacturer><modelName>KDL-40W600B</modelName>') =>
    `<device><deviceType>${type}</deviceType>${fields}<UDN>${udn}</UDN>${inner}</device>`;
  const doc = (dev: string, extra = '') => `<?xml version="1.0" encoding="utf-8"?>\n<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>${extra}${dev}</root>`;

  it('reads a root MediaRenderer: names, model and its AVTransport control URL', () => {
    const xml = doc(device(UDN, RENDERER, `<serviceList>${service('urn:schemas-upnp-org:service:RenderingControl:1', '/rc')}${service('urn:schemas-upnp-org:service:AVTransport:1', '/upnp/control/AVTransport1')}</serviceList>`));
    assert.deepEqual(parseRendererDescription(xml, UDN, LOCATION, '10.77.0.2'), {
      udn: UDN,
      deviceType: RENDERER,
      friendlyName: 'Living room TV',
      manufacturer: 'Sony Corporation',
      modelName: 'KDL-40W600B',
      avTransportControlUrl: 'http://10.77.0.2:49152/upnp/control/AVTransport1',
    });
  });

  it('finds the announced renderer embedded in another root device (an AV receiver), with URLBase', () => {
    const inner = device(UDN, 'urn:schemas-upnp-org:device:MediaRenderer:2', `<serviceList>${service('urn:schemas-upnp-org:service:AVTransport:2', 'AVTransport/ctrl')}</serviceList>`, '<friendlyName>Denon AVR-X2700H</friendlyName><manufacturer>Denon</manufacturer><modelName>*AVR-X2700H</modelName>');
    const xml = doc(device('uuid:root-0001', 'urn:schemas-denon-com:device:AiosDevice:1', `<deviceList>${inner}</deviceList>`), '<URLBase>http://10.77.0.2:60006/</URLBase>');
    const d = parseRendererDescription(xml, UDN, LOCATION, '10.77.0.2');
    assert.equal(d.manufacturer, 'Denon');
    assert.equal(d.deviceType, 'urn:schemas-upnp-org:device:MediaRenderer:2');
    assert.equal(d.avTransportControlUrl, 'http://10.77.0.2:60006/AVTransport/ctrl');
  });

  it('decodes the XML entities and character references, and drops control characters', () => {
    const xml = doc(device(UDN, RENDERER, '', '<friendlyName>Tom &amp; Jerry&#x2019;s &#x1F3B5;</friendlyName><manufacturer><![CDATA[Bang & Olufsen]]></manufacturer><modelName>  Beo\tSound  </modelName>'));
    const d = parseRendererDescription(xml, UDN, LOCATION, '10.77.0.2');
    assert.equal(d.friendlyName, 'Tom & Jerry’s 🎵');
    assert.equal(d.manufacturer, 'Bang & Olufsen');
    assert.equal(d.modelName, 'Beo Sound');
  });

  it('leaves out fields that are missing or not text, and cuts long ones', () => {
    const xml = doc(device(UDN, RENDERER, '', `<friendlyName>${'x'.repeat(1000)}</friendlyName><manufacturer><b>bold</b></manufacturer>`));
    const d = parseRendererDescription(xml, UDN, LOCATION, '10.77.0.2');
    assert.equal(d.friendlyName?.length, 256);
    assert.equal(d.manufacturer, null);
    assert.equal(d.modelName, null);
    assert.equal(d.avTransportControlUrl, null);
  });

  it('keeps a control URL only when it is http:// on the renderer itself', () => {
    for (const [control, base, want] of [
      ['/ctl', LOCATION, 'http://10.77.0.2:49152/ctl'],
      ['http://10.77.0.2:1400/MediaRenderer/AVTransport/Control', LOCATION, 'http://10.77.0.2:1400/MediaRenderer/AVTransport/Control'],
      ['http://10.77.0.9/ctl', LOCATION, null],
      ['http://192.168.1.1/ctl', LOCATION, null],
      ['https://10.77.0.2/ctl', LOCATION, null],
      ['http://u:p@10.77.0.2/ctl', LOCATION, null],
      ['/ctl', 'http://10.77.0.9:80/', null],
      ['http://[::1]/ctl', LOCATION, null],
    ] as const) {
      assert.equal(sameHostUrl(control, base, '10.77.0.2'), want, control);
    }
  });

  const refused: Array<[string, string, RegExp]> = [
    ['a DOCTYPE', `<?xml version="1.0"?><!DOCTYPE root [<!ENTITY x "y">]>${doc(device(UDN, RENDERER)).replace(/^<\?xml[^>]*>\n/, '')}`, /document type/],
    ['malformed XML', doc(device(UDN, RENDERER)).replace('</root>', ''), /malformed/],
    ['a __proto__ element', doc(device(UDN, RENDERER, '<__proto__><polluted>1</polluted></__proto__>')), /reserved/],
    ['another device than the one announced', doc(device('uuid:someone-else', RENDERER)), /does not describe/],
    ['a MediaServer under the announced UDN', doc(device(UDN, 'urn:schemas-upnp-org:device:MediaServer:1')), /not a MediaRenderer/],
    ['no root element', `<scpd>${device(UDN, RENDERER)}</scpd>`, /no <root>/],
    ['two root devices', doc(device(UDN, RENDERER) + device('uuid:b', RENDERER)), /one <device>/],
    ['nesting deeper than any description', doc(device(UDN, RENDERER, `<x>${'<y>'.repeat(20)}${'</y>'.repeat(20)}</x>`)), /malformed/],
  ];
  for (const [what, xml, reason] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseRendererDescription(xml, UDN, LOCATION, '10.77.0.2'), (err: unknown) => err instanceof DescriptionError && reason.test(err.message));
    });
  }

  it('does not expand entities it does not know: that one field is unreadable', () => {
    const d = parseRendererDescription(doc(device(UDN, RENDERER, '', '<friendlyName>&lol;</friendlyName><modelName>KDL-40W600B</modelName>')), UDN, LOCATION, '10.77.0.2');
    assert.equal(d.friendlyName, null);
    assert.equal(d.modelName, 'KDL-40W600B');
  });

  it('refuses too many embedded devices', () => {
    let inner = '';
    for (let i = 0; i < 40; i++) inner += device(`uuid:e${i}`, RENDERER);
    const xml = doc(device('uuid:root', 'urn:x:device:Hub:1', `<deviceList>${inner}</deviceList>`));
    assert.throws(() => parseRendererDescription(xml, 'uuid:e39', LOCATION, '10.77.0.2'), /too many embedded devices/);
  });
});
