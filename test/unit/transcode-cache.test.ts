// The transcode cache: nothing visible before commit, least recently used evicted first, leftovers
// of interrupted transcodes removed, and a file's mtime (ETag, Last-Modified) never moved by use.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { cacheKey, TranscodeCache } from '../../daemon/media/transcode-cache.js';

const log = pino({ level: 'silent' });
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function put(cache: TranscodeCache, key: string, bytes: number): Promise<void> {
  const w = cache.begin(key)!;
  w.write(Buffer.alloc(bytes, 7));
  assert.ok(await w.commit());
}

describe('transcode cache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hifid-tcache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keys change with the source file, the target and the variant', () => {
    const src = { id: 'abc', size: 10, mtimeMs: 1000, sha256: null };
    const k = cacheKey(src, 'mp3-320', 'stream', 'mp3');
    assert.match(k, /^abc\.mp3-320\.stream\.[0-9a-f]{16}\.mp3$/);
    assert.notEqual(cacheKey({ ...src, mtimeMs: 2000 }, 'mp3-320', 'stream', 'mp3'), k);
    assert.notEqual(cacheKey(src, 'mp3-320', 'export', 'mp3'), k);
    assert.notEqual(cacheKey(src, 'aac-256', 'stream', 'mp3'), k);
  });

  it('shows a transcode only once committed, and never an aborted one', async () => {
    const cache = new TranscodeCache(dir, 1000, log);
    await cache.open();
    const w = cache.begin('a.mp3')!;
    w.write(Buffer.from('hello '));
    assert.equal(cache.lookup('a.mp3'), null);
    assert.equal(readdirSync(dir).filter((f) => f === 'a.mp3').length, 0);
    w.write(Buffer.from('world'));
    const c = await w.commit();
    assert.deepEqual(c, { file: path.join(dir, 'a.mp3'), size: 11 });
    assert.equal(readFileSync(c!.file, 'utf8'), 'hello world');
    const b = cache.begin('b.mp3')!;
    b.write(Buffer.from('partial'));
    b.abort();
    await wait(20);
    assert.equal(cache.lookup('b.mp3'), null);
    assert.deepEqual(readdirSync(dir), ['a.mp3']);
  });

  it('drops a transcode bigger than the whole cache', async () => {
    const cache = new TranscodeCache(dir, 100, log);
    await cache.open();
    const w = cache.begin('big.wav')!;
    w.write(Buffer.alloc(80));
    w.write(Buffer.alloc(80));
    assert.equal(await w.commit(), null);
    await wait(20);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('evicts the least recently used first', async () => {
    const cache = new TranscodeCache(dir, 250, log);
    await cache.open();
    await put(cache, 'a', 100);
    await wait(5);
    await put(cache, 'b', 100);
    await wait(5);
    assert.ok(cache.lookup('a'), 'a used after b was written');
    await put(cache, 'c', 100);
    assert.ok(cache.peekSize('a'));
    assert.equal(cache.peekSize('b'), null);
    assert.ok(cache.peekSize('c'));
    assert.ok(!existsSync(path.join(dir, 'b')));
    assert.equal(cache.sizeBytes, 200);
  });

  it('keeps mtime as written when used (ETag stays), and the use order across a restart', async () => {
    const cache = new TranscodeCache(dir, 250, log);
    await cache.open();
    await put(cache, 'a', 100);
    await wait(20);
    await put(cache, 'b', 100);
    const mtime = statSync(path.join(dir, 'a')).mtimeMs;
    await wait(20);
    cache.lookup('a');
    await wait(50);
    assert.equal(statSync(path.join(dir, 'a')).mtimeMs, mtime);
    writeFileSync(path.join(dir, 'x.0123.tmp'), 'left over by a crash');
    const again = new TranscodeCache(dir, 250, log);
    await again.open();
    assert.ok(!existsSync(path.join(dir, 'x.0123.tmp')));
    await put(again, 'c', 100);
    assert.ok(again.peekSize('a'), 'a was used last before the restart');
    assert.equal(again.peekSize('b'), null);
  });

  it('is off with a size of 0', async () => {
    const cache = new TranscodeCache(dir, 0, log);
    await cache.open();
    assert.equal(cache.enabled, false);
    assert.equal(cache.begin('a'), null);
  });
});
