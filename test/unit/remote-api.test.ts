// The web remote's extra API on a bare app over loopback: the server-sent event stream (hello,
// changes, heartbeats, clean-up on disconnect, a bound on listeners, shutdown) and the devices list.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Catalog } from '../../daemon/library/catalog.js';
import { STORE_ROOT, type StoredTrack } from '../../daemon/library/track.js';
import { storedTrack } from '../helpers/tracks.js';
import { createApp } from '../../daemon/http/server.js';
import { createRemoteApi, type RemoteApi } from '../../daemon/http/remote-api.js';

const log = pino({ level: 'silent' });

function track(id: string, device: string | null, addedAt: string, kind: 'push' | 'folder' = 'push'): StoredTrack {
  return storedTrack({ id, durationMs: 1000, addedAt, source: { kind, device }, root: kind === 'push' ? STORE_ROOT : '/music' });
}

/** An open event stream: its raw text so far, and a way to wait for more. */
class EventStream {
  text = '';
  closed = false;
  constructor(
    readonly res: http.IncomingMessage,
    readonly req: http.ClientRequest,
  ) {
    res.setEncoding('utf8');
    res.on('data', (c: string) => (this.text += c));
    res.on('close', () => (this.closed = true));
  }

  async waitFor(re: RegExp, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!re.test(this.text)) {
      if (Date.now() > deadline) throw new Error(`no ${re} in ${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

describe('live events and devices (/api/v1/events, /api/v1/devices)', () => {
  let catalog: Catalog;
  let remote: RemoteApi;
  let server: http.Server;
  let port: number;
  const open: EventStream[] = [];

  const connect = (): Promise<{ status: number; stream: EventStream }> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/v1/events', agent: false });
      req.on('error', reject);
      req.on('response', (res) => {
        const stream = new EventStream(res, req);
        if (res.statusCode === 200) open.push(stream);
        resolve({ status: res.statusCode ?? 0, stream });
      });
    });

  before(async () => {
    catalog = new Catalog(log);
    catalog.load([track('a1', 'Pixel 8', '2024-01-01T00:00:00.000Z'), track('a2', 'iPhone', '2024-01-02T00:00:00.000Z'), track('a3', 'Pixel 8', '2024-01-03T00:00:00.000Z'), track('f1', null, '2024-01-04T00:00:00.000Z', 'folder')], 5);
    remote = createRemoteApi({ catalog, log, maxClients: 3, heartbeatMs: 100 });
    const hosts = { addresses: () => new Set(['127.0.0.1']), names: () => new Set(['localhost']) };
    server = http.createServer(createApp({ log, hosts, routers: [remote.router] }).callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of open) s.req.destroy();
    remote.close();
    await new Promise((r) => server.close(r));
  });

  it('opens with the current update id, then sends each change as ids', async () => {
    const { status, stream } = await connect();
    assert.equal(status, 200);
    assert.match(stream.res.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.equal(stream.res.headers['cache-control'], 'no-cache, no-transform');
    await stream.waitFor(/event: hello\ndata: \{"updateId":5\}\n\n/);
    assert.match(stream.text, /^retry: 3000\n/);
    catalog.upsert([track('b1', 'Pixel 8', '2024-02-01T00:00:00.000Z')]);
    catalog.remove(['a2']);
    await stream.waitFor(/event: change\ndata: \{"updateId":7,"added":\[\],"removed":\["a2"\]\}\n\n/);
    assert.match(stream.text, /id: 6\nevent: change\ndata: \{"updateId":6,"added":\["b1"\],"removed":\[\]\}\n\n/);
  });

  it('sends heartbeat comments while nothing changes', async () => {
    const stream = open[0]!;
    const before = stream.text.length;
    await new Promise((r) => setTimeout(r, 250));
    assert.match(stream.text.slice(before), /^(: ping\n\n)+$/);
  });

  it('refuses listeners beyond the bound with 503, and frees a place when one disconnects', async () => {
    await connect();
    await connect();
    const clients = () => remote.clients; // read afresh: assert.equal would narrow the property's type
    assert.equal(clients(), 3);
    const extra = await connect();
    assert.equal(extra.status, 503);
    assert.equal(extra.stream.res.headers['retry-after'], '30');
    const gone = open.pop()!;
    gone.req.destroy();
    for (let i = 0; clients() !== 2; i++) {
      assert.ok(i < 100, 'the closed stream was not cleaned up');
      await new Promise((r) => setTimeout(r, 10));
    }
    const again = await connect();
    assert.equal(again.status, 200);
  });

  it('ends every stream on close (shutdown)', async () => {
    remote.close();
    for (const s of open) {
      for (let i = 0; !s.closed; i++) {
        assert.ok(i < 100, 'a stream stayed open');
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    assert.equal(remote.clients, 0);
  });

  it('lists the devices that pushed, most recent first, with counts', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/devices`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      items: [
        { name: 'Pixel 8', trackCount: 3, lastAddedAt: '2024-02-01T00:00:00.000Z' },
        // a2 (iPhone's only track) was removed above; folder tracks have no device
      ],
      // no renderer discovery in this test
      renderers: [],
    });
    catalog.upsert([track('c1', 'iPhone', '2024-03-01T00:00:00.000Z')]);
    const after = (await (await fetch(`http://127.0.0.1:${port}/api/v1/devices`)).json()) as { items: Array<{ name: string }> };
    assert.deepEqual(
      after.items.map((d) => d.name),
      ['iPhone', 'Pixel 8'],
    );
  });
});
