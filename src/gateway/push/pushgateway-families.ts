/**
 * Pushed histograms and summaries as the Pushgateway holds and shows them. It keeps every push
 * as client_model protobuf: a text body's `le` and `quantile` become numbers (written back the
 * way Go formats them: `le="1.0"` from Python's client is `le="1"`), bucket and sample counts
 * become unsigned integers, and samples that have no place there (a bucket without `le`, a
 * histogram's bare sample) are dropped. When it writes a page, expfmt completes each label set:
 * a `+Inf` bucket equal to the count, `_sum` and `_count` (0 when absent). Its JSON API shows
 * what was stored, without that completion; so the store keeps the normalised families and
 * only the page is completed.
 */

import type { MetricFamily, MetricPoint } from '../../model/family.js';
import { LabelsBuilder, METRIC_NAME, type Labels } from '../../model/labels.js';
import { sampleGroup } from '../../formats/prometheus/order.js';
import { formatGoFloat, parseGoFloat } from '../../formats/protobuf/gofloat.js';

const TWO_TO_64 = 18446744073709551616;

/** Families read from a text or OpenMetrics body, as the Pushgateway would store them. */
export function normalizePushed(families: readonly MetricFamily[]): MetricFamily[] {
  return families.map((f) => {
    const histogram = f.type === 'histogram' || f.type === 'gaugehistogram';
    if (!histogram && f.type !== 'summary') return f;
    const b = new LabelsBuilder();
    const metrics: MetricPoint[] = [];
    for (const m of f.metrics) {
      const suffix = m.labels.metricName.slice(f.name.length);
      if (histogram && suffix === '_bucket') {
        const le = parseBound(m.labels.get('le'));
        if (le === undefined) continue;
        metrics.push({ ...m, labels: withLabel(b, m.labels, 'le', formatGoFloat(le)), value: asUint64(m.value) });
      } else if (!histogram && suffix === '') {
        const q = parseBound(m.labels.get('quantile'));
        if (q === undefined) continue;
        metrics.push({ ...m, labels: withLabel(b, m.labels, 'quantile', formatGoFloat(q)) });
      } else if (suffix === '_count' || suffix === '_gcount') {
        metrics.push({ ...m, value: asUint64(m.value) });
      } else if (suffix === '_sum' || suffix === '_gsum' || suffix === '_created') {
        metrics.push(m);
      }
      // Anything else (a histogram's bare sample) has no field in the protobuf model.
    }
    return { ...f, metrics };
  });
}

/** The families with each histogram and summary label set completed, as expfmt writes them. */
export function completedForPage(families: readonly MetricFamily[]): MetricFamily[] {
  return families.map((f) => {
    const histogram = f.type === 'histogram' || f.type === 'gaugehistogram';
    if (!histogram && f.type !== 'summary') return f;
    const sum = f.type === 'gaugehistogram' ? '_gsum' : '_sum';
    const count = f.type === 'gaugehistogram' ? '_gcount' : '_count';
    const groups = new Map<string, { base: Labels; inf: boolean; sum: boolean; count: number | undefined }>();
    for (const m of f.metrics) {
      const key = sampleGroup(f.name, f.type, m.labels);
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { base: m.labels, inf: false, sum: false, count: undefined }));
      const suffix = m.labels.metricName.slice(f.name.length);
      if (suffix === '_bucket' && m.labels.get('le') === '+Inf') g.inf = true;
      else if (suffix === sum) g.sum = true;
      else if (suffix === count) g.count = m.value;
    }
    const added: MetricPoint[] = [];
    const b = new LabelsBuilder();
    for (const g of groups.values()) {
      const named = (suffix: string): LabelsBuilder => b.reset(g.base).del('le').del('quantile').set(METRIC_NAME, f.name + suffix);
      if (histogram && !g.inf) added.push({ labels: named('_bucket').set('le', '+Inf').build(), value: g.count ?? 0 });
      if (!g.sum) added.push({ labels: named(sum).build(), value: 0 });
      if (g.count === undefined) added.push({ labels: named(count).build(), value: 0 });
    }
    return added.length === 0 ? f : { ...f, metrics: [...f.metrics, ...added] };
  });
}

/** A bucket bound or quantile as Go's ParseFloat reads it; NaN has no place in the model. */
function parseBound(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = parseGoFloat(text.trim());
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

/** A count as the uint64 the Pushgateway stores: fractions cut, negatives wrapped. */
function asUint64(v: number): number {
  if (!Number.isFinite(v)) return v;
  const t = Math.trunc(v);
  return t < 0 ? TWO_TO_64 + t : t;
}

function withLabel(b: LabelsBuilder, labels: Labels, name: string, value: string): Labels {
  return labels.get(name) === value ? labels : b.reset(labels).set(name, value).build();
}

/**
 * Labels a group's series show with an empty value when they have none: `instance`, so that
 * Prometheus with `honor_labels: true` leaves them without one instead of adding its own, and
 * any grouping label pushed with an empty value (`/x@base64/=`). The Pushgateway writes both;
 * Prometheus reads an empty label as none.
 */
export function blankLabelsOf(grouping: Readonly<Record<string, string>>): string[] {
  const names = ['instance'];
  for (const [k, v] of Object.entries(grouping)) if (v === '' && k !== 'instance') names.push(k);
  return names.sort();
}
