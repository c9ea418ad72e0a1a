/**
 * Per-target memory of series, as Prometheus' scrapeCache: the raw `name{labels}` text of a
 * line maps to the series it becomes after the target's labels are attached (honor_labels
 * rules) and metric relabeling ran — or to "dropped". A series seen in the last scrape thus
 * costs one string comparison (pages keep their line order) or one table lookup; labels are
 * decoded, relabeled and checked against the label limits only on a miss. The cache also
 * knows which series the previous scrape had, for staleness markers, and forgets lines unseen
 * for two scrapes so a churning target cannot grow it. Two lines that become the same series
 * (after relabeling, or written with labels in another order) are two entries here, as in
 * Prometheus' cache; both samples are passed on. The same line twice in one page is one entry,
 * and the second is reported as a duplicate.
 */

import type { ExpositionParser } from '../formats/prometheus/parser.js';
import { compactColumns, resizedInts } from '../model/columns.js';
import { fnv1a32 } from '../model/hash.js';
import { attachExportingClashes, attachMissing } from '../model/attach-labels.js';
import { Labels, LabelsBuilder, PackedBase } from '../model/labels.js';
import type { Relabeler } from '../relabel/index.js';

const DROPPED = 1;
const TIMESTAMPED = 2;
/** Written by the last successful scrape and not marked stale since. */
const LIVE = 4;

/** Per process, so a page cannot be written to make its lines collide. */
const LINE_SEED = (Math.random() * 0x100000000) >>> 0;

/**
 * A target's lines as they were last seen, and the series each becomes: parallel columns
 * indexed by a line's id (dense, in the order lines were first seen), and an open-addressing
 * index of ids by line text. Columns rather than an object per line, because a target's lines
 * are held for as long as it is scraped: an object per line (or a line object that was also
 * its `Labels`) cost a header and pointer slots per series, and a second object per series was
 * a tenth of the heap. The index is asked only when a line is not where the last page had it.
 */
class LineTable {
  /** The raw `name{labels}` text, copied out of the page so the page can be collected. */
  lines: string[] = [];
  /** The series the line becomes; `Labels.EMPTY` when metric relabeling dropped it (flag DROPPED). */
  series: Labels[] = [];
  /** Scrape number in which the line last had a sample; minus it, less one, once marked stale then. */
  seenAt = new Int32Array(16);
  flags = new Uint8Array(16);
  /**
   * Ids + 1 by the line's hash; 0 is an empty slot. At most half full, so probes stay short;
   * two bytes a slot while the ids fit, as a target's lines nearly always do.
   */
  private index: Uint16Array | Int32Array = new Uint16Array(32);
  private mask = 31;
  /** Lines were added since the last `trim`. */
  private grown = false;

  get size(): number {
    return this.lines.length;
  }

  /** The line's id, or -1. */
  find(line: string): number {
    const index = this.index;
    for (let i = fnv1a32(line, LINE_SEED) & this.mask; ; i = (i + 1) & this.mask) {
      const id = index[i] - 1;
      if (id < 0 || this.lines[id] === line) return id;
    }
  }

  /** Adds a line not in the table; returns its id. */
  add(line: string, series: Labels | undefined): number {
    const id = this.lines.length;
    if (id === this.seenAt.length) {
      const cap = id + (id >> 1);
      this.seenAt = resizedInts(this.seenAt, cap);
      const flags = new Uint8Array(cap);
      flags.set(this.flags);
      this.flags = flags;
    }
    this.lines.push(line);
    this.series.push(series ?? Labels.EMPTY);
    this.grown = true;
    this.seenAt[id] = -1;
    this.flags[id] = series === undefined ? DROPPED : 0;
    if ((id + 1) * 2 > this.index.length) this.reindex(this.index.length * 2);
    else if (id + 1 === 0xffff) this.reindex(this.index.length);
    else this.place(id);
    return id;
  }

  /** Keeps only the lines `keep` accepts; returns each old id's new one (-1: gone). */
  retain(keep: (id: number) => boolean): Int32Array {
    const { moved, left: j } = compactColumns(this.lines.length, keep, (from, to) => {
      this.lines[to] = this.lines[from];
      this.series[to] = this.series[from];
      this.seenAt[to] = this.seenAt[from];
      this.flags[to] = this.flags[from];
    });
    this.lines.length = j;
    this.series.length = j;
    let cap = 32;
    while (cap < j * 2) cap *= 2;
    this.reindex(cap);
    return moved;
  }

  /**
   * Gives back the room the columns grew into, once lines stop being added: arrays grown one
   * line at a time hold a fifth more than they need, for as long as the target is scraped.
   */
  trim(): void {
    if (!this.grown) return;
    this.grown = false;
    this.lines = this.lines.slice();
    this.series = this.series.slice();
    const n = this.lines.length;
    if (this.seenAt.length > n + 16) {
      this.seenAt = resizedInts(this.seenAt, n + 16);
      this.flags = this.flags.slice(0, n + 16);
    }
  }

  private reindex(capacity: number): void {
    this.index = this.lines.length < 0xffff ? new Uint16Array(capacity) : new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let id = 0; id < this.lines.length; id++) this.place(id);
  }

  private place(id: number): void {
    let i = fnv1a32(this.lines[id], LINE_SEED) & this.mask;
    while (this.index[i] !== 0) i = (i + 1) & this.mask;
    this.index[i] = id + 1;
  }
}

/** Whether flat pairs `kv` hold `name` with `value`. */
function hasPair(kv: readonly string[], name: string, value: string): boolean {
  for (let i = 0; i < kv.length; i += 2) if (kv[i] === name) return kv[i + 1] === value;
  return false;
}

export interface SeriesRules {
  readonly honorLabels: boolean;
  /** Undefined when the job has no metric_relabel_configs. */
  readonly relabeler: Pick<Relabeler, 'processBuilder'> | undefined;
  /** 0 = no limit (each). */
  readonly labelLimit: number;
  readonly labelNameLengthLimit: number;
  readonly labelValueLengthLimit: number;
}

export class LimitError extends Error {}

/**
 * A flat copy of a string. Slices of a page keep the whole page alive in V8 (a sliced string
 * points into its parent), so anything kept across scrapes is copied first.
 */
export function copyString(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Strings shared by every target's cache: the same exporter on many hosts writes mostly the
 * same lines (`node_cpu_seconds_total{cpu="0",mode="idle"}`), which become series that differ
 * only in the target's labels; a copy of each per target was most of an agent's heap. One pool
 * holds line texts, one the packed labels series have of their own (`Labels.packAround`). A
 * table entry costs a third of a typical line, so a pool switches itself off for a while when
 * its strings seldom repeat (every target's own), and is emptied at its bound; a series keeps
 * the string it has either way.
 */
export class LinePool {
  private readonly byText = new Map<string, string>();
  private lookups = 0;
  private hits = 0;
  /** Lookups left before pooling is tried again, after a round in which it did not pay. */
  private pausedFor = 0;

  static readonly MAX_LINES = 200_000;
  /** Lookups per verdict, and the share of them that must find their line. */
  static readonly ROUND = 32_768;
  static readonly MIN_HIT_RATIO = 0.25;
  static readonly PAUSE = 1_000_000;

  /** `copy`: a flat string equal to its argument (a slice of a page would pin the page). */
  constructor(private readonly copy: (s: string) => string = copyString) {}

  /** Lines pooled now. */
  get size(): number {
    return this.byText.size;
  }

  /** A flat string equal to `line`, shared with other caches when one is pooled. */
  share(line: string): string {
    if (this.pausedFor > 0) {
      this.pausedFor--;
      return this.copy(line);
    }
    const found = this.byText.get(line);
    if (found !== undefined) this.hits++;
    if (++this.lookups === LinePool.ROUND) {
      const paying = this.hits >= LinePool.ROUND * LinePool.MIN_HIT_RATIO;
      this.lookups = this.hits = 0;
      if (!paying) {
        this.byText.clear();
        this.pausedFor = LinePool.PAUSE;
        return found ?? this.copy(line);
      }
    }
    if (found !== undefined) return found;
    const copy = this.copy(line);
    if (this.byText.size >= LinePool.MAX_LINES) this.byText.clear();
    this.byText.set(copy, copy);
    return copy;
  }
}

const linePool = new LinePool();
/** Packed labels are strings of one character per byte: copied (and flattened) as such. */
const ownLabelsPool = new LinePool((s) => Buffer.from(s, 'latin1').toString('latin1'));
const shareOwnLabels = (own: string): string => ownLabelsPool.share(own);
/** Every cache resolves its lines here, one at a time. */
const builder = new LabelsBuilder();

export class SeriesCache {
  private readonly table = new LineTable();
  private iteration = 0;
  /**
   * Ids of the lines in the order the last scrape had them, overwritten as this one goes (a
   * position is read before it is written). Pages keep their order from scrape to scrape, so
   * line i is usually the entry at i: comparing two strings costs less than hashing a fresh one
   * and probing an index. Which series were written last is the table's LIVE flag, not this.
   */
  private order = new Int32Array(16);
  /** Entries of `order` the last successful scrape left, and this scrape's so far. */
  private orderLen = 0;
  private nextLen = 0;
  /** Series a predecessor loop had (across a reload), to mark stale if this loop never sees them. */
  private inherited: Labels[] = [];
  /** The id `lookup` last returned the series of. */
  private last = -1;
  /** Lines first seen this scrape that passed relabeling (Prometheus' scrape_series_added). */
  added = 0;
  /** Kept lines of this scrape that repeated an earlier line of the page. */
  duplicates = 0;
  /** The first of them (its line), for the log. */
  firstDuplicate: string | undefined;

  /**
   * The labels the target's series share, packed once for all of them: the target's own, and
   * after the first good scrape also those every series of it has with one value (what
   * metric_relabel_configs derived from the target's labels: a `port`, a `team`).
   */
  private base: PackedBase;
  private baseSettled = false;

  constructor(
    private readonly targetLabels: Labels,
    private readonly rules: SeriesRules,
  ) {
    this.base = new PackedBase(targetLabels);
  }

  /** Starts a scrape. */
  begin(): void {
    this.iteration++;
    this.nextLen = 0;
    this.added = 0;
    this.duplicates = 0;
    this.firstDuplicate = undefined;
  }

  /**
   * The series of the parser's current line; undefined when relabeling dropped it, null when
   * the page already had the same line in this scrape (a duplicate: the caller keeps the first
   * value). Throws LimitError for a series that breaks a label limit: Prometheus fails the
   * whole scrape then.
   */
  lookup(p: ExpositionParser): Labels | undefined | null {
    const key = p.seriesKey();
    const t = this.table;
    const at = this.nextLen;
    let id = at < this.orderLen ? this.order[at] : -1;
    if (id < 0 || t.lines[id] !== key) {
      id = t.find(key);
      if (id < 0) {
        const series = this.resolve(p);
        id = t.add(linePool.share(key), series);
        if (series !== undefined) this.added++;
      }
    }
    return this.take(id);
  }

  /**
   * The line the next series line of the page is expected to be: the one the last good scrape
   * had at this position (pages keep their order). Undefined when there is none.
   */
  expectedLine(): string | undefined {
    const at = this.nextLen;
    return at < this.orderLen ? this.table.lines[this.order[at]] : undefined;
  }

  /** `lookup` for a line the page had where `expectedLine` said it would be. */
  lookupExpected(): Labels | undefined | null {
    return this.take(this.order[this.nextLen]);
  }

  /** Records line `id` as the next series line of this scrape: `lookup`'s result for it. */
  private take(id: number): Labels | undefined | null {
    const t = this.table;
    const at = this.nextLen;
    const dropped = (t.flags[id] & DROPPED) !== 0;
    if (t.seenAt[id] === this.iteration) {
      // Not recorded in the order again: a page of one line repeated millions of times must
      // cost one entry, not one per line (the order list is kept from scrape to scrape).
      if (dropped) return undefined;
      if (this.duplicates++ === 0) this.firstDuplicate = t.lines[id];
      return null;
    }
    t.seenAt[id] = this.iteration;
    if (at === this.order.length) this.order = resizedInts(this.order, at + (at >> 1) + 16);
    this.order[at] = id;
    this.nextLen = at + 1;
    this.last = id;
    return dropped ? undefined : t.series[id];
  }

  /** The page gave the line `lookup` last returned a timestamp (honored): Prometheus writes no staleness marker for it. */
  markTimestamped(): void {
    this.table.flags[this.last] |= TIMESTAMPED;
  }

  /**
   * Whether the parser's current line passes metric relabeling, without recording it: counts
   * the lines after sample_limit was exceeded (Prometheus reports them in
   * scrape_samples_post_metric_relabeling). A line the cache does not know is relabeled but
   * not kept, so a page far over its limit cannot fill the cache.
   */
  passes(p: ExpositionParser): boolean {
    const id = this.table.find(p.seriesKey());
    if (id >= 0) return (this.table.flags[id] & DROPPED) === 0;
    if (this.rules.relabeler === undefined) return true;
    return this.resolve(p, false) !== undefined;
  }

  /**
   * Ends a scrape; `emitStale` receives every series the previous scrape (or a predecessor
   * loop) had and this one has not — all of them when the scrape failed, since a failed
   * scrape counts as an empty page. Series with honored timestamps are skipped unless
   * `staleWithTimestamps` (track_timestamps_staleness).
   */
  finish(ok: boolean, staleWithTimestamps: boolean, emitStale: (labels: Labels) => void): void {
    const it = this.iteration;
    const t = this.table;
    const flags = t.flags;
    const seenAt = t.seenAt;
    // a series marked now gets this (negative) scrape number: negative, it never reads as seen
    const marked = -it - 1;
    for (let id = 0; id < t.size; id++) {
      const f = flags[id];
      if ((f & DROPPED) !== 0) continue;
      if (ok && seenAt[id] === it) flags[id] = f | LIVE;
      else if ((f & LIVE) !== 0) {
        if (staleWithTimestamps || (f & TIMESTAMPED) === 0) emitStale(t.series[id]);
        seenAt[id] = marked;
        flags[id] = f & ~LIVE;
      }
    }
    if (this.inherited.length > 0) {
      const seen = new Set<string>();
      if (ok) {
        for (let i = 0; i < this.nextLen; i++) {
          const id = this.order[i];
          if ((flags[id] & DROPPED) === 0) seen.add(t.series[id].key);
        }
      }
      for (const l of this.inherited) if (!seen.has(l.key)) emitStale(l);
      this.inherited = [];
    }
    if (!ok) return;
    this.orderLen = this.nextLen;
    // what an earlier, much longer page needed is not kept, nor more than a little room to grow
    if (this.order.length > this.orderLen + (this.orderLen >> 3) + 64) this.order = resizedInts(this.order, this.orderLen + (this.orderLen >> 4) + 16);
    this.sweep();
    t.trim();
    if (!this.baseSettled) this.settleBase();
  }

  /** Everything the last scrape had: the loop marks it stale when its target goes away. */
  live(): Labels[] {
    const t = this.table;
    const out = new Set<Labels>();
    for (let id = 0; id < t.size; id++) if ((t.flags[id] & LIVE) !== 0) out.add(t.series[id]);
    return [...out];
  }

  /** Takes over a predecessor's live series (reload with a changed job config). */
  inherit(labels: readonly Labels[]): void {
    this.inherited = [...labels];
  }

  get size(): number {
    return this.table.size;
  }

  /**
   * The series of the parser's current line: its labels with the target's attached (the
   * honor_labels rule, model/attach-labels.ts), after metric relabeling; undefined when
   * relabeling dropped it. `keep`: it is held across scrapes (packed), not only looked at.
   */
  private resolve(p: ExpositionParser, keep = true): Labels | undefined {
    const lb = builder.reset(p.labels());
    try {
      if (this.rules.honorLabels) attachMissing(lb, this.targetLabels);
      else attachExportingClashes(lb, this.targetLabels);
      if (this.rules.relabeler && !this.rules.relabeler.processBuilder(lb)) return undefined;
      const series = lb.build();
      if (series.size === 0) return undefined;
      this.checkLimits(series);
      // held for as long as the line lives: packed around the target's labels it costs its
      // own labels, shared with the same series of other targets, and the pairs (slices of the
      // page) are let go; not interned, so nothing else pins it
      if (keep) series.packAround(this.base, shareOwnLabels);
      return series;
    } finally {
      // its pairs are slices of the page: held until the next miss, they pinned a piece of
      // every target's last page (a tenth of an agent's heap)
      lb.reset();
    }
  }

  private checkLimits(labels: Labels): void {
    const r = this.rules;
    const metric = labels.metricName.slice(0, 50);
    if (r.labelLimit > 0 && labels.size > r.labelLimit) {
      throw new LimitError(`label_limit exceeded (metric: ${metric}, number of labels: ${labels.size}, limit: ${r.labelLimit})`);
    }
    if (r.labelNameLengthLimit === 0 && r.labelValueLengthLimit === 0) return;
    for (let i = 0; i < labels.size; i++) {
      const name = labels.name(i);
      const value = labels.value(i);
      if (r.labelNameLengthLimit > 0 && name.length > r.labelNameLengthLimit) {
        throw new LimitError(
          `label_name_length_limit exceeded (metric: ${metric}, label name: ${name.slice(0, 50)}, length: ${name.length}, limit: ${r.labelNameLengthLimit})`,
        );
      }
      if (r.labelValueLengthLimit > 0 && value.length > r.labelValueLengthLimit) {
        throw new LimitError(
          `label_value_length_limit exceeded (metric: ${metric}, label name: ${name.slice(0, 50)}, value: ${JSON.stringify(value.slice(0, 50))}, length: ${value.length}, limit: ${r.labelValueLengthLimit})`,
        );
      }
    }
  }

  /**
   * Once, after the first good scrape: labels that every kept series has with the same value
   * but the target does not (metric relabeling copied or derived them from the target's) join
   * the shared ones, and the series are packed again around them — otherwise such a label
   * made every series' own part differ from the same line's on every other target.
   */
  private settleBase(): void {
    this.baseSettled = true;
    const t = this.table;
    let common: Map<string, string> | undefined;
    for (let id = 0; id < t.size; id++) {
      if ((t.flags[id] & DROPPED) !== 0) continue;
      const kv = t.series[id].kvTransient;
      if (common === undefined) {
        common = new Map();
        for (let i = 0; i < kv.length; i += 2) common.set(kv[i], kv[i + 1]);
        continue;
      }
      for (const [name, value] of common) if (!hasPair(kv, name, value)) common.delete(name);
      if (common.size <= this.base.size) return;
    }
    if (common === undefined || common.size <= this.base.size || t.size < 2) return;
    this.base = new PackedBase(Labels.fromPairs(common));
    for (let id = 0; id < t.size; id++) if ((t.flags[id] & DROPPED) === 0) t.series[id].repackAround(this.base, shareOwnLabels);
  }

  /** Forgets lines not seen in the last two scrapes, once they are a third of the cache. */
  private sweep(): void {
    const live = this.orderLen;
    const t = this.table;
    if (t.size <= live + (live >> 1) + 64) return;
    const keepFrom = this.iteration - 1;
    // the lines of this scrape are among those kept: `order` stays valid
    const moved = t.retain((id) => t.seenAt[id] >= keepFrom);
    for (let i = 0; i < live; i++) this.order[i] = moved[this.order[i]];
    this.last = -1;
  }
}
