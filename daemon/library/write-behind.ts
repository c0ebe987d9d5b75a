// A new file written from a stream with write-behind: every `syncEvery` bytes an fdatasync starts in
// the thread pool (one at a time, never awaited by the writes), so the disk writes while the rest
// arrives and the fsync that acknowledges the file finds little left. The kernel alone would start
// writeback only at its dirty ratio (hundreds of MB), leaving the whole file to that last fsync.
import { close, fdatasync, fsync, open, writev } from 'node:fs';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';

const openFd = promisify(open);
const closeFd = promisify(close);
const fsyncFd = promisify(fsync);
const fdatasyncFd = promisify(fdatasync);

export const WRITE_BEHIND_BYTES = 32 * 1024 * 1024;

export class WriteBehindFile extends Writable {
  private written = 0;
  private syncedTo = 0;
  private syncing: Promise<void> | null = null;
  private syncError: unknown = null;
  /** The writev in flight, if any: the descriptor must outlive it even when the stream is destroyed. */
  private writing: Promise<void> | null = null;
  private fdClosed = false;

  private constructor(
    private readonly fd: number,
    private readonly syncEvery: number,
  ) {
    // Chunks queued while a write is in flight go out together as one writev.
    super({ highWaterMark: 1024 * 1024 });
  }

  /** Creates `file` ('wx': never follows or reuses a planted name). */
  static async create(file: string, syncEvery = WRITE_BEHIND_BYTES): Promise<WriteBehindFile> {
    return new WriteBehindFile(await openFd(file, 'wx', 0o644), syncEvery);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writeAll([chunk], done);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    this.writeAll(
      chunks.map((c) => c.chunk),
      done,
    );
  }

  /** One writev; a short count (libuv stops at the first failing part, e.g. ENOSPC) retries the rest to get its error. */
  private writeAll(buffers: Buffer[], done: (err?: Error | null) => void): void {
    this.writing = new Promise((resolve) => {
      writev(this.fd, buffers, (err, n) => {
        this.writing = null;
        resolve();
        if (err) return done(err);
        this.written += n;
        this.startWriteBehind();
        const rest = unwritten(buffers, n);
        if (rest.length && n === 0) return done(Object.assign(new Error('the file system accepted no bytes'), { code: 'EIO' }));
        if (rest.length) return this.writeAll(rest, done);
        done();
      });
    });
  }

  private startWriteBehind(): void {
    if (this.syncing || this.syncError || this.written - this.syncedTo < this.syncEvery) return;
    const upTo = this.written;
    this.syncing = fdatasyncFd(this.fd).then(
      () => {
        this.syncedTo = upTo;
        this.syncing = null;
      },
      (err: unknown) => {
        this.syncError = err;
        this.syncing = null;
      },
    );
  }

  /** Bytes the write-behind has already made durable (the rest waits for sync()). */
  get syncedBytes(): number {
    return this.syncedTo;
  }

  /** Makes everything written so far durable (data and size); call after the stream has finished. */
  async sync(): Promise<void> {
    await this.syncing;
    if (this.syncError) throw this.syncError;
    await fsyncFd(this.fd);
  }

  /** Closes the descriptor once no write or write-behind is in flight; safe to call more than once. */
  async close(): Promise<void> {
    if (this.fdClosed) return;
    this.fdClosed = true;
    await Promise.all([this.writing, this.syncing]);
    await closeFd(this.fd);
  }
}

/** What is left of `buffers` after the first `n` bytes. */
function unwritten(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(n), ...buffers.slice(i + 1)];
}
