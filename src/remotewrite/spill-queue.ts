/**
 * One sender's queue of sealed requests: a fast in-memory list in front of the file queue
 * (disk-queue.ts), as VictoriaMetrics' lib/persistentqueue keeps its in-memory blocks in front
 * of its files. It owns where a request is — in memory, being written, or on disk — and the rule
 * between the two: the disk holds the older records, so it is read to its end before memory is.
 * The sender sees only `push` (a sealed request), `next` (the oldest not acknowledged) and `ack`.
 *
 * Memory records go to disk when `spill` is asked for (the owner's timer, for those older than a
 * cutoff) or at once when memory passes `maxMemoryBytes`; the writes run in the background, one
 * spill at a time, so a request handed to the sender may be written meanwhile — it is then
 * acknowledged on disk. A spilled request keeps its bytes in memory while they fit in a
 * quarter of `maxMemoryBytes` (`readBack`): the disk copy is for a crash, and a sender that is
 * merely behind — a push flat out, a receiver that was slow for a moment — sends the records
 * it spilled without reading them back. A disk that fails (ENOSPC, EIO: writing, syncing, opening or reading)
 * stops nothing: records stay in memory up to `maxMemoryBytes`, past that the oldest are dropped
 * (counted as `disk_full`), and the disk is tried again after `retryMs`; the failure ends once a
 * record was written and synced. What it drops and each disk error go to `SpillEvents`.
 */

import { DiskQueue, type DiskFs, type NewRecord, type QueuedRecord } from './disk-queue.js';

/** A sealed request as the sender sees it. */
export type SpillRecord = NewRecord;

/** The disk operation that failed, as `tributary_remotewrite_disk_errors_total{op}` names it. */
export const DISK_OPS = ['open', 'write', 'fsync', 'read', 'close'] as const;
export type DiskOp = (typeof DISK_OPS)[number];

export interface SpillEvents {
  /** Samples given up: over the disk bound (`queue_full`), or over the memory bound while the disk fails (`disk_full`). */
  dropped(reason: 'queue_full' | 'disk_full', samples: number): void;
  /** Every disk error; `first` when it begins a failure (the disk worked, or was not tried, before). */
  diskFailed(op: DiskOp, err: Error, first: boolean): void;
  /** The disk works again after a failure: a record was written and synced; `dropped` samples were lost meanwhile. */
  diskRecovered(dropped: number): void;
}

export interface SpillQueueOptions {
  readonly dir: string;
  /** Bytes on disk before the oldest records are dropped. */
  readonly maxDiskBytes: number;
  readonly segmentBytes: number;
  /** Bytes of requests kept in memory before they go to disk (or, the disk failing, the oldest are dropped). */
  readonly maxMemoryBytes: number;
  /** How long a failed disk is left alone before it is tried again. */
  readonly retryMs: number;
  readonly events: SpillEvents;
  readonly fs?: DiskFs;
}

/** A request not on disk (yet). */
interface MemoryEntry {
  readonly record: SpillRecord;
  /** Its spill is running. */
  writing: boolean;
  /** Sent while it was being written: acknowledged on disk once the write is done. */
  acked: boolean;
}

/** What `next` handed out, for `ack`. */
type Out = { readonly from: 'memory'; readonly entry: MemoryEntry } | { readonly from: 'disk'; readonly record: QueuedRecord };

/** What `open` reports besides the queue: what it repaired and what it could not open. */
export interface SpillOpenReport {
  /** Bytes of a damaged last record cut off (an unclean stop). */
  readonly tornBytes: number;
  /** Bytes queued before the restart. */
  readonly pendingBytes: number;
  /** Why the disk could not be opened (the queue works from memory and tries again). */
  readonly error?: Error;
}

export class SpillQueue {
  private readonly memory: MemoryEntry[] = [];
  private memBytes = 0;
  /** Spilled records still held in memory, by ascending disk offset, and their bytes. */
  private readonly readBack: QueuedRecord[] = [];
  private readBackBytes = 0;
  private out: Out | undefined;
  /** The spill running now, and whether another was asked for meanwhile (with its cutoff). */
  private spilling: Promise<void> | undefined;
  private spillAgain = -Infinity;
  /** While the disk fails: samples dropped, whether a record was written since the last error, when it is tried again. */
  private failure: { dropped: number; wrote: boolean; retryAt: number } | undefined;

  private constructor(
    private readonly disk: DiskQueue,
    private readonly opts: SpillQueueOptions,
  ) {}

  /** Opens the file queue in `opts.dir`; a disk that fails is reported (and counted), not thrown: the queue then runs from memory. */
  static async open(opts: SpillQueueOptions): Promise<{ queue: SpillQueue; report: SpillOpenReport }> {
    const disk = await DiskQueue.open(opts.dir, { maxBytes: opts.maxDiskBytes, segmentBytes: opts.segmentBytes, fs: opts.fs });
    const q = new SpillQueue(disk, opts);
    if (disk.openError) q.failed('open', disk.openError);
    const torn = disk.takeDrops();
    await disk.trim();
    const overBound = disk.takeDrops();
    if (overBound.samples > 0) opts.events.dropped('queue_full', overBound.samples);
    return { queue: q, report: { tornBytes: torn.bytes, pendingBytes: disk.pendingBytes, error: disk.openError } };
  }

  /** Bytes of requests in memory. */
  get memoryBytes(): number {
    return this.memBytes;
  }

  /** Compressed bytes on disk not yet acknowledged. */
  get diskBytes(): number {
    return this.disk.pendingBytes;
  }

  /**
   * The next records would push the oldest out: the disk is within a segment of its bound, or,
   * the disk failing, memory is near its own.
   */
  get full(): boolean {
    if (this.failure !== undefined) return this.memBytes >= this.opts.maxMemoryBytes * 0.9;
    return this.disk.diskBytes + this.memBytes >= this.opts.maxDiskBytes - this.opts.segmentBytes;
  }

  /** Nothing waits, in memory or on disk. */
  get empty(): boolean {
    return this.memory.length === 0 && this.disk.pendingBytes === 0;
  }

  /** When the oldest request in memory was created (0: none), for the age gauge while the disk is empty. */
  get oldestInMemory(): number {
    return this.memory[0]?.record.createdAt ?? 0;
  }

  get diskFailing(): boolean {
    return this.failure !== undefined;
  }

  /** Queues a sealed request; past `maxMemoryBytes` in memory the backlog goes to disk at once. */
  push(record: SpillRecord): void {
    this.memory.push({ record, writing: false, acked: false });
    this.memBytes += record.payload.length;
    if (this.memBytes > this.opts.maxMemoryBytes) void this.spill(Infinity);
  }

  /**
   * The oldest request not acknowledged (the disk's before memory's), or undefined when none
   * waits. Asked again before `ack` (a retry), it is the same request, or the same one read back
   * from disk when a spill wrote it meanwhile. Rejects when the disk cannot be read.
   */
  async next(): Promise<SpillRecord | undefined> {
    if (this.disk.pendingBytes > 0) {
      let record = this.fromReadBack(this.disk.nextOffset);
      try {
        record ??= await this.disk.readNextCuttingDamage();
      } catch (err) {
        this.failed('read', err as Error);
        throw err;
      }
      if (record) {
        this.out = { from: 'disk', record };
        return record;
      }
    }
    // past those sent while their spill runs (they leave memory when it ends)
    const entry = this.memory.find((e) => !e.acked);
    this.out = entry && { from: 'memory', entry };
    return entry?.record;
  }

  /**
   * The request `next` returned was sent (or given up): it leaves the queue. `release` gets its
   * payload when nothing here holds it any more (it left memory, no spill writing it): the
   * caller may then write into it again.
   */
  async ack(release?: (payload: Buffer) => void): Promise<void> {
    const out = this.out;
    this.out = undefined;
    if (out === undefined) return;
    if (out.from === 'disk') {
      await this.disk.ack(out.record);
      this.fromReadBack(this.disk.nextOffset);
      return;
    }
    const { entry } = out;
    if (entry.writing) {
      entry.acked = true;
      return;
    }
    const i = this.memory.indexOf(entry);
    // not there: written to disk and read back since (a retry), acknowledged there
    if (i >= 0) {
      this.removeAt(i);
      release?.(entry.record.payload);
    }
  }

  /**
   * Writes the memory requests created before `cutoff` to disk, oldest first — the one being
   * sent too, since its send may fail or outlast the process. A spill asked for while one runs
   * follows it.
   */
  spill(cutoff: number): Promise<void> {
    if (this.spilling) {
      this.spillAgain = Math.max(this.spillAgain, cutoff);
      return this.spilling;
    }
    this.spilling = (async () => {
      try {
        for (let c = cutoff; c > -Infinity; c = this.spillAgain) {
          this.spillAgain = -Infinity;
          await this.spillOnce(c);
        }
      } catch (err) {
        // the disk queue reports its errors in what it returns: this is a bug, not the disk
        this.failed('write', err as Error);
      } finally {
        this.spilling = undefined;
      }
    })();
    return this.spilling;
  }

  private async spillOnce(cutoff: number): Promise<void> {
    if (this.failure === undefined || Date.now() >= this.failure.retryAt) {
      let n = 0;
      while (n < this.memory.length && this.memory[n].record.createdAt < cutoff) n++;
      if (n > 0) {
        const batch = this.memory.slice(0, n);
        for (const e of batch) e.writing = true;
        const { offsets, error } = await this.disk.append(batch.map((e) => e.record));
        // in one turn, before the sender can act on any of it: the written records leave memory
        // (they are the first ones: nothing else removes a record being written), the one in
        // flight is acknowledged on disk when sent, and those sent meanwhile are acknowledged
        // there now — queued before any read the sender asks for next
        const acks: Promise<void>[] = [];
        for (let i = 0; i < batch.length; i++) {
          const e = batch[i];
          e.writing = false;
          if (i >= offsets.length) continue;
          this.memBytes -= e.record.payload.length;
          const onDisk: QueuedRecord = { ...e.record, offset: offsets[i] };
          if (this.out?.from === 'memory' && this.out.entry === e) this.out = { from: 'disk', record: onDisk };
          if (e.acked) acks.push(this.disk.ack(onDisk));
          else this.keepForReadBack(onDisk);
        }
        this.memory.splice(0, offsets.length);
        // sent while being written, and not written: done with
        for (let i = this.memory.length - 1; i >= 0; i--) if (this.memory[i].acked) this.removeAt(i);
        if (offsets.length > 0 && this.failure) this.failure.wrote = true;
        await Promise.all(acks);
        const dropped = this.disk.takeDrops();
        if (dropped.samples > 0) this.opts.events.dropped('queue_full', dropped.samples);
        if (error) this.failed(opOf(error), error);
      }
    }
    if (this.failure) this.dropFromMemory(this.opts.maxMemoryBytes);
  }

  /** A spilled record the disk would read next at `offset`, from memory; those before it are done with. */
  private fromReadBack(offset: number): QueuedRecord | undefined {
    const kept = this.readBack;
    let n = 0;
    while (n < kept.length && kept[n].offset < offset) this.readBackBytes -= kept[n++].payload.length;
    if (n > 0) kept.splice(0, n);
    return kept[0]?.offset === offset ? kept[0] : undefined;
  }

  private keepForReadBack(record: QueuedRecord): void {
    if (this.readBackBytes + record.payload.length > this.opts.maxMemoryBytes / 4) return;
    // a gap (one not kept) is harmless: the disk is read there, and what follows is found again
    this.readBack.push(record);
    this.readBackBytes += record.payload.length;
  }

  /** fsync and the reader offset saved: what was written and acknowledged survives a crash. */
  async sync(): Promise<void> {
    try {
      await this.disk.sync();
    } catch (err) {
      this.failed(opOf(err as Error, 'fsync'), err as Error);
      return;
    }
    const f = this.failure;
    if (f?.wrote) {
      this.failure = undefined;
      this.opts.events.diskRecovered(f.dropped);
    }
  }

  /**
   * The disk's last chance: everything in memory is written (the disk tried whatever its
   * state), what it does not take is dropped and counted; then the files are closed. Resolves
   * with the samples dropped.
   */
  async close(): Promise<number> {
    await this.spilling;
    if (this.failure) this.failure.retryAt = 0;
    await this.spill(Infinity);
    const dropped = this.dropFromMemory(0, true);
    this.readBack.length = 0;
    this.readBackBytes = 0;
    try {
      await this.disk.close();
    } catch (err) {
      this.failed(opOf(err as Error, 'fsync'), err as Error);
    }
    return dropped;
  }

  /** Drops the oldest memory requests (not the one being sent, unless `all`) until at most `bound` bytes are left. */
  private dropFromMemory(bound: number, all = false): number {
    let samples = 0;
    for (let i = 0; this.memBytes > bound && i < this.memory.length; ) {
      const e = this.memory[i];
      // the sender takes it off the front when its send ends
      if (!all && this.out?.from === 'memory' && this.out.entry === e) {
        i++;
        continue;
      }
      samples += e.record.samples;
      this.removeAt(i);
    }
    if (samples > 0) {
      this.opts.events.dropped('disk_full', samples);
      if (this.failure) this.failure.dropped += samples;
    }
    return samples;
  }

  private removeAt(i: number): void {
    this.memBytes -= this.memory[i].record.payload.length;
    this.memory.splice(i, 1);
  }

  private failed(op: DiskOp, err: Error): void {
    const first = this.failure === undefined;
    if (first) this.failure = { dropped: 0, wrote: false, retryAt: 0 };
    this.failure!.wrote = false;
    this.failure!.retryAt = Date.now() + this.opts.retryMs;
    this.opts.events.diskFailed(op, err, first);
  }
}

/** The operation an fs error came from (its syscall), as the disk-errors counter names it. */
function opOf(err: Error, fallback: DiskOp = 'write'): DiskOp {
  switch ((err as NodeJS.ErrnoException).syscall) {
    case 'open':
    case 'mkdir':
      return 'open';
    case 'fsync':
      return 'fsync';
    case 'read':
      return 'read';
    case 'close':
      return 'close';
    case 'write':
    case 'writev':
    case 'ftruncate':
      return 'write';
    default:
      return fallback;
  }
}
