/**
 * One stream aggregation rule at work: which series it takes (`match` on the labels as they
 * come, then `drop_input_labels` and `input_relabel_configs`), the output group each goes to
 * (`by` / `without`, `__name__` always kept), the state of its outputs per group, and the
 * per-input-series columns the counter outputs, `count_series` and deduplication need (last
 * value and timestamp, rate window, pending deduplicated sample). A flush emits each group's
 * outputs at the interval's end, named `<metric>:<interval>[_by_…][_without_…]_<output>` as
 * vmagent names them, then forgets the series and groups not seen for `staleness_interval`.
 *
 * Time: samples go to the interval they arrive in (stream aggregation ignores their
 * timestamps, as vmagent's); timestamps matter for deduplication, `last`, counter order and
 * `ignore_old_samples`. Intervals are aligned to multiples of `interval` unless
 * `no_align_flush_to_interval`, and an output's timestamp is its interval's end. Nothing here
 * reads the clock or sets a timer: the owner calls `advance(now)`.
 *
 * State the rule's owner writes to disk is `save()`'s; `load()` takes it back so a restart
 * neither loses the counts of the interval under way nor sees a false counter reset.
 */

import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import type { StreamAggrConfig, StreamAggrRule } from '../config/stream-aggr.js';
import { parseOutput } from '../config/stream-aggr-outputs.js';
import { Labels, LabelsBuilder, METRIC_NAME } from '../model/labels.js';
import { unpackLabels } from '../model/labels-packed.js';
import type { SampleBatch } from '../model/samples.js';
import { CachedRelabeler, Relabeler, SeriesSelector, type LabelsProcessor } from '../relabel/index.js';
import { outputKind, RateState, type OutputKind, type OutputState, type SampleContext } from './outputs.js';

/** What the rule counts, for its self-metrics. */
export interface RuleStats {
  matched: number;
  output: number;
  ignoredNaN: number;
  ignoredOld: number;
  outOfOrder: number;
}

/**
 * A series' place in a rule, kept by the caller per incoming label set: `[group, slot, gen]`
 * at `3·k` for rule k. group `null`: the rule does not match; `false`: it matched but input
 * relabeling dropped the series (consumed, not aggregated).
 */
export type Route = (Group | null | false | number)[];

export class Group {
  dead = false;
  deadline = 0;
  readonly states: OutputState[];
  /** Per output: its label set, or per extra label value (quantile, vmrange) one. */
  readonly names: (Labels | Map<string, Labels> | undefined)[];

  constructor(
    readonly key: string,
    /** The output labels before the name changes: the `by` labels, or all but `without`. */
    readonly labels: Labels,
    kinds: readonly OutputKind[],
  ) {
    this.states = kinds.map((k) => k.create());
    this.names = kinds.map(() => undefined);
  }
}

const INITIAL_SLOTS = 64;

export class RuleAggregator {
  readonly id: string;
  readonly intervalMs: number;
  readonly dedupMs: number;
  readonly stalenessMs: number;
  readonly flushOnShutdown: boolean;
  readonly outputs: string;
  readonly stats: RuleStats = { matched: 0, output: 0, ignoredNaN: 0, ignoredOld: 0, outOfOrder: 0 };
  /** Start of the interval under way. */
  windowStart: number;
  private nextDedup: number;
  /** Flushes still to be computed but not emitted (ignore_first_intervals, a partial first interval). */
  private skip: number;
  /** First samples of new series count toward `total`/`increase` from this time on. */
  private keepFirstFrom: number;

  private readonly selectors: readonly SeriesSelector[];
  private readonly drop: readonly string[];
  private readonly inputRelabel: LabelsProcessor | undefined;
  private readonly outputRelabel: LabelsProcessor | undefined;
  private readonly kinds: readonly OutputKind[];
  private readonly suffixes: readonly string[];
  private readonly by: ReadonlySet<string> | undefined;
  private readonly without: ReadonlySet<string> | undefined;
  private readonly keepNames: boolean;
  private readonly ignoreOld: boolean;
  private readonly perInput: boolean;
  private readonly counters: boolean;
  private readonly rates: boolean;
  private readonly align: boolean;
  private readonly groups = new Map<string, Group>();
  private readonly lb = new LabelsBuilder();
  private readonly ctx: SampleContext = { deltaFromZero: NaN, deltaPrometheus: NaN, firstInInterval: false };

  // per input series, in columns (a slot per series; freed slots are reused, `gen` tells a
  // route to a freed slot from one to its new owner)
  private cap = 0;
  private used = 0;
  private live = 0;
  private readonly free: number[] = [];
  private readonly byKey = new Map<string, number>();
  private slotKey: (string | undefined)[] = [];
  private slotGroup: (Group | undefined)[] = [];
  private gen = new Int32Array(0);
  private lastValue = new Float64Array(0);
  private lastTs = new Float64Array(0);
  private seenAt = new Float64Array(0);
  private counted = new Float64Array(0);
  private rateStart = new Float64Array(0);
  private rateInc = new Float64Array(0);
  private dedupValue = new Float64Array(0);
  private dedupTs = new Float64Array(0);

  constructor(
    readonly rule: StreamAggrRule,
    section: Pick<StreamAggrConfig, 'dedup_interval' | 'ignore_old_samples' | 'ignore_first_intervals' | 'drop_input_labels'>,
    now: number,
  ) {
    this.intervalMs = parseDuration(rule.interval);
    this.dedupMs = rule.dedup_interval ?? section.dedup_interval;
    this.stalenessMs = rule.staleness_interval ?? 2 * this.intervalMs;
    this.flushOnShutdown = rule.flush_on_shutdown;
    this.align = !rule.no_align_flush_to_interval;
    this.ignoreOld = rule.ignore_old_samples ?? section.ignore_old_samples;
    this.keepNames = rule.keep_metric_names;
    const match = typeof rule.match === 'string' ? [rule.match] : (rule.match ?? []);
    this.selectors = match.map((m) => SeriesSelector.parse(m));
    this.drop = rule.drop_input_labels ?? section.drop_input_labels;
    this.inputRelabel = rule.input_relabel_configs.length > 0 ? Relabeler.compile(rule.input_relabel_configs) : undefined;
    this.outputRelabel = rule.output_relabel_configs.length > 0 ? new CachedRelabeler(Relabeler.compile(rule.output_relabel_configs)) : undefined;
    const specs = rule.outputs.map(parseOutput);
    this.kinds = specs.map(outputKind);
    this.outputs = specs.map((s) => (s.kind === 'quantiles' ? s.text : s.kind)).join(',');
    if (rule.by.length > 0) this.by = new Set([METRIC_NAME, ...rule.by]);
    // `without: [__name__]` does drop the name: the outputs are then called `:<interval>_<output>`
    else if (rule.without.length > 0) this.without = new Set(rule.without);
    const named = (list: readonly string[]) => [...new Set(list)].filter((n) => n !== METRIC_NAME).sort();
    let suffix = `:${rule.interval}`;
    if (named(rule.by).length > 0) suffix += `_by_${named(rule.by).join('_')}`;
    if (named(rule.without).length > 0) suffix += `_without_${named(rule.without).join('_')}`;
    this.suffixes = this.kinds.map((k) => `${suffix}_${k.suffix}`);
    this.counters = this.kinds.some((k) => k.counter === true);
    this.rates = this.kinds.some((k) => k.rate);
    this.perInput = this.dedupMs > 0 || this.kinds.some((k) => k.perInput);
    // the rule and what it inherits from its section: a state saved under another id is not this rule's
    const effective = { ...rule, dedup_interval: this.dedupMs, ignore_old_samples: this.ignoreOld, drop_input_labels: this.drop };
    this.id = createHash('sha256').update(JSON.stringify(effective)).digest('hex').slice(0, 16);
    this.windowStart = this.align ? Math.floor(now / this.intervalMs) * this.intervalMs : now;
    this.nextDedup = this.dedupMs > 0 ? this.dedupBoundaryAfter(now) : Infinity;
    const ignoreFirst = rule.ignore_first_intervals ?? section.ignore_first_intervals;
    // vmagent drops the partial first interval of an aligned rule unless flush_on_shutdown
    this.skip = ignoreFirst + (this.align && !this.flushOnShutdown ? 1 : 0);
    this.keepFirstFrom = now + (rule.ignore_first_sample_interval ?? this.stalenessMs);
  }

  /** When the interval under way ends. */
  get nextFlush(): number {
    return this.windowStart + this.intervalMs;
  }

  /** The earliest time `advance` has something to do. */
  get nextDue(): number {
    return Math.min(this.nextFlush, this.nextDedup);
  }

  get inputSeries(): number {
    return this.live;
  }

  get outputSeries(): number {
    return this.groups.size;
  }

  /** Fills `route[3k…3k+2]` for `labels`; false when the rule does not match them. */
  resolve(labels: Labels, route: Route, k: number): boolean {
    const at = 3 * k;
    if (this.selectors.length > 0 && !this.selectors.some((s) => s.matches((n) => labels.get(n)))) {
      route[at] = null;
      return false;
    }
    let input: Labels | undefined = this.drop.length > 0 ? labels.without(...this.drop) : labels;
    if (this.inputRelabel) input = this.inputRelabel.process(input);
    if (input === undefined || input.size === 0) {
      route[at] = false;
      return true;
    }
    const out = this.outputLabels(input);
    let group = this.groups.get(out.key);
    if (group === undefined) {
      group = new Group(out.key, out, this.kinds);
      this.groups.set(group.key, group);
    }
    route[at] = group;
    if (this.perInput) {
      const slot = this.slotFor(input.key, group);
      route[at + 1] = slot;
      route[at + 2] = this.gen[slot];
    } else {
      route[at + 1] = -1;
    }
    return true;
  }

  /**
   * One sample of a series resolved into `route`; `raw` is its label set as it came (to
   * resolve again when its group or slot went stale meanwhile).
   */
  push(raw: Labels, route: Route, k: number, v: number, ts: number, stale: boolean, now: number): void {
    const at = 3 * k;
    let group = route[at] as Group | false;
    if (group === false) return;
    let slot = route[at + 1] as number;
    if (group.dead || (slot >= 0 && this.gen[slot] !== route[at + 2])) {
      this.resolve(raw, route, k);
      group = route[at] as Group | false;
      if (group === false) return;
      slot = route[at + 1] as number;
    }
    this.stats.matched++;
    if (stale || v !== v) {
      this.stats.ignoredNaN++;
      return;
    }
    if (this.ignoreOld && ts < this.windowStart) {
      this.stats.ignoredOld++;
      return;
    }
    group.deadline = now + this.stalenessMs;
    if (this.dedupMs > 0) {
      this.seenAt[slot] = now;
      const pts = this.dedupTs[slot];
      // VictoriaMetrics' choice among duplicates: the latest timestamp, then the larger value
      if (pts !== pts || ts > pts || (ts === pts && v > this.dedupValue[slot])) {
        this.dedupTs[slot] = ts;
        this.dedupValue[slot] = v;
      }
      return;
    }
    this.aggregate(group, slot, v, ts, now);
  }

  private aggregate(group: Group, slot: number, v: number, ts: number, now: number): void {
    const c = this.ctx;
    c.deltaFromZero = NaN;
    c.deltaPrometheus = NaN;
    c.firstInInterval = false;
    if (slot >= 0) {
      this.seenAt[slot] = now;
      if (this.counted[slot] !== this.windowStart) {
        this.counted[slot] = this.windowStart;
        c.firstInInterval = true;
      }
      if (this.counters) {
        const lt = this.lastTs[slot];
        if (lt !== lt) {
          // a new series: counted from 0 by total/increase once the start's grace is over
          if (now >= this.keepFirstFrom) c.deltaFromZero = v;
          this.lastValue[slot] = v;
          this.lastTs[slot] = ts;
          this.rateStart[slot] = ts;
        } else if (ts < lt) {
          this.stats.outOfOrder++;
        } else {
          const last = this.lastValue[slot];
          const d = v >= last ? v - last : v;
          c.deltaFromZero = d;
          c.deltaPrometheus = d;
          this.rateInc[slot] += d;
          this.lastValue[slot] = v;
          this.lastTs[slot] = ts;
        }
      }
    }
    const states = group.states;
    for (let i = 0; i < states.length; i++) states[i].add(v, ts, c);
  }

  /**
   * Does what is due at `now`: deduplicated samples into the outputs, and at an interval's end
   * the flush, its samples appended to `out` with the interval's end as timestamp.
   */
  advance(now: number, out: SampleBatch): void {
    if (now >= this.nextDedup) {
      this.flushDedup(now);
      this.nextDedup = this.dedupBoundaryAfter(now);
    }
    if (now >= this.nextFlush) {
      const end = this.nextFlush;
      this.flush(end, now, out, this.skip === 0);
      if (this.skip > 0) this.skip--;
      // an interval missed (the process was stopped, the loop blocked) is not made up
      this.windowStart = end + Math.floor((now - end) / this.intervalMs) * this.intervalMs;
    }
  }

  /** At a stop: the interval under way, flushed now when `flush_on_shutdown` (else kept in the state). */
  shutdown(now: number, out: SampleBatch): void {
    if (!this.flushOnShutdown) return;
    this.flushDedup(now);
    this.flush(now, now, out, this.skip === 0);
    this.windowStart = now;
  }

  private flushDedup(now: number): void {
    if (this.dedupMs <= 0) return;
    for (let s = 0; s < this.used; s++) {
      const ts = this.dedupTs[s];
      if (ts !== ts) continue;
      const group = this.slotGroup[s];
      this.dedupTs[s] = NaN;
      if (group === undefined || this.slotKey[s] === undefined) continue;
      if (group.dead) continue;
      this.aggregate(group, s, this.dedupValue[s], ts, now);
    }
  }

  private flush(end: number, now: number, out: SampleBatch, emit: boolean): void {
    if (this.rates) this.ratePass();
    const before = out.length;
    for (const group of this.groups.values()) {
      if (now > group.deadline) {
        group.dead = true;
        this.groups.delete(group.key);
        continue;
      }
      const states = group.states;
      for (let k = 0; k < states.length; k++) {
        const st = states[k];
        if (!emit) {
          st.flush(() => {});
          continue;
        }
        st.flush((value, label, labelValue) => {
          let labels: Labels | undefined = this.outputName(group, k, label, labelValue);
          if (this.outputRelabel) labels = this.outputRelabel.process(labels);
          if (labels !== undefined) out.append(labels, value, end);
        });
      }
    }
    this.stats.output += out.length - before;
    this.sweepSlots(now);
  }

  /** Each input series' rate since its last sample of the interval before, into its group's rate outputs. */
  private ratePass(): void {
    for (let s = 0; s < this.used; s++) {
      const group = this.slotGroup[s];
      if (group === undefined || group.dead || this.slotKey[s] === undefined) continue;
      const start = this.rateStart[s];
      const last = this.lastTs[s];
      if (start === start && last > start) {
        const rate = this.rateInc[s] / ((last - start) / 1000);
        for (const st of group.states) {
          if (st instanceof RateState) {
            st.sum += rate;
            st.series++;
          }
        }
      }
      if (last === last) this.rateStart[s] = last;
      this.rateInc[s] = 0;
    }
  }

  private outputName(group: Group, k: number, label: string | undefined, labelValue: string | undefined): Labels {
    const cached = group.names[k];
    if (label === undefined) {
      if (cached instanceof Labels) return cached;
      const l = this.named(group, k).build();
      group.names[k] = l;
      return l;
    }
    let byValue = cached as Map<string, Labels> | undefined;
    if (byValue === undefined) group.names[k] = byValue = new Map();
    let l = byValue.get(labelValue!);
    if (l === undefined) {
      l = this.named(group, k).set(label, labelValue!).build();
      byValue.set(labelValue!, l);
    }
    return l;
  }

  private named(group: Group, k: number): LabelsBuilder {
    const lb = this.lb.reset(group.labels);
    if (!this.keepNames) lb.set(METRIC_NAME, (group.labels.get(METRIC_NAME) ?? '') + this.suffixes[k]);
    return lb;
  }

  private outputLabels(input: Labels): Labels {
    if (this.by === undefined && this.without === undefined) return input;
    const lb = this.lb.reset();
    for (let i = 0; i < input.size; i++) {
      const n = input.name(i);
      if (this.by ? this.by.has(n) : !this.without!.has(n)) lb.set(n, input.value(i));
    }
    return lb.build();
  }

  private slotFor(key: string, group: Group): number {
    let s = this.byKey.get(key);
    if (s === undefined) {
      s = this.free.pop() ?? this.used++;
      if (s >= this.cap) this.grow(Math.max(INITIAL_SLOTS, this.cap * 2));
      this.byKey.set(key, s);
      this.slotKey[s] = key;
      this.gen[s]++;
      this.lastTs[s] = NaN;
      this.lastValue[s] = 0;
      this.seenAt[s] = 0;
      this.counted[s] = NaN;
      this.rateStart[s] = NaN;
      this.rateInc[s] = 0;
      this.dedupTs[s] = NaN;
      this.live++;
    }
    this.slotGroup[s] = group;
    return s;
  }

  private sweepSlots(now: number): void {
    for (let s = 0; s < this.used; s++) {
      const key = this.slotKey[s];
      if (key === undefined || this.seenAt[s] + this.stalenessMs >= now || this.dedupTs[s] === this.dedupTs[s]) continue;
      this.byKey.delete(key);
      this.slotKey[s] = undefined;
      this.slotGroup[s] = undefined;
      this.gen[s]++;
      this.free.push(s);
      this.live--;
    }
  }

  private grow(cap: number): void {
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const gen = new Int32Array(cap);
    gen.set(this.gen);
    this.gen = gen;
    this.lastValue = f64(this.lastValue);
    this.lastTs = f64(this.lastTs);
    this.seenAt = f64(this.seenAt);
    this.counted = f64(this.counted);
    this.rateStart = f64(this.rateStart);
    this.rateInc = f64(this.rateInc);
    this.dedupValue = f64(this.dedupValue);
    this.dedupTs = f64(this.dedupTs);
    this.slotKey.length = cap;
    this.slotGroup.length = cap;
    this.cap = cap;
  }

  private dedupBoundaryAfter(now: number): number {
    return this.align ? (Math.floor(now / this.dedupMs) + 1) * this.dedupMs : now + this.dedupMs;
  }

  /** The state to write to disk: JSON-ready, label sets in their packed form. */
  save(now: number): SavedRule {
    const groups: SavedGroup[] = [];
    const index = new Map<Group, number>();
    for (const g of this.groups.values()) {
      index.set(g, groups.length);
      groups.push([g.key, g.deadline, g.states.map((s) => s.save())]);
    }
    const slots: SavedSlot[] = [];
    for (let s = 0; s < this.used; s++) {
      const key = this.slotKey[s];
      const g = this.slotGroup[s];
      if (key === undefined || g === undefined || !index.has(g)) continue;
      slots.push([
        key,
        index.get(g)!,
        this.lastValue[s],
        nul(this.lastTs[s]),
        this.seenAt[s],
        nul(this.counted[s]),
        nul(this.rateStart[s]),
        this.rateInc[s],
        nul(this.dedupTs[s]),
        this.dedupValue[s],
      ]);
    }
    return { id: this.id, savedAt: now, windowStart: this.windowStart, skip: this.skip, groups, slots };
  }

  /**
   * Takes back a saved state (of this rule: same id). Saved within the interval under way, it
   * goes on as if never stopped; from an earlier interval, that interval is flushed at the next
   * `advance` (its own end as timestamp) and series not seen for staleness_interval are gone.
   * Either way the counters' last values carry over: no false reset, no first-sample grace.
   */
  load(saved: SavedRule, now: number): void {
    for (const [key, deadline, states] of saved.groups) {
      if (now > deadline) continue;
      const labels = Labels.fromSortedFlat(unpackLabels(key));
      const g = new Group(key, labels, this.kinds);
      g.deadline = deadline;
      states.forEach((s, k) => {
        if (k < g.states.length) g.states[k].load(s);
      });
      this.groups.set(key, g);
    }
    const groups = saved.groups.map(([key]) => this.groups.get(key));
    for (const [key, gi, lastValue, lastTs, seenAt, counted, rateStart, rateInc, dedupTs, dedupValue] of saved.slots) {
      const g = groups[gi];
      if (g === undefined || (seenAt + this.stalenessMs < now && dedupTs === null)) continue;
      const s = this.slotFor(key, g);
      this.lastValue[s] = lastValue;
      this.lastTs[s] = num(lastTs);
      this.seenAt[s] = seenAt;
      this.counted[s] = num(counted);
      this.rateStart[s] = num(rateStart);
      this.rateInc[s] = rateInc;
      this.dedupTs[s] = num(dedupTs);
      this.dedupValue[s] = dedupValue;
    }
    const current = this.align ? Math.floor(now / this.intervalMs) * this.intervalMs : now;
    if (saved.windowStart + this.intervalMs > current) {
      // still the interval the state was saved in: nothing of it is partial
      this.windowStart = saved.windowStart;
      this.skip = saved.skip;
    } else if (saved.windowStart + 2 * this.intervalMs > current) {
      // the interval just ended while stopped: flushed whole at the next advance
      this.windowStart = saved.windowStart;
      this.skip = saved.skip;
    }
    // a recent state knows every live series: one first seen now is new, not one seen before the stop
    if (saved.savedAt + this.stalenessMs >= now) this.keepFirstFrom = Math.min(this.keepFirstFrom, now);
  }
}

function nul(n: number): number | null {
  return n === n ? n : null;
}

function num(n: number | null): number {
  return n === null ? NaN : n;
}

/** [packed output labels, deadline, per output its state]. */
type SavedGroup = [string, number, unknown[]];
/** [packed input labels, group index, last value, last ts, seen at, counted in, rate start, rate increase, dedup ts, dedup value]. */
type SavedSlot = [string, number, number, number | null, number, number | null, number | null, number, number | null, number];

export interface SavedRule {
  id: string;
  savedAt: number;
  windowStart: number;
  skip: number;
  groups: SavedGroup[];
  slots: SavedSlot[];
}
