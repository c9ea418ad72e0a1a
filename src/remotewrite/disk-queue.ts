/**
 * A remote-write URL's persistent backlog: an append-only log of compressed requests in segment
 * files, read in order, never losing what was acknowledged as written and never failing to open.
 *
 * On disk (one directory per URL):
 *   <20-digit offset>.seg   records, each `u32 length | u32 crc | u32 samples | f64 created-at ms |
 *                           payload` (little-endian; the CRC-32 covers samples, created-at and
 *                           payload); the name is the queue offset of its first byte
 *   reader                  the offset of the next record to send: u64 little-endian and the
 *                           CRC-32 of those 8 bytes, rewritten in place (a write, not a new file
 *                           and a rename: that cost a millisecond a time on some filesystems)
 *
 * Crash safety: each record is written with one `write`, so once `append` returns it survives a
 * `kill -9` of the process (the kernel has it); `sync` (fsync) makes it survive a power loss too.
 * The reader offset is saved by `sync`, so a crash re-sends at most what was acknowledged since
 * (delivery is at least once). At open, the last segment is
 * checked record by record and cut at the first one that is incomplete or fails its checksum
 * (a torn write); a reader offset that is missing, unreadable or outside the segments falls back
 * to the oldest record rather than failing. When the queue exceeds `maxBytes`, the oldest whole
 * segments are dropped (and counted) — never the one being written. A segment is deleted once
 * every record in it is acknowledged — the one being written too, when the queue is read to its
 * end (the next record then starts a new file at the same offset).
 *
 * A failing disk (ENOSPC, EIO: any error writing, syncing or opening the files) leaves the queue
 * as it was: `append` throws after cutting a partial record back off (a short write counts as
 * ENOSPC), so what is read stays framed; if even that cut fails, the file is given up for writing
 * and `load` ignores whatever lies past the next segment's start. Deleting a file that cannot be
 * deleted is retried at the next open. All file access goes through `DiskQueueOptions.fs`, so a
 * test can make any of it fail.
 */

import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const HEADER = 20;
const READER_BYTES = 12;
const SEGMENT_SUFFIX = '.seg';
const NAME_DIGITS = 20;
const { O_APPEND, O_CREAT, O_RDWR, O_TRUNC, O_WRONLY } = nodeFs.constants;

/** The file operations the queue uses (node:fs by default; a test substitutes failing ones). */
export type DiskFs = Pick<
  typeof nodeFs,
  | 'closeSync'
  | 'existsSync'
  | 'fsync'
  | 'fsyncSync'
  | 'ftruncateSync'
  | 'mkdirSync'
  | 'openSync'
  | 'readdirSync'
  | 'readFileSync'
  | 'readSync'
  | 'rmSync'
  | 'statSync'
  | 'writeSync'
>;

export interface DiskQueueOptions {
  /** Bytes on disk before the oldest segments are dropped. */
  readonly maxBytes: number;
  /** A new segment is started past this size. */
  readonly segmentBytes?: number;
  readonly fs?: DiskFs;
}

/** What `append` throws for a short write: the file system took only part of the record. */
export function shortWriteError(path: string, written: number, wanted: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, write (${written} of ${wanted} bytes) '${path}'`);
  err.code = 'ENOSPC';
  err.syscall = 'write';
  err.path = path;
  return err;
}

export interface QueuedRecord {
  /** Queue offset of the record (what `ack` moves past). */
  readonly offset: number;
  readonly payload: Buffer;
  readonly samples: number;
  /** When the record's first sample was queued, in ms since the epoch. */
  readonly createdAt: number;
}

export interface DropReport {
  readonly bytes: number;
  readonly samples: number;
}

interface Segment {
  readonly start: number;
  size: number;
}

export class DiskQueue {
  private readonly segments: Segment[] = [];
  private readonly segmentBytes: number;
  private writeFd: number | undefined;
  /** The segment being read, kept open between records. */
  private readFd: { start: number; fd: number } | undefined;
  private readerOffset: number;
  private readerSaved: number;
  private readerFd: number | undefined;
  /** Appended to since the last `syncAsync`. */
  private dirty = false;
  private readonly readerBytes = Buffer.alloc(READER_BYTES);
  /** Records dropped by `open` (torn tail) or by the size bound, since the last call to `takeDrops`. */
  private drops = { bytes: 0, samples: 0 };
  /** The write offset while there is no segment (all of them were read and deleted). */
  private base = 0;
  private readonly fs: DiskFs;
  /** Why `open` could not read or prepare everything (the queue still works with what it has). */
  openError: Error | undefined;

  private constructor(
    readonly dir: string,
    private readonly opts: DiskQueueOptions,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 32 * 1024 * 1024;
    this.readerOffset = 0;
    this.readerSaved = -1;
    this.fs = opts.fs ?? nodeFs;
  }

  /**
   * Opens (or creates) the queue in `dir`. Damage is repaired and reported, never thrown; a
   * disk that fails is reported in `openError`, and appending tries again (creating `dir`).
   */
  static open(dir: string, opts: DiskQueueOptions): DiskQueue {
    const q = new DiskQueue(dir, opts);
    try {
      q.fs.mkdirSync(dir, { recursive: true });
      q.load();
    } catch (err) {
      q.openError = err as Error;
    }
    return q;
  }

  /** Offset one past the last record. */
  get writeOffset(): number {
    const last = this.segments.at(-1);
    return last ? last.start + last.size : this.base;
  }

  /** Bytes waiting to be read. */
  get pendingBytes(): number {
    return this.writeOffset - this.readerOffset;
  }

  /** Bytes in segment files. */
  get diskBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  /** Appends a record; returns its offset. */
  append(payload: Buffer, samples: number, createdAt = Date.now()): number {
    const record = Buffer.allocUnsafe(HEADER + payload.length);
    record.writeUInt32LE(payload.length, 0);
    record.writeUInt32LE(samples, 8);
    record.writeDoubleLE(createdAt, 12);
    payload.copy(record, HEADER);
    record.writeUInt32LE(recordCrc(record), 4);
    let seg = this.segments.at(-1);
    if (!seg || this.writeFd === undefined || seg.size >= this.segmentBytes) seg = this.startSegment();
    const offset = seg.start + seg.size;
    const fd = this.writeFd!;
    try {
      const written = this.fs.writeSync(fd, record);
      if (written < record.length) throw shortWriteError(this.path(seg), written, record.length);
    } catch (err) {
      this.cutBack(seg, fd);
      // a segment whose only write failed holds nothing to send or acknowledge: left in place,
      // it would outlive the episode on a queue that keeps up from memory
      if (seg.size === 0 && seg === this.segments.at(-1)) this.dropEmptyLast(seg);
      throw err;
    }
    seg.size += record.length;
    this.dirty = true;
    this.enforceBound();
    return offset;
  }

  /** The next record, or undefined when everything was read. */
  peek(): QueuedRecord | undefined {
    for (;;) {
      const seg = this.segmentAt(this.readerOffset);
      if (!seg) return undefined;
      const within = this.readerOffset - seg.start;
      if (within >= seg.size) return undefined;
      const record = this.readRecord(seg, within);
      if (record) return record;
      // a damaged record inside the queue (the disk's fault, or a file changed by hand): the
      // rest of its segment cannot be framed, so it is skipped and counted, never fatal
      this.drops.bytes += seg.size - within;
      this.readerOffset = seg.start + seg.size;
      if (seg === this.segments.at(-1)) {
        seg.size = within;
        this.readerOffset = seg.start + within;
        if (this.writeFd !== undefined) this.cutBack(seg, this.writeFd);
        return undefined;
      }
    }
  }

  /**
   * Removes what lies past `seg.size` in the segment being written (a partial record). If that
   * fails too the file is written no more: the next record starts a new segment at `seg.size`,
   * and `load` reads this one only up to there.
   */
  private cutBack(seg: Segment, fd: number): void {
    try {
      this.fs.ftruncateSync(fd, seg.size);
    } catch {
      this.closeWriter();
    }
  }

  private dropEmptyLast(seg: Segment): void {
    this.closeWriter();
    if (this.readFd?.start === seg.start) this.closeReader();
    this.segments.pop();
    try {
      this.fs.rmSync(this.path(seg), { force: true });
    } catch {
      // an empty file at an offset no record has: `load` skips it, the next segment truncates it
    }
  }

  private closeWriter(): void {
    if (this.writeFd === undefined) return;
    try {
      this.fs.closeSync(this.writeFd);
    } catch {
      // closing gives nothing back to the disk's state: the fd is gone either way
    }
    this.writeFd = undefined;
  }

  /** The record at `within` in `seg`, or undefined when it is cut short or fails its checksum. */
  private readRecord(seg: Segment, within: number): QueuedRecord | undefined {
    let fd: number;
    try {
      fd = this.readFdFor(seg);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const header = Buffer.allocUnsafe(HEADER);
    if (this.fs.readSync(fd, header, 0, HEADER, within) < HEADER) return undefined;
    const len = header.readUInt32LE(0);
    if (within + HEADER + len > seg.size) return undefined;
    const record = Buffer.allocUnsafe(HEADER + len);
    header.copy(record);
    if (this.fs.readSync(fd, record, HEADER, len, within + HEADER) < len || recordCrc(record) !== header.readUInt32LE(4)) return undefined;
    return {
      offset: this.readerOffset,
      payload: record.subarray(HEADER),
      samples: header.readUInt32LE(8),
      createdAt: header.readDoubleLE(12),
    };
  }

  /**
   * Marks the record `peek` returned as sent; a finished segment is deleted — every one when
   * the queue is read to its end. A record the size bound dropped while it was being sent moves
   * nothing (the reader is already past it).
   */
  ack(record: QueuedRecord): void {
    const end = record.offset + HEADER + record.payload.length;
    if (record.offset === this.readerOffset) this.readerOffset = end;
    this.dropConsumed();
    this.dropIfDrained();
  }

  /** Deletes the last segment too when every record was read: the next one starts a new file. */
  private dropIfDrained(): void {
    if (this.segments.length === 1 && this.readerOffset >= this.writeOffset) {
      this.base = this.writeOffset;
      this.closeWriter();
      this.removeOldest();
    }
  }

  /** `sync` without blocking the event loop on the fsync. */
  syncAsync(): Promise<void> {
    const fd = this.writeFd;
    const dirty = this.dirty;
    this.dirty = false;
    return new Promise<void>((resolve, reject) => {
      if (fd === undefined || !dirty) return resolve();
      this.fs.fsync(fd, (err) => {
        // EBADF when the segment was closed meanwhile: startSegment synced it before closing
        // (or it was deleted, read to its end)
        if (err && err.code !== 'EBADF') {
          this.dirty = true;
          reject(err);
        } else resolve();
      });
    }).then(() => this.saveReader());
  }

  /** Deletes segments read to their end, except the one being written. */
  private dropConsumed(): void {
    while (this.segments.length > 1 && this.readerOffset >= this.segments[0].start + this.segments[0].size) {
      this.removeOldest();
    }
  }

  private removeOldest(): Segment {
    const done = this.segments.shift()!;
    if (this.readFd?.start === done.start) this.closeReader();
    try {
      this.fs.rmSync(this.path(done), { force: true });
    } catch {
      // left behind: the next `load` finds it before the reader offset and deletes it then
    }
    return done;
  }

  private closeReader(): void {
    if (this.readFd === undefined) return;
    try {
      this.fs.closeSync(this.readFd.fd);
    } catch {
      // a read-only descriptor: nothing to lose
    }
    this.readFd = undefined;
  }

  private readFdFor(seg: Segment): number {
    if (this.readFd?.start !== seg.start) {
      this.closeReader();
      this.readFd = { start: seg.start, fd: this.fs.openSync(this.path(seg), 'r') };
    }
    return this.readFd.fd;
  }

  /** Makes what was appended and acknowledged survive a crash. */
  sync(): void {
    if (this.writeFd !== undefined) this.fs.fsyncSync(this.writeFd);
    this.dirty = false;
    this.saveReader();
  }

  private saveReader(): void {
    if (this.readerSaved !== this.readerOffset) {
      const b = this.readerBytes;
      b.writeBigUInt64LE(BigInt(this.readerOffset));
      b.writeUInt32LE(crc32(b.subarray(0, 8)), 8);
      // opened without truncating: rewriting 12 bytes in place needs no free space
      this.readerFd ??= this.fs.openSync(join(this.dir, 'reader'), O_RDWR | O_CREAT, 0o644);
      if (this.fs.writeSync(this.readerFd, b, 0, READER_BYTES, 0) < READER_BYTES) {
        // a torn reader file fails its CRC at open: the queue then re-sends from its oldest record
        throw shortWriteError(join(this.dir, 'reader'), 0, READER_BYTES);
      }
      this.readerSaved = this.readerOffset;
    }
  }

  /** What was dropped (torn records at open, oldest data over the bound) since the last call. */
  takeDrops(): DropReport {
    const d = this.drops;
    this.drops = { bytes: 0, samples: 0 };
    return d;
  }

  /** Closes the files; throws (after closing them) when the final sync fails. */
  close(): void {
    try {
      this.sync();
    } finally {
      this.closeWriter();
      this.closeReader();
      if (this.readerFd !== undefined) {
        try {
          this.fs.closeSync(this.readerFd);
        } catch {
          // its last write already succeeded or failed in sync
        }
      }
      this.readerFd = undefined;
    }
  }

  private load(): void {
    const names = this.fs.readdirSync(this.dir).filter((n) => n.endsWith(SEGMENT_SUFFIX) && n.length === NAME_DIGITS + SEGMENT_SUFFIX.length);
    for (const name of names.sort()) {
      const start = Number(name.slice(0, NAME_DIGITS));
      if (!Number.isSafeInteger(start)) continue;
      this.segments.push({ start, size: this.fs.statSync(join(this.dir, name)).size });
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
      const valid = this.validLength(last);
      this.drops.bytes += last.size - valid;
      last.size = valid;
    }
    this.readerOffset = this.loadReader();
    this.readerSaved = this.readerOffset;
    if (!last) this.base = this.readerOffset;
    // segments whose deletion failed or did not happen before a crash
    this.dropConsumed();
    this.dropIfDrained();
    if (this.segments.length > 0 && last) {
      // on a full disk this still works: appending needs space, opening does not
      const fd = this.fs.openSync(this.path(last), O_WRONLY | O_APPEND);
      this.writeFd = fd;
      if (last.size < onDisk) this.cutBack(last, fd);
    }
  }

  /** Bytes of `seg` that hold whole records with matching checksums. */
  private validLength(seg: Segment): number {
    const data = this.fs.readFileSync(this.path(seg));
    let p = 0;
    while (p + HEADER <= data.length) {
      const len = data.readUInt32LE(p);
      if (p + HEADER + len > data.length) break;
      if (recordCrc(data.subarray(p, p + HEADER + len)) !== data.readUInt32LE(p + 4)) break;
      p += HEADER + len;
    }
    return p;
  }

  private loadReader(): number {
    const first = this.segments[0];
    const oldest = first ? first.start : 0;
    const file = join(this.dir, 'reader');
    if (!this.fs.existsSync(file)) return oldest;
    try {
      const b = this.fs.readFileSync(file);
      if (b.length !== READER_BYTES || crc32(b.subarray(0, 8)) !== b.readUInt32LE(8)) return oldest;
      const off = Number(b.readBigUInt64LE(0));
      // with no segment, every record up to it was sent and deleted: new ones go on from there
      if (!first) return Number.isSafeInteger(off) ? off : 0;
      // outside what exists (segments dropped meanwhile, or a damaged file): start at the oldest
      if (off < oldest || off > this.writeOffset) return oldest;
      return off;
    } catch {
      return oldest;
    }
  }

  /** Opens a new segment at the write offset; throws, changing nothing, when the disk fails. */
  private startSegment(): Segment {
    if (this.writeFd !== undefined) {
      const fd = this.writeFd;
      this.writeFd = undefined;
      try {
        this.fs.fsyncSync(fd);
      } finally {
        this.fs.closeSync(fd);
      }
    }
    const seg: Segment = { start: this.writeOffset, size: 0 };
    // an empty last segment (its only write failed) is the file the new one reuses
    if (this.segments.at(-1)?.size === 0) this.segments.pop();
    this.fs.mkdirSync(this.dir, { recursive: true });
    // truncated: any bytes left at this offset belong to no record
    this.writeFd = this.fs.openSync(this.path(seg), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0o644);
    this.segments.push(seg);
    this.dropConsumed();
    return seg;
  }

  private enforceBound(): void {
    while (this.diskBytes > this.opts.maxBytes && this.segments.length > 1) {
      const oldest = this.segments[0];
      const unread = Math.max(0, oldest.start + oldest.size - Math.max(this.readerOffset, oldest.start));
      if (unread > 0) {
        this.drops.bytes += unread;
        this.drops.samples += this.countSamples(oldest, Math.max(this.readerOffset, oldest.start));
      }
      this.removeOldest();
      if (this.readerOffset < this.segments[0].start) this.readerOffset = this.segments[0].start;
    }
  }

  /** Samples in the records of `seg` from offset `from` on (for the drop count). */
  private countSamples(seg: Segment, from: number): number {
    let data: Buffer;
    try {
      data = this.fs.readFileSync(this.path(seg));
    } catch {
      return 0; // unreadable: its bytes are still counted
    }
    let p = from - seg.start;
    let n = 0;
    while (p + HEADER <= data.length) {
      n += data.readUInt32LE(p + 8);
      p += HEADER + data.readUInt32LE(p);
    }
    return n;
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
    return join(this.dir, String(seg.start).padStart(NAME_DIGITS, '0') + SEGMENT_SUFFIX);
  }
}

/** CRC-32 of a record's samples, created-at and payload (everything after the checksum). */
function recordCrc(record: Buffer): number {
  return crc32(record.subarray(8));
}
