// GENA in process on loopback (all of 127/8 is on lo, so 127.0.0.N play other hosts): the callback
// rules as a table, then moderation, coalescing, the total cap and dropping an unreachable subscriber.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { pino } from 'pino';
import { Gena, parseCallback, parseTimeout, propertySet, type GenaLimits } from '../../daemon/upnp/events.js';
import type { UpnpService } from '../../daemon/upnp/service.js';
import { CallbackServer, rawRequest, waitFor } from '../helpers/upnp.js';

const LOCAL = { address: '10.77.0.1', netmask: '255.255.255.0' };

describe('GENA callback rules', () => {
  const ok: Array<[string, string]> = [
    ['<http://10.77.0.2:4000/cb>', 'http://10.77.0.2:4000/cb'],
    ['<http://10.77.0.2/>', 'http://10.77.0.2/'],
    ['<http://10.77.0.2:4000>', 'http://10.77.0.2:4000'],
    ['  <http://10.77.0.2:1/a?b=c>  ', 'http://10.77.0.2:1/a?b=c'],
    ['<http://192.0.2.1/><http://10.77.0.3:80/x>', 'http://10.77.0.3:80/x'],
  ];
  for (const [header, url] of ok) {
    it(`accepts ${header}`, () => assert.equal(parseCallback(header, LOCAL)?.url, url));
  }

  const refused = [
    '<http://192.0.2.1:4000/>',
    '<http://evil.example:4000/>',
    '<http://localhost/>',
    '<http://2130706433/>',
    '<http://0x0a.77.0.2/>',
    '<http://010.77.0.2/>',
    '<http://10.77.0.256/>',
    '<http://10.77.0.0/>',
    '<http://10.77.0.255/>',
    '<http://10.77.0.2:0/>',
    '<http://10.77.0.2:65536/>',
    '<http://user@10.77.0.2/>',
    '<https://10.77.0.2/>',
    '<ftp://10.77.0.2/>',
    '<http://[::1]/>',
    '<http://10.77.0.2/a b>',
    `<http://10.77.0.2/${'a'.repeat(250)}>`,
    Array.from({ length: 7 }, () => '<http://10.77.0.2/>').join(''),
    'http://10.77.0.2/',
    '<http://10.77.0.2/> trailing',
    '',
  ];
  for (const header of refused) {
    it(`refuses ${JSON.stringify(header.slice(0, 60))}`, () => assert.equal(parseCallback(header, LOCAL), null));
  }

  it('caps TIMEOUT at 300 s', () => {
    assert.equal(parseTimeout('Second-1800'), 300);
    assert.equal(parseTimeout('Second-infinite'), 300);
    assert.equal(parseTimeout('second-120'), 120);
    assert.equal(parseTimeout('Second-0'), 1);
    assert.equal(parseTimeout(undefined), 300);
    assert.equal(parseTimeout('Minute-5'), 300);
  });

  it('writes a property set, escaped', () => {
    assert.equal(propertySet({ A: 1, B: '<&>' }), '<?xml version="1.0" encoding="utf-8"?>\n<e:propertyset xmlns:e="urn:schemas-upnp-org:event-1-0"><e:property><A>1</A></e:property><e:property><B>&lt;&amp;&gt;</B></e:property></e:propertyset>\n');
  });
});

/** A service whose evented variables the test changes. */
function fakeService(): UpnpService & { emit(changed: Record<string, string | number>): void; state: Record<string, string | number> } {
  const em = new EventEmitter();
  const state: Record<string, string | number> = { SystemUpdateID: 0, ContainerUpdateIDs: '' };
  return {
    name: 'Fake',
    type: 'urn:x:service:Fake:1',
    id: 'urn:x:serviceId:Fake',
    slug: 'fake',
    state,
    scpd: () => '',
    handle: () => ({}),
    eventedState: () => ({ ...state }),
    onEvent(listener) {
      em.on('e', listener);
      return () => em.off('e', listener);
    },
    emit(changed) {
      Object.assign(state, changed);
      em.emit('e', changed);
    },
  };
}

describe('GENA delivery', function () {
  let server: http.Server;
  let gena: Gena;
  let service: ReturnType<typeof fakeService>;
  let url: string;
  const callbacks: CallbackServer[] = [];

  async function setUp(limits: Partial<GenaLimits>) {
    service = fakeService();
    gena = new Gena([service], pino({ level: 'silent' }), 'test/1 UPnP/1.0 hifid/0', limits);
    gena.start();
    const router = new Router({ methods: ['SUBSCRIBE', 'UNSUBSCRIBE'] });
    router.register('/ev', ['SUBSCRIBE', 'UNSUBSCRIBE'], (ctx) => gena.handle(ctx, service));
    const app = new Koa();
    app.use(router.routes());
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ev`;
  }

  async function callback(address: string, opts: { hang?: boolean } = {}) {
    const cb = await CallbackServer.start(address, opts);
    callbacks.push(cb);
    return cb;
  }

  const subscribe = (cb: string, from = '127.0.0.1') => rawRequest(url, { method: 'SUBSCRIBE', headers: { NT: 'upnp:event', CALLBACK: `<${cb}>`, TIMEOUT: 'Second-60' }, localAddress: from });

  afterEach(async () => {
    gena.stop();
    for (const cb of callbacks.splice(0)) await cb.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('merges changes in a moderation window (latest wins) and counts SEQ up', async () => {
    await setUp({ moderationMs: 400 });
    const cb = await callback('127.0.0.2');
    const r = await subscribe(`${cb.url}/`, '127.0.0.2');
    assert.equal(r.status, 200);
    await waitFor(() => cb.received.length === 1, 2000, 'initial event');
    for (let i = 1; i <= 20; i++) service.emit({ SystemUpdateID: i, ContainerUpdateIDs: `m,${i}` });
    await waitFor(() => cb.received.length === 2, 2000, 'one merged event');
    await new Promise((res) => setTimeout(res, 600));
    assert.equal(cb.received.length, 2, 'twenty changes, one NOTIFY');
    const [initial, merged] = cb.received;
    assert.equal(initial!.headers.seq, '0');
    assert.equal(merged!.headers.seq, '1');
    assert.match(merged!.body, /<SystemUpdateID>20<\/SystemUpdateID>/);
    assert.match(merged!.body, /<ContainerUpdateIDs>m,20<\/ContainerUpdateIDs>/);
    assert.ok(merged!.at - initial!.at >= 380, `moderated: ${merged!.at - initial!.at} ms`);
    service.emit({ SystemUpdateID: 21 });
    await waitFor(() => cb.received.length === 3, 2000, 'the next event');
    assert.equal(cb.received[2]!.headers.seq, '2');
    assert.doesNotMatch(cb.received[2]!.body, /ContainerUpdateIDs/, 'only what changed');
  });

  it('caps the total number of subscriptions', async () => {
    await setUp({ maxSubscriptions: 4, maxPerSource: 2 });
    const cb = await callback('127.0.0.2');
    const statuses: number[] = [];
    for (let host = 2; host <= 4; host++) {
      for (let i = 0; i < 2; i++) statuses.push((await subscribe(`http://127.0.0.${host}:${new URL(cb.url).port}/${i}`, `127.0.0.${host}`)).status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 412, 412]);
    assert.equal(gena.stats().subscriptions, 4);
    assert.equal((await subscribe(`${cb.url}/x`, '127.0.0.2')).status, 412, 'per source: 2');
  });

  it('replaces an earlier subscription with the same callback (a control point that restarted)', async () => {
    await setUp({});
    const cb = await callback('127.0.0.2');
    const a = await subscribe(`${cb.url}/same`, '127.0.0.2');
    const b = await subscribe(`${cb.url}/same`, '127.0.0.2');
    assert.notEqual(a.headers.sid, b.headers.sid);
    assert.equal(gena.stats().subscriptions, 1);
  });

  it('drops a subscriber whose callback never answers, without holding up another', async () => {
    await setUp({ moderationMs: 100, notifyTimeoutMs: 300, maxFailures: 3 });
    const hang = await callback('127.0.0.3', { hang: true });
    const good = await callback('127.0.0.2');
    assert.equal((await subscribe(`${hang.url}/`, '127.0.0.3')).status, 200);
    assert.equal((await subscribe(`${good.url}/`, '127.0.0.2')).status, 200);
    await waitFor(() => good.received.length === 1 && hang.received.length === 1, 2000, 'both initial events');
    for (let i = 1; i <= 4; i++) {
      service.emit({ SystemUpdateID: i });
      await waitFor(() => good.received.length === i + 1, 1000, `good event ${i}`);
    }
    await waitFor(() => gena.stats().subscriptions === 1, 3000, 'the hanging subscriber dropped');
    assert.ok(hang.received.length <= 3, `${hang.received.length} NOTIFYs to the hanging callback`);
    assert.ok(gena.stats().failures >= 3);
  });

  it('a refused connection counts as a failure too', async () => {
    await setUp({ moderationMs: 50, maxFailures: 2 });
    const cb = await callback('127.0.0.4');
    assert.equal((await subscribe(`${cb.url}/`, '127.0.0.4')).status, 200);
    await waitFor(() => cb.received.length === 1, 2000, 'initial event');
    await cb.close();
    callbacks.splice(callbacks.indexOf(cb), 1);
    service.emit({ SystemUpdateID: 1 });
    await new Promise((r) => setTimeout(r, 150));
    service.emit({ SystemUpdateID: 2 });
    await waitFor(() => gena.stats().subscriptions === 0, 3000, 'dropped after two failures');
  });
});
