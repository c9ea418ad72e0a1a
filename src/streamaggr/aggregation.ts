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

import { mkdir, open as openFile, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StreamAggrConfig } from '../config/stream-aggr.js';
import type { Logger } from '../log/logger.js';
import type { Labels } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import { Deduplicator, type SavedDedup } from './dedup.js';
import type { StreamAggrMetrics } from './metrics.js';
import { RuleAggregator, type Route, type SavedRule } from './rule.js';

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

interface SavedState {
  version: 1;
  savedAt: number;
  rules: SavedRule[];
  dedup: SavedDedup;
}

export class StreamAggregation {
  readonly scope: string;
  readonly rules: readonly RuleAggregator[];
  private readonly dedup: Deduplicator | undefined;
  private readonly routes = new WeakMap<Labels, Route>();
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
  private closed = false;

  constructor(
    readonly section: StreamAggrConfig,
    private readonly opts: StreamAggregationOptions,
  ) {
    this.scope = opts.scope;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ stream_aggr: opts.scope });
    const now = this.now();
    this.rules = section.rules.map((r) => new RuleAggregator(r, section, now));
    this.dedup = this.rules.length === 0 && section.dedup_interval > 0 ? new Deduplicator(section.dedup_interval, now) : undefined;
    this.keepInput = section.keep_input;
    this.dropInput = section.drop_input;
  }

  get dedupItems(): number {
    return this.dedup?.size ?? 0;
  }

  /** Reads the saved state (if any) and starts the timers. */
  async open(): Promise<void> {
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
    if (this.closed) return batch;
    if (this.dedup) {
      this.dedup.add(batch);
      pass.reset();
      return pass;
    }
    const rules = this.rules;
    const n = rules.length;
    const now = this.now();
    // copied into `pass` only from the first sample that does not go on
    let copying = false;
    for (let i = 0; i < batch.length; i++) {
      const labels = batch.series[i];
      let route = this.routes.get(labels);
      if (route === undefined) {
        route = new Array(3 * n);
        for (let k = 0; k < n; k++) rules[k].resolve(labels, route, k);
        this.routes.set(labels, route);
      }
      let matched = false;
      for (let k = 0; k < n; k++) {
        if (route[3 * k] === null) continue;
        matched = true;
        rules[k].push(labels, route, k, batch.values[i], batch.timestamps[i], batch.isStale(i), now);
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

  private snapshot(): SavedState {
    const now = this.now();
    return { version: 1, savedAt: now, rules: this.rules.map((r) => r.save(now)), dedup: this.dedup?.save() ?? [] };
  }

  private async write(file: string): Promise<boolean> {
    const tmp = `${file}.tmp`;
    try {
      const body = JSON.stringify(this.snapshot());
      await mkdir(dirname(file), { recursive: true });
      const fh = await openFile(tmp, 'w', 0o600);
      try {
        await fh.writeFile(body);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      this.opts.metrics?.stateWrites.labels(this.scope, 'ok').inc();
      this.opts.metrics?.stateBytes.labels(this.scope).set(Buffer.byteLength(body));
      if (this.writeFailing) this.log.info('the aggregation state is written again', { file });
      this.writeFailing = false;
      return true;
    } catch (err) {
      this.opts.metrics?.stateWrites.labels(this.scope, 'error').inc();
      if (!this.writeFailing) this.log.error('cannot write the aggregation state; the last one written stays (a restart goes back to it)', { file, err: err as Error });
      this.writeFailing = true;
      await rm(tmp, { force: true }).catch(() => {});
      return false;
    }
  }

  private async restore(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error('cannot read the aggregation state; starting afresh', { file, err: err as Error });
      return;
    }
    let state: SavedState;
    try {
      state = JSON.parse(text) as SavedState;
      if (state.version !== 1 || !Array.isArray(state.rules)) throw new Error('not a state file of this version');
    } catch (err) {
      this.log.error('the aggregation state file is damaged; starting afresh', { file, err: err as Error });
      return;
    }
    const now = this.now();
    const byId = new Map(state.rules.map((r) => [r.id, r]));
    let restored = 0;
    for (const r of this.rules) {
      const saved = byId.get(r.id);
      if (saved === undefined) continue;
      r.load(saved, now);
      restored++;
    }
    if (this.dedup && state.dedup.length > 0) this.dedup.load(state.dedup);
    const dropped = state.rules.length - restored;
    this.log.info('aggregation state restored', {
      file,
      rules: restored,
      saved_ago_s: Math.round((now - state.savedAt) / 1000),
      ...(dropped > 0 ? { rules_not_configured_any_more: dropped } : {}),
      ...(this.dedup ? { dedup_samples: this.dedup.size } : {}),
    });
  }
}
