// Owns <data-dir>: the lock, its folders, the catalogue store and indexes, ingest and the scanner.
// Knows nothing of HTTP or UPnP.
import { mkdir, open, readFile, readdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Ffmpeg } from '../media/ffmpeg.js';
import { Catalog } from './catalog.js';
import { CatalogStore } from './store.js';
import { Ingest } from './ingest.js';
import { Scanner } from './scanner.js';
import { PlaylistStore } from './playlists.js';
import { LibraryError } from './errors.js';
import { STORE_ROOT, type StoredTrack } from './track.js';
import { isContainedRelative } from './paths.js';

export interface LibraryOptions {
  dataDir: string;
  musicDirs: readonly string[];
  maxUploadBytes: number;
  minFreeBytes: number;
}

export class AlreadyRunningError extends Error {
  constructor(readonly lockFile: string, pid: number) {
    super(`another hifid (pid ${pid}) is using this data dir (lock: ${lockFile})`);
    this.name = 'AlreadyRunningError';
  }
}

/** One instance per data dir: a lock file holding our pid; a stale one (dead pid) is taken over. */
async function takeLock(lockFile: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lockFile, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
    if (pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        throw new AlreadyRunningError(lockFile, pid);
      } catch (err) {
        if (err instanceof AlreadyRunningError) throw err;
        if ((err as NodeJS.ErrnoException).code === 'EPERM') throw new AlreadyRunningError(lockFile, pid);
      }
    }
    await unlink(lockFile).catch(() => undefined); // stale: its process is gone
  }
  throw new Error(`cannot take the lock ${lockFile}`);
}

export class Library {
  readonly catalog: Catalog;
  readonly store: CatalogStore;
  readonly ingest: Ingest;
  readonly scanner: Scanner;
  readonly playlists: PlaylistStore;
  readonly stateDir: string;
  private readonly lockFile: string;
  private locked = false;

  constructor(
    readonly opts: LibraryOptions,
    ffmpeg: Ffmpeg | null,
    private readonly log: Logger,
  ) {
    this.stateDir = path.join(opts.dataDir, 'state');
    this.lockFile = path.join(this.stateDir, 'hifid.lock');
    this.catalog = new Catalog(log.child({ module: 'catalog' }));
    this.store = new CatalogStore(opts.dataDir, log.child({ module: 'store' }));
    this.ingest = new Ingest({ dataDir: opts.dataDir, maxBytes: opts.maxUploadBytes, minFreeBytes: opts.minFreeBytes }, this.catalog, this.store, ffmpeg, log.child({ module: 'ingest' }));
    this.scanner = new Scanner(opts.musicDirs, this.ingest.musicDir, this.catalog, this.store, log.child({ module: 'scanner' }));
    this.store.setSnapshotSource(() => this.catalog.all());
    this.playlists = new PlaylistStore(opts.dataDir, this.catalog, log.child({ module: 'playlists' }));
  }

  /** Locks the data dir, clears leftovers of interrupted pushes and loads the catalogue. */
  async open(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    await takeLock(this.lockFile);
    this.locked = true;
    await mkdir(this.ingest.musicDir, { recursive: true });
    await mkdir(this.ingest.incomingDir, { recursive: true });
    // Whatever is in incoming/ was never acknowledged: a push interrupted by a crash or kill -9.
    const leftovers = await readdir(this.ingest.incomingDir);
    for (const name of leftovers) await rm(path.join(this.ingest.incomingDir, name), { recursive: true, force: true });
    if (leftovers.length) this.log.info({ removed: leftovers.length }, 'removed unfinished pushes from incoming/');
    for (const name of await readdir(this.opts.dataDir)) {
      if (/^\.catalog\.json\..*\.tmp$/.test(name)) await unlink(path.join(this.opts.dataDir, name)).catch(() => undefined);
    }
    const { tracks, recovered } = await this.store.load();
    this.catalog.load(tracks, this.store.lastSeq);
    if (recovered) this.store.markDirty();
    await this.playlists.load();
    this.log.info({ tracks: this.catalog.size, playlists: this.playlists.size }, 'catalogue loaded');
  }

  /** Background work after the servers are up: reconcile with the disk, then watch music folders. */
  async startScanning(signal?: AbortSignal): Promise<void> {
    await this.scanner.run(signal);
  }

  /** The absolute file of a track, checked to stay inside its root. */
  fileOf(t: StoredTrack): string {
    if (!isContainedRelative(t.path)) throw new LibraryError('not_found', 'track file is outside its folder');
    return path.join(t.root === STORE_ROOT ? this.ingest.musicDir : t.root, t.path);
  }

  /** The folder cover of a track (cover.jpg…), or null. */
  folderArtFile(t: StoredTrack): string | null {
    if (!t.folderArt) return null;
    return path.join(path.dirname(this.fileOf(t)), t.folderArt);
  }

  async deleteTrack(id: string): Promise<void> {
    const t = this.catalog.get(id);
    if (!t) throw new LibraryError('not_found', 'no such track');
    if (t.root !== STORE_ROOT) throw new LibraryError('read_only', 'tracks in music folders are read-only; hifid never changes them');
    await this.ingest.removeStored(t);
  }

  async close(): Promise<void> {
    await this.scanner.stop();
    await this.playlists.close();
    try {
      await this.store.close();
    } finally {
      if (this.locked) await unlink(this.lockFile).catch(() => undefined);
      this.locked = false;
    }
  }
}
