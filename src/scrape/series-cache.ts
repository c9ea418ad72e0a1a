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
import { fnv1a32 } from '../model/hash.js';
import { Labels, LabelsBuilder } from '../model/labels.js';
import type { Relabeler } from '../relabel/index.js';

const DROPPED = 1;
const TIMESTAMPED = 2;

/**
 * One line of the target's page as it was last seen, and the series it becomes: the same
 * object every scrape while the line lives, passed on as the sample's `Labels`. One object
 * rather than a record pointing at a label set, because a target's series are held for as
 * long as it is scraped and a second object per series was a tenth of the heap.
 */
export class SeriesRef extends Labels {
  /** Scrape number in which the series last had a sample; minus it, less one, once marked stale then. */
  seenAt = -1;
  private flags: number;

  /** `kv` null: metric relabeling dropped the line. */
  constructor(
    /** The raw `name{labels}` text, copied out of the page so the page can be collected. */
    readonly line: string,
    kv: readonly string[] | null,
  ) {
    super(kv ?? []);
    this.flags = kv === null ? DROPPED : 0;
  }

  /** Metric relabeling dropped the line: it has no series. */
  get dropped(): boolean {
    return (this.flags & DROPPED) !== 0;
  }

  /** The page gave it a timestamp (honored): Prometheus writes no staleness marker for it. */
  get explicitTimestamp(): boolean {
    return (this.flags & TIMESTAMPED) !== 0;
  }

  markTimestamped(): void {
    this.flags |= TIMESTAMPED;
  }
}

/** Per process, so a page cannot be written to make its lines collide. */
const LINE_SEED = (Math.random() * 0x100000000) >>> 0;

/**
 * A target's lines by their text, open addressing over one array: half the memory of a Map,
 * whose entries are three slots plus a bucket. Asked only when a line is not where the last
 * page had it.
 */
class LineTable {
  private slots: (SeriesRef | undefined)[] = new Array<SeriesRef | undefined>(16);
  private mask = 15;
  size = 0;

  get(line: string): SeriesRef | undefined {
    const slots = this.slots;
    for (let i = fnv1a32(line, LINE_SEED) & this.mask; ; i = (i + 1) & this.mask) {
      const r = slots[i];
      if (r === undefined || r.line === line) return r;
    }
  }

  /** Adds a ref whose line is not in the table. */
  add(ref: SeriesRef): void {
    // at most half full, so probes stay short
    if ((this.size + 1) * 2 > this.slots.length) this.rebuild(this.slots.length * 2, () => true);
    this.place(ref);
    this.size++;
  }

  /** Keeps only the refs `keep` accepts. */
  retain(keep: (ref: SeriesRef) => boolean): void {
    let n = 16;
    while (n < this.size * 2) n *= 2;
    this.rebuild(n, keep);
  }

  private rebuild(capacity: number, keep: (ref: SeriesRef) => boolean): void {
    const old = this.slots;
    this.slots = new Array<SeriesRef | undefined>(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (const r of old) {
      if (r === undefined || !keep(r)) continue;
      this.place(r);
      this.size++;
    }
  }

  private place(ref: SeriesRef): void {
    let i = fnv1a32(ref.line, LINE_SEED) & this.mask;
    while (this.slots[i] !== undefined) i = (i + 1) & this.mask;
    this.slots[i] = ref;
  }
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

const EXPORTED = 'exported_';

/**
 * A flat copy of a string. Slices of a page keep the whole page alive in V8 (a sliced string
 * points into its parent), so anything kept across scrapes is copied first.
 */
export function copyString(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Line texts shared by every target's cache: the same exporter on many hosts writes mostly the
 * same lines (`node_cpu_seconds_total{cpu="0",mode="idle"}`), and a copy per target was a fifth
 * of an agent's heap. A table entry costs a third of a typical line, so the pool switches itself
 * off for a while when lines seldom repeat (every target's own), and is emptied at its bound;
 * a series keeps the string it has either way.
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

  /** Lines pooled now. */
  get size(): number {
    return this.byText.size;
  }

  /** A flat string equal to `line`, shared with other caches when one is pooled. */
  share(line: string): string {
    if (this.pausedFor > 0) {
      this.pausedFor--;
      return copyString(line);
    }
    const found = this.byText.get(line);
    if (found !== undefined) this.hits++;
    if (++this.lookups === LinePool.ROUND) {
      const paying = this.hits >= LinePool.ROUND * LinePool.MIN_HIT_RATIO;
      this.lookups = this.hits = 0;
      if (!paying) {
        this.byText.clear();
        this.pausedFor = LinePool.PAUSE;
        return found ?? copyString(line);
      }
    }
    if (found !== undefined) return found;
    const copy = copyString(line);
    if (this.byText.size >= LinePool.MAX_LINES) this.byText.clear();
    this.byText.set(copy, copy);
    return copy;
  }
}

const linePool = new LinePool();

export class SeriesCache {
  private readonly byLine = new LineTable();
  private readonly lb = new LabelsBuilder();
  private iteration = 0;
  /**
   * Lines in the order the last successful scrape had them. Pages keep their order from
   * scrape to scrape, so line i is usually the entry at i: comparing two strings costs less
   * than hashing a fresh one and probing a map whose entries are scattered over the heap. The
   * same list says which series the last scrape wrote (the kept ones), for staleness.
   */
  private order: SeriesRef[] = [];
  private nextOrder: SeriesRef[] = [];
  // Both arrays are reused from scrape to scrape, filled up to these lengths: emptying and
  // regrowing them was a quarter of what a scrape allocated.
  private orderLen = 0;
  private nextLen = 0;
  /** The kept series of `order` were written and not yet marked stale (false after a failure). */
  private orderLive = false;
  /** Series a predecessor loop had (across a reload), to mark stale if this loop never sees them. */
  private inherited: Labels[] = [];
  /** Lines first seen this scrape that passed relabeling (Prometheus' scrape_series_added). */
  added = 0;
  /** Kept lines of this scrape that repeated an earlier line of the page. */
  duplicates = 0;
  /** The first of them, for the log. */
  firstDuplicate: SeriesRef | undefined;

  constructor(
    private readonly targetLabels: Labels,
    private readonly rules: SeriesRules,
  ) {}

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
  lookup(p: ExpositionParser): SeriesRef | undefined | null {
    const key = p.seriesKey();
    const at = this.nextLen;
    let ref: SeriesRef | undefined = at < this.orderLen ? this.order[at] : undefined;
    if (ref === undefined || ref.line !== key) {
      ref = this.byLine.get(key);
      if (ref === undefined) {
        ref = this.resolve(linePool.share(key), p);
        this.byLine.add(ref);
        if (!ref.dropped) this.added++;
      }
    }
    if (ref.seenAt === this.iteration) {
      // Not recorded in the order again: a page of one line repeated millions of times must
      // cost one entry, not one per line (the order list is kept from scrape to scrape).
      if (ref.dropped) return undefined;
      if (this.duplicates++ === 0) this.firstDuplicate = ref;
      return null;
    }
    ref.seenAt = this.iteration;
    this.nextOrder[this.nextLen++] = ref;
    return ref.dropped ? undefined : ref;
  }

  /**
   * Whether the parser's current line passes metric relabeling, without recording it: counts
   * the lines after sample_limit was exceeded (Prometheus reports them in
   * scrape_samples_post_metric_relabeling). A line the cache does not know is relabeled but
   * not kept, so a page far over its limit cannot fill the cache.
   */
  passes(p: ExpositionParser): boolean {
    const key = p.seriesKey();
    const ref = this.byLine.get(key);
    if (ref !== undefined) return !ref.dropped;
    if (this.rules.relabeler === undefined) return true;
    return !this.resolve(key, p).dropped;
  }

  /**
   * Ends a scrape; `emitStale` receives every series the previous scrape (or a predecessor
   * loop) had and this one has not — all of them when the scrape failed, since a failed
   * scrape counts as an empty page. Series with honored timestamps are skipped unless
   * `staleWithTimestamps` (track_timestamps_staleness).
   */
  finish(ok: boolean, staleWithTimestamps: boolean, emitStale: (labels: Labels) => void): void {
    const it = this.iteration;
    if (this.orderLive) {
      const order = this.order;
      // a series marked now gets this (negative) scrape number, so a line the page had twice
      // gets one marker; negative, it never reads as seen
      const marked = -it - 1;
      for (let i = 0; i < this.orderLen; i++) {
        const r = order[i];
        if (r.dropped || r.seenAt === marked || (ok && r.seenAt === it)) continue;
        if (staleWithTimestamps || !r.explicitTimestamp) emitStale(r);
        r.seenAt = marked;
      }
    }
    if (this.inherited.length > 0) {
      const seen = new Set<string>();
      if (ok) for (let i = 0; i < this.nextLen; i++) if (!this.nextOrder[i].dropped) seen.add(this.nextOrder[i].key);
      for (const l of this.inherited) if (!seen.has(l.key)) emitStale(l);
      this.inherited = [];
    }
    this.orderLive = ok;
    if (!ok) {
      // what a failed page left in the unused list is not held until the next success
      if (this.nextOrder.length > this.orderLen) this.nextOrder.length = this.orderLen;
      return;
    }
    // cut what an earlier, longer page left behind, so forgotten series are not held
    this.nextOrder.length = this.nextLen;
    const last = this.order;
    this.order = this.nextOrder;
    this.orderLen = this.nextLen;
    this.nextOrder = last;
    this.sweep();
  }

  /** Everything the last scrape had: the loop marks it stale when its target goes away. */
  live(): Labels[] {
    if (!this.orderLive) return [];
    const out = new Set<SeriesRef>();
    for (let i = 0; i < this.orderLen; i++) if (!this.order[i].dropped) out.add(this.order[i]);
    return [...out];
  }

  /** Takes over a predecessor's live series (reload with a changed job config). */
  inherit(labels: readonly Labels[]): void {
    this.inherited = [...labels];
  }

  get size(): number {
    return this.byLine.size;
  }

  private resolve(key: string, p: ExpositionParser): SeriesRef {
    const lb = this.lb.reset(p.labels());
    const t = this.targetLabels;
    if (this.rules.honorLabels) {
      for (let i = 0; i < t.size; i++) if (lb.get(t.name(i)) === undefined) lb.set(t.name(i), t.value(i));
    } else {
      let clashes: [string, string][] | undefined;
      for (let i = 0; i < t.size; i++) {
        const name = t.name(i);
        const exposed = lb.get(name);
        if (exposed !== undefined) (clashes ??= []).push([name, exposed]);
        lb.set(name, t.value(i));
      }
      // Prometheus renames shorter names first and prefixes again while the name is taken
      if (clashes) {
        clashes.sort((a, b) => a[0].length - b[0].length || (a[0] < b[0] ? -1 : 1));
        for (const [name, value] of clashes) {
          let renamed = name;
          do renamed = EXPORTED + renamed;
          while (lb.get(renamed) !== undefined);
          lb.set(renamed, value);
        }
      }
    }
    if (this.rules.relabeler && !this.rules.relabeler.processBuilder(lb)) return new SeriesRef(key, null);
    const kv = lb.sortedPairs();
    if (kv.length === 0) return new SeriesRef(key, null);
    // not interned: packed below, the pairs (slices of the page) are dropped and nothing pins it
    const ref = new SeriesRef(key, kv);
    this.checkLimits(ref);
    // held for as long as the line lives: packed, it costs about half
    ref.pack();
    return ref;
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

  /** Forgets lines not seen in the last two scrapes, once they are a third of the cache. */
  private sweep(): void {
    const live = this.orderLen;
    if (this.byLine.size <= live + (live >> 1) + 64) return;
    const keepFrom = this.iteration - 1;
    const inOrder = new Set(this.order);
    this.byLine.retain((r) => inOrder.has(r) || r.seenAt >= keepFrom);
  }
}
