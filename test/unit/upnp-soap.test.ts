// SOAP parsing in process: arguments, entities, refusals, prototype pollution, and the body reader.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { decodeXmlText, parseSoapActionHeader, parseSoapEnvelope, readSoapBody, serviceTypeMatches, soapFault, soapResponse, SoapRequestError } from '../../daemon/upnp/soap.js';
import { UpnpError } from '../../daemon/upnp/service.js';
import { escapeXml, xmlUtf8 } from '../../daemon/upnp/xml-text.js';

const ENV = (inner: string) => `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${inner}</s:Body></s:Envelope>`;

describe('SOAP envelope parsing', () => {
  it('reads the action and its arguments as text, without trimming', () => {
    const call = parseSoapEnvelope(ENV('<u:Browse xmlns:u="urn:x"><ObjectID>0</ObjectID>\n <Filter> * </Filter><Empty/><SortCriteria></SortCriteria></u:Browse>'));
    assert.equal(call.action, 'Browse');
    assert.deepEqual({ ...call.args }, { ObjectID: '0', Filter: ' * ', Empty: '', SortCriteria: '' });
  });

  it('decodes the five entities and character references once, CDATA not at all', () => {
    const call = parseSoapEnvelope(ENV('<u:Search xmlns:u="urn:x"><SearchCriteria>dc:title contains &quot;A&amp;B&quot; &amp;lt; &#65;&#x1F3B5;<![CDATA[&amp;<raw>]]></SearchCriteria></u:Search>'));
    assert.equal(call.args.SearchCriteria, 'dc:title contains "A&B" &lt; A🎵&amp;<raw>');
  });

  it('accepts a Header and comments, and any namespace prefix', () => {
    const call = parseSoapEnvelope('<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><!-- hi --><SOAP-ENV:Header/><SOAP-ENV:Body><m:X xmlns:m="urn:x"><A>1</A></m:X></SOAP-ENV:Body></SOAP-ENV:Envelope>');
    assert.equal(call.action, 'X');
    assert.equal(call.args.A, '1');
  });

  const refused: Array<[string, string, number]> = [
    ['a DOCTYPE', '<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + ENV('<u:A><B>&x;</B></u:A>'), 400],
    ['an ENTITY anywhere', ENV('<!ENTITY x "y"><u:A/>'), 400],
    ['an undefined entity', ENV('<u:A><B>&nbsp;</B></u:A>'), 400],
    ['a NUL character reference', ENV('<u:A><B>&#0;</B></u:A>'), 400],
    ['a surrogate character reference', ENV('<u:A><B>&#xD800;</B></u:A>'), 400],
    ['no envelope', '<u:A/>', 400],
    ['two actions', ENV('<u:A/><u:B/>'), 400],
    ['an empty body', ENV(''), 400],
    ['unclosed tags', '<s:Envelope><s:Body><u:A>', 400],
    ['mismatched tags', ENV('<u:A><B></C></u:A>'), 400],
    ['deep nesting', ENV(`<u:A><B>${'<c>'.repeat(5000)}${'</c>'.repeat(5000)}</B></u:A>`), 400],
    ['not XML', 'hello', 400],
  ];
  for (const [what, body, status] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseSoapEnvelope(body), (err: unknown) => err instanceof SoapRequestError && err.status === status);
    });
  }

  it('faults 402 for an argument given twice or holding elements', () => {
    assert.throws(() => parseSoapEnvelope(ENV('<u:A><B>1</B><B>2</B></u:A>')), (e: unknown) => e instanceof UpnpError && e.code === 402);
    assert.throws(() => parseSoapEnvelope(ENV('<u:A><B><c/></B></u:A>')), (e: unknown) => e instanceof UpnpError && e.code === 402);
  });

  it('cannot pollute Object.prototype (C6)', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      assert.throws(() => parseSoapEnvelope(ENV(`<u:A><${name}><polluted>1</polluted></${name}></u:A>`)), SoapRequestError);
      assert.throws(() => parseSoapEnvelope(ENV(`<${name}><polluted>1</polluted></${name}>`)), SoapRequestError);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const call = parseSoapEnvelope(ENV('<u:A><hasOwnProperty>1</hasOwnProperty><toString>2</toString></u:A>'));
    assert.equal(Object.getPrototypeOf(call.args), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(typeof ({}).toString, 'function');
  });

  it('decodes text in one pass', () => {
    assert.equal(decodeXmlText('&amp;amp; &lt;&gt;&apos;&quot; &#x41;&#66;'), '&amp; <>\'" AB');
    assert.throws(() => decodeXmlText('&#x110000;'), SoapRequestError);
  });
});

describe('SOAPACTION', () => {
  it('parses quoted and unquoted values', () => {
    assert.deepEqual(parseSoapActionHeader('"urn:schemas-upnp-org:service:ContentDirectory:1#Browse"'), { serviceType: 'urn:schemas-upnp-org:service:ContentDirectory:1', action: 'Browse' });
    assert.deepEqual(parseSoapActionHeader('urn:a:service:B:1#C'), { serviceType: 'urn:a:service:B:1', action: 'C' });
    for (const bad of [undefined, '', '"', '#Browse', 'urn:x#', 'urn:x#A B', 'urn:x#<A>']) assert.equal(parseSoapActionHeader(bad), null, String(bad));
  });

  it('matches our service type at our version or below', () => {
    const ours = 'urn:schemas-upnp-org:service:ContentDirectory:2';
    assert.equal(serviceTypeMatches(ours, ours), true);
    assert.equal(serviceTypeMatches('urn:schemas-upnp-org:service:ContentDirectory:1', ours), true);
    assert.equal(serviceTypeMatches('urn:schemas-upnp-org:service:ContentDirectory:3', ours), false);
    assert.equal(serviceTypeMatches('urn:schemas-upnp-org:service:ConnectionManager:1', ours), false);
  });
});

describe('SOAP answers', () => {
  it('escapes out-arguments and writes the fault with the UPnP error', () => {
    assert.equal(
      soapResponse('urn:x:service:Y:1', 'Do', { Result: '<DIDL-Lite>&"\'</DIDL-Lite>', Count: 3 }).toString('utf8'),
      '<?xml version="1.0" encoding="utf-8"?>\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:DoResponse xmlns:u="urn:x:service:Y:1"><Result>&lt;DIDL-Lite&gt;&amp;&quot;&apos;&lt;/DIDL-Lite&gt;</Result><Count>3</Count></u:DoResponse></s:Body></s:Envelope>\n',
    );
    assert.match(soapFault(701, 'No such object <x>'), /<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>701<\/errorCode><errorDescription>No such object &lt;x&gt;<\/errorDescription><\/UPnPError>/);
  });
});

describe('SOAP body reader', () => {
  const fakeReq = (headers: Record<string, string> = {}) => Object.assign(new PassThrough(), { headers }) as unknown as IncomingMessage & PassThrough;

  it('reads a body under the cap', async () => {
    const req = fakeReq();
    const p = readSoapBody(req, 100, 1000);
    req.end('hello');
    assert.equal((await p).toString(), 'hello');
  });

  it('refuses a declared length over the cap without reading', async () => {
    await assert.rejects(readSoapBody(fakeReq({ 'content-length': '101' }), 100, 1000), (e: unknown) => e instanceof SoapRequestError && e.status === 413);
  });

  it('stops at the cap for a chunked body', async () => {
    const req = fakeReq();
    const p = readSoapBody(req, 100, 1000);
    req.write(Buffer.alloc(60));
    req.write(Buffer.alloc(60));
    await assert.rejects(p, (e: unknown) => e instanceof SoapRequestError && e.status === 413);
  });

  it('gives up on a body that trickles (408)', async () => {
    const req = fakeReq();
    const p = readSoapBody(req, 100, 150);
    req.write('a');
    await assert.rejects(p, (e: unknown) => e instanceof SoapRequestError && e.status === 408);
  });
});

describe('xmlUtf8', () => {
  const samples = ['', 'plain', '<DIDL-Lite a="1">&amp; Beyoncé\'s\r\n</DIDL-Lite>', '雨の日 🎵 & <b>', 'bad\u0001\u0008\uFFFEtext', 'lone \uD800 half', 'pair 😀 \uDBFF\uDFFF'];

  it('gives the UTF-8 bytes of escapeXml for markup, non-ASCII text and characters XML cannot hold', () => {
    for (const s of samples) assert.deepEqual(xmlUtf8([{ text: s }]), Buffer.from(escapeXml(s), 'utf8'), JSON.stringify(s));
  });

  it('writes markup as it is between escaped texts, small and past the kept scratch buffer alike', () => {
    const big = '<item>雨 & "晴"</item>'.repeat(40_000); // about 1 MB of UTF-8
    for (const text of [...samples, big, 'small again']) {
      const pieces = [{ markup: '<a x="1">' }, { text }, { markup: '</a><é>' }, { text: '<&>' }, { markup: '</é>' }];
      assert.equal(xmlUtf8(pieces).toString('utf8'), `<a x="1">${escapeXml(text)}</a><é>&lt;&amp;&gt;</é>`);
    }
  });
});
