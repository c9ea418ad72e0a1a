/**
 * One place of stream aggregation in the pipeline — the global section, or one remote-write
 * URL's: its rules, the deduplication of every sample when it has no rules, what passes on
 * (`keep_input`, `drop_input`), the flush timer, and the state on disk.
 *
 * `process` takes a batch and returns the samples that go on unaggregated; the rules' outputs
 * (and the deduplicator's choices) leave through `emit`, at interval ends. Which rules a series
 * goes to, its output group and its per-series slot are worked out once per label set and kept
 * in a table of this stage's (the label sets of scrapes and pushes are the same objects scrape
 * after scrape), so a sample costs a lookup and its outputs' arithmetic.
 *
 * The state (every rule's groups and per-series values, the samples deduplication holds) is
 * written to `stateFile` every `state_write_interval` and at `close`, through a temporary file
 * and a rename, so a crash leaves the last whole state; `open` reads it back. A rule whose
 * configuration changed starts afresh (its id is a hash of the rule). When the state cannot be
 * written (full disk, EIO) the error is counted and logged once per episode; at a stop the
 * deduplicator's samples are then passed on rather than lost.
 */

import { mkdir, open as openFile, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { StreamAggrConfig } from '../config/stream-aggr.js';
import type { Logger } from '../log/logger.js';
import type { Labels } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import { Deduplicator } from './dedup.js';
import type { StreamAggrMetrics } from './metrics.js';
import { NO_MATCH, RuleAggregator, UNRESOLVED, type KeyIndex, type KeyRecords, type SharedSeries } from './rule.js';
import { StateReader, StateWriter } from './state-codec.js';

export interface StreamAggregationOptions {
  /** "global" or the remote-write URL's name: the `url` label of the self-metrics, and the logs'. */
  readonly scope: string;
  /** Where the state is kept; none: nothing survives a restart. */
  readonly stateFile?: string;
  readonly logger: Logger;
  readonly metrics?: StreamAggrMetrics;
  /** Receives the outputs; the batch is only valid during the call. */
  readonly emit: (batch: SampleBatch) => void;
  /** The clock (tests); Date.now by default. */
  readonly now?: () => number;
  /** Off in tests that drive `advance` themselves. */
  readonly timers?: boolean;
}

/** The state file's first bytes ("TSA", version 1). */
const MAGIC = 0x01415354;

/** A batch's series as they came last time, by position: their label sets, indexes and generations. */
interface Sequence {
  labels: Labels[];
  index: Int32Array;
  gen: Int32Array;
}

export class StreamAggregation implements SharedSeries {
  readonly scope: string;
  private readonly ruleList: RuleAggregator[];
  private readonly dedup: Deduplicator | undefined;
  // Per incoming series (by its label set's key, a string the set computes once and keeps): an
  // index into `routes` (a route per rule), and when it was last seen — a table of plain
  // numbers, not an object per series, so the collector has next to nothing to trace.
  private readonly seriesIndex = new Map<string, number>();
  /**
   * The series of the last batch that began with a given label set, in order: a scrape's batch
   * comes with the same series in the same order every time, so a series is found by comparing
   * one pointer at its position instead of a lookup by key (as the snappy writer finds its codes);
   * the index's generation then says it still is that series' (it was not forgotten meanwhile).
   */
  private readonly sequences = new WeakMap<Labels, Sequence>();
  private seriesKeys: (string | undefined)[] = [];
  /** Per series index: bumped when its series is forgotten, so a sequence's copy is out of date. */
  private seriesGen = new Int32Array(0);
  private routes = new Int32Array(0);
  /** Where each rule's route starts in a series' record of `routeWidth` numbers. */
  private readonly routeAt: Int32Array;
  private readonly routeWidth: number;
  private lastSeen = new Float64Array(0);
  private seriesCap = 0;
  private seriesUsed = 0;
  private readonly seriesFree: number[] = [];
  /** Series unseen this long are forgotten (their route is worked out again if they come back). */
  private readonly forgetAfter: number;
  private nextForget = 0;
  private readonly out = new SampleBatch(256);
  private readonly keepInput: boolean;
  private readonly dropInput: boolean;
  private readonly now: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private stateTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private writeFailing = false;
  private detachMetrics: () => void = () => {};
  /**
   * Holds one rule's state at a time, kept from one write to the next: a fresh buffer of
   * megabytes each time costs more CPU than the whole write (the pages faulted in again, the
   * collector told of the external memory).
   */
  private readonly stateWriter = new StateWriter();
  /** Per rule id, the generation of its key journal (a fresh journal is a new file). */
  private readonly journalGen = new Map<string, number>();
  private closed = false;

  constructor(
    readonly section: StreamAggrConfig,
    private readonly opts: StreamAggregationOptions,
  ) {
    this.scope = opts.scope;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ stream_aggr: opts.scope });
    const now = this.now();
    this.ruleList = section.rules.map((r) => new RuleAggregator(r, section, now, this));
    let width = 0;
    this.routeAt = Int32Array.from(this.ruleList, (r) => ((width += r.routeWidth), width - r.routeWidth));
    this.routeWidth = width;
    this.dedup = this.rules.length === 0 && section.dedup_interval > 0 ? new Deduplicator(section.dedup_interval, now) : undefined;
    this.forgetAfter = Math.max(0, ...this.ruleList.map((r) => r.stalenessMs));
    this.keepInput = section.keep_input;
    this.dropInput = section.drop_input;
  }

  get rules(): readonly RuleAggregator[] {
    return this.ruleList;
  }

  get dedupItems(): number {
    return this.dedup?.size ?? 0;
  }

  /** Reads the saved state (if any) and starts the timers. */
  async open(): Promise<void> {
    this.log.info(this.rules.length > 0 ? 'stream aggregation' : 'deduplication of every sample', {
      rules: this.rules.length,
      ...(this.section.config ? { file: this.section.config } : {}),
      ...(this.section.dedup_interval > 0 ? { dedup_interval_ms: this.section.dedup_interval } : {}),
      ...(this.opts.stateFile ? { state: this.opts.stateFile } : {}),
    });
    if (this.opts.stateFile) await this.restore(this.opts.stateFile);
    if (this.opts.metrics) this.detachMetrics = this.opts.metrics.attach(this);
    if (this.opts.timers !== false) {
      this.schedule();
      if (this.opts.stateFile) {
        this.stateTimer = setInterval(() => void this.writeState(), this.section.state_write_interval);
        this.stateTimer.unref();
      }
    }
  }

  /**
   * The samples of `batch` that go on unaggregated, in `pass` (reset first) — or `batch`
   * itself when the rules take none of it.
   */
  process(batch: SampleBatch, pass: SampleBatch): SampleBatch {
    if (this.closed || batch.length === 0) return batch;
    if (this.dedup) {
      this.dedup.add(batch);
      pass.reset();
      return pass;
    }
    const rules = this.rules;
    const n = rules.length;
    const now = this.now();
    for (let k = 0; k < n; k++) rules[k].begin(now);
    // copied into `pass` only from the first sample that does not go on
    let copying = false;
    const width = this.routeWidth;
    const routeAt = this.routeAt;
    const seq = this.sequenceOf(batch);
    for (let i = 0; i < batch.length; i++) {
      const labels = batch.series[i];
      let si: number | undefined;
      if (seq.labels[i] === labels && this.seriesGen[(si = seq.index[i])] === seq.gen[i]) {
        // the same series at the same place as last time (and not forgotten since)
      } else {
        const key = labels.key;
        si = this.seriesIndex.get(key) ?? this.addSeries(key, labels);
        seq.labels[i] = labels;
        seq.index[i] = si;
        seq.gen[i] = this.seriesGen[si];
      }
      this.lastSeen[si] = now;
      const routes = this.routes;
      const base = si * width;
      let matched = false;
      for (let k = 0; k < n; k++) {
        const at = base + routeAt[k];
        if (routes[at] === NO_MATCH || (routes[at] === UNRESOLVED && !rules[k].resolve(labels, routes, at, si))) continue;
        matched = true;
        rules[k].push(labels, routes, at, batch, i);
      }
      const goesOn = matched ? this.keepInput : !this.dropInput;
      if (goesOn) {
        if (copying) pass.appendFrom(batch, i, labels);
      } else if (!copying) {
        copying = true;
        pass.reset();
        for (let j = 0; j < i; j++) pass.appendFrom(batch, j, batch.series[j]);
      }
    }
    return copying ? pass : batch;
  }

  private sequenceOf(batch: SampleBatch): Sequence {
    const first = batch.series[0];
    let seq = this.sequences.get(first);
    if (seq === undefined || seq.index.length < batch.length) {
      const index = new Int32Array(batch.length);
      const gen = new Int32Array(batch.length);
      if (seq) {
        index.set(seq.index);
        gen.set(seq.gen);
      }
      seq = { labels: seq?.labels ?? [], index, gen };
      this.sequences.set(first, seq);
    }
    if (seq.labels.length > batch.length) seq.labels.length = batch.length;
    return seq;
  }

  keyAt(si: number): string | undefined {
    return this.seriesKeys[si];
  }

  indexFor(key: string): number {
    const found = this.seriesIndex.get(key);
    if (found !== undefined) return found;
    const si = this.takeIndex(key);
    this.routes.fill(UNRESOLVED, si * this.routeWidth, (si + 1) * this.routeWidth);
    this.lastSeen[si] = this.now();
    return si;
  }

  private addSeries(key: string, labels: Labels): number {
    const si = this.takeIndex(key);
    const base = si * this.routeWidth;
    const kv = labels.kvTransient;
    for (let k = 0; k < this.ruleList.length; k++) this.ruleList[k].resolve(labels, this.routes, base + this.routeAt[k], si, kv);
    return si;
  }

  private takeIndex(key: string): number {
    let si = this.seriesFree.pop();
    if (si === undefined) {
      si = this.seriesUsed++;
      if (si >= this.seriesCap) {
        const cap = Math.max(256, this.seriesCap * 2);
        const routes = new Int32Array(cap * this.routeWidth);
        routes.set(this.routes);
        const seen = new Float64Array(cap);
        seen.set(this.lastSeen);
        const gen = new Int32Array(cap);
        gen.set(this.seriesGen);
        this.routes = routes;
        this.lastSeen = seen;
        this.seriesGen = gen;
        this.seriesKeys.length = cap;
        this.seriesCap = cap;
      }
    }
    this.seriesIndex.set(key, si);
    this.seriesKeys[si] = key;
    return si;
  }

  /** Forgets the series not seen for the longest staleness_interval of the rules. */
  private forget(now: number): void {
    if (now < this.nextForget) return;
    this.nextForget = now + Math.min(this.forgetAfter, 60_000);
    for (let si = 0; si < this.seriesUsed; si++) {
      const key = this.seriesKeys[si];
      if (key === undefined || this.lastSeen[si] + this.forgetAfter >= now) continue;
      this.seriesIndex.delete(key);
      this.seriesKeys[si] = undefined;
      this.seriesGen[si]++;
      for (const r of this.ruleList) r.release(si);
      this.seriesFree.push(si);
    }
  }

  /** Runs what is due at `now` (the timer calls it; tests call it with their clock). */
  advance(now = this.now()): void {
    const out = this.out;
    out.reset();
    this.dedup?.advance(now, out);
    for (const r of this.rules) {
      if (now < r.nextDue) continue;
      const started = performance.now();
      const flushing = now >= r.nextFlush;
      r.advance(now, out);
      if (flushing && this.opts.metrics) {
        this.opts.metrics.flushDuration.labels(...this.opts.metrics.ruleLabels(this.scope, r, this.rules.indexOf(r))).observe((performance.now() - started) / 1000);
      }
    }
    if (this.rules.length > 0) this.forget(now);
    if (this.opts.metrics) this.opts.metrics.syncSection(this);
    if (out.length > 0) this.opts.emit(out);
  }

  private schedule(): void {
    if (this.closed) return;
    let next = this.dedup?.next ?? Infinity;
    for (const r of this.rules) next = Math.min(next, r.nextDue);
    if (next === Infinity) return;
    this.timer = setTimeout(
      () => {
        try {
          this.advance();
        } catch (err) {
          this.log.error('stream aggregation flush failed', { err: err as Error });
        }
        this.schedule();
      },
      Math.max(0, next - this.now()),
    );
    this.timer.unref();
  }

  /**
   * Stops: the rules with `flush_on_shutdown` flush the interval under way, then the state is
   * written. Without a state file (or when it cannot be written) the deduplicator's samples
   * are passed on now instead.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.stateTimer);
    await this.writing;
    const now = this.now();
    const out = this.out;
    out.reset();
    for (const r of this.rules) r.shutdown(now, out);
    let saved = false;
    if (this.opts.stateFile) saved = await this.write(this.opts.stateFile);
    if (!saved && this.dedup) this.dedup.drain(out);
    if (!saved && this.rules.length > 0) this.log.warn('stopping without a saved aggregation state: the intervals under way are lost');
    this.opts.metrics?.syncSection(this);
    this.detachMetrics();
    if (out.length > 0) this.opts.emit(out);
  }

  /** Writes the state now (one write at a time; the timer's and a stop's). */
  async writeState(): Promise<void> {
    if (!this.opts.stateFile || this.writing) return this.writing;
    this.writing = this.write(this.opts.stateFile).then(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private journalFile(id: string, gen: number): string {
    return `${this.opts.stateFile}.${id}.${gen}.keys`;
  }

  /**
   * The state file: magic and time, then each rule as a section of its own (its length first,
   * so one no longer configured is skipped: its id, its key journal's generation and record
   * count, its state), the deduplicator's samples, and a CRC-32 of all before it. Each rule's
   * section is taken in one synchronous step (the state of one moment; rules are independent)
   * and written before the next is taken, so the buffer holds one rule's state, not all. A
   * rule's key records since the last write (or all of them, for a journal started afresh) are
   * appended to its journal and synced first; the state replaces the last one by a rename, so it
   * never refers to a record not on disk and a crash leaves the last whole state.
   */
  private async write(file: string): Promise<boolean> {
    const tmp = `${file}.tmp`;
    const taken: RuleAggregator[] = [];
    let fresh = false;
    let size = 0;
    try {
      await mkdir(dirname(file), { recursive: true });
      const fh = await openFile(tmp, 'w', 0o600);
      try {
        let crc = 0;
        const w = this.stateWriter;
        const put = async () => {
          const bytes = w.bytes();
          crc = crc32(bytes, crc);
          size += bytes.length;
          await fh.write(bytes);
        };
        w.reset().u32(MAGIC);
        w.f64(this.now());
        w.u32(this.rules.length);
        await put();
        for (const r of this.rules) {
          const keys = r.takeKeys();
          taken.push(r);
          let gen = this.journalGen.get(r.id) ?? 0;
          if (keys.full) this.journalGen.set(r.id, ++gen);
          w.reset().u32(0);
          w.latin1(r.id);
          w.u32(gen);
          w.u32(keys.count);
          r.save(w, this.now());
          w.patchU32(0, w.length - 4);
          const journal = this.journalFile(r.id, gen);
          if (keys.full) {
            fresh = true;
            await writeRecords(`${journal}.tmp`, keys.records, 'w');
            await rename(`${journal}.tmp`, journal);
          } else if (keys.records.length > 0) {
            await writeRecords(journal, keys.records, 'a');
          }
          await put();
        }
        w.reset();
        if (this.dedup) this.dedup.save(w);
        else w.u32(0);
        await put();
        w.reset().u32(crc);
        await fh.write(w.bytes());
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      if (fresh) await this.removeOldJournals(file);
      this.opts.metrics?.stateWrites.labels(this.scope, 'ok').inc();
      this.opts.metrics?.stateBytes.labels(this.scope).set(size + 4);
      if (this.writeFailing) this.log.info('the aggregation state is written again', { file });
      this.writeFailing = false;
      return true;
    } catch (err) {
      // what was taken for the journals may not be on disk: each starts afresh next time
      for (const r of taken) r.journalFailed();
      this.opts.metrics?.stateWrites.labels(this.scope, 'error').inc();
      if (!this.writeFailing) this.log.error('cannot write the aggregation state; the last one written stays (a restart goes back to it)', { file, err: err as Error });
      this.writeFailing = true;
      await rm(tmp, { force: true }).catch(() => {});
      return false;
    }
  }

  private async removeOldJournals(file: string): Promise<void> {
    const current = new Set(this.rules.map((r) => basename(this.journalFile(r.id, this.journalGen.get(r.id) ?? 0))));
    const prefix = `${basename(file)}.`;
    for (const name of await readdir(dirname(file)).catch(() => [] as string[])) {
      if (name.startsWith(prefix) && name.endsWith('.keys') && !current.has(name)) await rm(join(dirname(file), name), { force: true }).catch(() => {});
    }
  }

  private async restore(file: string): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error('cannot read the aggregation state; starting afresh', { file, err: err as Error });
      return;
    }
    const now = this.now();
    const byId = new Map(this.rules.map((r) => [r.id, r]));
    let restored = 0;
    let others = 0;
    let savedAt = 0;
    try {
      if (bytes.length < 20) throw new Error(`${bytes.length} bytes: too short (empty or cut)`);
      if (crc32(bytes.subarray(0, bytes.length - 4)) !== bytes.readUInt32LE(bytes.length - 4)) throw new Error('checksum mismatch (a torn or damaged file)');
      const r = new StateReader(bytes.subarray(0, bytes.length - 4));
      if (r.u32() !== MAGIC) throw new Error('not a state file of this version');
      savedAt = r.f64();
      for (let n = r.u32(), i = 0; i < n; i++) {
        const section = r.section(r.u32());
        const rule = byId.get(section.latin1());
        const gen = section.u32();
        const count = section.u32();
        if (rule === undefined) {
          others++;
          continue;
        }
        this.journalGen.set(rule.id, gen);
        try {
          const journal = this.journalFile(rule.id, gen);
          let keys: KeyIndex;
          try {
            keys = decodeKeyRecords(await readFile(journal), count);
          } catch (err) {
            throw new Error(`its key journal ${journal}: ${(err as Error).message}`);
          }
          rule.load(section, keys, now);
          restored++;
        } catch (err) {
          // a rule half loaded is replaced by a fresh one: its state is lost, the others' not
          this.ruleList[this.ruleList.indexOf(rule)] = new RuleAggregator(rule.rule, this.section, now, this);
          this.log.error('the aggregation state of a rule cannot be read; it starts afresh', { file, rule: rule.rule.name ?? rule.id, err: err as Error });
        }
      }
      if (this.dedup) this.dedup.load(r);
    } catch (err) {
      this.log.error('the aggregation state file is damaged; starting afresh', { file, err: err as Error });
      return;
    }
    this.log.info('aggregation state restored', {
      file,
      rules: restored,
      saved_ago_s: Math.round((now - savedAt) / 1000),
      // a rule whose configuration changed has another id: its old state is one of these
      ...(others > 0 ? { saved_rules_changed_or_removed: others } : {}),
      ...(this.dedup ? { dedup_samples: this.dedup.size } : {}),
    });
  }
}

/** A journal's records are written in pieces of about this size: the buffer stays small. */
const JOURNAL_CHUNK = 256 * 1024;

/** Key journal records — kind (0 input series, 1 group), index, the packed label set — written and synced. */
async function writeRecords(file: string, records: KeyRecords, flags: 'w' | 'a'): Promise<void> {
  const fh = await openFile(file, flags, 0o600);
  try {
    const w = new StateWriter(JOURNAL_CHUNK);
    for (let i = 0; i < records.length; i++) {
      w.u32(records.refs[i] & 1);
      w.u32(records.refs[i] >>> 1);
      w.latin1(records.keys[i]);
      if (w.length >= (JOURNAL_CHUNK * 3) / 4) {
        await fh.write(w.bytes());
        w.reset();
      }
    }
    if (w.length > 0) await fh.write(w.bytes());
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** The first `count` records of a journal (a later, torn tail is not read); the last record of an index wins. */
function decodeKeyRecords(bytes: Buffer, count: number): KeyIndex {
  const r = new StateReader(bytes);
  const slots = new Map<number, string>();
  const groups = new Map<number, string>();
  for (let i = 0; i < count; i++) {
    const group = r.u32() === 1;
    const index = r.u32();
    (group ? groups : slots).set(index, r.latin1());
  }
  return { slots, groups };
}
