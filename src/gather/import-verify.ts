/**
 * What the target holds of an import, read back through its query API: per metric name one
 * `count_over_time` over the imported range (names joined by `or`, each result given its name
 * back in a label of its own by `label_replace`: a function drops `__name__`, and `or` matches
 * without it), each answered series matched against the input's series by its label
 * set. Series of the same names that the input does not hold are not counted, so a target
 * that already had data still verifies. The same instant queries serve VictoriaMetrics and
 * Prometheus. And, for a resume, which samples of a few series already arrived (`presentSamples`,
 * by `/api/v1/export`: VictoriaMetrics keeps a sample sent twice twice).
 */

import { LabelsBuilder, type Labels } from '../model/labels.js';
import type { LineChunk } from './import-input.js';
import { LineReader } from './import-rows.js';
import type { ImportTarget } from './import-target.js';

export interface VerifyResult {
  readonly expectedSeries: number;
  readonly expectedSamples: number;
  readonly foundSeries: number;
  readonly foundSamples: number;
  readonly ok: boolean;
  /** In words: what matched, what did not and what that likely means. */
  readonly summary: string;
}

/** Query text stays under this (one form POST each). */
const MAX_QUERY_CHARS = 16_000;

export async function verifyImport(target: ImportTarget, names: Iterable<string>, expected: Set<string>, expectedSamples: number, minMs: number, maxMs: number, signal?: AbortSignal): Promise<VerifyResult> {
  const nameList = [...names];
  // what a storage took is searchable a moment later (VictoriaMetrics indexes new series
  // asynchronously): a count short of the input is asked again a few times before it stands
  let found = { series: 0, samples: 0 };
  const deadline = Date.now() + VERIFY_PATIENCE_MS;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(4_000, 250 * 2 ** attempt)));
    if (signal?.aborted) break;
    await target.flush();
    found = await countInTarget(target, nameList, expected, minMs, maxMs);
    if ((found.series >= expected.size && found.samples >= expectedSamples) || Date.now() > deadline) break;
  }
  const ok = found.series === expected.size && found.samples === expectedSamples;
  let summary = `series ${found.series} of ${expected.size}, samples ${found.samples} of ${expectedSamples}`;
  if (ok) summary += ': complete';
  else if (found.samples > expectedSamples) summary += ': the target holds more samples of these series in the range than the input (imported before, or the same series already there)';
  else summary += ': some did not arrive (refused by the target: see its logs, e.g. vm_rows_ignored_total, or prometheus_tsdb_out_of_bound_samples_total)';
  return { expectedSeries: expected.size, expectedSamples, foundSeries: found.series, foundSamples: found.samples, ok, summary };
}

/** How long a count short of the input is asked again: a busy VictoriaMetrics takes seconds to index new series. */
const VERIFY_PATIENCE_MS = 30_000;

async function countInTarget(target: ImportTarget, names: readonly string[], expected: Set<string>, minMs: number, maxMs: number): Promise<{ series: number; samples: number }> {
  const windowMs = Math.max(1, maxMs - minMs + 1);
  const at = (maxMs / 1000).toFixed(3);
  let series = 0;
  let samples = 0;
  const seen = new Set<string>();
  const lb = new LabelsBuilder();
  for (const b of batched(names, (n) => term(n, windowMs))) {
    const text = await target.query('/api/v1/query', new URLSearchParams({ query: b.join(' or '), time: at, nocache: '1' }));
    const result = (JSON.parse(text) as { data?: { result?: { metric: Record<string, string>; value: [number, string] }[] } }).data?.result ?? [];
    for (const r of result) {
      lb.reset();
      for (const [k, v] of Object.entries(r.metric)) lb.set(k === NAME_LABEL ? '__name__' : k, v);
      const key = lb.build().key;
      if (!expected.has(key) || seen.has(key)) continue;
      seen.add(key);
      series++;
      samples += Number(r.value[1]);
    }
  }
  return { series, samples };
}

/** The name kept in a label of its own: `or` matches series by their labels without `__name__`, and would drop one name's series that equal another's. */
const NAME_LABEL = '__tributary_name__';

/** One query's terms per batch, each query under MAX_QUERY_CHARS (one form POST). */
function batched(names: readonly string[], term: (name: string) => string): string[][] {
  const batches: string[][] = [[]];
  let len = 0;
  for (const n of names) {
    const part = term(n);
    if (len + part.length > MAX_QUERY_CHARS && batches[batches.length - 1].length > 0) {
      batches.push([]);
      len = 0;
    }
    batches[batches.length - 1].push(part);
    len += part.length + 4;
  }
  return batches.filter((b) => b.length > 0);
}

function term(name: string, windowMs: number): string {
  const q = JSON.stringify(name);
  return `label_replace(count_over_time({__name__=${q}}[${windowMs}ms]),"${NAME_LABEL}",${q},"","")`;
}

/** The samples (timestamps by series key, as sent: moved by `shiftMs`) the target already holds of the chunks' series in their range. */
export async function presentSamples(target: ImportTarget, chunks: readonly LineChunk[], shiftMs = 0): Promise<Map<string, Set<number>>> {
  const series = new Map<string, Labels>();
  let min = Infinity;
  let max = -Infinity;
  const reader = new LineReader();
  for (const c of chunks) {
    reader.read(c, {
      line(_n, labels, _v, ts, n) {
        series.set(labels.key, labels);
        for (let i = 0; i < n; i++) {
          if (ts[i] < min) min = ts[i];
          if (ts[i] > max) max = ts[i];
        }
      },
      bad() {},
    });
  }
  const out = new Map<string, Set<number>>();
  if (series.size === 0) return out;
  // the target holds them as sent: shifted
  min += shiftMs;
  max += shiftMs;
  await target.flush();
  const add = (labels: Labels, ts: ArrayLike<number>, n: number): void => {
    if (!series.has(labels.key)) return;
    let set = out.get(labels.key);
    if (set === undefined) out.set(labels.key, (set = new Set()));
    for (let i = 0; i < n; i++) set.add(ts[i]);
  };
  if (target.info.flavour.startsWith('victoriametrics')) {
    const params = new URLSearchParams({ start: (min / 1000).toFixed(3), end: (max / 1000).toFixed(3) });
    for (const labels of series.values()) params.append('match[]', selector(labels));
    const buf = Buffer.from(await target.query('/api/v1/export', params));
    new LineReader().read({ buf, firstLine: 1 }, { line: (_n, labels, _v, ts, n) => add(labels, ts, n), bad() {} });
    return out;
  }
  // no export API (Prometheus, Mimir, Thanos): the raw samples of the chunks' metric names over
  // their range, by range-vector queries, names batched as in verification
  const names = new Set<string>();
  for (const labels of series.values()) names.add(labels.get('__name__') ?? '');
  const windowMs = Math.max(1, max - min + 1);
  const lb = new LabelsBuilder();
  // range vectors do not combine with `or`: one selector with the names as alternatives
  for (const batch of batched([...names], (n) => n.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&'))) {
    const query = `{__name__=~${JSON.stringify(batch.join('|'))}}[${windowMs}ms]`;
    const text = await target.query('/api/v1/query', new URLSearchParams({ query, time: (max / 1000).toFixed(3) }));
    const result = (JSON.parse(text) as { data?: { result?: { metric: Record<string, string>; values?: [number, string][] }[] } }).data?.result ?? [];
    for (const r of result) {
      lb.reset();
      for (const [k, v] of Object.entries(r.metric)) lb.set(k, v);
      const ts = (r.values ?? []).map((p) => Math.round(p[0] * 1000));
      add(lb.build(), ts, ts.length);
    }
  }
  return out;
}

/** `{__name__="m",k="v"}`: exactly this series (and any with more labels, filtered by key afterwards). */
function selector(labels: Labels): string {
  const parts: string[] = [];
  for (let i = 0; i < labels.size; i++) parts.push(`${labels.name(i)}=${JSON.stringify(labels.value(i))}`);
  return `{${parts.join(',')}}`;
}
