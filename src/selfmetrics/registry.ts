/**
 * The self-metrics registry: counters, gauges and histograms that Tributary keeps about itself,
 * plus any `Collector` that produces whole families (per-target, per-source metrics), rendered
 * into `MetricFamily` objects for the exposition writer. Children are cached by label values so
 * the hot path of an increment is one map lookup; label sets are built once per child, never
 * per scrape.
 */

import type { MetricFamily, MetricPoint, MetricType } from '../model/family.js';
import { Labels, METRIC_NAME } from '../model/labels.js';
import { isLegacyLabelName, isLegacyMetricName, isValidUtf8Name } from '../model/names.js';
import { type Logger, silentLogger } from '../log/logger.js';

/** Anything that produces complete families at collection time. */
export interface Collector {
  collect(): MetricFamily[];
}

export interface MetricOptions {
  /** Full sample name; counters include `_total` (text format 0.0.4 convention). */
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface GaugeOptions extends MetricOptions {
  /** Runs at every collection, before the gauge is read; set values from here. */
  collect?: (gauge: Gauge) => void;
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is always added. */
  buckets?: readonly number[];
}

/** Prometheus' client libraries' defaults, tuned for request latencies in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Joins label values into a child's cache key. Values are checked to be well-formed UTF-16
 * before a child is created, so a lone surrogate can never occur inside one and two different
 * value lists cannot produce the same key.
 */
const KEY_SEP = '\uD800';

function seriesLabels(name: string, labelNames: readonly string[], values: readonly string[], extra?: [string, string]): Labels {
  const pairs: [string, string][] = [[METRIC_NAME, name]];
  for (let i = 0; i < labelNames.length; i++) pairs.push([labelNames[i], values[i]]);
  if (extra) pairs.push(extra);
  return Labels.fromPairs(pairs);
}

interface Entry<C> {
  /** Label set without `__name__`, for ordering children the same way on every page. */
  base: Labels;
  child: C;
}

/** Shared behaviour of counters, gauges and histograms: naming, validation, child cache. */
export abstract class Metric<C> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;
  private readonly children = new Map<string, Entry<C>>();

  protected constructor(opts: MetricOptions, reservedLabels: readonly string[] = []) {
    if (!isLegacyMetricName(opts.name)) {
      throw new Error(`invalid metric name ${JSON.stringify(opts.name)}`);
    }
    const labelNames = [...(opts.labelNames ?? [])];
    const seen = new Set<string>();
    for (const ln of labelNames) {
      if (!isLegacyLabelName(ln) || ln.startsWith('__')) {
        throw new Error(`metric ${opts.name}: invalid label name ${JSON.stringify(ln)}`);
      }
      if (reservedLabels.includes(ln)) {
        throw new Error(`metric ${opts.name}: label name ${JSON.stringify(ln)} is reserved`);
      }
      if (seen.has(ln)) throw new Error(`metric ${opts.name}: duplicate label name ${JSON.stringify(ln)}`);
      seen.add(ln);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = labelNames;
  }

  /** The child for these label values (in `labelNames` order), created on first use. */
  labels(...values: string[]): C {
    const key = values.join(KEY_SEP);
    const found = this.children.get(key);
    if (found) return found.child;
    this.checkValues(values);
    const base = Labels.fromPairs(this.labelNames.map((n, i) => [n, values[i]] as [string, string]));
    const child = this.newChild(values);
    this.children.set(key, { base, child });
    return child;
  }

  /** Forgets one child, e.g. when the target it described is gone. */
  remove(...values: string[]): boolean {
    return this.children.delete(values.join(KEY_SEP));
  }

  /** Forgets every child; an unlabelled metric starts again from zero. */
  reset(): void {
    this.children.clear();
    if (this.labelNames.length === 0) this.labels();
  }

  /** The family as it stands now, or undefined when no child exists yet. */
  toFamily(): MetricFamily | undefined {
    if (this.children.size === 0) return undefined;
    const entries = [...this.children.values()].sort((a, b) => a.base.compare(b.base));
    const metrics: MetricPoint[] = [];
    for (const e of entries) this.appendPoints(e.child, metrics);
    return { name: this.name, type: this.type, help: this.help, metrics };
  }

  protected abstract newChild(values: readonly string[]): C;
  protected abstract appendPoints(child: C, out: MetricPoint[]): void;

  /** The single child of a metric without labels. */
  protected unlabelled(): C {
    if (this.labelNames.length !== 0) {
      throw new Error(`metric ${this.name} has labels (${this.labelNames.join(', ')}); use .labels(...)`);
    }
    return this.labels();
  }

  private checkValues(values: readonly string[]): void {
    if (values.length !== this.labelNames.length) {
      throw new Error(
        `metric ${this.name}: expected ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`,
      );
    }
    for (const v of values) {
      if (typeof v !== 'string' || (v !== '' && !isValidUtf8Name(v))) {
        throw new Error(`metric ${this.name}: invalid label value ${JSON.stringify(v)}`);
      }
    }
  }
}

export class CounterChild {
  private current = 0;
  constructor(
    readonly series: Labels,
    private readonly metricName: string,
  ) {}

  inc(n = 1): void {
    if (!(n >= 0)) throw new RangeError(`counter ${this.metricName}: increment must be non-negative, got ${n}`);
    this.current += n;
  }

  get value(): number {
    return this.current;
  }
}

export class Counter extends Metric<CounterChild> {
  readonly type = 'counter';

  constructor(opts: MetricOptions) {
    super(opts);
    if (!opts.name.endsWith('_total')) {
      // The writer derives the OpenMetrics family name by removing this suffix.
      throw new Error(`counter ${opts.name}: name must end with _total`);
    }
    if (this.labelNames.length === 0) this.labels();
  }

  inc(n = 1): void {
    this.unlabelled().inc(n);
  }

  get value(): number {
    return this.unlabelled().value;
  }

  protected newChild(values: readonly string[]): CounterChild {
    return new CounterChild(seriesLabels(this.name, this.labelNames, values), this.name);
  }

  protected appendPoints(child: CounterChild, out: MetricPoint[]): void {
    out.push({ labels: child.series, value: child.value });
  }
}

export class GaugeChild {
  private current = 0;
  constructor(readonly series: Labels) {}

  set(v: number): void {
    this.current = v;
  }
  inc(n = 1): void {
    this.current += n;
  }
  dec(n = 1): void {
    this.current -= n;
  }
  get value(): number {
    return this.current;
  }
}

export class Gauge extends Metric<GaugeChild> {
  readonly type = 'gauge';
  private readonly onCollect: ((gauge: Gauge) => void) | undefined;

  constructor(opts: GaugeOptions) {
    super(opts);
    this.onCollect = opts.collect;
    if (this.labelNames.length === 0) this.labels();
  }

  set(v: number): void {
    this.unlabelled().set(v);
  }
  inc(n = 1): void {
    this.unlabelled().inc(n);
  }
  dec(n = 1): void {
    this.unlabelled().dec(n);
  }
  get value(): number {
    return this.unlabelled().value;
  }

  /** Runs the collect-time callback, if any; the registry calls this before `toFamily`. */
  refresh(): void {
    this.onCollect?.(this);
  }

  protected newChild(values: readonly string[]): GaugeChild {
    return new GaugeChild(seriesLabels(this.name, this.labelNames, values));
  }

  protected appendPoints(child: GaugeChild, out: MetricPoint[]): void {
    out.push({ labels: child.series, value: child.value });
  }
}

/** `le` values as Prometheus' Go client writes them (shortest round-trip form, `+Inf`). */
function formatBound(b: number): string {
  return b === Infinity ? '+Inf' : String(b);
}

export class HistogramChild {
  /** Per-bucket (not cumulative) counts; the last slot is `+Inf`. */
  private readonly counts: Float64Array;
  private total = 0;
  private observations = 0;
  readonly bucketSeries: Labels[];
  readonly sumSeries: Labels;
  readonly countSeries: Labels;

  constructor(
    private readonly bounds: readonly number[],
    name: string,
    labelNames: readonly string[],
    values: readonly string[],
    private readonly metricName: string,
  ) {
    this.counts = new Float64Array(bounds.length);
    this.bucketSeries = bounds.map((b) => seriesLabels(name + '_bucket', labelNames, values, ['le', formatBound(b)]));
    this.sumSeries = seriesLabels(name + '_sum', labelNames, values);
    this.countSeries = seriesLabels(name + '_count', labelNames, values);
  }

  observe(v: number): void {
    if (Number.isNaN(v)) throw new RangeError(`histogram ${this.metricName}: cannot observe NaN`);
    const b = this.bounds;
    let i = 0;
    // Linear: self-metric histograms have a dozen buckets, and most observations land early.
    while (v > b[i]) i++;
    this.counts[i]++;
    this.total += v;
    this.observations++;
  }

  /** Starts a stopwatch; calling the result observes the elapsed seconds and returns them. */
  startTimer(): () => number {
    const start = performance.now();
    return () => {
      const seconds = (performance.now() - start) / 1000;
      this.observe(seconds);
      return seconds;
    };
  }

  get count(): number {
    return this.observations;
  }
  get sum(): number {
    return this.total;
  }

  appendPoints(out: MetricPoint[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.counts.length; i++) {
      cumulative += this.counts[i];
      out.push({ labels: this.bucketSeries[i], value: cumulative });
    }
    out.push({ labels: this.sumSeries, value: this.total });
    out.push({ labels: this.countSeries, value: this.observations });
  }
}

export class Histogram extends Metric<HistogramChild> {
  readonly type = 'histogram';
  /** Upper bounds including the final `+Inf`. */
  readonly bounds: readonly number[];

  constructor(opts: HistogramOptions) {
    super(opts, ['le']);
    const given = [...(opts.buckets ?? DEFAULT_BUCKETS)];
    if (given[given.length - 1] === Infinity) given.pop();
    for (let i = 0; i < given.length; i++) {
      if (!Number.isFinite(given[i]) || (i > 0 && given[i] <= given[i - 1])) {
        throw new Error(`histogram ${opts.name}: buckets must be finite and strictly increasing`);
      }
    }
    this.bounds = [...given, Infinity];
    if (this.labelNames.length === 0) this.labels();
  }

  observe(v: number): void {
    this.unlabelled().observe(v);
  }

  startTimer(): () => number {
    return this.unlabelled().startTimer();
  }

  protected newChild(values: readonly string[]): HistogramChild {
    return new HistogramChild(this.bounds, this.name, this.labelNames, values, this.name);
  }

  protected appendPoints(child: HistogramChild, out: MetricPoint[]): void {
    child.appendPoints(out);
  }
}

export interface RegistryOptions {
  /** Where a failing collector or gauge callback is reported; the scrape goes on without it. */
  logger?: Logger;
}

export class Registry {
  private readonly metrics = new Map<string, Counter | Gauge | Histogram>();
  private readonly collectors = new Set<Collector>();
  private readonly logger: Logger;

  constructor(opts: RegistryOptions = {}) {
    this.logger = (opts.logger ?? silentLogger).child({ component: 'selfmetrics' });
  }

  counter(opts: MetricOptions): Counter {
    return this.add(new Counter(opts));
  }

  gauge(opts: GaugeOptions): Gauge {
    return this.add(new Gauge(opts));
  }

  histogram(opts: HistogramOptions): Histogram {
    return this.add(new Histogram(opts));
  }

  /** Adds a producer of whole families; their names must not clash with anything else. */
  register(collector: Collector): void {
    if (this.collectors.has(collector)) throw new Error('collector is already registered');
    this.collectors.add(collector);
  }

  unregister(collector: Collector): boolean {
    return this.collectors.delete(collector);
  }

  /** Forgets a metric created here, so that its name can be registered again. */
  removeMetric(name: string): boolean {
    return this.metrics.delete(name);
  }

  /**
   * Every family, sorted by name. A collector or callback that throws is logged and left out,
   * and a collector family whose name is already taken is dropped, so that one faulty part
   * never costs the whole page.
   */
  collect(): MetricFamily[] {
    const out = new Map<string, MetricFamily>();
    for (const m of this.metrics.values()) {
      if (m instanceof Gauge) {
        try {
          m.refresh();
        } catch (err) {
          this.logger.error('gauge collect callback failed', { metric: m.name, err });
          continue;
        }
      }
      const fam = m.toFamily();
      if (fam) out.set(fam.name, fam);
    }
    for (const c of this.collectors) {
      let families: MetricFamily[];
      try {
        families = c.collect();
      } catch (err) {
        this.logger.error('collector failed', { err });
        continue;
      }
      for (const fam of families) {
        if (out.has(fam.name) || this.metrics.has(fam.name)) {
          this.logger.warn('dropping duplicate metric family', { family: fam.name });
          continue;
        }
        out.set(fam.name, fam);
      }
    }
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private add<M extends Counter | Gauge | Histogram>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }
}
