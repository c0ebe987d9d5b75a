// Watches folder trees with one inotify watch per directory (fs.watch) and reports paths that
// changed once they have been quiet for a moment. chokidar keeps state for every file (≈3 KB
// each: +150 MB at 50 000 tracks), too much for a 512 MB box; this keeps one handle per folder.
import { watch, type FSWatcher } from 'node:fs';
import { opendir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';

export class FolderWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly dirOf = new Map<FSWatcher, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;
  private warnedLimit = false;
  // One pair of listeners for every watcher, called with the watcher as `this`: two closures per
  // folder were 12 000 closures and 6000 contexts at 6000 folders.
  private readonly changeListener: (this: FSWatcher, event: string, name: string | null) => void;
  private readonly errorListener: (this: FSWatcher) => void;

  constructor(
    /** Called with an absolute path that was created, changed or removed (file or folder). */
    private readonly onChange: (absPath: string) => void,
    private readonly log: Logger,
    /** A path is reported only after this long without further events (a copy in progress settles). */
    private readonly quietMs = 700,
  ) {
    const self = this;
    this.changeListener = function (_event, name) {
      const dir = self.dirOf.get(this);
      if (dir === undefined || name === null || name.startsWith('.')) return;
      self.schedule(path.join(dir, name));
    };
    this.errorListener = function () {
      self.unwatch(this);
    };
  }

  /** Watches `dir` and every folder below it. */
  async addTree(dir: string): Promise<void> {
    if (this.closed || this.watchers.has(dir)) return;
    this.watchDir(dir);
    let entries;
    try {
      entries = await opendir(dir);
    } catch {
      return;
    }
    for await (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.')) await this.addTree(path.join(dir, e.name));
    }
  }

  /** Stops watching `dir` and everything below it (it was removed). */
  removeTree(dir: string): void {
    for (const [d, w] of this.watchers) {
      if (d === dir || d.startsWith(dir + path.sep)) this.unwatch(w);
    }
  }

  private watchDir(dir: string): void {
    try {
      const w = watch(dir, { persistent: false });
      w.on('change', this.changeListener);
      w.on('error', this.errorListener);
      this.watchers.set(dir, w);
      this.dirOf.set(w, dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC' && !this.warnedLimit) {
        this.warnedLimit = true;
        this.log.warn({ dir }, 'inotify watch limit reached: raise fs.inotify.max_user_watches; changes below here are seen at the next start');
      }
    }
  }

  private unwatch(w: FSWatcher): void {
    w.close();
    const dir = this.dirOf.get(w);
    this.dirOf.delete(w);
    if (dir !== undefined) this.watchers.delete(dir);
  }

  private schedule(abs: string): void {
    const t = this.timers.get(abs);
    if (t) clearTimeout(t);
    this.timers.set(
      abs,
      setTimeout(() => {
        this.timers.delete(abs);
        if (!this.closed) this.onChange(abs);
      }, this.quietMs),
    );
  }

  get watchedFolders(): number {
    return this.watchers.size;
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.dirOf.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
