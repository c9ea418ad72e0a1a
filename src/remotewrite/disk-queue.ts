/**
 * A remote-write URL's persistent backlog: an append-only log of compressed requests in segment
 * files, read in order, never losing what was acknowledged as written and never failing to open.
 * Every file operation is asynchronous and they run one at a time (a promise chain), so the
 * event loop never waits on the disk: a 32 MiB segment dropped over the bound is unlinked, not
 * read, because each segment's sample count is kept in memory.
 *
 * On disk (one directory per URL):
 *   <20-digit offset>.seg   records, each `u32 length | u32 crc | u32 samples | f64 created-at ms |
 *                           payload` (little-endian; the CRC-32 covers samples, created-at and
 *                           payload); the name is the queue offset of its first byte
 *   <offset>-<samples>.seg  a segment written no more, renamed with its sample count so that
 *                           reopening reads no segment but the last; one without the count (a
 *                           crash during the rename, a queue of an older version) is counted at open
 *   reader                  the offset of the next record to send: u64 little-endian and the
 *                           CRC-32 of those 8 bytes, rewritten in place (a write, not a new file
 *                           and a rename: that cost a millisecond a time on some filesystems)
 *
 * Crash safety: the records of an `append` reach the file in `writev`s of whole records, so
 * once `append` resolves they survive a `kill -9` of the process (the kernel has them); `sync`
 * (fsync) makes them survive a power loss too. The reader offset is saved by `sync`, so a crash re-sends at most
 * what was acknowledged since (delivery is at least once). At open, the last segment is checked
 * record by record and cut at the first one that is incomplete or fails its checksum (a torn
 * write); a reader offset that is missing, unreadable or outside the segments falls back to the
 * oldest record rather than failing. When the queue exceeds `maxBytes`, the oldest whole segments
 * are dropped (and counted) — never the one being written. A segment is deleted once every record
 * in it is acknowledged — the one being written too, when the queue is read to its end (the next
 * record then starts a new file at the same offset).
 *
 * A failing disk (ENOSPC, EIO: any error writing, syncing or opening the files) leaves the queue
 * as it was: `append` reports the error after cutting the partial records back off (a short write
 * counts as ENOSPC), so what is read stays framed; if even that cut fails, the file is given up
 * for writing and `open` ignores whatever lies past the next segment's start. Deleting a file
 * that cannot be deleted is retried at the next open. All file access goes through
 * `DiskQueueOptions.fs`, so a test can make any of it fail.
 */

import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const HEADER = 20;
const READER_BYTES = 12;
const SEGMENT_NAME = /^(\d{20})(?:-(\d+))?\.seg$/;
const NAME_DIGITS = 20;
/** Records per `writev` (IOV_MAX is 1024 on Linux; two buffers a record). */
const RECORDS_PER_WRITE = 256;
/** The chunk read at a time when a segment's samples are counted at open. */
const COUNT_CHUNK = 1024 * 1024;
const { O_APPEND, O_CREAT, O_RDWR, O_TRUNC, O_WRONLY } = nodeFs.constants;

/** The file operations the queue uses, asynchronous and by descriptor (`nodeDiskFs`; a test substitutes failing ones). */
export interface DiskFs {
  open(path: string, flags: number, mode?: number): Promise<number>;
  /** Writes `buffers` at the end (the file is opened with O_APPEND); resolves with the bytes written. */
  writev(fd: number, buffers: readonly Buffer[]): Promise<number>;
  /** Writes `buffer` at `position`; resolves with the bytes written. */
  write(fd: number, buffer: Buffer, position: number): Promise<number>;
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  close(fd: number): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  readdir(dir: string): Promise<string[]>;
  stat(path: string): Promise<{ size: number }>;
  mkdir(dir: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; one already gone is not an error. */
  unlink(path: string): Promise<void>;
}

const callback =
  <T>(resolve: (v: T) => void, reject: (e: Error) => void) =>
  (err: NodeJS.ErrnoException | null, v: T) =>
    err ? reject(err) : resolve(v);

/** node:fs, by descriptor, through libuv's thread pool. */
export const nodeDiskFs: DiskFs = {
  open: (path, flags, mode) => new Promise((res, rej) => nodeFs.open(path, flags, mode, callback(res, rej))),
  writev: (fd, buffers) => new Promise((res, rej) => nodeFs.writev(fd, buffers as Buffer[], callback(res, rej))),
  write: (fd, buffer, position) => new Promise((res, rej) => nodeFs.write(fd, buffer, 0, buffer.length, position, callback(res, rej))),
  read: (fd, buffer, offset, length, position) => new Promise((res, rej) => nodeFs.read(fd, buffer, offset, length, position, callback(res, rej))),
  fsync: (fd) => new Promise((res, rej) => nodeFs.fsync(fd, (err) => (err ? rej(err) : res()))),
  ftruncate: (fd, length) => new Promise((res, rej) => nodeFs.ftruncate(fd, length, (err) => (err ? rej(err) : res()))),
  close: (fd) => new Promise((res, rej) => nodeFs.close(fd, (err) => (err ? rej(err) : res()))),
  readFile: (path) => new Promise((res, rej) => nodeFs.readFile(path, callback(res, rej))),
  readdir: (dir) => new Promise((res, rej) => nodeFs.readdir(dir, callback(res, rej))),
  stat: (path) => new Promise((res, rej) => nodeFs.stat(path, callback(res, rej))),
  mkdir: (dir) => new Promise((res, rej) => nodeFs.mkdir(dir, { recursive: true }, (err) => (err ? rej(err) : res()))),
  rename: (from, to) => new Promise((res, rej) => nodeFs.rename(from, to, (err) => (err ? rej(err) : res()))),
  unlink: (path) => new Promise((res, rej) => nodeFs.unlink(path, (err) => (err && err.code !== 'ENOENT' ? rej(err) : res()))),
};

export interface DiskQueueOptions {
  /** Bytes on disk before the oldest segments are dropped. */
  readonly maxBytes: number;
  /** A new segment is started past this size. */
  readonly segmentBytes?: number;
  readonly fs?: DiskFs;
}

/** What `append` reports for a short write: the file system took only part of the records. */
export function shortWriteError(path: string, written: number, wanted: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, write (${written} of ${wanted} bytes) '${path}'`);
  err.code = 'ENOSPC';
  err.syscall = 'write';
  err.path = path;
  return err;
}

/** A record to append. */
export interface NewRecord {
  readonly payload: Buffer;
  readonly samples: number;
  /** When the record's first sample was queued, in ms since the epoch. */
  readonly createdAt: number;
}

export interface QueuedRecord extends NewRecord {
  /** Queue offset of the record (what `ack` moves past). */
  readonly offset: number;
}

/** What an `append` wrote: the offsets of the first records (all of them unless `error`). */
export interface AppendResult {
  readonly offsets: number[];
  /** Why the rest were not written (the disk failed); they are not in the queue. */
  readonly error?: Error;
}

export interface DropReport {
  readonly bytes: number;
  readonly samples: number;
}

interface Segment {
  readonly start: number;
  size: number;
  /** Samples in its records. */
  samples: number;
  /** Samples in its records before the reader (when the reader is inside it). */
  readSamples: number;
  /** The file's name (renamed with the sample count once the segment is written no more). */
  name: string;
}

export class DiskQueue {
  private readonly segments: Segment[] = [];
  /** Segments dropped over the bound whose files are still to be unlinked. */
  private readonly overBound: Segment[] = [];
  private readonly segmentBytes: number;
  private writeFd: number | undefined;
  /** The segment being read, kept open between records. */
  private readFd: { start: number; fd: number } | undefined;
  private readerOffset = 0;
  private readerSaved = -1;
  private readerFd: number | undefined;
  /** Appended to since the last `sync`. */
  private dirty = false;
  private readonly readerBytes = Buffer.alloc(READER_BYTES);
  /** Records dropped at open (torn tail), by the size bound or as damaged, since the last call to `takeDrops`. */
  private drops = { bytes: 0, samples: 0 };
  /** The write offset while there is no segment (all of them were read and deleted). */
  private base = 0;
  /** Bytes in segment files. */
  private bytes = 0;
  private readonly fs: DiskFs;
  /** The file operations, one after another. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Why `open` could not read or prepare everything (the queue still works with what it has). */
  openError: Error | undefined;

  private constructor(
    readonly dir: string,
    private readonly opts: DiskQueueOptions,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 32 * 1024 * 1024;
    this.fs = opts.fs ?? nodeDiskFs;
  }

  /**
   * Opens (or creates) the queue in `dir`. Damage is repaired and reported, never thrown; a
   * disk that fails is reported in `openError`, and appending tries again (creating `dir`).
   */
  static async open(dir: string, opts: DiskQueueOptions): Promise<DiskQueue> {
    const q = new DiskQueue(dir, opts);
    try {
      await q.fs.mkdir(dir);
      await q.load();
    } catch (err) {
      q.openError = err as Error;
    }
    return q;
  }

  /** Runs `op` after every operation queued before it. */
  private run<T>(op: () => Promise<T>): Promise<T> {
    const p = this.chain.then(op);
    this.chain = p.catch(() => {});
    return p;
  }

  /** Offset one past the last record. */
  get writeOffset(): number {
    const last = this.segments.at(-1);
    return last ? last.start + last.size : this.base;
  }

  /** The offset of the next record to read (the oldest not acknowledged). */
  get nextOffset(): number {
    return this.readerOffset;
  }

  /** Bytes waiting to be read. */
  get pendingBytes(): number {
    return this.writeOffset - this.readerOffset;
  }

  /** Bytes in segment files. */
  get diskBytes(): number {
    return this.bytes;
  }

  /** Appends records in order; resolves with the offsets of those written before any failure. */
  append(records: readonly NewRecord[]): Promise<AppendResult> {
    return this.run(async () => {
      const offsets: number[] = [];
      let i = 0;
      try {
        while (i < records.length) i += await this.appendToSegment(records, i, offsets);
      } catch (err) {
        return { offsets, error: err as Error };
      } finally {
        this.enforceBound();
        await this.unlinkDropped();
      }
      return { offsets };
    });
  }

  /** Writes records from `from` on to the segment being written (a new one when it is full); returns how many. */
  private async appendToSegment(records: readonly NewRecord[], from: number, offsets: number[]): Promise<number> {
    let seg = this.segments.at(-1);
    if (!seg || this.writeFd === undefined || seg.size >= this.segmentBytes) seg = await this.startSegment();
    const buffers: Buffer[] = [];
    let bytes = 0;
    let samples = 0;
    let n = 0;
    // at least one record, then as many as fit in the segment
    while (from + n < records.length && n < RECORDS_PER_WRITE && (n === 0 || seg.size + bytes < this.segmentBytes)) {
      const r = records[from + n];
      const header = Buffer.allocUnsafe(HEADER);
      header.writeUInt32LE(r.payload.length, 0);
      header.writeUInt32LE(r.samples, 8);
      header.writeDoubleLE(r.createdAt, 12);
      header.writeUInt32LE(crc32(r.payload, crc32(header.subarray(8))), 4);
      offsets.push(seg.start + seg.size + bytes);
      buffers.push(header, r.payload);
      bytes += HEADER + r.payload.length;
      samples += r.samples;
      n++;
    }
    const fd = this.writeFd!;
    try {
      const written = await this.fs.writev(fd, buffers);
      if (written < bytes) throw shortWriteError(this.path(seg), written, bytes);
    } catch (err) {
      offsets.length -= n;
      await this.cutBack(seg, fd);
      // a segment whose only write failed holds nothing to send or acknowledge: left in place,
      // it would outlive the episode on a queue that keeps up from memory
      if (seg.size === 0 && seg === this.segments.at(-1)) await this.dropEmptyLast(seg);
      throw err;
    }
    seg.size += bytes;
    seg.samples += samples;
    this.bytes += bytes;
    this.dirty = true;
    return n;
  }

  /**
   * The next record, or undefined when everything was read. A record that cannot be framed (cut
   * short, or failing its checksum: the disk's fault, or a file changed by hand) ends its segment:
   * the rest of it is skipped and counted, and when it is the segment being written, the file is
   * cut back to the last whole record.
   */
  readNextCuttingDamage(): Promise<QueuedRecord | undefined> {
    return this.run(async () => {
      for (;;) {
        const seg = this.segmentAt(this.readerOffset);
        if (!seg) return undefined;
        const within = this.readerOffset - seg.start;
        if (within >= seg.size) return undefined;
        const record = await this.readRecord(seg, within);
        if (record) return record;
        // bytes only: how many samples the damaged records held cannot be told
        this.drops.bytes += seg.size - within;
        if (seg === this.segments.at(-1)) {
          this.bytes -= seg.size - within;
          seg.size = within;
          seg.samples = seg.readSamples;
          if (this.writeFd !== undefined) await this.cutBack(seg, this.writeFd);
          return undefined;
        }
        this.readerOffset = seg.start + seg.size;
      }
    });
  }

  /**
   * Removes what lies past `seg.size` in the segment being written (partial records). If that
   * fails too the file is written no more: the next record starts a new segment at `seg.size`,
   * and `load` reads this one only up to there.
   */
  private async cutBack(seg: Segment, fd: number): Promise<void> {
    try {
      await this.fs.ftruncate(fd, seg.size);
    } catch {
      await this.closeWriter();
    }
  }

  private async dropEmptyLast(seg: Segment): Promise<void> {
    await this.closeWriter();
    if (this.readFd?.start === seg.start) await this.closeReader();
    this.segments.pop();
    try {
      await this.fs.unlink(this.path(seg));
    } catch {
      // an empty file at an offset no record has: `load` skips it, the next segment truncates it
    }
  }

  private async closeWriter(): Promise<void> {
    if (this.writeFd === undefined) return;
    const fd = this.writeFd;
    this.writeFd = undefined;
    try {
      await this.fs.close(fd);
    } catch {
      // closing gives nothing back to the disk's state: the fd is gone either way
    }
  }

  /** The record at `within` in `seg`, or undefined when it is cut short or fails its checksum. */
  private async readRecord(seg: Segment, within: number): Promise<QueuedRecord | undefined> {
    let fd: number;
    try {
      fd = await this.readFdFor(seg);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const header = Buffer.allocUnsafe(HEADER);
    if ((await this.fs.read(fd, header, 0, HEADER, within)) < HEADER) return undefined;
    const len = header.readUInt32LE(0);
    if (within + HEADER + len > seg.size) return undefined;
    const payload = Buffer.allocUnsafe(len);
    if ((await this.fs.read(fd, payload, 0, len, within + HEADER)) < len) return undefined;
    if (crc32(payload, crc32(header.subarray(8))) !== header.readUInt32LE(4)) return undefined;
    return { offset: this.readerOffset, payload, samples: header.readUInt32LE(8), createdAt: header.readDoubleLE(12) };
  }

  /**
   * Marks the record `readNextCuttingDamage` returned as sent; a finished segment is deleted —
   * every one when the queue is read to its end. A record the size bound dropped while it was
   * being sent moves nothing (the reader is already past it).
   */
  ack(record: QueuedRecord): Promise<void> {
    return this.run(async () => {
      if (record.offset === this.readerOffset) {
        this.readerOffset = record.offset + HEADER + record.payload.length;
        const seg = this.segmentAt(record.offset);
        if (seg) seg.readSamples += record.samples;
      }
      await this.dropConsumed();
      await this.dropIfDrained();
    });
  }

  /** Deletes the last segment too when every record was read: the next one starts a new file. */
  private async dropIfDrained(): Promise<void> {
    if (this.segments.length === 1 && this.readerOffset >= this.writeOffset) {
      this.base = this.writeOffset;
      await this.closeWriter();
      await this.removeOldest();
    }
  }

  /** Deletes segments read to their end, except the one being written. */
  private async dropConsumed(): Promise<void> {
    while (this.segments.length > 1 && this.readerOffset >= this.segments[0].start + this.segments[0].size) {
      await this.removeOldest();
    }
  }

  private async removeOldest(): Promise<void> {
    const done = this.segments.shift()!;
    this.bytes -= done.size;
    if (this.readFd?.start === done.start) await this.closeReader();
    try {
      await this.fs.unlink(this.path(done));
    } catch {
      // left behind: the next `load` finds it before the reader offset and deletes it then
    }
  }

  private async closeReader(): Promise<void> {
    if (this.readFd === undefined) return;
    const { fd } = this.readFd;
    this.readFd = undefined;
    try {
      await this.fs.close(fd);
    } catch {
      // a read-only descriptor: nothing to lose
    }
  }

  private async readFdFor(seg: Segment): Promise<number> {
    if (this.readFd?.start !== seg.start) {
      await this.closeReader();
      this.readFd = { start: seg.start, fd: await this.fs.open(this.path(seg), nodeFs.constants.O_RDONLY) };
    }
    return this.readFd.fd;
  }

  /** Makes what was appended and acknowledged survive a crash (fsync, then the reader offset saved). */
  sync(): Promise<void> {
    return this.run(() => this.syncNow());
  }

  private async syncNow(): Promise<void> {
    if (this.writeFd !== undefined && this.dirty) {
      this.dirty = false;
      try {
        await this.fs.fsync(this.writeFd);
      } catch (err) {
        this.dirty = true;
        throw err;
      }
    }
    await this.saveReader();
  }

  private async saveReader(): Promise<void> {
    if (this.readerSaved === this.readerOffset) return;
    const offset = this.readerOffset;
    const b = this.readerBytes;
    b.writeBigUInt64LE(BigInt(offset));
    b.writeUInt32LE(crc32(b.subarray(0, 8)), 8);
    // opened without truncating: rewriting 12 bytes in place needs no free space
    this.readerFd ??= await this.fs.open(join(this.dir, 'reader'), O_RDWR | O_CREAT, 0o644);
    if ((await this.fs.write(this.readerFd, b, 0)) < READER_BYTES) {
      // a torn reader file fails its CRC at open: the queue then re-sends from its oldest record
      throw shortWriteError(join(this.dir, 'reader'), 0, READER_BYTES);
    }
    this.readerSaved = offset;
  }

  /**
   * Drops the oldest segments while over the bound: at open, a queue left by a process with a
   * larger `max_disk_usage` is brought under this one's before anything new is written.
   */
  trim(): Promise<void> {
    return this.run(async () => {
      this.enforceBound();
      await this.unlinkDropped();
    });
  }

  /** What was dropped (torn records at open, oldest data over the bound) since the last call. */
  takeDrops(): DropReport {
    const d = this.drops;
    this.drops = { bytes: 0, samples: 0 };
    return d;
  }

  /** Closes the files; rejects (after closing them) when the final sync fails. */
  close(): Promise<void> {
    return this.run(async () => {
      try {
        await this.syncNow();
      } finally {
        await this.closeWriter();
        await this.closeReader();
        const fd = this.readerFd;
        this.readerFd = undefined;
        if (fd !== undefined) await this.fs.close(fd).catch(() => {});
      }
    });
  }

  private async load(): Promise<void> {
    const unnamed: Segment[] = [];
    for (const name of (await this.fs.readdir(this.dir)).sort()) {
      const m = SEGMENT_NAME.exec(name);
      if (!m) continue;
      const start = Number(m[1]);
      if (!Number.isSafeInteger(start)) continue;
      const seg: Segment = { start, size: (await this.fs.stat(join(this.dir, name))).size, samples: Number(m[2] ?? 0), readSamples: 0, name };
      if (this.segments.at(-1)?.start === start) continue; // the same offset twice: the first name wins
      this.segments.push(seg);
      if (m[2] === undefined) unnamed.push(seg);
    }
    // a segment holds nothing past the next one's start: bytes there are a record whose write
    // failed and could not be cut off. After a gap (a file lost) the later ones still count.
    for (let i = 0; i + 1 < this.segments.length; i++) {
      const s = this.segments[i];
      s.size = Math.min(s.size, this.segments[i + 1].start - s.start);
    }
    const last = this.segments.at(-1);
    const onDisk = last?.size ?? 0;
    if (last) {
      const { valid, samples } = await this.scan(last, last.size, true);
      this.drops.bytes += last.size - valid;
      last.size = valid;
      last.samples = samples;
    }
    // counted once, then named with the count when next written no more (or read to its end)
    for (const s of unnamed) if (s !== last) s.samples = (await this.scan(s, s.size, false)).samples;
    this.bytes = this.segments.reduce((n, s) => n + s.size, 0);
    this.readerOffset = await this.loadReader();
    this.readerSaved = this.readerOffset;
    if (!last) this.base = this.readerOffset;
    const reading = this.segmentAt(this.readerOffset);
    if (reading && this.readerOffset > reading.start) reading.readSamples = (await this.scan(reading, this.readerOffset - reading.start, false)).samples;
    // segments whose deletion failed or did not happen before a crash
    await this.dropConsumed();
    await this.dropIfDrained();
    if (this.segments.length > 0 && last) {
      // appended to again: a count in its name would go stale (and be believed were the rename at its next roll to fail)
      if (last.name !== segmentName(last.start)) {
        await this.fs.rename(this.path(last), join(this.dir, segmentName(last.start))).then(() => (last.name = segmentName(last.start)), () => {});
      }
      // on a full disk this still works: appending needs space, opening does not
      const fd = await this.fs.open(this.path(last), O_WRONLY | O_APPEND);
      this.writeFd = fd;
      if (last.size < onDisk) await this.cutBack(last, fd);
    }
  }

  /**
   * Walks the records of `seg` up to `upTo` bytes, reading a megabyte at a time: the bytes of
   * whole records (with matching checksums when `check`) and their samples.
   */
  private async scan(seg: Segment, upTo: number, check: boolean): Promise<{ valid: number; samples: number }> {
    let fd: number;
    try {
      fd = await this.fs.open(this.path(seg), nodeFs.constants.O_RDONLY);
    } catch (err) {
      if (check) throw err;
      return { valid: 0, samples: 0 }; // unreadable: its bytes are still counted
    }
    let buf = Buffer.allocUnsafe(COUNT_CHUNK);
    let bufAt = 0;
    let bufLen = 0;
    /** Makes bytes [at, at + n) of the file readable in `buf`; false when the file is shorter. */
    const have = async (at: number, n: number): Promise<boolean> => {
      if (at >= bufAt && at + n <= bufAt + bufLen) return true;
      if (buf.length < n) buf = Buffer.allocUnsafe(n);
      bufAt = at;
      bufLen = await this.fs.read(fd, buf, 0, Math.min(buf.length, upTo - at), at);
      return bufLen >= n;
    };
    let p = 0;
    let samples = 0;
    try {
      while (p + HEADER <= upTo && (await have(p, HEADER))) {
        const h = p - bufAt;
        const len = buf.readUInt32LE(h);
        if (p + HEADER + len > upTo) break;
        const recordSamples = buf.readUInt32LE(h + 8);
        if (check) {
          if (!(await have(p, HEADER + len))) break;
          const r = p - bufAt;
          if (crc32(buf.subarray(r + 8, r + HEADER + len)) !== buf.readUInt32LE(r + 4)) break;
        }
        samples += recordSamples;
        p += HEADER + len;
      }
    } catch (err) {
      if (check) throw err;
    } finally {
      await this.fs.close(fd).catch(() => {});
    }
    return { valid: p, samples };
  }

  private async loadReader(): Promise<number> {
    const first = this.segments[0];
    const oldest = first ? first.start : 0;
    try {
      const b = await this.fs.readFile(join(this.dir, 'reader'));
      if (b.length !== READER_BYTES || crc32(b.subarray(0, 8)) !== b.readUInt32LE(8)) return oldest;
      const off = Number(b.readBigUInt64LE(0));
      // with no segment, every record up to it was sent and deleted: new ones go on from there
      if (!first) return Number.isSafeInteger(off) ? off : 0;
      // outside what exists (segments dropped meanwhile, or a damaged file): start at the oldest
      if (off < oldest || off > this.writeOffset) return oldest;
      return off;
    } catch {
      return oldest; // missing or unreadable
    }
  }

  /** Opens a new segment at the write offset; throws, changing nothing, when the disk fails. */
  private async startSegment(): Promise<Segment> {
    const prev = this.segments.at(-1);
    if (this.writeFd !== undefined) {
      const fd = this.writeFd;
      this.writeFd = undefined;
      try {
        if (this.dirty) await this.fs.fsync(fd);
        this.dirty = false;
      } finally {
        await this.fs.close(fd).catch(() => {});
      }
    }
    if (prev && prev.size > 0) await this.nameWithCount(prev);
    const seg: Segment = { start: this.writeOffset, size: 0, samples: 0, readSamples: 0, name: '' };
    seg.name = segmentName(seg.start);
    // an empty last segment (its only write failed) is the file the new one reuses
    if (this.segments.at(-1)?.size === 0) this.segments.pop();
    await this.fs.mkdir(this.dir);
    // truncated: any bytes left at this offset belong to no record
    this.writeFd = await this.fs.open(this.path(seg), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0o644);
    this.segments.push(seg);
    await this.dropConsumed();
    return seg;
  }

  /** Renames a segment written no more so that its name holds its sample count. */
  private async nameWithCount(seg: Segment): Promise<void> {
    const name = segmentName(seg.start, seg.samples);
    if (seg.name === name) return;
    try {
      await this.fs.rename(this.path(seg), join(this.dir, name));
      seg.name = name;
    } catch {
      // still found at open, where it is counted
    }
  }

  /** Drops the oldest segments while over the bound (their files are unlinked by `unlinkDropped`). */
  private enforceBound(): void {
    while (this.bytes > this.opts.maxBytes && this.segments.length > 1) {
      const oldest = this.segments[0];
      const from = Math.max(this.readerOffset, oldest.start);
      const unread = Math.max(0, oldest.start + oldest.size - from);
      if (unread > 0) {
        this.drops.bytes += unread;
        this.drops.samples += oldest.samples - (this.readerOffset > oldest.start ? oldest.readSamples : 0);
      }
      this.segments.shift();
      this.bytes -= oldest.size;
      this.overBound.push(oldest);
      if (this.readerOffset < this.segments[0].start) this.readerOffset = this.segments[0].start;
    }
  }

  private async unlinkDropped(): Promise<void> {
    while (this.overBound.length > 0) {
      const seg = this.overBound.shift()!;
      if (this.readFd?.start === seg.start) await this.closeReader();
      await this.fs.unlink(this.path(seg)).catch(() => {
        // left behind: before the reader offset at the next open, deleted then
      });
    }
  }

  /** The segment holding `offset`; the last one when the offset is its end (nothing to read). */
  private segmentAt(offset: number): Segment | undefined {
    for (const s of this.segments) if (offset >= s.start && offset < s.start + s.size) return s;
    const last = this.segments.at(-1);
    if (last && offset === last.start + last.size) return last;
    // in a gap (a segment file lost): go on with the next segment that exists
    const next = this.segments.find((s) => s.start > offset && s.size > 0);
    if (next) {
      this.readerOffset = next.start;
      return next;
    }
    return undefined;
  }

  private path(seg: Segment): string {
    return join(this.dir, seg.name);
  }
}

function segmentName(start: number, samples?: number): string {
  return String(start).padStart(NAME_DIGITS, '0') + (samples === undefined ? '' : `-${samples}`) + '.seg';
}
