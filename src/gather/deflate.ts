/**
 * One raw deflate stream made on several threads at once, pigz's way: the input is taken in
 * blocks, each block is deflated on its own by node:zlib in the libuv pool, primed with the 32 KiB
 * before it as its dictionary (so matches reach across the cut as in one stream) and ended with a
 * sync flush (so it stops on a byte boundary); the blocks' outputs, put one after the other in
 * order and closed by an empty final block, are one valid deflate stream. A single zlib stream
 * runs on one thread, and at level 1 it, not the export, set the pace of a bundle on two cores.
 * The CRC-32 and both sizes a ZIP entry needs are counted on the way.
 */

import { availableParallelism } from 'node:os';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

const WINDOW = 32 * 1024;
/** An empty fixed-Huffman block with BFINAL set: what ends the stream after the last sync flush. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * Blocks deflated at once: one per core, within libuv's pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise) less one thread kept for the file writes and fsyncs.
 */
export function defaultDeflateThreads(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(availableParallelism(), pool - 1));
}

export interface ParallelDeflateOptions {
  readonly level: number;
  /** Gets the compressed bytes in order; the next piece waits for the promise. */
  readonly output: (piece: Buffer) => Promise<void>;
  readonly threads?: number;
}

export class ParallelDeflate {
  /** CRC-32 of the input so far. */
  crc = 0;
  inputBytes = 0;
  outputBytes = 0;
  private readonly threads: number;
  /** The last WINDOW bytes of input (the next block's dictionary), `dictBytes` of them valid. */
  private readonly dict = Buffer.allocUnsafe(WINDOW);
  private dictBytes = 0;
  /** Blocks deflating or deflated, in input order; `pump` writes them out and drops them. */
  private readonly pending: Promise<Buffer>[] = [];
  private pumping: Promise<void> | undefined;
  /** Pushes waiting for room: woken each time a block leaves `pending`. */
  private waiting: (() => void)[] = [];
  private failed: unknown;
  private ended = false;

  constructor(private readonly opts: ParallelDeflateOptions) {
    this.threads = Math.max(1, opts.threads ?? defaultDeflateThreads());
  }

  /**
   * Deflates `block` (any size; a MiB or more keeps the threads busy); resolves when another may
   * be pushed. `block` is read until `release` is called (after its deflate, even on failure).
   */
  async push(block: Buffer, release?: () => void): Promise<void> {
    if (this.failed !== undefined) {
      release?.();
      throw this.failed;
    }
    if (this.ended) throw new Error('deflate: push after end');
    if (block.length === 0) {
      release?.();
      return;
    }
    this.crc = crc32(block, this.crc);
    this.inputBytes += block.length;
    const options: ZlibOptions = {
      level: this.opts.level,
      // the larger hash table is faster on export lines, not only smaller
      memLevel: 9,
      finishFlush: constants.Z_SYNC_FLUSH,
      // one trip to the pool for most blocks (export lines deflate to a fifth or less)
      chunkSize: 128 * 1024,
      ...(this.dictBytes > 0 ? { dictionary: this.dict.subarray(WINDOW - this.dictBytes) } : {}),
    };
    // the dictionary is copied when the stream is made, here: the ring may change right after
    const deflated = new Promise<Buffer>((resolve, reject) => {
      deflateRaw(block, options, (err, out) => {
        release?.();
        if (err) reject(err);
        else resolve(out);
      });
    });
    // `pump` meets a failure when this block's turn comes; until then it is not unhandled
    deflated.catch(() => undefined);
    this.pending.push(deflated);
    this.remember(block);
    this.pump();
    while (this.pending.length >= this.threads && this.failed === undefined) await new Promise<void>((r) => this.waiting.push(r));
    if (this.failed !== undefined) throw this.failed;
  }

  /** Ends the stream; resolves when every byte of it went to `output`. */
  async end(): Promise<void> {
    if (this.ended) throw new Error('deflate: ended twice');
    this.ended = true;
    this.pending.push(Promise.resolve(FINAL_BLOCK));
    this.pump();
    await this.pumping;
    if (this.failed !== undefined) throw this.failed;
  }

  /** Stops: nothing more is written; blocks in the pool finish and are dropped. */
  abort(err: unknown = new Error('deflate: aborted')): void {
    this.fail(err);
  }

  private fail(err: unknown): void {
    if (this.failed === undefined) this.failed = err;
    const woken = this.waiting;
    this.waiting = [];
    for (const w of woken) w();
  }

  private remember(block: Buffer): void {
    if (block.length >= WINDOW) {
      block.copy(this.dict, 0, block.length - WINDOW);
      this.dictBytes = WINDOW;
      return;
    }
    this.dict.copyWithin(0, block.length);
    block.copy(this.dict, WINDOW - block.length);
    this.dictBytes = Math.min(WINDOW, this.dictBytes + block.length);
  }

  /** Writes the finished blocks out in order, one write at a time; after a failure only drops them. */
  private pump(): void {
    if (this.pumping !== undefined) return;
    this.pumping = (async () => {
      while (this.pending.length > 0) {
        const piece = await this.pending[0].catch((err: unknown) => {
          this.fail(err);
          return undefined;
        });
        if (piece !== undefined && this.failed === undefined) {
          this.outputBytes += piece.length;
          await this.opts.output(piece).catch((err: unknown) => this.fail(err));
        }
        this.pending.shift();
        const woken = this.waiting;
        this.waiting = [];
        for (const w of woken) w();
      }
      this.pumping = undefined;
    })();
  }
}
