// SOAP control hardening against the real daemon: DTDs and entities refused before parsing, caps,
// prototype names, faults with UPnP codes, and the Host check before any of it.
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon.js';
import { testLan } from '../helpers/lan.js';
import { envelope, faultCode, rawRequest, soap, xmlText } from '../helpers/upnp.js';

const CM = 'urn:schemas-upnp-org:service:ConnectionManager:1';
const MSR = 'urn:microsoft.com:service:X_MS_MediaReceiverRegistrar:1';

const LAUGHS =
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
  Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
  ']>' +
  envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '&lol9;' }).replace(/^<\?xml[^>]*\?>/, '');

describe('UPnP SOAP control', function () {
  let d: TestDaemon;
  let control: string;
  before(async () => {
    d = await TestDaemon.start();
    control = `${d.url}/upnp/control/cms`;
  });
  after(async () => d.dispose());

  const assertAlive = async () => {
    const r = await soap(control, CM, 'GetCurrentConnectionIDs');
    assert.equal(r.status, 200);
    assert.equal(xmlText(r.body, 'ConnectionIDs'), '0');
  };

  it('answers a valid call with u:<Action>Response, EXT and text/xml', async () => {
    const r = await soap(control, CM, 'GetCurrentConnectionInfo', { args: { ConnectionID: '0' }, localAddress: testLan().phone });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/xml; charset="utf-8"/);
    assert.equal(r.headers.ext, '');
    assert.match(r.body, /<u:GetCurrentConnectionInfoResponse xmlns:u="urn:schemas-upnp-org:service:ConnectionManager:1"><RcsID>-1<\/RcsID>/);
  });

  it('decodes entities and CDATA in arguments once, and accepts an unquoted SOAPACTION', async () => {
    const r = await soap(control, CM, 'GetCurrentConnectionInfo', { body: envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '&#48;' }), soapAction: `${CM}#GetCurrentConnectionInfo` });
    assert.equal(r.status, 200, r.body);
    const c = await soap(control, CM, 'GetCurrentConnectionInfo', { args: { ConnectionID: '<![CDATA[0]]>' } });
    assert.equal(c.status, 200, c.body);
  });

  it('refuses a DOCTYPE with an external entity before parsing (no file read)', async () => {
    const body = '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '&x;' }).replace(/^<\?xml[^>]*\?>/, '');
    const r = await soap(control, CM, 'GetCurrentConnectionInfo', { body });
    assert.equal(r.status, 400);
    assert.equal(faultCode(r.body), 402);
    assert.doesNotMatch(r.body, /root:/);
  });

  it('refuses billion laughs in well under 100 ms', async () => {
    const r = await soap(control, CM, 'GetCurrentConnectionInfo', { body: LAUGHS });
    assert.equal(r.status, 400);
    assert.ok(r.ms < 100, `${r.ms} ms`);
    await assertAlive();
  });

  it('refuses the CVE-2026-26278 expansion PoC and a bare ENTITY declaration', async () => {
    const poc = `<!DOCTYPE s [<!ENTITY big "${'A'.repeat(1000)}">]>` + envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '&big;'.repeat(100) }).replace(/^<\?xml[^>]*\?>/, '');
    assert.equal((await soap(control, CM, 'GetCurrentConnectionInfo', { body: poc })).status, 400);
    const entityOnly = envelope(CM, 'GetCurrentConnectionIDs').replace('<s:Body>', '<!ENTITY e "x"><s:Body>');
    assert.equal((await soap(control, CM, 'GetCurrentConnectionIDs', { body: entityOnly })).status, 400);
  });

  it('answers 413 to a 5 MB body, declared or chunked, before parsing it', async () => {
    const big = envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '0'.padEnd(5 * 1024 * 1024, ' ') });
    const r = await soap(control, CM, 'GetCurrentConnectionInfo', { body: big });
    assert.equal(r.status, 413);
    const c = await soap(control, CM, 'GetCurrentConnectionInfo', { body: big, chunked: true });
    assert.equal(c.status, 413);
    await assertAlive();
  });

  it('caps 200 000 character references and 50 000 nested elements by size', async () => {
    const refs = await soap(control, CM, 'GetCurrentConnectionInfo', { args: { ConnectionID: '&#65;'.repeat(200_000) } });
    assert.equal(refs.status, 413);
    const nested = await soap(control, CM, 'GetCurrentConnectionInfo', { args: { ConnectionID: '<a>'.repeat(50_000) + '</a>'.repeat(50_000) } });
    assert.equal(nested.status, 413);
    // Deep but under the cap: refused by the nesting limit, quickly.
    const deep = await soap(control, CM, 'GetCurrentConnectionInfo', { args: { ConnectionID: '<a>'.repeat(7000) + '</a>'.repeat(7000) } });
    assert.equal(deep.status, 400);
    assert.ok(deep.ms < 500, `${deep.ms} ms`);
    await assertAlive();
  });

  it('refuses __proto__, constructor and prototype elements', async () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const body = envelope(CM, 'GetCurrentConnectionInfo').replace('</u:GetCurrentConnectionInfo>', `<${name}><polluted>1</polluted></${name}></u:GetCurrentConnectionInfo>`);
      const r = await soap(control, CM, 'GetCurrentConnectionInfo', { body });
      assert.equal(r.status, 400, name);
    }
    await assertAlive();
  });

  it('answers malformed or non-SOAP bodies with 400, never a hang', async () => {
    const bodies = ['', 'not xml', '<s:Envelope><s:Body>', '<a/>', '<s:Envelope xmlns:s="x"><s:Body></s:Body></s:Envelope>', '<s:Envelope xmlns:s="x"><s:Body><u:A/><u:B/></s:Body></s:Envelope>', envelope(CM, 'GetCurrentConnectionIDs').replace('</s:Body>', ''), envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '&nbsp;' }), envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '&#0;' }), Buffer.from([0x3c, 0xff, 0xfe, 0x00, 0x3e]).toString('latin1')];
    for (const body of bodies) {
      const r = await soap(control, CM, 'GetCurrentConnectionIDs', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(faultCode(r.body), 402);
    }
    await assertAlive();
  });

  it('faults 401 for an unknown action, a SOAPACTION that does not match, or none', async () => {
    const unknown = await soap(control, CM, 'Explode');
    assert.equal(unknown.status, 500);
    assert.equal(faultCode(unknown.body), 401);
    assert.match(unknown.body, /<s:Fault><faultcode>s:Client<\/faultcode><faultstring>UPnPError<\/faultstring>/);
    const mismatch = await soap(control, CM, 'GetCurrentConnectionIDs', { soapAction: `"${CM}#GetProtocolInfo"` });
    assert.equal(faultCode(mismatch.body), 401);
    const otherService = await soap(control, CM, 'GetCurrentConnectionIDs', { soapAction: `"${MSR}#GetCurrentConnectionIDs"` });
    assert.equal(faultCode(otherService.body), 401);
    const none = await soap(control, CM, 'GetCurrentConnectionIDs', { soapAction: null });
    assert.equal(faultCode(none.body), 401);
    const proto = await soap(control, CM, 'toString');
    assert.equal(faultCode(proto.body), 401);
  });

  it('faults 402 for a missing or repeated argument', async () => {
    const missing = await soap(control, CM, 'GetCurrentConnectionInfo');
    assert.equal(missing.status, 500);
    assert.equal(faultCode(missing.body), 402);
    const twice = await soap(control, CM, 'GetCurrentConnectionInfo', { body: envelope(CM, 'GetCurrentConnectionInfo', { ConnectionID: '0' }).replace('</ConnectionID>', '</ConnectionID><ConnectionID>1</ConnectionID>') });
    assert.equal(faultCode(twice.body), 402);
  });

  it('checks the Host header before reading the body', async () => {
    const big = envelope(CM, 'GetCurrentConnectionIDs') + ' '.repeat(200 * 1024);
    for (const body of [envelope(CM, 'GetCurrentConnectionIDs'), big, LAUGHS]) {
      const r = await soap(control, CM, 'GetCurrentConnectionIDs', { body, headers: { Host: `evil.example:${d.port}` } });
      assert.equal(r.status, 400);
      assert.match(r.body, /bad_host/);
    }
  });

  it('answers GET on a control URL with 405 and an unknown service with 404', async () => {
    assert.equal((await rawRequest(control)).status, 405);
    assert.equal((await soap(`${d.url}/upnp/control/nope`, CM, 'GetCurrentConnectionIDs')).status, 404);
  });
});
