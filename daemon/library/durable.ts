// File-system primitives that survive kill -9 and power cuts: fsync'd writes, renames, directories.
import { open, rename, unlink, link, mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** fsync a directory so a rename or new entry in it is on disk, not only in the page cache. */
export async function syncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

/** mkdir -p that fsyncs each directory it created and its parent, so new paths survive a power cut. */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // `first` is the top-most directory created; sync it, everything below it, and its parent.
  const created: string[] = [];
  for (let d = dir; d.length >= first.length; d = path.dirname(d)) created.push(d);
  for (const d of created) await syncDir(d);
  await syncDir(path.dirname(first));
}

export function uniqueTempName(dir: string, base: string): string {
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Replace `file` atomically and durably: unique temp file (never following a planted symlink),
 * data fsync'd before close, rename over the old file, directory fsync'd. With `backup`, the
 * previous version is kept as `<file>.bak` (hard link, so there is no moment without a catalogue).
 * `mode` (less the umask) applies from creation on, so a secret is never readable by others.
 * `data` may be chunks (an async iterable), written as they come.
 */
export async function writeFileDurable(file: string, data: string | Uint8Array | AsyncIterable<string>, backup = false, mode = 0o666): Promise<void> {
  const dir = path.dirname(file);
  const tmp = uniqueTempName(dir, path.basename(file));
  try {
    await writeFile(tmp, data, { flag: 'wx', flush: true, mode });
    if (backup) {
      await unlink(`${file}.bak`).catch(ignoreMissing);
      await link(file, `${file}.bak`).catch(ignoreMissing);
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

export function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
