// The catalogue on disk: a lowdb document written through a durable adapter, plus a small
// write-ahead journal so each acknowledged change is on disk at once while the full document is
// rewritten at most about once a second (a burst of 1000 pushes → a handful of document writes).
import { Low, type Adapter } from 'lowdb';
import { open, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { writeFileDurable, syncDir } from './durable.js';
import type { StoredTrack } from './track.js';
import { setImmediate } from 'node:timers/promises';

export interface CatalogDoc {
  version: 1;
  /** Journal entries up to this sequence number are already in `tracks`. */
  journalSeq: number;
  tracks: StoredTrack[];
}

type JournalEntry = { seq: number; op: 'put'; track: StoredTrack } | { seq: number; op: 'del'; id: string };

const emptyDoc = (): CatalogDoc => ({ version: 1, journalSeq: 0, tracks: [] });

function isCatalogDoc(v: unknown): v is CatalogDoc {
  const d = v as CatalogDoc;
  return typeof d === 'object' && d !== null && d.version === 1 && Array.isArray(d.tracks) && typeof d.journalSeq === 'number';
}

/** lowdb adapter: reads strictly (a bad file throws), writes with temp + fsync + rename + dir fsync + .bak. */
class DurableJsonAdapter implements Adapter<CatalogDoc> {
  constructor(private readonly file: string) {}

  async read(): Promise<CatalogDoc | null> {
    let text: string;
    try {
      // One decode of the whole buffer: readFile with an encoding runs a StringDecoder chunk by chunk,
      // 110 ms of a 1.3 s start in a profile at 50 000 tracks (28 MB).
      text = (await readFile(this.file)).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const parsed: unknown = JSON.parse(text);
    if (!isCatalogDoc(parsed)) throw new Error('not a hifid catalogue');
    return parsed;
  }

  async write(data: CatalogDoc): Promise<void> {
    await writeFileDurable(this.file, documentChunks(data), true);
  }
}

/** Tracks serialised between two turns of the event loop: about 1 ms of work each. */
const JSON_SLICE = 250;

/**
 * JSON.stringify(doc), a slice of tracks at a time, as chunks to write as they come. At 50 000
 * tracks one stringify holds the event loop for about 190 ms, and joining the pieces into one 28 MB
 * string (then one 28 MB buffer) for another 20 ms; this happens once a second while phones push,
 * and every Browse in that time would wait. The tracks array is a copy (Catalog.all), and a track
 * changed meanwhile is in the journal after `journalSeq`, so the document stays consistent with its journal.
 */
export async function* documentChunks(doc: CatalogDoc): AsyncGenerator<string> {
  yield `{"version":${JSON.stringify(doc.version)},"journalSeq":${JSON.stringify(doc.journalSeq)},"tracks":[`;
  for (let i = 0; i < doc.tracks.length; i += JSON_SLICE) {
    if (i > 0) await setImmediate();
    const slice = JSON.stringify(doc.tracks.slice(i, i + JSON_SLICE)).slice(1, -1);
    yield i > 0 ? `,${slice}` : slice;
  }
  yield ']}';
}

export interface StoreStats {
  documentWrites: number;
  journalSyncs: number;
}

export class CatalogStore {
  private readonly file: string;
  private readonly journalFile: string;
  private readonly db: Low<CatalogDoc>;
  private journal: FileHandle | null = null;
  private seq = 0;
  private pending: Array<{ line: string; resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushQueued = false;
  private io: Promise<void> = Promise.resolve();
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotRunning: Promise<void> | null = null;
  private dirty = false;
  private snapshotSource: (() => StoredTrack[]) | null = null;
  readonly stats: StoreStats = { documentWrites: 0, journalSyncs: 0 };

  constructor(
    dataDir: string,
    private readonly log: Logger,
    /** Longest a change waits before the document is rewritten. */
    private readonly coalesceMs = 1000,
  ) {
    this.file = path.join(dataDir, 'catalog.json');
    this.journalFile = path.join(dataDir, 'catalog.journal');
    this.db = new Low(new DurableJsonAdapter(this.file), emptyDoc());
  }

  /**
   * Loads the document (falling back to `.bak`, else empty with `recovered` set so the caller
   * rebuilds from disk) and replays the journal. Returns the tracks.
   */
  async load(): Promise<{ tracks: StoredTrack[]; recovered: boolean }> {
    let recovered = false;
    try {
      await this.db.read();
    } catch (err) {
      recovered = true;
      const quarantine = `${this.file}.corrupt-${Date.now()}`;
      this.log.error({ err: (err as Error).message, quarantine }, 'catalogue unreadable; quarantined');
      await rename(this.file, quarantine).catch(() => undefined);
      try {
        const bak = await new DurableJsonAdapter(`${this.file}.bak`).read();
        this.db.data = bak ?? emptyDoc();
        if (bak) this.log.warn({ tracks: bak.tracks.length }, 'catalogue restored from .bak');
      } catch {
        this.db.data = emptyDoc();
        this.log.warn('no usable .bak; the catalogue will be rebuilt from the files on disk');
      }
    }
    const loaded = this.db.data;
    // The catalogue keeps its own records of these: held here too, they would double its memory.
    this.db.data = { version: 1, journalSeq: loaded.journalSeq, tracks: [] };
    const byId = new Map(loaded.tracks.map((t) => [t.id, t]));
    this.seq = loaded.journalSeq;
    let replayed = 0;
    for (const e of await this.readJournal()) {
      if (e.seq <= loaded.journalSeq) continue;
      if (e.op === 'put') byId.set(e.track.id, e.track);
      else byId.delete(e.id);
      this.seq = Math.max(this.seq, e.seq);
      replayed++;
    }
    if (replayed) this.log.info({ replayed }, 'journal replayed');
    this.journal = await open(this.journalFile, 'a');
    if (replayed) this.dirty = true;
    return { tracks: [...byId.values()], recovered };
  }

  /** Where the full document comes from when it is rewritten. */
  setSnapshotSource(source: () => StoredTrack[]): void {
    this.snapshotSource = source;
  }

  private async readJournal(): Promise<JournalEntry[]> {
    let text: string;
    try {
      text = await readFile(this.journalFile, 'utf8');
    } catch {
      return [];
    }
    const entries: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        // A torn last line from a crash mid-append: that change was never acknowledged.
      }
    }
    return entries;
  }

  /** Durably records a new or changed track; resolves once it is on disk. */
  put(track: StoredTrack): Promise<void> {
    return this.append({ seq: ++this.seq, op: 'put', track });
  }

  /** Durably records a removal; resolves once it is on disk. */
  delete(id: string): Promise<void> {
    return this.append({ seq: ++this.seq, op: 'del', id });
  }

  private append(entry: JournalEntry): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.pending.push({ line: JSON.stringify(entry) + '\n', resolve, reject }));
    if (!this.flushQueued) {
      this.flushQueued = true;
      void this.serialIo(() => this.flushJournal());
    }
    this.markDirty();
    return done;
  }

  /** Journal I/O runs one operation at a time, so an append never races a trim. */
  private serialIo(op: () => Promise<void>): Promise<void> {
    const run = this.io.then(op);
    this.io = run.catch(() => undefined);
    return run;
  }

  /** Group commit: every line queued while the previous fsync ran goes out with one write and one fsync. */
  private async flushJournal(): Promise<void> {
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    try {
      if (!this.journal) throw new Error('catalogue store is closed');
      await this.journal.write(batch.map((b) => b.line).join(''));
      await this.journal.datasync();
      this.stats.journalSyncs++;
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  /** A change happened: rewrite the document within `coalesceMs`, once for the whole burst. */
  markDirty(): void {
    this.dirty = true;
    if (this.snapshotTimer) return;
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      this.writeSnapshot().catch((err: unknown) => this.log.error({ err }, 'catalogue write failed; will retry'));
    }, this.coalesceMs);
  }

  /** Writes the full document now (if anything changed) and trims the journal it supersedes. */
  async writeSnapshot(): Promise<void> {
    if (this.snapshotRunning) await this.snapshotRunning;
    if (!this.dirty || !this.snapshotSource) return;
    this.snapshotRunning = (async () => {
      this.dirty = false;
      const seq = this.seq;
      this.db.data = { version: 1, journalSeq: seq, tracks: this.snapshotSource!() };
      try {
        await this.db.write();
        this.stats.documentWrites++;
      } catch (err) {
        this.dirty = true;
        if (!this.snapshotTimer) this.snapshotTimer = setTimeout(() => { this.snapshotTimer = null; void this.writeSnapshot().catch(() => undefined); }, 5000);
        throw err;
      } finally {
        this.db.data = { version: 1, journalSeq: seq, tracks: [] }; // keep only the live indexes in memory
      }
      await this.trimJournal(seq);
    })();
    try {
      await this.snapshotRunning;
    } finally {
      this.snapshotRunning = null;
    }
  }

  private trimJournal(snapshotSeq: number): Promise<void> {
    return this.serialIo(async () => {
      // Only when nothing was appended since the snapshot; otherwise the next snapshot trims it.
      if (this.seq !== snapshotSeq || !this.journal) return;
      await this.journal.truncate(0);
      await this.journal.sync();
    });
  }

  /** The newest change sequence number: the catalogue's update id continues from it. */
  get lastSeq(): number {
    return this.seq;
  }

  async journalSize(): Promise<number> {
    return (await stat(this.journalFile).catch(() => ({ size: 0 }))).size;
  }

  async close(): Promise<void> {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    await this.serialIo(() => this.flushJournal());
    try {
      await this.writeSnapshot();
    } finally {
      await this.journal?.close();
      this.journal = null;
      await syncDir(path.dirname(this.file)).catch(() => undefined);
    }
  }
}
