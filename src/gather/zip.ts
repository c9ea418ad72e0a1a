/**
 * A ZIP archive written front to back, never sought in (PKWARE's APPNOTE 6.3): each entry a local
 * header, its deflated data and a data descriptor (sizes and CRC known only at the end), then the
 * central directory; ZIP64 records wherever a size or an offset passes 4 GiB. Written by hand
 * because the entry that matters is deflated on several threads (deflate.ts) and yazl takes only
 * the bytes to deflate itself; `npm run bench:gather` is what this buys.
 */

import { ParallelDeflate } from './deflate.js';

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL = 0x06054b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const U32 = 0xffffffff;
const U16 = 0xffff;
/** Bit 3: sizes and CRC in a data descriptor; bit 11: names are UTF-8. */
const FLAGS = 0x0808;
const DEFLATE = 8;
/** Made by Unix (its permissions in the external attributes), spec 4.5 (ZIP64). */
const MADE_BY = (3 << 8) | 45;
const NEEDS = 20;
const NEEDS_ZIP64 = 45;
/** The extended-timestamp extra field (0x5455): the modification time in Unix seconds. */
const EXTENDED_TIME = 0x5455;
const ZIP64_EXTRA = 0x0001;

interface EntryRecord {
  readonly name: Buffer;
  readonly mtime: Date;
  readonly offset: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
}

export interface ZipEntryOptions {
  readonly mtime: Date;
  /** Deflate level, 1–9. */
  readonly level: number;
}

export interface ZipWriterOptions {
  /** ZIP64 records even where nothing needs them (tests: readers must follow them). */
  readonly forceZip64?: boolean;
  readonly deflateThreads?: number;
}

/** An entry being written: bytes go in with `write`; `end` closes it. */
export interface ZipEntryStream {
  /** Resolves when more may be written; `chunk` is read until `release` is called. */
  write(chunk: Buffer, release?: () => void): Promise<void>;
  end(): Promise<void>;
}

export class ZipWriter {
  private offset = 0;
  private readonly entries: EntryRecord[] = [];
  private open: ParallelDeflate | undefined;
  private finished = false;

  /** `output` takes the archive's bytes in order; the next write waits for its promise. */
  constructor(
    private readonly output: (piece: Buffer) => Promise<void>,
    private readonly opts: ZipWriterOptions = {},
  ) {}

  /** Bytes of the archive written so far. */
  get bytes(): number {
    return this.offset;
  }

  /** Starts an entry whose bytes come in pieces; deflated on several threads as they come. */
  async entry(name: string, opts: ZipEntryOptions): Promise<ZipEntryStream> {
    this.check();
    const nameBytes = Buffer.from(name, 'utf8');
    const offset = this.offset;
    await this.emit(localHeader(nameBytes, opts.mtime));
    const deflate = new ParallelDeflate({ level: opts.level, threads: this.opts.deflateThreads, output: (p) => this.emit(p) });
    this.open = deflate;
    return {
      write: (chunk, release) => deflate.push(chunk, release),
      end: async () => {
        await deflate.end();
        this.open = undefined;
        await this.close({ name: nameBytes, mtime: opts.mtime, offset, crc: deflate.crc >>> 0, compressedSize: deflate.outputBytes, size: deflate.inputBytes });
      },
    };
  }

  /** Adds a small entry whole (deflated here, on this thread). */
  async add(name: string, data: Buffer, opts: ZipEntryOptions): Promise<void> {
    const entry = await this.entry(name, opts);
    await entry.write(data);
    await entry.end();
  }

  /** Writes the central directory; the archive is whole once this resolves. */
  async finish(): Promise<void> {
    this.check();
    this.finished = true;
    const start = this.offset;
    for (const e of this.entries) await this.emit(centralHeader(e, this.opts.forceZip64 === true));
    const size = this.offset - start;
    const count = this.entries.length;
    const zip64 = this.opts.forceZip64 === true || start >= U32 || size >= U32 || count >= U16;
    if (zip64) {
      const at = this.offset;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(ZIP64_END, 0);
      writeU64(rec, 44, 4);
      rec.writeUInt16LE(MADE_BY, 12);
      rec.writeUInt16LE(NEEDS_ZIP64, 14);
      writeU64(rec, count, 24);
      writeU64(rec, count, 32);
      writeU64(rec, size, 40);
      writeU64(rec, start, 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(ZIP64_LOCATOR, 0);
      writeU64(loc, at, 8);
      loc.writeUInt32LE(1, 16);
      await this.emit(Buffer.concat([rec, loc]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL, 0);
    end.writeUInt16LE(zip64 ? U16 : count, 8);
    end.writeUInt16LE(zip64 ? U16 : count, 10);
    end.writeUInt32LE(zip64 ? U32 : size, 12);
    end.writeUInt32LE(zip64 ? U32 : start, 16);
    await this.emit(end);
  }

  /** Stops the entry being written (its blocks in flight are dropped); the archive is not whole. */
  abort(err?: unknown): void {
    this.finished = true;
    this.open?.abort(err);
  }

  private check(): void {
    if (this.finished) throw new Error('zip: already finished');
    if (this.open !== undefined) throw new Error('zip: an entry is still open');
  }

  private async close(e: EntryRecord): Promise<void> {
    const big = e.size >= U32 || e.compressedSize >= U32;
    const d = Buffer.alloc(big ? 24 : 16);
    d.writeUInt32LE(DATA_DESCRIPTOR, 0);
    d.writeUInt32LE(e.crc, 4);
    if (big) {
      writeU64(d, e.compressedSize, 8);
      writeU64(d, e.size, 16);
    } else {
      d.writeUInt32LE(e.compressedSize, 8);
      d.writeUInt32LE(e.size, 12);
    }
    await this.emit(d);
    this.entries.push(e);
  }

  private async emit(piece: Buffer): Promise<void> {
    this.offset += piece.length;
    await this.output(piece);
  }
}

/** DOS date and time (local time, as unzip reads them back; 1980 at the earliest). */
function dosDateTime(d: Date): { date: number; time: number } {
  if (d.getFullYear() < 1980) return { date: (1 << 5) | 1, time: 0 };
  return {
    date: ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
  };
}

function extendedTime(mtime: Date): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt16LE(EXTENDED_TIME, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4);
  b.writeUInt32LE(Math.max(0, Math.min(U32, Math.floor(mtime.getTime() / 1000))), 5);
  return b;
}

function localHeader(name: Buffer, mtime: Date): Buffer {
  const extra = extendedTime(mtime);
  const h = Buffer.alloc(30);
  const { date, time } = dosDateTime(mtime);
  h.writeUInt32LE(LOCAL_HEADER, 0);
  h.writeUInt16LE(NEEDS, 4);
  h.writeUInt16LE(FLAGS, 6);
  h.writeUInt16LE(DEFLATE, 8);
  h.writeUInt16LE(time, 10);
  h.writeUInt16LE(date, 12);
  // CRC and sizes (14–25) stay 0: they follow the data, in its descriptor
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, name, extra]);
}

function centralHeader(e: EntryRecord, forceZip64: boolean): Buffer {
  // in the ZIP64 extra, only the fields whose 32-bit place says 0xFFFFFFFF, in this order
  const wide: number[] = [];
  const size = forceZip64 || e.size >= U32 ? (wide.push(e.size), U32) : e.size;
  const compressed = forceZip64 || e.compressedSize >= U32 ? (wide.push(e.compressedSize), U32) : e.compressedSize;
  const offset = forceZip64 || e.offset >= U32 ? (wide.push(e.offset), U32) : e.offset;
  const extras = [extendedTime(e.mtime)];
  if (wide.length > 0) {
    const z = Buffer.alloc(4 + 8 * wide.length);
    z.writeUInt16LE(ZIP64_EXTRA, 0);
    z.writeUInt16LE(8 * wide.length, 2);
    wide.forEach((v, i) => writeU64(z, v, 4 + 8 * i));
    extras.push(z);
  }
  const extra = Buffer.concat(extras);
  const h = Buffer.alloc(46);
  const { date, time } = dosDateTime(e.mtime);
  h.writeUInt32LE(CENTRAL_HEADER, 0);
  h.writeUInt16LE(MADE_BY, 4);
  h.writeUInt16LE(wide.length > 0 ? NEEDS_ZIP64 : NEEDS, 6);
  h.writeUInt16LE(FLAGS, 8);
  h.writeUInt16LE(DEFLATE, 10);
  h.writeUInt16LE(time, 12);
  h.writeUInt16LE(date, 14);
  h.writeUInt32LE(e.crc, 16);
  h.writeUInt32LE(compressed, 20);
  h.writeUInt32LE(size, 24);
  h.writeUInt16LE(e.name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  // comment length, disk number, internal attributes: 0
  h.writeUInt32LE((0o100644 << 16) >>> 0, 38);
  h.writeUInt32LE(offset, 42);
  return Buffer.concat([h, e.name, extra]);
}

function writeU64(b: Buffer, n: number, at: number): void {
  b.writeBigUInt64LE(BigInt(n), at);
}
