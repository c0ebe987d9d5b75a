// The file a push streams into: every byte lands in order, the write-behind syncs while data still
// arrives, a planted name is never reused, and an abandoned file can always be closed.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WriteBehindFile } from '../../daemon/library/write-behind.js';

describe('write-behind file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hifid-wb-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const chunks = (n: number, size: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(size, i % 251));

  it('writes every chunk in order and syncs behind the writes', async () => {
    const file = path.join(dir, 'a.tmp');
    const parts = chunks(64, 64 * 1024);
    const out = await WriteBehindFile.create(file, 256 * 1024);
    await pipeline(Readable.from(parts), out);
    await out.sync();
    assert.ok(out.syncedBytes > 0, 'no write-behind ran');
    await out.close();
    assert.deepEqual(readFileSync(file), Buffer.concat(parts));
  });

  it('refuses a name that already exists', async () => {
    const file = path.join(dir, 'planted.tmp');
    writeFileSync(file, 'x');
    await assert.rejects(WriteBehindFile.create(file), { code: 'EEXIST' });
  });

  it('closes cleanly, once, after the source failed mid-stream', async () => {
    const file = path.join(dir, 'b.tmp');
    const out = await WriteBehindFile.create(file, 64 * 1024);
    const source = new Readable({ read() {} });
    const done = pipeline(source, out);
    for (const c of chunks(8, 32 * 1024)) source.push(c);
    setImmediate(() => source.destroy(new Error('client went away')));
    await assert.rejects(done, /client went away/);
    await out.close();
    await out.close();
  });
});
