/**
 * One series as a line of VictoriaMetrics' export format (what `/api/v1/export` writes and
 * `/api/v1/import` reads): `{"metric":{"__name__":"m","k":"v"},"values":[...],"timestamps":[...]}`,
 * `__name__` first and the other labels in their sorted order, as the export writes them. Values
 * are written as the export writes them too: shortest round-trip decimals, and `+Inf`, `-Inf`,
 * `NaN` as bare tokens — not strict JSON, but what VictoriaMetrics (and parser.ts) read back.
 */

import { METRIC_NAME, type Labels } from '../../model/labels.js';

/** The `metric` object of a series, `{"__name__":"m","k":"v"}`. */
export function metricJson(labels: Labels): string {
  let s = '{';
  const name = labels.get(METRIC_NAME);
  if (name !== undefined) s += `"__name__":${JSON.stringify(name)}`;
  for (let i = 0; i < labels.size; i++) {
    const n = labels.name(i);
    if (n === METRIC_NAME) continue;
    if (s.length > 1) s += ',';
    s += `${JSON.stringify(n)}:${JSON.stringify(labels.value(i))}`;
  }
  return s + '}';
}

export function formatValue(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/** One line, without its newline. `values` and `timestamps` (ms) must be as long as each other. */
export function jsonLine(labels: Labels, values: ArrayLike<number>, timestamps: ArrayLike<number>): string {
  if (values.length !== timestamps.length) throw new Error(`jsonLine: ${values.length} values but ${timestamps.length} timestamps`);
  let vs = '';
  let ts = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) {
      vs += ',';
      ts += ',';
    }
    vs += formatValue(values[i]);
    ts += String(Math.trunc(timestamps[i]));
  }
  return `{"metric":${metricJson(labels)},"values":[${vs}],"timestamps":[${ts}]}`;
}
