// A random-access strtok3 tokenizer over a file that reads it in 64 KiB blocks. music-metadata
// parses with many small reads (an MPEG frame header is 4 bytes): through strtok3's own file
// tokenizer each is one thread-pool round trip, about a third of the CPU time of a folder scan.
// Here they are copies out of a block read once. Blocks never leave this class (reads copy out of
// them), so a closed tokenizer's blocks serve the next file: a fresh 64 KiB buffer per file came from
// the C heap and went back only when a collection found it, and after a 50 000-file scan the heap
// kept about 18 MB of such holes for good.
import { open, type FileHandle } from 'node:fs/promises';
import { AbstractTokenizer, EndOfStreamError, type IRandomAccessFileInfo, type IReadChunkOptions } from 'strtok3';

const BLOCK = 64 * 1024;
/** Blocks kept: the head and a little around the current position; tags at the end reuse none. */
const CACHED_BLOCKS = 4;
/** Blocks of closed tokenizers, ready for the next: enough for the scanner's concurrent reads. */
const spareBlocks: Buffer[] = [];
const SPARE_BLOCKS_KEPT = 16;

export class BufferedFileTokenizer extends AbstractTokenizer {
  readonly fileInfo: IRandomAccessFileInfo;
  /** Most recently used last. */
  private readonly blocks = new Map<number, Buffer>();
  /** Every block this tokenizer took, cached or evicted; given back on close. */
  private readonly taken: Buffer[] = [];
  /** Block reads in flight: a block is given back only once nothing can still write into it. */
  private readonly filling = new Set<Promise<unknown>>();

  static async open(file: string): Promise<BufferedFileTokenizer> {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      return new BufferedFileTokenizer(handle, { path: file, size });
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private constructor(
    private readonly handle: FileHandle,
    fileInfo: IRandomAccessFileInfo,
  ) {
    super({
      onClose: async () => {
        await Promise.allSettled(this.filling);
        this.blocks.clear();
        for (const b of this.taken.splice(0)) if (spareBlocks.length < SPARE_BLOCKS_KEPT) spareBlocks.push(b);
        await handle.close();
      },
    });
    this.fileInfo = fileInfo;
  }

  supportsRandomAccess(): boolean {
    return true;
  }

  setPosition(position: number): void {
    this.validateLength(position, 'position');
    this.position = position;
  }

  async readBuffer(target: Uint8Array, options?: IReadChunkOptions): Promise<number> {
    const o = this.normalizeOptions(target, options);
    const n = await this.readAt(target, o.length, o.position, o.mayBeLess ?? false);
    this.position = o.position + n;
    return n;
  }

  async peekBuffer(target: Uint8Array, options?: IReadChunkOptions): Promise<number> {
    const o = this.normalizeOptions(target, options);
    return this.readAt(target, o.length, o.position, o.mayBeLess ?? false);
  }

  /** Fills `target[0, length)` from `position`; only the end of the file makes it short. */
  private async readAt(target: Uint8Array, length: number, position: number, mayBeLess: boolean): Promise<number> {
    let done = 0;
    if (length >= BLOCK) {
      // A large read (cover art, an atom body) gains nothing from blocks: read it straight.
      while (done < length) {
        const { bytesRead } = await this.handle.read(target, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } else {
      while (done < length) {
        const at = position + done;
        const block = await this.block(Math.floor(at / BLOCK));
        const from = at % BLOCK;
        if (from >= block.length) break;
        const n = Math.min(length - done, block.length - from);
        target.set(block.subarray(from, from + n), done);
        done += n;
      }
    }
    if (!mayBeLess && done < length) throw new EndOfStreamError();
    return done;
  }

  private async block(index: number): Promise<Buffer> {
    const hit = this.blocks.get(index);
    if (hit) {
      this.blocks.delete(index);
      this.blocks.set(index, hit);
      return hit;
    }
    const buf = spareBlocks.pop() ?? Buffer.allocUnsafeSlow(BLOCK);
    // A file read far through (cover art in small reads) keeps only the first few for reuse.
    if (this.taken.length < CACHED_BLOCKS * 2) this.taken.push(buf);
    const fill = this.fill(buf, index);
    this.filling.add(fill);
    const filled = await fill.finally(() => this.filling.delete(fill));
    const block = buf.subarray(0, filled);
    this.blocks.set(index, block);
    if (this.blocks.size > CACHED_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
    return block;
  }

  private async fill(buf: Buffer, index: number): Promise<number> {
    let filled = 0;
    while (filled < BLOCK) {
      const { bytesRead } = await this.handle.read(buf, filled, BLOCK - filled, index * BLOCK + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled;
  }
}
