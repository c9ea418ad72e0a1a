/**
 * Exposition writer for the text format 0.0.4 (and 1.0.0 with quoted names) and OpenMetrics 1.0.
 * Within one format, parse → write → parse gives back the same families. Across formats the
 * conventions are translated the way Prometheus' client libraries do:
 *
 * - A counter's family name carries `_total` in the text format and not in OpenMetrics; a text
 *   counter whose samples lack `_total` gets it in OpenMetrics.
 * - OpenMetrics-only types become their nearest text type: info and stateset → gauge (an info
 *   family `foo` is written as `foo_info`), gaugehistogram → histogram (`_gsum`/`_gcount` become
 *   `_sum`/`_count`), unknown → untyped. `_created` samples and exemplars, which the text format
 *   cannot carry, are left out of it.
 * - Names outside the legacy character set are quoted (`{"my.name"}`) when the client allows
 *   UTF-8, and otherwise escaped with underscores.
 */

import { METRIC_NAME, type Labels } from '../../model/labels.js';
import type { Exemplar, MetricFamily } from '../../model/family.js';
import { escapeToLegacyName, isLegacyLabelName, isLegacyMetricName } from '../../model/names.js';
import type { TextFormat } from '../media-types.js';

export interface WriteOptions {
  format: TextFormat;
  /** Write non-legacy names quoted (Prometheus 3 syntax) instead of escaping them. */
  utf8Names?: boolean;
  /**
   * Rendered series kept across pages: a caller that writes the same `Labels` objects again
   * (the gateway, page after page) pays for escaping and name checks once per series.
   */
  cache?: SeriesTextCache;
}

/**
 * `name{labels}` text per label set, held weakly so that series which are gone free their
 * text with them. One cache serves both formats (the series text is the same in both).
 */
export class SeriesTextCache {
  private readonly legacy = new WeakMap<Labels, string>();
  private readonly utf8 = new WeakMap<Labels, string>();

  /** @internal */
  map(utf8Names: boolean): WeakMap<Labels, string> {
    return utf8Names ? this.utf8 : this.legacy;
  }
}

/** Renders families as one page; OpenMetrics pages end with `# EOF`. */
export function writeExposition(families: readonly MetricFamily[], opts: WriteOptions): string {
  const w = new PageWriter(opts, opts.format === 'openmetrics' ? new Set(families.map((f) => f.name)) : undefined);
  for (const f of families) w.family(f);
  return w.finish();
}

const LABEL_VALUE_SPECIAL = /[\\"\n]/;
const HELP_SPECIAL_TEXT = /[\\\n]/;
const HELP_SPECIAL_OM = /[\\"\n]/;

/** Writes families one at a time, so callers with many sources can stream. */
export class PageWriter {
  private out = '';
  private readonly om: boolean;
  private readonly utf8: boolean;
  private readonly cache: WeakMap<Labels, string> | undefined;

  /**
   * @param pageNames every family name on the page, when known: an OpenMetrics counter renamed
   * from `foo_total` to `foo` must not collide with a family already called `foo`.
   */
  constructor(
    opts: WriteOptions,
    private readonly pageNames?: ReadonlySet<string>,
  ) {
    this.om = opts.format === 'openmetrics';
    this.utf8 = opts.utf8Names ?? false;
    this.cache = opts.cache?.map(this.utf8);
  }

  family(f: MetricFamily): void {
    this.out += this.header(f) + this.samples(f);
  }

  finish(): string {
    const page = this.om ? this.out + '# EOF\n' : this.out;
    this.out = '';
    return page;
  }

  /**
   * The family's HELP/TYPE/UNIT lines. With `seriesText`, callers can assemble one family from
   * parts rendered separately (the gateway merges one family from many sources); the header
   * only looks at the samples' names, to see whether a counter's samples carry `_total`.
   */
  header(f: FamilyMeta, series: readonly Labels[] = samplesOf(f)): string {
    const { name, type } = this.om ? this.openMetricsNaming(f) : textNaming(f, series);
    const shown = this.metricName(name);
    if (!this.om) {
      const help = f.help !== undefined ? '# HELP ' + shown + ' ' + escapeHelp(f.help, HELP_SPECIAL_TEXT, false) + '\n' : '';
      return help + '# TYPE ' + shown + ' ' + type + '\n';
    }
    let out = '# TYPE ' + shown + ' ' + type + '\n';
    if (f.unit !== undefined && f.unit !== '') out += '# UNIT ' + shown + ' ' + f.unit + '\n';
    // an empty HELP means none in OpenMetrics
    if (f.help !== undefined && f.help !== '') out += '# HELP ' + shown + ' ' + escapeHelp(f.help, HELP_SPECIAL_OM, true) + '\n';
    return out;
  }

  /** The family's sample lines, converted to this page's format. */
  samples(f: MetricFamily): string {
    const text = this.seriesText(f, samplesOf(f));
    // One string per line, joined once: cheaper to encode than a long chain of concatenations.
    const lines: string[] = [];
    for (const m of f.metrics) {
      const series = text(m.labels);
      if (series !== undefined) lines.push(series + this.sampleTail(m.value, m.timestamp, m.exemplar) + '\n');
    }
    return lines.join('');
  }

  /**
   * How each sample of family `f` (whose samples have the label sets `series`) is written in
   * this format: its `name{labels}` text, or undefined for a sample the format leaves out
   * (`_created` in the text format). The series text of a sample under its own name comes
   * from the cache.
   */
  seriesText(f: FamilyMeta, series: readonly Labels[]): (labels: Labels) => string | undefined {
    if (this.om) {
      // a counter whose samples lack `_total` (text format `foo` counters) gets it, as OpenMetrics requires
      const appendTotal = f.type === 'counter' && !f.name.endsWith('_total') && series.some((l) => l.metricName === f.name);
      if (!appendTotal) return (labels) => this.cachedSeries(labels);
      return (labels) => {
        const sampleName = labels.metricName;
        return sampleName === f.name ? this.series(sampleName + '_total', labels) : this.cachedSeries(labels);
      };
    }
    const created = f.type === 'counter' || f.type === 'summary' || f.type === 'histogram' ? f.name + '_created' : undefined;
    if (f.type === 'gaugehistogram') {
      const rename = new Map([
        [f.name + '_gsum', f.name + '_sum'],
        [f.name + '_gcount', f.name + '_count'],
      ]);
      return (labels) => {
        const renamed = rename.get(labels.metricName);
        return renamed === undefined ? this.cachedSeries(labels) : this.series(renamed, labels);
      };
    }
    if (created === undefined) return (labels) => this.cachedSeries(labels);
    return (labels) => (labels.metricName === created ? undefined : this.cachedSeries(labels));
  }

  /** What follows a sample's series text: value, timestamp and (OpenMetrics) exemplar, without the newline. */
  sampleTail(value: number, timestamp: number | undefined, exemplar: Exemplar | undefined): string {
    let out = ' ' + formatValue(value);
    if (this.om) {
      if (timestamp !== undefined) out += ' ' + formatSeconds(timestamp);
      if (exemplar !== undefined) out += this.exemplarText(exemplar);
    } else if (timestamp !== undefined) {
      out += ' ' + timestamp;
    }
    return out;
  }

  private openMetricsNaming(f: FamilyMeta): { name: string; type: string } {
    if (f.type !== 'counter' || !f.name.endsWith('_total')) return { name: f.name, type: f.type };
    // `foo` is taken by another family: keep the samples' names and give up the type
    if (this.pageNames?.has(f.name.slice(0, -6))) return { name: f.name, type: 'unknown' };
    // a text-format counter: the family is named with _total, its samples too
    return { name: f.name.slice(0, -6), type: 'counter' };
  }

  /** ` # {labels} value [timestamp]`: an exemplar as OpenMetrics appends it to its sample. */
  exemplarText(e: Exemplar): string {
    let out = ' # ' + this.labelBlock(e.labels, '') + ' ' + formatValue(e.value);
    if (e.timestamp !== undefined) out += ' ' + formatSeconds(e.timestamp);
    return out;
  }

  private metricName(name: string): string {
    if (isLegacyMetricName(name)) return name;
    return this.utf8 ? quoteString(name) : escapeToLegacyName(name, true);
  }

  /** `name{labels}` under the series' own name, from the cache when there is one. */
  private cachedSeries(labels: Labels): string {
    const cache = this.cache;
    let text = cache?.get(labels);
    if (text === undefined) {
      text = this.series(labels.metricName, labels);
      cache?.set(labels, text);
    }
    return text;
  }

  /** `name{labels}`, with a quoted name moved inside the braces. */
  private series(name: string, labels: Labels): string {
    if (isLegacyMetricName(name) || !this.utf8) {
      const shown = isLegacyMetricName(name) ? name : escapeToLegacyName(name, true);
      return labels.size <= 1 && labels.metricName !== '' ? shown : shown + this.labelBlock(labels, '');
    }
    return this.labelBlock(labels, quoteString(name));
  }

  /** `{a="1",b="2"}` without `__name__`; `lead` is a quoted metric name to put first. */
  private labelBlock(labels: Labels, lead: string): string {
    const kv = labels.kv;
    let out = lead;
    for (let i = 0; i < kv.length; i += 2) {
      const n = kv[i];
      if (n === METRIC_NAME) continue;
      const v = kv[i + 1];
      const shownName = isLegacyLabelName(n) ? n : this.utf8 ? quoteString(n) : escapeToLegacyName(n, false);
      out += (out === '' ? '' : ',') + shownName + '="' + (LABEL_VALUE_SPECIAL.test(v) ? escapeLabelValue(v) : v) + '"';
    }
    return '{' + out + '}';
  }
}

/** A family's name, type and metadata, without its samples. */
export type FamilyMeta = Pick<MetricFamily, 'name' | 'type' | 'help' | 'unit'>;

function samplesOf(f: FamilyMeta | MetricFamily): readonly Labels[] {
  return 'metrics' in f ? f.metrics.map((m) => m.labels) : [];
}

/** The text format's family name and type for any family (see the header comment). */
function textNaming(f: FamilyMeta, series: readonly Labels[]): { name: string; type: string } {
  switch (f.type) {
    case 'counter':
      // an OpenMetrics counter `foo` has samples `foo_total`: the text family is `foo_total`
      if (!f.name.endsWith('_total') && series.some((l) => l.metricName === f.name + '_total')) {
        return { name: f.name + '_total', type: 'counter' };
      }
      return { name: f.name, type: 'counter' };
    case 'info':
      return { name: f.name.endsWith('_info') ? f.name : f.name + '_info', type: 'gauge' };
    case 'stateset':
      return { name: f.name, type: 'gauge' };
    case 'gaugehistogram':
      return { name: f.name, type: 'histogram' };
    case 'unknown':
      return { name: f.name, type: 'untyped' };
    default:
      return { name: f.name, type: f.type };
  }
}

function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c));
}

function quoteString(s: string): string {
  return '"' + escapeLabelValue(s) + '"';
}

function escapeHelp(help: string, special: RegExp, om: boolean): string {
  if (!special.test(help)) return help;
  return help.replace(om ? /[\\"\n]/g : /[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c));
}

/** Shortest text that parses back to the same float64; -0 keeps its sign. */
export function formatValue(v: number): string {
  if (Number.isInteger(v)) return v === 0 && 1 / v < 0 ? '-0' : String(v);
  if (v !== v) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Milliseconds as OpenMetrics seconds, exactly: 1520879607789 → "1520879607.789". */
export function formatSeconds(ms: number): string {
  const neg = ms < 0;
  const abs = neg ? -ms : ms;
  const whole = Math.floor(abs / 1000);
  const frac = abs - whole * 1000;
  let out = String(whole);
  if (frac !== 0) out += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
  return neg ? '-' + out : out;
}
