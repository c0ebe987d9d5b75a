// serveFile edge cases that pushed tracks never reach (empty files, files without a content hash),
// on a bare koa app over loopback.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { serveFile } from '../../daemon/http/stream.js';

describe('serveFile', () => {
  let dir: string;
  let server: http.Server;
  let base: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hifid-serve-'));
    writeFileSync(path.join(dir, 'empty.jpg'), '');
    writeFileSync(path.join(dir, 'ten.bin'), '0123456789');
    const app = new Koa();
    app.use(async (ctx) => serveFile(ctx, { file: path.join(dir, ctx.path.slice(1)), mime: 'image/jpeg' }));
    server = http.createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves an empty file as an empty 200, not a status text', async () => {
    const res = await fetch(`${base}/empty.jpg`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('answers any range of an empty file with 416 bytes */0', async () => {
    const res = await fetch(`${base}/empty.jpg`, { headers: { Range: 'bytes=0-' } });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), 'bytes */0');
  });

  it('answers an unsatisfiable range with 416, never 204', async () => {
    const res = await fetch(`${base}/ten.bin`, { headers: { Range: 'bytes=10-' } });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), 'bytes */10');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('uses a weak ETag without a hash: it validates caches but never a partial resume', async () => {
    const head = await fetch(`${base}/ten.bin`, { method: 'HEAD' });
    const etag = head.headers.get('etag')!;
    assert.match(etag, /^W\/"/);
    assert.equal((await fetch(`${base}/ten.bin`, { headers: { 'If-None-Match': etag } })).status, 304);
    const res = await fetch(`${base}/ten.bin`, { headers: { Range: 'bytes=2-3', 'If-Range': etag } });
    assert.equal(res.status, 200, 'If-Range needs a strong validator');
    assert.equal(await res.text(), '0123456789');
  });

  it('answers a missing file with 404', async () => {
    assert.equal((await fetch(`${base}/missing.jpg`)).status, 404);
  });
});
