// Existing music folders are indexed in place, read-only, and watched for changes.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { fixturePath, fixture, makeWav } from '../helpers/fixtures.js';
import { eventually } from '../helpers/wait.js';

interface Item {
  id: string;
  title: string;
  path: string;
  hasArt: boolean;
  source: { kind: string };
}

async function list(url: string): Promise<Item[]> {
  return ((await (await fetch(`${url}/api/v1/tracks?limit=1000`)).json()) as { items: Item[] }).items;
}

function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((d) => {
    const p = path.join(d.parentPath, d.name);
    const st = statSync(p);
    return `${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`;
  }).sort();
}

describe('music folders', function () {
  this.timeout(60_000);
  let music: string;
  let d: TestDaemon;
  let dataDir: string;
  before(async () => {
    music = mkdtempSync(path.join(tmpdir(), 'hifid-music-'));
    mkdirSync(path.join(music, 'Band', 'Record'), { recursive: true });
    mkdirSync(path.join(music, 'Loose'), { recursive: true });
    copyFileSync(fixturePath('tone.flac'), path.join(music, 'Band', 'Record', '01.flac'));
    copyFileSync(fixturePath('tone.mp3'), path.join(music, 'Band', 'Record', '02.mp3'));
    copyFileSync(fixturePath('cover.jpg'), path.join(music, 'Band', 'Record', 'cover.jpg'));
    copyFileSync(fixturePath('untagged.mp3'), path.join(music, 'Loose', 'Just a file.mp3'));
    writeFileSync(path.join(music, 'Loose', 'readme.txt'), 'not music');
    dataDir = mkdtempSync(path.join(tmpdir(), 'hifid-data-'));
    d = await TestDaemon.start({ dataDir, args: ['--music-dir', music] });
    await d.idle();
  });
  after(async () => {
    await d.dispose();
    rmSync(music, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('indexes the folder in place with tags, folder covers and progress in the log', async () => {
    const items = await list(d.url);
    assert.equal(items.length, 3);
    assert.ok(items.every((t) => t.source.kind === 'folder'));
    const flac = items.find((t) => t.path === 'Band/Record/01.flac')!;
    assert.equal(flac.title, 'Tone 4');
    assert.equal(flac.hasArt, false);
    const art = await fetch(`${d.url}/api/v1/tracks/${flac.id}/art`);
    assert.equal(art.status, 200);
    assert.equal(art.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(Buffer.from(await art.arrayBuffer()), fixture('cover.jpg'));
    assert.ok(items.some((t) => t.title === 'Just a file'));
    const done = await d.waitForLog('music folder indexed');
    assert.equal(done.files, 3);
    const stream = await fetch(`${d.url}/api/v1/tracks/${flac.id}/stream`);
    assert.deepEqual(Buffer.from(await stream.arrayBuffer()), fixture('tone.flac'));
  });

  it('never writes into the folder', async () => {
    const before = snapshot(music);
    const items = await list(d.url);
    const del = await fetch(`${d.url}/api/v1/tracks/${items[0]!.id}`, { method: 'DELETE' });
    assert.equal(del.status, 403);
    assert.equal(((await del.json()) as { error: { code: string } }).error.code, 'read_only');
    assert.deepEqual(snapshot(music), before);
  });

  it('shows new, changed and removed files within a few seconds', async () => {
    const added = path.join(music, 'Loose', 'new song.wav');
    writeFileSync(added, makeWav(9001, { title: 'Fresh Wave' }));
    const fresh = await eventually(async () => (await list(d.url)).find((t) => t.title === 'Fresh Wave'));
    assert.equal(fresh.source.kind, 'folder');
    // Replace the file's content (a tag edit): same path, new title.
    const tmp = path.join(music, 'Loose', '.edit.tmp');
    writeFileSync(tmp, makeWav(9002, { title: 'Edited Wave' }));
    renameSync(tmp, added);
    await eventually(async () => (await list(d.url)).find((t) => t.title === 'Edited Wave'));
    rmSync(added);
    await eventually(async () => !(await list(d.url)).some((t) => t.path === 'Loose/new song.wav'));
  });

  it('follows a folder moved in, watches inside it, forgets it when removed and watches it again when it comes back', async () => {
    // Made outside the music folder, then moved in whole: its inside must be watched from then on.
    const outside = mkdtempSync(path.join(tmpdir(), 'hifid-moved-'));
    mkdirSync(path.join(outside, 'Disc'));
    writeFileSync(path.join(outside, 'Disc', 'a.wav'), makeWav(9101, { title: 'Moved In' }));
    const moved = path.join(music, 'Moved');
    renameSync(outside, moved);
    await eventually(async () => (await list(d.url)).some((t) => t.title === 'Moved In'));
    writeFileSync(path.join(moved, 'Disc', 'b.wav'), makeWav(9102, { title: 'Added Inside' }));
    await eventually(async () => (await list(d.url)).some((t) => t.title === 'Added Inside'));
    rmSync(moved, { recursive: true });
    await eventually(async () => !(await list(d.url)).some((t) => t.path.startsWith('Moved/')));
    // The same folder again: a watch left over from the removed one would hide what comes next.
    mkdirSync(path.join(moved, 'Disc'), { recursive: true });
    writeFileSync(path.join(moved, 'Disc', 'c.wav'), makeWav(9103, { title: 'Back Again' }));
    await eventually(async () => (await list(d.url)).some((t) => t.title === 'Back Again'));
    writeFileSync(path.join(moved, 'Disc', 'd.wav'), makeWav(9104, { title: 'Later Still' }));
    await eventually(async () => (await list(d.url)).some((t) => t.title === 'Later Still'));
    rmSync(moved, { recursive: true });
    await eventually(async () => !(await list(d.url)).some((t) => t.path.startsWith('Moved/')));
  });

  it('keeps ids stable across restarts', async () => {
    const before = (await list(d.url)).map((t) => t.id).sort();
    await d.stop();
    d = await TestDaemon.start({ dataDir, args: ['--music-dir', music] });
    await d.idle();
    assert.deepEqual((await list(d.url)).map((t) => t.id).sort(), before);
  });
});
