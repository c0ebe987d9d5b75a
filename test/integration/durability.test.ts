// An acknowledged push is never lost: kill -9 during concurrent pushes, a corrupt catalogue, restarts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { makeWav } from '../helpers/fixtures.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
}

async function push(url: string, bytes: Buffer, name: string): Promise<{ status: number; id?: string }> {
  const res = await fetch(`${url}/api/v1/tracks`, { method: 'POST', body: bytes, headers: { 'Content-Type': 'audio/wav', 'X-Filename': name } });
  const body = (await res.json()) as { track?: { id: string } };
  return { status: res.status, id: body.track?.id };
}

async function listAll(url: string): Promise<Array<{ id: string; sha256: string; size: number }>> {
  const res = await fetch(`${url}/api/v1/tracks?limit=1000`);
  return ((await res.json()) as { items: Array<{ id: string; sha256: string; size: number }> }).items;
}

describe('durability', function () {
  this.timeout(120_000);
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-dur-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps every acknowledged push across kill -9 during concurrent pushes', async () => {
    for (let round = 0; round < 3; round++) {
      const d = await TestDaemon.start({ dataDir });
      await d.idle();
      const acked = new Map<string, Buffer>();
      const files = Array.from({ length: 24 }, (_, i) => makeWav(round * 1000 + i, { seconds: 3, rate: 22050, title: `R${round} T${i}` }));
      let killed = false;
      const pushes = files.map(async (bytes, i) => {
        await new Promise((r) => setTimeout(r, i * 15));
        try {
          const r = await push(d.url, bytes, `r${round}-${i}.wav`);
          if (r.status === 201 || r.status === 200) acked.set(sha(bytes), bytes);
        } catch {
          // connection cut by the kill: not acknowledged, may or may not be stored
        }
      });
      // Kill once some pushes have been acknowledged and others are still in flight.
      const deadline = Date.now() + 20_000;
      while (acked.size < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await d.kill9();
      killed = true;
      await Promise.all(pushes);
      assert.ok(killed && acked.size >= 4, `round ${round}: ${acked.size} acked before the kill`);

      const d2 = await TestDaemon.start({ dataDir });
      await d2.idle();
      const listed = await listAll(d2.url);
      const byHash = new Map(listed.map((t) => [t.sha256, t]));
      for (const [hash, bytes] of acked) {
        const t = byHash.get(hash);
        assert.ok(t, `round ${round}: acknowledged push ${hash.slice(0, 8)} lost`);
        const streamed = Buffer.from(await (await fetch(`${d2.url}/api/v1/tracks/${t.id}/stream`)).arrayBuffer());
        assert.equal(sha(streamed), hash, 'streams the same bytes');
        assert.equal(streamed.length, bytes.length);
      }
      // Nothing half-written: no temp files, incoming/ empty, every catalogued file complete.
      assert.deepEqual(allFiles(path.join(dataDir, 'incoming')), []);
      assert.deepEqual(allFiles(dataDir).filter((f) => f.endsWith('.tmp')), []);
      for (const t of listed) assert.ok(t.size > 0);
      const onDisk = allFiles(path.join(dataDir, 'music'));
      assert.equal(onDisk.length, listed.length, 'every file in music/ is catalogued and vice versa');
      await d2.stop();
    }
  });

  it('recovers from a truncated catalogue file', async () => {
    let d = await TestDaemon.start({ dataDir });
    for (let i = 0; i < 5; i++) assert.equal((await push(d.url, makeWav(500 + i), `c${i}.wav`)).status, 201);
    await d.stop();
    const file = path.join(dataDir, 'catalog.json');
    const size = readFileSync(file).length;
    truncateSync(file, Math.floor(size / 2));
    d = await TestDaemon.start({ dataDir });
    await d.idle();
    assert.equal((await listAll(d.url)).length, 5);
    assert.ok(readdirSync(dataDir).some((n) => n.startsWith('catalog.json.corrupt-')), 'the bad file is quarantined');
    await d.stop();
  });

  it('rebuilds from the files when catalogue and backup are both unusable', async () => {
    let d = await TestDaemon.start({ dataDir });
    for (let i = 0; i < 3; i++) assert.equal((await push(d.url, makeWav(600 + i), `e${i}.wav`)).status, 201);
    await d.stop();
    writeFileSync(path.join(dataDir, 'catalog.json'), Buffer.alloc(4096)); // NULs, as after a power cut
    writeFileSync(path.join(dataDir, 'catalog.json.bak'), '');
    rmSync(path.join(dataDir, 'catalog.journal'), { force: true });
    d = await TestDaemon.start({ dataDir });
    await d.idle();
    const listed = await listAll(d.url);
    assert.equal(listed.length, 3);
    assert.ok(listed.every((t) => t.sha256.length === 64));
    await d.stop();
  });

  it('drops entries whose file vanished and indexes files it did not know', async () => {
    let d = await TestDaemon.start({ dataDir });
    const a = await push(d.url, makeWav(700), 'a.wav');
    await push(d.url, makeWav(701), 'b.wav');
    await d.stop();
    const listedBefore = allFiles(path.join(dataDir, 'music'));
    const aFile = listedBefore.find((f) => readFileSync(f).equals(makeWav(700)))!;
    rmSync(aFile);
    const extra = path.join(dataDir, 'music', 'Someone', 'Dropped', 'dropped.wav');
    mkdirSync(path.dirname(extra), { recursive: true });
    const dropped = makeWav(702, { title: 'Dropped In' });
    writeFileSync(extra, dropped);
    d = await TestDaemon.start({ dataDir });
    await d.idle();
    const listed = await listAll(d.url);
    assert.equal(listed.length, 2);
    assert.ok(!listed.some((t) => t.id === a.id));
    assert.ok(listed.some((t) => t.sha256 === sha(dropped)), 'a file copied into music/ by hand is indexed');
    await d.stop();
  });

  it('empties incoming/ at start', async () => {
    mkdirSync(path.join(dataDir, 'incoming'), { recursive: true });
    writeFileSync(path.join(dataDir, 'incoming', '.push.1.abc.tmp'), 'half a song');
    const d = await TestDaemon.start({ dataDir });
    assert.deepEqual(readdirSync(path.join(dataDir, 'incoming')), []);
    await d.stop();
  });
});
