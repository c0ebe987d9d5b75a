// Keeps the catalogue true to the disk: indexes music folders in place (read-only), watches them,
// and at start reconciles the store's own music/ folder with the catalogue.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { FolderWatcher } from './folder-watcher.js';
import type { Logger } from '../log.js';
import { folderTrackId, type Catalog } from './catalog.js';
import type { CatalogStore } from './store.js';
import { buildTrack, storeTrackId } from './ingest.js';
import { readTags, NotAudioError } from './tags.js';
import { STORE_ROOT, storedFields, type StoredTrack } from './track.js';
import { walkAudio, isAudioName, pickCover, type FoundFile } from './walk.js';

const BATCH = 250;
const CONCURRENCY = 6;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs `fn` over an async source with bounded concurrency. */
async function pool<T>(source: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  for await (const item of source) {
    const p: Promise<void> = fn(item).finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
}

export interface ScanSummary {
  root: string;
  files: number;
  added: number;
  updated: number;
  removed: number;
  skipped: number;
  ms: number;
}

export class Scanner {
  private watcher: FolderWatcher | null = null;
  private scanning = 0;

  constructor(
    private readonly musicDirs: readonly string[],
    private readonly storeMusicDir: string,
    private readonly catalog: Catalog,
    private readonly store: CatalogStore,
    private readonly log: Logger,
  ) {}

  get busy(): boolean {
    return this.scanning > 0;
  }

  /** Start-up work: a full pass, then watching. `busy` stays true until both are in place. */
  async run(signal?: AbortSignal): Promise<void> {
    this.scanning++;
    try {
      await this.scanAll(signal);
      if (!signal?.aborted) await this.startWatching();
    } finally {
      this.scanning--;
    }
  }

  /** Full pass: the store's own folder, then every music folder; drops entries of folders no longer configured. */
  async scanAll(signal?: AbortSignal): Promise<ScanSummary[]> {
    this.scanning++;
    try {
      const summaries = [await this.reconcileStore(signal)];
      const roots = new Set<string>([STORE_ROOT, ...this.musicDirs]);
      const orphans = this.catalog.all().filter((t) => !roots.has(t.root)).map((t) => t.id);
      if (orphans.length) {
        this.catalog.remove(orphans);
        this.store.markDirty();
        this.log.info({ removed: orphans.length }, 'dropped tracks of music folders no longer configured');
      }
      for (const root of this.musicDirs) {
        if (signal?.aborted) break;
        summaries.push(await this.scanFolder(root, signal));
      }
      return summaries;
    } finally {
      this.scanning--;
    }
  }

  /** Files in music/ not catalogued are indexed (a crash between placing and recording); vanished ones are dropped. */
  private async reconcileStore(signal?: AbortSignal): Promise<ScanSummary> {
    const started = Date.now();
    const seen = new Set<string>();
    const summary: ScanSummary = { root: this.storeMusicDir, files: 0, added: 0, updated: 0, removed: 0, skipped: 0, ms: 0 };
    await pool(walkAudio(this.storeMusicDir), CONCURRENCY, async (f) => {
      summary.files++;
      seen.add(f.rel);
      if (signal?.aborted || this.catalog.getByLocation(STORE_ROOT, f.rel)) return;
      const abs = path.join(this.storeMusicDir, f.rel);
      try {
        const [tags, st, sha256] = await Promise.all([readTags(abs, f.rel), stat(abs), sha256File(abs)]);
        const dup = this.catalog.getByHash(sha256);
        if (dup && dup.root === STORE_ROOT && dup.path !== f.rel) {
          summary.skipped++; // same bytes under two names: keep the catalogued one, leave the other untouched
          return;
        }
        const track = buildTrack(tags, { id: storeTrackId(sha256), sha256, size: st.size, root: STORE_ROOT, path: f.rel, mtimeMs: st.mtimeMs, source: { kind: 'push', device: null }, folderArt: null, addedAt: new Date(st.mtimeMs).toISOString() });
        this.catalog.upsert([track]);
        await this.store.put(track);
        summary.added++;
      } catch (err) {
        summary.skipped++;
        this.log.warn({ file: f.rel, err: (err as Error).message }, 'file in the store is not readable audio; left alone');
      }
    });
    const vanished = this.catalog.all().filter((t) => t.root === STORE_ROOT && !seen.has(t.path));
    if (vanished.length && !signal?.aborted) {
      this.catalog.remove(vanished.map((t) => t.id));
      for (const t of vanished) await this.store.delete(t.id);
      summary.removed = vanished.length;
    }
    summary.ms = Date.now() - started;
    if (summary.added || summary.removed) this.log.info(summary, 'store reconciled with the disk');
    return summary;
  }

  /** Indexes one music folder in place: new and changed files are read, unchanged ones skipped, missing ones dropped. */
  async scanFolder(root: string, signal?: AbortSignal): Promise<ScanSummary> {
    const started = Date.now();
    const summary: ScanSummary = { root, files: 0, added: 0, updated: 0, removed: 0, skipped: 0, ms: 0 };
    const seen = new Set<string>();
    let batch: StoredTrack[] = [];
    // One added-at time per batch: the catalogue keeps one copy of each distinct string.
    let batchStarted = new Date().toISOString();
    const flush = () => {
      if (!batch.length) return;
      this.catalog.upsert(batch);
      this.store.markDirty();
      batch = [];
      batchStarted = new Date().toISOString();
    };
    this.log.info({ root }, 'scanning music folder');
    const progress = setInterval(() => this.log.info({ root, files: summary.files, added: summary.added }, 'scanning music folder…'), 2000);
    try {
      await pool(walkAudio(root), CONCURRENCY, async (f) => {
        if (signal?.aborted) return;
        summary.files++;
        seen.add(f.rel);
        const r = await this.indexFolderFile(root, f, batchStarted);
        if (r === 'skipped' || r === 'unchanged') {
          if (r === 'skipped') summary.skipped++;
          return;
        }
        if (r.updated) summary.updated++;
        else summary.added++;
        batch.push(r.track);
        if (batch.length >= BATCH) flush();
      });
      flush();
    } finally {
      clearInterval(progress);
    }
    if (!signal?.aborted) {
      const gone = this.catalog.all().filter((t) => t.root === root && !seen.has(t.path)).map((t) => t.id);
      if (gone.length) {
        this.catalog.remove(gone);
        this.store.markDirty();
      }
      summary.removed = gone.length;
    }
    summary.ms = Date.now() - started;
    this.log.info(summary, 'music folder indexed');
    return summary;
  }

  private async indexFolderFile(root: string, f: FoundFile, addedAt = new Date().toISOString()): Promise<'skipped' | 'unchanged' | { track: StoredTrack; updated: boolean }> {
    const abs = path.join(root, f.rel);
    let st;
    try {
      st = await stat(abs);
    } catch {
      return 'skipped';
    }
    const old = this.catalog.getByLocation(root, f.rel);
    if (old && old.size === st.size && old.mtimeMs === st.mtimeMs && old.folderArt === f.folderArt) return 'unchanged';
    try {
      const tags = await readTags(abs, f.rel);
      const track = buildTrack(tags, { id: folderTrackId(root, f.rel), sha256: null, size: st.size, root, path: f.rel, mtimeMs: st.mtimeMs, source: { kind: 'folder', device: null }, folderArt: f.folderArt, addedAt: old?.addedAt ?? addedAt });
      return { track, updated: !!old };
    } catch (err) {
      if (!(err instanceof NotAudioError)) this.log.warn({ file: abs, err: (err as Error).message }, 'cannot read file');
      return 'skipped';
    }
  }

  /** Watches the music folders; new, changed and removed files show up within a few seconds. */
  async startWatching(): Promise<void> {
    if (!this.musicDirs.length || this.watcher) return;
    this.watcher = new FolderWatcher((abs) => {
      this.onPathChanged(abs).catch((err: unknown) => this.log.warn({ err, path: abs }, 'music folder change not applied'));
    }, this.log);
    for (const root of this.musicDirs) await this.watcher.addTree(root);
    this.log.info({ folders: this.watcher.watchedFolders }, 'watching music folders');
  }

  private async onPathChanged(abs: string): Promise<void> {
    const root = this.musicDirs.find((r) => abs.startsWith(r + path.sep));
    if (!root) return;
    const rel = path.relative(root, abs).split(path.sep).join('/');
    const st = await stat(abs).catch(() => null);
    if (!st) {
      // Gone: a file, or a whole folder with everything in it.
      this.watcher?.removeTree(abs);
      const gone = this.catalog.all().filter((t) => t.root === root && (t.path === rel || t.path.startsWith(rel + '/'))).map((t) => t.id);
      if (gone.length) {
        this.catalog.remove(gone);
        this.store.markDirty();
        this.log.info({ root, path: rel, removed: gone.length }, 'music folder files removed');
      }
      return;
    }
    if (st.isDirectory()) {
      // A folder moved or copied in: watch it and index what it holds.
      await this.watcher?.addTree(abs);
      const batch: StoredTrack[] = [];
      const addedAt = new Date().toISOString();
      for await (const f of walkAudio(root, rel)) {
        const r = await this.indexFolderFile(root, f, addedAt);
        if (typeof r === 'object') batch.push(r.track);
      }
      if (batch.length) {
        this.catalog.upsert(batch);
        this.store.markDirty();
        this.log.info({ root, path: rel, added: batch.length }, 'music folder added');
      }
      return;
    }
    if (!st.isFile()) return;
    const dirRel = path.posix.dirname(rel);
    const names = await readdir(path.dirname(abs)).catch(() => [] as string[]);
    if (!isAudioName(abs)) {
      // A cover image appeared or changed: the folder's tracks take it up.
      const cover = pickCover(names);
      const affected = this.catalog.all().filter((t) => t.root === root && path.posix.dirname(t.path) === dirRel && t.folderArt !== cover);
      if (affected.length) {
        this.catalog.upsert(affected.map((t) => ({ ...storedFields(t), folderArt: cover })));
        this.store.markDirty();
      }
      return;
    }
    const r = await this.indexFolderFile(root, { rel, folderArt: pickCover(names) });
    if (typeof r === 'object') {
      this.catalog.upsert([r.track]);
      this.store.markDirty();
      this.log.info({ root, file: rel }, r.updated ? 'music folder file changed' : 'music folder file added');
    }
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
  }
}
