// GENA against the real daemon: subscribe from the phone with a callback server on the phone, the
// initial event, renewal, unsubscribe, expiry, the CallStranger refusals and a callback that hangs.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestDaemon } from '../helpers/daemon.js';
import { testLan } from '../helpers/lan.js';
import { pushFile } from '../helpers/api.js';
import { makeWav } from '../helpers/fixtures.js';
import { CallbackServer, rawRequest, soap, waitFor, xmlText, type RawResponse } from '../helpers/upnp.js';

const CM = 'urn:schemas-upnp-org:service:ConnectionManager:1';

describe('UPnP eventing (GENA)', function () {
  let d: TestDaemon;
  let lan: ReturnType<typeof testLan>;
  let cb: CallbackServer;
  let cdsEventUrl: string | null = null;
  const eventUrl = (slug: string) => `${d.url}/upnp/event/${slug}`;

  before(async () => {
    lan = testLan();
    d = await TestDaemon.start();
    cb = await CallbackServer.start(lan.phone);
    const desc = (await rawRequest(`${d.url}/upnp/description.xml`)).body;
    // The ContentDirectory is wired by its own work; until then its eventing tests are skipped.
    const m = /<serviceType>urn:schemas-upnp-org:service:ContentDirectory:1<\/serviceType>[\s\S]*?<eventSubURL>([^<]+)<\/eventSubURL>/.exec(desc);
    if (m) cdsEventUrl = `${d.url}${m[1]}`;
  });
  after(async () => {
    await cb.close();
    await d.dispose();
  });

  /** SUBSCRIBE (or renew, or UNSUBSCRIBE) from the phone's address. */
  const gena = (method: 'SUBSCRIBE' | 'UNSUBSCRIBE', url: string, headers: Record<string, string>): Promise<RawResponse> => rawRequest(url, { method, headers, localAddress: lan.phone });
  const subscribe = (url: string, callback: string, timeout = 'Second-1800') => gena('SUBSCRIBE', url, { NT: 'upnp:event', CALLBACK: `<${callback}>`, TIMEOUT: timeout });
  const unsubscribe = (url: string, sid: string) => gena('UNSUBSCRIBE', url, { SID: sid });

  it('subscribes, sends the initial event (SEQ 0, every evented variable), renews and unsubscribes', async () => {
    const r = await subscribe(eventUrl('cms'), `${cb.url}/cms`);
    assert.equal(r.status, 200);
    const sid = String(r.headers.sid);
    assert.match(sid, /^uuid:[0-9a-f-]{36}$/);
    assert.equal(r.headers.timeout, 'Second-300', 'capped at 300 s');
    const ev = await waitFor(() => cb.received.find((n) => n.headers.sid === sid), 3000, 'the initial event');
    assert.equal(ev.path, '/cms');
    assert.equal(ev.headers.nt, 'upnp:event');
    assert.equal(ev.headers.nts, 'upnp:propchange');
    assert.equal(ev.headers.seq, '0');
    assert.match(String(ev.headers['content-type']), /^text\/xml/);
    assert.match(ev.body, /^<\?xml version="1\.0" encoding="utf-8"\?>\n<e:propertyset xmlns:e="urn:schemas-upnp-org:event-1-0">/);
    assert.match(ev.body, /<e:property><SourceProtocolInfo>http-get:\*:audio\/mpeg:DLNA\.ORG_PN=MP3,/);
    assert.match(ev.body, /<e:property><SinkProtocolInfo><\/SinkProtocolInfo><\/e:property>/);
    assert.match(ev.body, /<e:property><CurrentConnectionIDs>0<\/CurrentConnectionIDs><\/e:property>/);

    const renew = await gena('SUBSCRIBE', eventUrl('cms'), { SID: sid, TIMEOUT: 'Second-60' });
    assert.equal(renew.status, 200);
    assert.equal(renew.headers.sid, sid);
    assert.equal(renew.headers.timeout, 'Second-60');
    const infinite = await gena('SUBSCRIBE', eventUrl('cms'), { SID: sid, TIMEOUT: 'Second-infinite' });
    assert.equal(infinite.headers.timeout, 'Second-300');

    assert.equal((await unsubscribe(eventUrl('cms'), sid)).status, 200);
    assert.equal((await unsubscribe(eventUrl('cms'), sid)).status, 412, 'gone');
    assert.equal((await gena('SUBSCRIBE', eventUrl('cms'), { SID: sid })).status, 412, 'cannot renew');
  });

  it('follows the UDA/gupnp rules for header mixes and unknown SIDs', async () => {
    const url = eventUrl('cms');
    const sid = String((await subscribe(url, `${cb.url}/mix`)).headers.sid);
    try {
      assert.equal((await gena('SUBSCRIBE', url, { SID: sid, NT: 'upnp:event' })).status, 400);
      assert.equal((await gena('SUBSCRIBE', url, { SID: sid, CALLBACK: `<${cb.url}/>` })).status, 400);
      assert.equal((await gena('SUBSCRIBE', url, { SID: 'uuid:00000000-0000-0000-0000-000000000000' })).status, 412);
      assert.equal((await gena('SUBSCRIBE', url, { CALLBACK: `<${cb.url}/>` })).status, 412, 'no NT');
      assert.equal((await gena('SUBSCRIBE', url, { NT: 'upnp:propchange', CALLBACK: `<${cb.url}/>` })).status, 412, 'wrong NT');
      assert.equal((await gena('SUBSCRIBE', url, { NT: 'upnp:event' })).status, 412, 'no CALLBACK');
      assert.equal((await gena('UNSUBSCRIBE', url, { SID: sid, NT: 'upnp:event' })).status, 400);
      assert.equal((await gena('UNSUBSCRIBE', url, {})).status, 412);
      assert.equal((await gena('SUBSCRIBE', eventUrl('msr'), { SID: sid })).status, 412, 'a SID of another service');
    } finally {
      await unsubscribe(url, sid);
    }
  });

  it('expires a subscription after its timeout', async () => {
    const r = await subscribe(eventUrl('cms'), `${cb.url}/short`, 'Second-1');
    assert.equal(r.headers.timeout, 'Second-1');
    await new Promise((res) => setTimeout(res, 1400));
    assert.equal((await gena('SUBSCRIBE', eventUrl('cms'), { SID: String(r.headers.sid) })).status, 412);
  });

  describe('CallStranger (CVE-2020-12695)', () => {
    let trap: http.Server;
    let trapPort: number;
    let trapConnections = 0;
    before(async () => {
      // Listens on every local address: a callback to any of them, if ever attempted, is counted.
      trap = http.createServer((_, res) => res.end());
      trap.on('connection', () => trapConnections++);
      await new Promise<void>((resolve) => trap.listen(0, '0.0.0.0', resolve));
      trapPort = (trap.address() as AddressInfo).port;
    });
    after(async () => {
      trap.closeAllConnections();
      await new Promise<void>((resolve) => trap.close(() => resolve()));
    });

    // [what, CALLBACK header from the trap port and the phone address]
    const refused: Array<[string, (port: number, phone: string) => string]> = [
      ['an address off the subnet (TEST-NET)', (p) => `<http://192.0.2.1:${p}/>`],
      ['loopback, which is not this interface’s subnet', (p) => `<http://127.0.0.1:${p}/>`],
      ['a name', (p) => `<http://localhost:${p}/>`],
      ['a name that looks like the phone', (p, phone) => `<http://${phone}.nip.io:${p}/>`],
      ['an integer host', (p) => `<http://2130706433:${p}/>`],
      ['a hex host', (p) => `<http://0x7f.1:${p}/>`],
      ['an octal-looking octet', (p) => `<http://010.77.0.2:${p}/>`],
      ['the subnet broadcast address', (p) => `<http://10.77.0.255:${p}/>`],
      ['https', (p, phone) => `<https://${phone}:${p}/>`],
      ['userinfo', (p, phone) => `<http://x@${phone}:${p}/>`],
      ['a 300-byte URL', (p, phone) => `<http://${phone}:${p}/${'a'.repeat(300)}>`],
      ['seven URLs', (p, phone) => Array.from({ length: 7 }, () => `<http://${phone}:${p}/>`).join('')],
      ['no angle brackets', (p, phone) => `http://${phone}:${p}/`],
      ['garbage', () => '<<<>>>'],
    ];
    for (const [what, make] of refused) {
      it(`refuses ${what} with 412 and never connects`, async () => {
        const before = trapConnections;
        const header = make(trapPort, lan.phone);
        const r = await gena('SUBSCRIBE', eventUrl('cms'), { NT: 'upnp:event', CALLBACK: header, TIMEOUT: 'Second-60' });
        assert.equal(r.status, 412, header);
        assert.equal(r.headers.sid, undefined);
        await new Promise((res) => setTimeout(res, 150));
        assert.equal(trapConnections, before, 'no connection attempt');
      });
    }

    it('uses the first acceptable URL when an unacceptable one comes first', async () => {
      const r = await gena('SUBSCRIBE', eventUrl('cms'), { NT: 'upnp:event', CALLBACK: `<http://192.0.2.1:${trapPort}/><${cb.url}/second>`, TIMEOUT: 'Second-60' });
      assert.equal(r.status, 200);
      const sid = String(r.headers.sid);
      await waitFor(() => cb.received.find((n) => n.headers.sid === sid && n.path === '/second'), 3000, 'the event at the second URL');
      await unsubscribe(eventUrl('cms'), sid);
    });

    it('caps subscriptions per source address', async () => {
      const sids: string[] = [];
      try {
        let status = 200;
        for (let i = 0; i < 20 && status === 200; i++) {
          const r = await subscribe(eventUrl('cms'), `${cb.url}/cap/${i}`, 'Second-60');
          status = r.status;
          if (r.status === 200) sids.push(String(r.headers.sid));
        }
        assert.equal(status, 412, 'refused past the cap');
        assert.equal(sids.length, 10);
      } finally {
        for (const sid of sids) await unsubscribe(eventUrl('cms'), sid);
      }
      assert.equal((await subscribe(eventUrl('cms'), `${cb.url}/cap/again`, 'Second-60')).status, 200, 'room again after unsubscribing');
    });

    it('checks the Host header on the event URL', async () => {
      const r = await gena('SUBSCRIBE', eventUrl('cms'), { Host: `evil.example:${d.port}`, NT: 'upnp:event', CALLBACK: `<${cb.url}/>` });
      assert.equal(r.status, 400);
    });
  });

  it('a callback that accepts and never answers blocks neither other subscribers nor requests', async () => {
    const hang = await CallbackServer.start(lan.phone, { hang: true });
    try {
      const slow = await subscribe(eventUrl('cms'), `${hang.url}/hang`, 'Second-60');
      assert.equal(slow.status, 200);
      await waitFor(() => hang.received.length > 0, 3000, 'the NOTIFY to the hanging callback');
      const t0 = Date.now();
      const ok = await subscribe(eventUrl('msr'), `${cb.url}/while-hanging`, 'Second-60');
      const sid = String(ok.headers.sid);
      await waitFor(() => cb.received.find((n) => n.headers.sid === sid), 2000, 'the other subscriber’s event');
      const call = await soap(`${d.url}/upnp/control/cms`, CM, 'GetCurrentConnectionIDs');
      assert.equal(xmlText(call.body, 'ConnectionIDs'), '0');
      assert.ok(Date.now() - t0 < 1500, `other work took ${Date.now() - t0} ms`);
      await unsubscribe(eventUrl('msr'), sid);
      await unsubscribe(eventUrl('cms'), String(slow.headers.sid));
    } finally {
      await hang.close();
    }
  });

  describe('ContentDirectory events', () => {
    before(() => {
      assert.ok(cdsEventUrl, 'the description lists a ContentDirectory event URL');
    });

    it('sends SystemUpdateID in the initial event and after a push, at most once per 2 s', async () => {
      const r = await subscribe(cdsEventUrl!, `${cb.url}/cds`, 'Second-60');
      assert.equal(r.status, 200);
      const sid = String(r.headers.sid);
      const initial = await waitFor(() => cb.received.find((n) => n.headers.sid === sid), 3000, 'the initial event');
      const before = Number(/<SystemUpdateID>(\d+)<\/SystemUpdateID>/.exec(initial.body)?.[1]);
      assert.ok(Number.isInteger(before), initial.body);
      for (let i = 0; i < 3; i++) assert.ok([200, 201].includes((await pushFile(d.url, `ev${i}.wav`, makeWav(9000 + i))).status));
      const change = await waitFor(() => cb.received.find((n) => n.headers.sid === sid && n.headers.seq === '1'), 5000, 'a change event');
      const after = Number(/<SystemUpdateID>(\d+)<\/SystemUpdateID>/.exec(change.body)?.[1]);
      assert.ok(after > before, `${after} > ${before}`);
      assert.ok(change.at - initial.at >= 1900, 'moderated');
      const events = cb.received.filter((n) => n.headers.sid === sid);
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.at - events[i - 1]!.at >= 1900, 'one per 2 s');
      await unsubscribe(cdsEventUrl!, sid);
    });
  });
});
