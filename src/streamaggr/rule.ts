/**
 * One stream aggregation rule at work: which series it takes (`match` on the labels as they
 * come, then `drop_input_labels` and `input_relabel_configs`), the output group each goes to
 * (`by` / `without`, `__name__` kept unless `without` names it), the state of its outputs per
 * group, and the per-input-series columns the counter outputs, `count_series` and
 * deduplication need (last value and timestamp, rate window, pending deduplicated sample). A
 * flush emits each group's outputs at the interval's end, named
 * `<metric>:<interval>[_by_…][_without_…]_<output>` as vmagent names them, then forgets the
 * series and groups not seen for `staleness_interval`.
 *
 * Time: samples go to the interval they arrive in (stream aggregation ignores their
 * timestamps, as vmagent's); timestamps matter for deduplication, `last`, counter order and
 * `ignore_old_samples`. Intervals are aligned to multiples of `interval` unless
 * `no_align_flush_to_interval`, and an output's timestamp is its interval's end. Nothing here
 * reads the clock or sets a timer: the owner calls `advance(now)`.
 *
 * `save` writes the rule's state in binary (state-codec.ts) and `load` takes it back, so a
 * restart neither loses the counts of the interval under way nor sees a false counter reset.
 */

import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import type { StreamAggrConfig, StreamAggrRule } from '../config/stream-aggr.js';
import { parseOutput } from '../config/stream-aggr-outputs.js';
import { Labels, LabelsBuilder, METRIC_NAME } from '../model/labels.js';
import { packLabels, unpackLabels } from '../model/labels-packed.js';
import type { SampleBatch } from '../model/samples.js';
import { CachedRelabeler, Relabeler, SeriesSelector, type LabelsProcessor } from '../relabel/index.js';
import { addRate, addSample, flushOutput, loadExtra, outputKind, saveExtra, type Emit, type OutputKind, type SampleContext } from './outputs.js';
import type { StateReader, StateWriter } from './state-codec.js';

/** What the rule counts, for its self-metrics. */
export interface RuleStats {
  matched: number;
  output: number;
  ignoredNaN: number;
  ignoredOld: number;
  outOfOrder: number;
}

/**
 * A series' place in a rule, kept by the caller per incoming series in an Int32Array of its
 * own: `routeWidth` numbers at `at` — its group's index and, if the rule keeps something per
 * input series, its input slot, each shifted left by 8 over the low 8 bits of its generation (a
 * group or slot freed since is told by its generation; a route lives no longer than a few
 * reuses, so 8 bits tell them apart). NO_MATCH: the rule does not match; DROPPED: it matched
 * but input relabeling dropped the series (consumed, not aggregated).
 */
/** A route restored from a state before its series came again: worked out at its next sample. */
export const UNRESOLVED = -3;

/**
 * The caller's table of incoming series (aggregation.ts), which rules whose input is the series
 * as it comes (no drop_input_labels, no input_relabel_configs) share: their input slot is the
 * series' index there, so they keep no index of their own.
 */
export interface SharedSeries {
  keyAt(index: number): string | undefined;
  /** The index of the series with this key, taken if none has it (a state being restored). */
  indexFor(key: string): number;
}
/** Groups and input series per rule fit in 23 bits beside their generation. */
const MAX_INDEX = 1 << 23;
export const NO_MATCH = -1;
const DROPPED = -2;

/** An output group: its labels (its numbers are in the rule's `gf`, its sets in `gx`). */
class Group {
  /** Per output: its label set, or per extra label value (quantile, vmrange) one. */
  readonly names: (Labels | Map<string, Labels> | undefined)[];

  constructor(
    readonly key: string,
    /** The output labels before the name changes: the `by` labels, or all but `without`. */
    readonly labels: Labels,
    readonly index: number,
    outputs: number,
  ) {
    this.names = new Array<Labels | Map<string, Labels> | undefined>(outputs);
  }
}

/**
 * Label sets the state file refers to by number: input slots' and groups'. The records go to a
 * journal beside the state file as series appear, so a state write carries only numbers (see
 * aggregation.ts). Columns, not an object per record: a journal started afresh holds every
 * live series until it is written.
 */
export class KeyRecords {
  /** Per record: the index × 2, + 1 for a group's. */
  readonly refs: number[] = [];
  readonly keys: string[] = [];

  push(group: boolean, index: number, key: string): void {
    this.refs.push(index * 2 + (group ? 1 : 0));
    this.keys.push(key);
  }

  get length(): number {
    return this.keys.length;
  }
}

/** The journal read back: index → label set, for slots and for groups. */
export interface KeyIndex {
  readonly slots: ReadonlyMap<number, string>;
  readonly groups: ReadonlyMap<number, string>;
}

const INITIAL_SLOTS = 64;
/** Per-input-series values, those the outputs need, side by side per series (one cache line, not one per column). */
const COLUMNS = ['seenAt', 'counted', 'lastValue', 'lastTs', 'rateStart', 'rateInc', 'dedupValue', 'dedupTs'] as const;
type Column = (typeof COLUMNS)[number];

export class RuleAggregator {
  readonly id: string;
  readonly intervalMs: number;
  readonly dedupMs: number;
  readonly stalenessMs: number;
  readonly flushOnShutdown: boolean;
  readonly stats: RuleStats = { matched: 0, output: 0, ignoredNaN: 0, ignoredOld: 0, outOfOrder: 0 };
  /** Start of the interval under way. */
  windowStart: number;
  private nextDedup: number;
  /** Flushes still to be computed but not emitted (ignore_first_intervals, a partial first interval). */
  private skip: number;
  /** First samples of new series count toward `total`/`increase` from this time on. */
  private keepFirstFrom: number;

  private readonly selectors: readonly SeriesSelector[];
  private readonly drop: ReadonlySet<string>;
  private readonly inputRelabel: LabelsProcessor | undefined;
  private readonly outputRelabel: LabelsProcessor | undefined;
  private readonly kinds: readonly OutputKind[];
  private readonly offsets: readonly number[];
  /** Where each output's scratch slots are (after all the saved ones). */
  private readonly scratchAt: readonly number[];
  private readonly groupSlots: number;
  /** The first slots of a group, the ones in the state. */
  private readonly savedSlots: number;
  /** Some output keeps more than numbers (sets, reservoirs, buckets), in `gx`. */
  private readonly hasExtra: boolean;
  private readonly suffixes: readonly string[];
  private readonly by: ReadonlySet<string> | undefined;
  private readonly without: ReadonlySet<string> | undefined;
  private readonly keepNames: boolean;
  private readonly ignoreOld: boolean;
  private readonly perInput: boolean;
  /** Numbers per route: the group's, and the input slot's when the rule keeps one. */
  readonly routeWidth: number;
  /** Input slots are the shared series table's indexes. */
  private readonly shared: boolean;
  private readonly counters: boolean;
  private readonly rates: boolean;
  /** Where each column sits in a series' record of `data` (-1: not kept). */
  private readonly at: Readonly<Record<Column, number>>;
  private readonly stride: number;
  private readonly align: boolean;
  private readonly groups = new Map<string, Group>();
  // per output group, by index: its numbers (`groupSlots` each, every output at its offset),
  // when it goes stale, its generation; freed indexes are reused
  private gCap = 0;
  private gUsed = 0;
  private readonly gFree: number[] = [];
  // by group index × outputs + output: the sets, reservoirs and buckets (outputs with `extra`)
  private gx: unknown[] = [];
  private gf = new Float64Array(0);
  private gDeadline = new Float64Array(0);
  private gGen = new Int32Array(0);
  private readonly lb = new LabelsBuilder();
  // The sample under way and the time, in fields rather than arguments: a double passed to a
  // call that is not inlined is boxed, an allocation per sample and rule.
  private readonly ctx: SampleContext = { v: NaN, ts: NaN, deltaFromZero: NaN, deltaPrometheus: NaN, firstInInterval: false };
  private clock = NaN;
  private readonly kvScratch: string[] = [];
  /** Key records not yet taken for the journal; none while a full rewrite is due. */
  private journal = new KeyRecords();
  /** Records in the journal file as of the last take. */
  private journalCount = 0;
  /** The next take writes every live key afresh (at start, after a failed write, when the journal grew). */
  private journalFull = true;

  // per input series a record of `stride` numbers in `data` (a slot per series; freed slots are
  // reused, `gen` tells a route to a freed slot from one to its new owner)
  private cap = 0;
  private used = 0;
  private live = 0;
  private readonly free: number[] = [];
  private readonly byKey = new Map<string, number>();
  private slotKey: (string | undefined)[] = [];
  /** Per slot, its group's index (-1: none). */
  private slotGroup = new Int32Array(0);
  private gen = new Int32Array(0);
  private data = new Float64Array(0);

  constructor(
    readonly rule: StreamAggrRule,
    section: Pick<StreamAggrConfig, 'dedup_interval' | 'ignore_old_samples' | 'ignore_first_intervals' | 'drop_input_labels'>,
    now: number,
    private readonly series?: SharedSeries,
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
    const drop = rule.drop_input_labels ?? section.drop_input_labels;
    this.drop = new Set(drop);
    this.inputRelabel = rule.input_relabel_configs.length > 0 ? Relabeler.compile(rule.input_relabel_configs) : undefined;
    this.outputRelabel = rule.output_relabel_configs.length > 0 ? new CachedRelabeler(Relabeler.compile(rule.output_relabel_configs)) : undefined;
    this.kinds = rule.outputs.map((o) => outputKind(parseOutput(o)));
    let offset = 0;
    this.offsets = this.kinds.map((k) => ((offset += k.slots), offset - k.slots));
    this.savedSlots = offset;
    this.scratchAt = this.kinds.map((k) => ((offset += k.scratch), offset - k.scratch));
    this.groupSlots = offset;
    this.hasExtra = this.kinds.some((k) => k.extra);
    if (rule.by.length > 0) this.by = new Set([METRIC_NAME, ...rule.by]);
    // `without: [__name__]` does drop the name: the outputs are then called `:<interval>_<output>`
    else if (rule.without.length > 0) this.without = new Set(rule.without);
    const named = (list: readonly string[]) => [...new Set(list)].filter((n) => n !== METRIC_NAME).sort();
    let suffix = `:${rule.interval}`;
    if (named(rule.by).length > 0) suffix += `_by_${named(rule.by).join('_')}`;
    if (named(rule.without).length > 0) suffix += `_without_${named(rule.without).join('_')}`;
    this.suffixes = this.kinds.map((k) => `${suffix}_${k.suffix}`);
    this.counters = this.kinds.some((k) => k.counter);
    this.rates = this.kinds.some((k) => k.rate);
    const columns = new Set<Column>();
    if (this.counters) columns.add('lastValue').add('lastTs');
    if (this.rates) columns.add('rateStart').add('rateInc');
    if (this.kinds.some((k) => k.series)) columns.add('counted');
    if (this.dedupMs > 0) columns.add('dedupValue').add('dedupTs');
    this.perInput = columns.size > 0;
    this.routeWidth = this.perInput ? 2 : 1;
    this.shared = this.perInput && series !== undefined && this.drop.size === 0 && this.inputRelabel === undefined;
    if (this.perInput) columns.add('seenAt');
    const at = {} as Record<Column, number>;
    let stride = 0;
    for (const c of COLUMNS) at[c] = columns.has(c) ? stride++ : -1;
    this.at = at;
    this.stride = stride;
    // the rule and what it inherits from its section: a state saved under another id is not this rule's
    const effective = { ...rule, dedup_interval: this.dedupMs, ignore_old_samples: this.ignoreOld, drop_input_labels: drop };
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

  /**
   * Fills the route at `at` for `labels` (`si`: its index in the shared series table); false
   * when the rule does not match them.
   */
  resolve(labels: Labels, route: Int32Array, at: number, si = -1, kv = labels.kvTransient): boolean {
    // `kv` read once (by the caller for all its rules): a packed label set stays packed
    const get = (n: string) => {
      for (let i = 0; i < kv.length; i += 2) if (kv[i] === n) return kv[i + 1];
      return undefined;
    };
    if (this.selectors.length > 0 && !this.selectors.some((s) => s.matches(get))) {
      route[at] = NO_MATCH;
      return false;
    }
    let input: Labels | undefined = labels;
    let inputKv = kv;
    if (this.drop.size > 0 || this.inputRelabel) {
      const lb = this.lb.reset();
      for (let i = 0; i < kv.length; i += 2) if (!this.drop.has(kv[i])) lb.set(kv[i], kv[i + 1]);
      input = lb.build();
      if (this.inputRelabel) input = this.inputRelabel.process(input);
      if (input === undefined || input.size === 0) {
        route[at] = DROPPED;
        return true;
      }
      inputKv = input.kv;
    }
    // the group found by its key alone: a label set is built only for a new group
    const gkv = this.groupKv(inputKv);
    const key = gkv === inputKv ? input.key : packLabels(gkv);
    const group = this.groups.get(key) ?? this.newGroup(gkv === inputKv ? input : Labels.fromSortedFlat(gkv.slice()));
    const gi = group.index;
    route[at] = (gi << 8) | (this.gGen[gi] & 255);
    if (this.perInput) {
      const slot = this.shared ? this.sharedSlot(si, gi, labels.key) : this.slotFor(input.key, gi);
      route[at + 1] = (slot << 8) | (this.gen[slot] & 255);
    }
    return true;
  }

  private newGroup(labels: Labels, deadline = 0): Group {
    labels.pack();
    let gi = this.gFree.pop();
    if (gi === undefined) {
      if (this.gUsed >= MAX_INDEX) throw new Error(`stream aggregation rule ${this.rule.name ?? this.id}: more than ${MAX_INDEX} output groups`);
      gi = this.gUsed++;
      if (gi >= this.gCap) this.growGroups(Math.max(16, this.gCap * 2));
    }
    const g = new Group(labels.key, labels, gi, this.kinds.length);
    this.groups.set(g.key, g);
    if (!this.journalFull) this.journal.push(true, gi, g.key);
    this.gf.fill(0, gi * this.groupSlots, (gi + 1) * this.groupSlots);
    this.gDeadline[gi] = deadline;
    return g;
  }

  private dropGroup(g: Group): void {
    this.groups.delete(g.key);
    if (this.hasExtra) this.gx.fill(undefined, g.index * this.kinds.length, (g.index + 1) * this.kinds.length);
    this.gGen[g.index]++;
    this.gFree.push(g.index);
  }

  private growGroups(cap: number): void {
    const gf = new Float64Array(cap * this.groupSlots);
    gf.set(this.gf);
    const deadline = new Float64Array(cap);
    deadline.set(this.gDeadline);
    const gen = new Int32Array(cap);
    gen.set(this.gGen);
    this.gf = gf;
    this.gDeadline = deadline;
    this.gGen = gen;
    if (this.hasExtra) this.gx.length = cap * this.kinds.length;
    this.gCap = cap;
  }

  /** A batch taken at `now` comes (its samples are pushed next). */
  begin(now: number): void {
    this.clock = now;
  }

  /**
   * Sample `i` of `batch`, of a series resolved into `route`; `raw` is its label set as it came (to
   * resolve again when its group or slot went stale meanwhile).
   */
  push(raw: Labels, route: Int32Array, at: number, batch: SampleBatch, i: number): void {
    let g = route[at];
    if (g === DROPPED) return;
    let sl = this.perInput ? route[at + 1] : -1;
    if ((this.gGen[g >> 8] & 255) !== (g & 255) || (sl >= 0 && (this.gen[sl >> 8] & 255) !== (sl & 255))) {
      this.resolve(raw, route, at, this.shared ? sl >> 8 : -1);
      g = route[at];
      if (g === DROPPED) return;
      sl = this.perInput ? route[at + 1] : -1;
    }
    const gi = g >> 8;
    const slot = sl >> 8;
    this.stats.matched++;
    const v = batch.values[i];
    const ts = batch.timestamps[i];
    if (v !== v || batch.isStale(i)) {
      this.stats.ignoredNaN++;
      return;
    }
    const now = this.clock;
    if (this.ignoreOld && ts < this.windowStart) {
      this.stats.ignoredOld++;
      return;
    }
    this.gDeadline[gi] = now + this.stalenessMs;
    if (this.dedupMs > 0) {
      const d = this.data;
      const b = slot * this.stride;
      d[b + this.at.seenAt] = now;
      const pts = d[b + this.at.dedupTs];
      // VictoriaMetrics' choice among duplicates: the latest timestamp, then the larger value
      if (pts !== pts || ts > pts || (ts === pts && v > d[b + this.at.dedupValue])) {
        d[b + this.at.dedupTs] = ts;
        d[b + this.at.dedupValue] = v;
      }
      return;
    }
    this.ctx.v = v;
    this.ctx.ts = ts;
    this.aggregate(gi, slot);
  }

  /** The sample in `ctx` (v, ts), at `clock`, into its group's outputs. */
  private aggregate(gi: number, slot: number): void {
    const c = this.ctx;
    const v = c.v;
    const ts = c.ts;
    const now = this.clock;
    c.deltaFromZero = NaN;
    c.deltaPrometheus = NaN;
    c.firstInInterval = false;
    if (slot >= 0) {
      const data = this.data;
      const at = this.at;
      const b = slot * this.stride;
      data[b + at.seenAt] = now;
      if (at.counted >= 0 && data[b + at.counted] !== this.windowStart) {
        data[b + at.counted] = this.windowStart;
        c.firstInInterval = true;
      }
      if (this.counters) {
        const lt = data[b + at.lastTs];
        if (lt !== lt) {
          // a new series: counted from 0 by total/increase once the start's grace is over
          if (now >= this.keepFirstFrom) c.deltaFromZero = v;
          data[b + at.lastValue] = v;
          data[b + at.lastTs] = ts;
          if (this.rates) data[b + at.rateStart] = ts;
        } else if (ts < lt) {
          this.stats.outOfOrder++;
        } else {
          const last = data[b + at.lastValue];
          const d = v >= last ? v - last : v;
          c.deltaFromZero = d;
          c.deltaPrometheus = d;
          if (this.rates) data[b + at.rateInc] += d;
          data[b + at.lastValue] = v;
          data[b + at.lastTs] = ts;
        }
      }
    }
    const kinds = this.kinds;
    const base = gi * this.groupSlots;
    const xi = gi * kinds.length;
    for (let k = 0; k < kinds.length; k++) addSample(kinds[k], this.gf, base + this.offsets[k], base + this.scratchAt[k], this.gx, xi + k, c);
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
    this.clock = now;
    const d = this.data;
    for (let s = 0; s < this.used; s++) {
      const b = s * this.stride;
      const ts = d[b + this.at.dedupTs];
      if (ts !== ts) continue;
      const gi = this.slotGroup[s];
      d[b + this.at.dedupTs] = NaN;
      if (gi < 0) continue;
      this.ctx.v = d[b + this.at.dedupValue];
      this.ctx.ts = ts;
      this.aggregate(gi, s);
    }
  }

  private flush(end: number, now: number, out: SampleBatch, emit: boolean): void {
    if (this.rates) this.ratePass();
    const before = out.length;
    let group: Group = undefined as unknown as Group;
    let k = 0;
    const send: Emit = (value, label, labelValue) => {
      if (!emit) return;
      let labels: Labels | undefined = this.outputName(group, k, label, labelValue);
      if (this.outputRelabel) labels = this.outputRelabel.process(labels);
      if (labels !== undefined) out.append(labels, value, end);
    };
    const kinds = this.kinds;
    for (const g of this.groups.values()) {
      if (now > this.gDeadline[g.index]) {
        this.dropGroup(g);
        continue;
      }
      group = g;
      const base = g.index * this.groupSlots;
      const xi = g.index * kinds.length;
      for (k = 0; k < kinds.length; k++) flushOutput(kinds[k], this.gf, base + this.offsets[k], base + this.scratchAt[k], this.gx, xi + k, send);
    }
    this.stats.output += out.length - before;
    this.sweepSlots(now);
  }

  /** Each input series' rate since its last sample of the interval before, into its group's rate outputs. */
  private ratePass(): void {
    const kinds = this.kinds;
    const d = this.data;
    const at = this.at;
    for (let s = 0; s < this.used; s++) {
      const gi = this.slotGroup[s];
      if (gi < 0) continue;
      const b = s * this.stride;
      const start = d[b + at.rateStart];
      const last = d[b + at.lastTs];
      if (start === start && last > start) {
        const rate = d[b + at.rateInc] / ((last - start) / 1000);
        for (let k = 0; k < kinds.length; k++) if (kinds[k].rate) addRate(this.gf, gi * this.groupSlots + this.offsets[k], rate);
      }
      if (last === last) d[b + at.rateStart] = last;
      d[b + at.rateInc] = 0;
    }
  }

  /** Kept per group, packed: remote write reads the packed form only. */
  private outputName(group: Group, k: number, label: string | undefined, labelValue: string | undefined): Labels {
    const cached = group.names[k];
    if (label === undefined) {
      if (cached instanceof Labels) return cached;
      const l = this.named(group, k).build();
      l.pack();
      group.names[k] = l;
      return l;
    }
    let byValue = cached as Map<string, Labels> | undefined;
    if (byValue === undefined) group.names[k] = byValue = new Map();
    let l = byValue.get(labelValue!);
    if (l === undefined) {
      l = this.named(group, k).set(label, labelValue!).build();
      l.pack();
      byValue.set(labelValue!, l);
    }
    return l;
  }

  private named(group: Group, k: number): LabelsBuilder {
    const lb = this.lb.reset(group.labels);
    if (!this.keepNames) lb.set(METRIC_NAME, (group.labels.get(METRIC_NAME) ?? '') + this.suffixes[k]);
    return lb;
  }

  /** A series' group's pairs, sorted as its own: the `by` labels, or all but `without` (in a scratch array). */
  private groupKv(kv: readonly string[]): readonly string[] {
    if (this.by === undefined && this.without === undefined) return kv;
    const out = this.kvScratch;
    out.length = 0;
    for (let i = 0; i < kv.length; i += 2) {
      const n = kv[i];
      if (this.by ? this.by.has(n) : !this.without!.has(n)) out.push(n, kv[i + 1]);
    }
    return out;
  }

  /** Slot `si` of the shared table, taken for the series of `key` if free. */
  private sharedSlot(si: number, gi: number, key: string): number {
    if (si >= this.used) this.used = si + 1;
    if (si >= this.cap || this.slotGroup[si] < 0) this.takeSlot(si, key);
    this.slotGroup[si] = gi;
    return si;
  }

  /** Slot `s` becomes the series of `key`: room made, its values reset, the journal told. */
  private takeSlot(s: number, key: string): void {
    if (s >= MAX_INDEX) throw new Error(`stream aggregation rule ${this.rule.name ?? this.id}: more than ${MAX_INDEX} input series`);
    if (s >= this.cap) this.grow(Math.max(INITIAL_SLOTS, this.cap * 2, s + 1));
    if (!this.journalFull) this.journal.push(false, s, key);
    this.gen[s]++;
    this.resetSlot(s);
    this.live++;
  }

  /** The shared table forgets series `si`: its slot here goes too, before the index is taken again. */
  release(si: number): void {
    if (this.shared && si < this.used && this.slotGroup[si] >= 0) this.freeSlot(si);
  }

  private freeSlot(s: number): void {
    if (!this.shared) {
      this.byKey.delete(this.slotKey[s]!);
      this.slotKey[s] = undefined;
      this.free.push(s);
    }
    this.slotGroup[s] = -1;
    this.gen[s]++;
    this.live--;
  }

  private slotFor(key: string, gi: number): number {
    let s = this.byKey.get(key);
    if (s === undefined) {
      s = this.free.pop() ?? this.used++;
      this.takeSlot(s, key);
      this.byKey.set(key, s);
      this.slotKey[s] = key;
    }
    this.slotGroup[s] = gi;
    return s;
  }

  private resetSlot(s: number): void {
    const b = s * this.stride;
    // NaN: no value yet (no last sample, not counted in any interval, no rate start, no pending duplicate)
    this.data.fill(NaN, b, b + this.stride);
    this.data[b + this.at.seenAt] = 0;
    if (this.at.lastValue >= 0) this.data[b + this.at.lastValue] = 0;
    if (this.at.rateInc >= 0) this.data[b + this.at.rateInc] = 0;
  }

  private sweepSlots(now: number): void {
    const d = this.data;
    const dedup = this.at.dedupTs;
    for (let s = 0; s < this.used; s++) {
      const b = s * this.stride;
      if (this.slotGroup[s] < 0 || d[b + this.at.seenAt] + this.stalenessMs >= now || (dedup >= 0 && d[b + dedup] === d[b + dedup])) continue;
      this.freeSlot(s);
    }
  }

  private grow(cap: number): void {
    const gen = new Int32Array(cap);
    gen.set(this.gen);
    this.gen = gen;
    const data = new Float64Array(cap * this.stride);
    data.set(this.data);
    this.data = data;
    if (!this.shared) this.slotKey.length = cap;
    // -1: a free slot (of the shared table's indexes, some are never this rule's)
    const slotGroup = new Int32Array(cap).fill(-1);
    slotGroup.set(this.slotGroup);
    this.slotGroup = slotGroup;
    this.cap = cap;
  }

  private dedupBoundaryAfter(now: number): number {
    return this.align ? (Math.floor(now / this.dedupMs) + 1) * this.dedupMs : now + this.dedupMs;
  }

  /**
   * The key records the next state refers to: those added since the last take, or all live
   * ones (`full`: the journal starts again) when due. `count`: the records the journal holds
   * after this take.
   */
  takeKeys(): { records: KeyRecords; full: boolean; count: number } {
    if (!this.journalFull && this.journalCount + this.journal.length > 2 * (this.live + this.groups.size) + 10_000) this.journalFull = true;
    if (!this.journalFull) {
      const records = this.journal;
      this.journal = new KeyRecords();
      this.journalCount += records.length;
      return { records, full: false, count: this.journalCount };
    }
    const records = new KeyRecords();
    for (const g of this.groups.values()) records.push(true, g.index, g.key);
    for (let s = 0; s < this.used; s++) {
      if (this.slotGroup[s] < 0) continue;
      const key = this.shared ? this.series!.keyAt(s) : this.slotKey[s];
      if (key !== undefined) records.push(false, s, key);
    }
    this.journal = new KeyRecords();
    this.journalCount = records.length;
    this.journalFull = false;
    return { records, full: true, count: records.length };
  }

  /** The journal file may not hold what was taken: the next take rewrites it. */
  journalFailed(): void {
    this.journalFull = true;
    this.journal = new KeyRecords();
  }

  /**
   * The state, for the file, label sets by their indexes (the journal has them): groups (index,
   * deadline, numbers, sets), then live input series (index, group index, their values).
   */
  save(w: StateWriter, now: number): void {
    w.f64(now);
    w.f64(this.windowStart);
    w.u32(this.skip);
    w.f64(this.keepFirstFrom);
    w.u32(this.savedSlots);
    w.u32(this.groups.size);
    for (const g of this.groups.values()) {
      w.u32(g.index);
      w.f64(this.gDeadline[g.index]);
      const base = g.index * this.groupSlots;
      w.f64s(this.gf.subarray(base), this.savedSlots);
      const xi = g.index * this.kinds.length;
      this.kinds.forEach((kind, k) => saveExtra(kind, this.gf, base + this.offsets[k], base + this.scratchAt[k], this.gx, xi + k, w));
    }
    // the slots as they are in memory: each one's group (-1: free) and values
    w.u32(this.used);
    w.u32(this.stride);
    w.i32s(this.slotGroup, this.used);
    w.f64s(this.data, this.used * this.stride);
  }

  /**
   * Takes back a saved state (read up to its id by the caller, who matched it to this rule).
   * Saved within the interval under way, it goes on as if never stopped; from the interval just
   * before, that one is flushed whole at the next `advance`; older, only what lasts across
   * intervals (totals, buckets, counters' last values) is kept. Series not seen for
   * staleness_interval are gone.
   */
  load(r: StateReader, keys: KeyIndex, now: number): void {
    const savedAt = r.f64();
    const windowStart = r.f64();
    const skip = r.u32();
    const keepFirstFrom = r.f64();
    if (r.u32() !== this.savedSlots) throw new Error(`rule ${this.id}: the saved groups have another layout`);
    /** The file's group index → this process's. */
    const groups = new Map<number, number>();
    const numbers = new Float64Array(this.savedSlots);
    const extra: unknown[] = new Array<unknown>(this.kinds.length);
    const keyOf = (map: ReadonlyMap<number, string>, index: number): string => {
      const key = map.get(index);
      if (key === undefined) throw new Error(`rule ${this.id}: index ${index} is not in the key journal`);
      return key;
    };
    for (let n = r.u32(), i = 0; i < n; i++) {
      const saved = r.u32();
      const key = keyOf(keys.groups, saved);
      const deadline = r.f64();
      r.f64s(numbers, this.savedSlots);
      this.kinds.forEach((kind, k) => loadExtra(kind, extra, k, r));
      if (now > deadline) {
        extra.fill(undefined);
        continue;
      }
      const g = this.newGroup(Labels.fromSortedFlat(unpackLabels(key)), deadline);
      this.gf.set(numbers, g.index * this.groupSlots);
      for (let k = 0; k < extra.length; k++) this.gx[g.index * extra.length + k] = extra[k];
      extra.fill(undefined);
      groups.set(saved, g.index);
    }
    const n = r.u32();
    const stride = r.u32();
    if (n > 0 && stride !== this.stride) throw new Error(`rule ${this.id}: ${stride} values per series saved, ${this.stride} expected`);
    const savedGroup = new Int32Array(n);
    r.i32s(savedGroup, n);
    const values = new Float64Array(n * stride);
    r.f64s(values, n * stride);
    const at = this.at;
    for (let i = 0; i < n; i++) {
      if (savedGroup[i] < 0) continue;
      const gi = groups.get(savedGroup[i]) ?? -1;
      const b = i * stride;
      const pendingDedup = at.dedupTs >= 0 && values[b + at.dedupTs] === values[b + at.dedupTs];
      if (gi < 0 || (values[b + at.seenAt] + this.stalenessMs < now && !pendingDedup)) continue;
      // (the slot first: taking one may grow `data`)
      const key = keyOf(keys.slots, i);
      const slot = this.shared ? this.sharedSlot(this.series!.indexFor(key), gi, key) : this.slotFor(key, gi);
      this.data.set(values.subarray(b, b + stride), slot * this.stride);
    }
    const current = this.align ? Math.floor(now / this.intervalMs) * this.intervalMs : now;
    if (windowStart + this.intervalMs > current) {
      // still the interval the state was saved in: nothing of it is partial
      this.windowStart = windowStart;
      this.skip = skip;
    } else if (windowStart + 2 * this.intervalMs > current) {
      // the interval just ended while stopped: flushed whole at the next advance
      this.windowStart = windowStart;
      this.skip = skip;
    }
    // A recent state knows every live series: the first-sample grace goes on as it was (ended,
    // or ending when the uninterrupted run's would), not again from this start.
    if (savedAt + this.stalenessMs >= now) this.keepFirstFrom = keepFirstFrom;
    // this process numbers slots and groups its own way: the next journal starts afresh
    this.journalFull = true;
    this.journal = new KeyRecords();
  }
}
