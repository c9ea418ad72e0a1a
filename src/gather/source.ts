/**
 * Gather's sources: `validateSource` (what a connection reaches, source-validate.ts) and
 * `openSource`, the `Source` of types.ts for VictoriaMetrics (single node, a cluster's
 * `/select/<tenant>/prometheus`, either behind vmauth) and Prometheus.
 *
 * Raw samples: VictoriaMetrics streams `/api/v1/export` (its `end` is inclusive, so it is asked
 * for `end − 1 ms`; `start`/`end` go as seconds with three decimals, which it reads to the ms),
 * handed on in chunks of whole lines as they arrive. Prometheus has no export API (nor has a
 * VictoriaMetrics behind a vmauth that routes only the query API): a range-vector
 * instant query `<selector>[<window>ms]` at `end − 1 ms` returns every raw sample of the window,
 * kept when in `[start, end)` — exact on both sides of Prometheus 3's change (2.x windows are
 * closed on the left, 3.x open), one query per selector and at most an hour each (its answer is
 * JSON, read series by series as it streams), series met twice (overlapping selectors) written once. Staleness markers
 * are not returned by queries: a Prometheus export holds none (the export API of VictoriaMetrics
 * passes its own on). A query (`{query, stepMs}`) is evaluated with `query_range` on the
 * absolute grid of its step (a batch boundary never moves a point), in both flavours.
 *
 * Discovery: VictoriaMetrics components from vmgather's `vm_app_version` query; per job and
 * instance series counts with `count by (job, instance)` over the range (VictoriaMetrics) or by
 * counting the series API's answer as it streams (Prometheus: its functions drop the metric
 * name and refuse the resulting duplicates).
 */

import { Labels } from '../model/labels.js';
import { metricJson } from '../formats/jsonline/writer.js';
import {
  SourceError,
  selectorsProblem,
  type ConnectionConfig,
  type DiscoverResult,
  type DiscoveredJob,
  type Selection,
  type SeriesSample,
  type Source,
  type SourceInfo,
  type ValidateResult,
} from './types.js';
import { normalizeSourceUrl } from './source-url.js';
import { connectionProblem, classified, clientSettings, DEFAULT_TIMEOUT_MS, SourceHttp, statusError } from './source-http.js';
import { ArrayObjectScanner, matrixLine, parseExportLine, wholeLines, type MatrixSeries } from './source-lines.js';
import { validateConnection } from './source-validate.js';

export { normalizeSourceUrl } from './source-url.js';

/** vmgather's component query: a job's component is its `vm_app_version`'s version up to the first dash. */
export const COMPONENTS_QUERY = (windowMs: number): string =>
  `group by (job, vm_component) (label_replace(last_over_time(vm_app_version{version!=""}[${windowMs}ms]), "vm_component", "$1", "version", "(.+?)\\\\-.*"))`;

/** Largest window one Prometheus range-vector query or one query_range request covers. */
const CHUNK_MS = 3_600_000;
/** Preview queries in flight at once (Prometheus: one per series). */
const SAMPLE_CONCURRENCY = 4;
/** Export lines gathered into chunks of about this many bytes. */
const MIN_CHUNK = 64 * 1024;
/** Prometheus refuses more points than this per series in one query_range. */
const MAX_POINTS = 10_000;

export async function validateSource(c: ConnectionConfig): Promise<ValidateResult> {
  const { kind: _kind, ...result } = await validateConnection(c);
  return result;
}

/** A source for `c`; validated first unless `info` (from an earlier validation) is given. */
export async function openSource(c: ConnectionConfig, info?: SourceInfo): Promise<Source> {
  let found = info;
  if (found === undefined) {
    const v = await validateConnection(c);
    if (!v.ok || v.source === undefined) {
      throw new SourceError(v.kind ?? 'http', `${v.error ?? 'validation failed'}${v.hint ? ` (${v.hint})` : ''}`);
    }
    found = v.source;
  }
  const url = normalizeSourceUrl(c.url, c.tenant);
  const problem = connectionProblem(c);
  if (problem !== undefined) throw new SourceError(problem.startsWith('TLS') ? 'http' : 'auth', problem);
  const http = new SourceHttp(clientSettings(c, url.userInfo), c.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return found.flavour !== 'prometheus' ? new VictoriaMetricsSource(found, http, c.timeoutMs ?? DEFAULT_TIMEOUT_MS) : new PrometheusSource(found, http, c.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/** Seconds with ms decimals, as both APIs read times. */
function sec(ms: number): string {
  return (ms / 1000).toFixed(3);
}

interface VectorAnswer {
  readonly resultType: string;
  readonly result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
}

abstract class BaseSource implements Source {
  constructor(
    readonly info: SourceInfo,
    protected readonly http: SourceHttp,
    protected readonly timeoutMs: number,
  ) {}

  protected api(path: string): string {
    return `${this.info.apiBase}${path}`;
  }

  /** Query-API params with the server-side timeout set to ours, so the server gives up too. */
  protected params(p: Record<string, string>): URLSearchParams {
    return new URLSearchParams({ ...p, timeout: `${Math.max(1, Math.ceil(this.timeoutMs / 1000))}s` });
  }

  protected instant<T = VectorAnswer>(query: string, timeMs: number, signal?: AbortSignal): Promise<T> {
    return this.http.json<T>(this.api('/api/v1/query'), this.params({ query, time: sec(timeMs) }), { signal });
  }

  async labelNames(selection: Selection, startMs: number, endMs: number): Promise<string[]> {
    const params = new URLSearchParams({ start: sec(startMs), end: sec(endMs - 1) });
    if ('selectors' in selection) for (const s of selection.selectors) params.append('match[]', s);
    const names = await this.http.json<string[]>(this.api('/api/v1/labels'), params);
    return [...new Set(names)].filter((n) => n !== '__name__').sort();
  }

  async labelValues(label: string, selection: Selection, startMs: number, endMs: number): Promise<string[]> {
    if (!('selectors' in selection)) return [];
    const params = new URLSearchParams({ start: sec(startMs), end: sec(endMs - 1) });
    for (const s of selection.selectors) params.append('match[]', s);
    const values = await this.http.json<string[]>(this.api(`/api/v1/label/${encodeURIComponent(label)}/values`), params);
    return [...new Set(values)].sort();
  }

  async validateQuery(selection: Selection, startMs: number, endMs: number): Promise<{ ok: boolean; error?: string; series?: number }> {
    try {
      if ('query' in selection) {
        if (selection.query.trim() === '') return { ok: false, error: 'the query is empty' };
        if (!(selection.stepMs > 0)) return { ok: false, error: `step ${selection.stepMs} ms: want a positive step` };
        return { ok: true, series: await this.queryCount(selection.query, endMs - 1) };
      }
      const bad = selectorsProblem(selection.selectors);
      if (bad !== undefined) return { ok: false, error: bad };
      return { ok: true, series: await this.countSeries(selection.selectors, startMs, endMs) };
    } catch (err) {
      // the selection is fine, only too large to count: the export splits its batches then
      if (err instanceof SourceError && err.kind === 'too_many_series') return { ok: true, error: err.message };
      if (err instanceof SourceError && (err.kind === 'http' || err.kind === 'not_found')) return { ok: false, error: err.message };
      throw err;
    }
  }

  protected abstract countSeries(selectors: readonly string[], startMs: number, endMs: number): Promise<number>;
  abstract discover(startMs: number, endMs: number): Promise<DiscoverResult>;
  abstract jobComponents(startMs: number, endMs: number): Promise<Record<string, string>>;
  abstract sample(selection: Selection, startMs: number, endMs: number, limit: number): Promise<SeriesSample[]>;
  /** Raw samples of checked selectors over the range, as export lines (the flavour's way of reading them). */
  protected abstract selectorLines(selectors: readonly string[], startMs: number, endMs: number, signal: AbortSignal): AsyncIterable<Buffer>;

  async *exportLines(selection: Selection, startMs: number, endMs: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    if ('query' in selection) {
      yield* this.queryRangeLines(selection.query, selection.stepMs, startMs, endMs, signal);
      return;
    }
    const bad = selectorsProblem(selection.selectors);
    if (bad !== undefined) throw new SourceError('http', bad);
    yield* this.selectorLines(selection.selectors, startMs, endMs, signal);
  }

  /** `query_range` of a query, as export lines, on the absolute grid of `stepMs`, chunk by chunk. */
  protected async *queryRangeLines(query: string, stepMs: number, startMs: number, endMs: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    if (!(stepMs > 0)) throw new SourceError('http', `step ${stepMs} ms: want a positive step`);
    const span = Math.max(stepMs, Math.min(CHUNK_MS, MAX_POINTS * stepMs));
    let from = Math.ceil(startMs / stepMs) * stepMs;
    while (from < endMs) {
      const to = Math.min(endMs, from + Math.floor(span / stepMs) * stepMs);
      const params = this.params({ query, start: sec(from), end: sec(to - 1), step: `${stepMs / 1000}s` });
      yield* linesOf(this.matrix('/api/v1/query_range', params, signal), from, to, undefined);
      from = to;
    }
  }

  /**
   * The series of a matrix answer one by one as it streams in: a batch's answer is never held
   * whole, however many series it has.
   */
  protected async *matrix(path: string, params: URLSearchParams, signal: AbortSignal): AsyncGenerator<MatrixSeries> {
    const kind = { resultType: '' };
    yield* this.results(path, params, signal, kind);
    if (kind.resultType !== 'matrix') throw new SourceError('http', `${this.api(path)}: the answer is a ${kind.resultType}, not a matrix`);
  }

  /** The result series of a query answer as it streams in; `kind.resultType` is set once it is read. */
  private async *results(path: string, params: URLSearchParams, signal: AbortSignal, kind: { resultType: string }): AsyncGenerator<MatrixSeries> {
    const url = this.api(path);
    const res = await this.http.request(url, params, { signal });
    if (res.status < 200 || res.status > 299) throw await statusError(res, url);
    const pending: string[] = [];
    const scanner = new ArrayObjectScanner((json) => void pending.push(json), 2);
    let head = '';
    for await (const chunk of res.body) {
      if (head.length < 512) head += chunk.toString('utf8', 0, Math.min(chunk.length, 512));
      scanner.push(chunk);
      for (const json of pending) yield JSON.parse(json) as MatrixSeries;
      pending.length = 0;
    }
    if (!/"status"\s*:\s*"success"/.test(head)) throw classified(res.status, `${url}: ${head.slice(0, 300)}`);
    kind.resultType = /"resultType"\s*:\s*"(\w+)"/.exec(head)?.[1] ?? 'unknown';
  }

  /** How many series a query's instant answer has (a scalar or string: 1), counted as it streams. */
  protected async queryCount(query: string, timeMs: number): Promise<number> {
    const kind = { resultType: '' };
    let n = 0;
    for await (const _ of this.results('/api/v1/query', this.params({ query, time: sec(timeMs) }), new AbortController().signal, kind)) n++;
    return kind.resultType === 'vector' || kind.resultType === 'matrix' ? n : 1;
  }

  /** Raw samples in `[startMs, endMs)` by range-vector instant queries, an hour at most each. */
  protected async *rangeVectorLines(selectors: readonly string[], startMs: number, endMs: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    for (let from = startMs; from < endMs; ) {
      const to = Math.min(endMs, from + CHUNK_MS);
      // overlapping selectors: a series is written once (one selector needs no memory of them)
      const seen = selectors.length > 1 ? new Set<string>() : undefined;
      for (const sel of selectors) {
        // at to − 1 ms, a window of (to − from) ms reaches back to from − 1 (2.x, closed) or from (3.x, open): the filter keeps [from, to)
        const params = this.params({ query: `${sel}[${to - from}ms]`, time: sec(to - 1) });
        yield* linesOf(this.matrix('/api/v1/query', params, signal), from, to, seen);
      }
      from = to;
    }
  }

  protected queryRangeSample(query: string, stepMs: number, startMs: number, endMs: number, limit: number): Promise<SeriesSample[]> {
    return collectSeries((signal) => this.queryRangeLines(query, stepMs, startMs, endMs, signal), limit, false);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

class VictoriaMetricsSource extends BaseSource {
  protected async countSeries(selectors: readonly string[], startMs: number, endMs: number): Promise<number> {
    let n = 0;
    // a sum over selectors: overlapping ones count twice (an estimate, as the contract allows)
    for (const s of selectors) {
      const r = await this.instant(`count(last_over_time(${s}[${endMs - startMs}ms]))`, endMs - 1);
      n += Number(r.result[0]?.value?.[1] ?? 0);
    }
    return n;
  }

  async jobComponents(startMs: number, endMs: number): Promise<Record<string, string>> {
    const components = await this.instant(COMPONENTS_QUERY(endMs - startMs), endMs - 1);
    const componentOf = new Map<string, string>();
    for (const r of components.result) {
      const job = r.metric.job ?? '';
      if (!componentOf.has(job) && r.metric.vm_component) componentOf.set(job, r.metric.vm_component);
    }
    // fromEntries: a job named `__proto__` is a key like any other
    return Object.fromEntries(componentOf);
  }

  async discover(startMs: number, endMs: number): Promise<DiscoverResult> {
    const w = endMs - startMs;
    const componentOf = new Map(Object.entries(await this.jobComponents(startMs, endMs)));
    try {
      const counts = await this.instant(`count by (job, instance) (last_over_time({__name__=~".+"}[${w}ms]))`, endMs - 1);
      const perInstance = counts.result.map((r) => ({ job: r.metric.job ?? '', instance: r.metric.instance ?? '', series: Number(r.value?.[1] ?? 0) }));
      return summarize(perInstance, componentOf);
    } catch (err) {
      if (!(err instanceof SourceError) || err.kind !== 'too_many_series') throw err;
    }
    return { ...summarize(await this.estimatedCounts(startMs, endMs), componentOf), estimated: true };
  }

  /**
   * Per job and instance series counts when counting them over the range is beyond the server's
   * series limit (a large installation): the jobs of the range (label values), and per job the
   * TSDB statistics of the range's last day, by instance — what VictoriaMetrics keeps without
   * touching the series one by one.
   */
  private async estimatedCounts(startMs: number, endMs: number): Promise<{ job: string; instance: string; series: number }[]> {
    const jobs = await this.http.json<string[]>(this.api('/api/v1/label/job/values'), new URLSearchParams({ start: sec(startMs), end: sec(endMs - 1) }));
    const date = new Date(endMs - 1).toISOString().slice(0, 10);
    const out: { job: string; instance: string; series: number }[] = [];
    for (const job of jobs) {
      const stats = await this.http.json<{ totalSeries?: number; seriesCountByFocusLabelValue?: { name: string; value: number }[] }>(
        this.api('/api/v1/status/tsdb'),
        new URLSearchParams({ 'match[]': `{job=${JSON.stringify(job)}}`, focusLabel: 'instance', topN: '100000', date }),
      );
      const byInstance = stats.seriesCountByFocusLabelValue ?? [];
      if (byInstance.length === 0) out.push({ job, instance: '', series: stats.totalSeries ?? 0 });
      else for (const i of byInstance) out.push({ job, instance: i.name, series: i.value });
    }
    return out;
  }

  async sample(selection: Selection, startMs: number, endMs: number, limit: number): Promise<SeriesSample[]> {
    if ('query' in selection) return this.queryRangeSample(selection.query, selection.stepMs, startMs, endMs, limit);
    const bad = selectorsProblem(selection.selectors);
    if (bad !== undefined) throw new SourceError('http', bad);
    // range-vector reads (no export API) give a series once per hour of the range: read on
    return collectSeries((signal) => this.exportLines(selection, startMs, endMs, signal), limit, this.info.exportApi);
  }

  protected async *selectorLines(selectors: readonly string[], startMs: number, endMs: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    if (!this.info.exportApi) {
      // a vmauth that routes the query API only: raw samples as from Prometheus
      yield* this.rangeVectorLines(selectors, startMs, endMs, signal);
      return;
    }
    if (endMs <= startMs) return;
    const params = new URLSearchParams();
    for (const s of selectors) params.append('match[]', s);
    params.set('start', sec(startMs));
    params.set('end', sec(endMs - 1));
    const url = this.api('/api/v1/export');
    const res = await this.http.request(url, params, { signal });
    if (res.status < 200 || res.status > 299) throw await statusError(res, url);
    yield* wholeLines(res.body);
  }
}

class PrometheusSource extends BaseSource {
  /** Streams the series API's answer for `selectors` over the range, calling `each` per label set. */
  private async eachSeries(selectors: readonly string[], startMs: number, endMs: number, each: (m: Record<string, string>) => boolean | void, signal?: AbortSignal): Promise<void> {
    const params = new URLSearchParams();
    for (const s of selectors) params.append('match[]', s);
    params.set('start', sec(startMs));
    params.set('end', sec(endMs - 1));
    const url = this.api('/api/v1/series');
    const res = await this.http.request(url, params, { signal });
    if (res.status < 200 || res.status > 299) throw await statusError(res, url);
    let stop = false;
    let head = '';
    const scanner = new ArrayObjectScanner((json) => {
      if (!stop && each(JSON.parse(json) as Record<string, string>) === false) stop = true;
    });
    for await (const chunk of res.body) {
      if (head.length < 64) head += chunk.toString('utf8', 0, Math.min(chunk.length, 64));
      scanner.push(chunk);
      if (stop) break;
    }
    if (!stop && !/"status"\s*:\s*"success"/.test(head)) throw new SourceError('http', `${url}: ${head}`);
  }

  protected async countSeries(selectors: readonly string[], startMs: number, endMs: number): Promise<number> {
    let n = 0;
    await this.eachSeries(selectors, startMs, endMs, () => void n++);
    return n;
  }

  /** Prometheus has no components: its jobs are obfuscated as `unknown-job-<n>`. */
  async jobComponents(): Promise<Record<string, string>> {
    return {};
  }

  async discover(startMs: number, endMs: number): Promise<DiscoverResult> {
    const counts = new Map<string, { job: string; instance: string; series: number }>();
    await this.eachSeries(['{__name__=~".+"}'], startMs, endMs, (m) => {
      const job = m.job ?? '';
      const instance = m.instance ?? '';
      const key = `${job}\u0000${instance}`;
      const e = counts.get(key);
      if (e === undefined) counts.set(key, { job, instance, series: 1 });
      else e.series++;
    });
    return summarize([...counts.values()], new Map());
  }

  async sample(selection: Selection, startMs: number, endMs: number, limit: number): Promise<SeriesSample[]> {
    if ('query' in selection) return this.queryRangeSample(selection.query, selection.stepMs, startMs, endMs, limit);
    const bad = selectorsProblem(selection.selectors);
    if (bad !== undefined) throw new SourceError('http', bad);
    if (limit <= 0) return [];
    const picked: Record<string, string>[] = [];
    await this.eachSeries(selection.selectors, startMs, endMs, (m) => {
      picked.push(m);
      return picked.length < limit;
    });
    // one query per series, a few at a time (a remote Prometheus answers each in a round trip)
    const out: SeriesSample[] = new Array(picked.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < picked.length; i = next++) {
        const m = picked[i];
        const exact = `{${Object.entries(m)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',')}}`;
        const values: number[] = [];
        const timestamps: number[] = [];
        for await (const chunk of this.rangeVectorLines([exact], startMs, endMs, new AbortController().signal)) {
          for (const line of chunk.toString('utf8').split('\n')) {
            if (line === '') continue;
            const s = parseExportLine(line);
            values.push(...s.values);
            timestamps.push(...s.timestamps);
          }
        }
        out[i] = { metric: m, values, timestamps };
      }
    };
    await Promise.all(Array.from({ length: Math.min(SAMPLE_CONCURRENCY, picked.length) }, worker));
    return out;
  }

  protected selectorLines(selectors: readonly string[], startMs: number, endMs: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    return this.rangeVectorLines(selectors, startMs, endMs, signal);
  }
}

/** Export lines of matrix series in `[startMs, endMs)`, in chunks of about MIN_CHUNK bytes; series in `seen` skipped (and added). */
async function* linesOf(series: AsyncIterable<MatrixSeries>, startMs: number, endMs: number, seen: Set<string> | undefined): AsyncGenerator<Buffer> {
  let out = '';
  for await (const s of series) {
    if (seen !== undefined) {
      const key = metricJson(Labels.fromRecord(s.metric));
      if (seen.has(key)) continue;
      seen.add(key);
    }
    const line = matrixLine(s, startMs, endMs);
    if (line === undefined) continue;
    out += line;
    if (out.length >= MIN_CHUNK) {
      yield Buffer.from(out);
      out = '';
    }
  }
  if (out.length > 0) yield Buffer.from(out);
}

/** Jobs and components from per-(job, instance) series counts. */
function summarize(perInstance: readonly { job: string; instance: string; series: number }[], componentOf: ReadonlyMap<string, string>): DiscoverResult {
  const jobs = new Map<string, { instances: Set<string>; series: number }>();
  for (const r of perInstance) {
    let j = jobs.get(r.job);
    if (j === undefined) jobs.set(r.job, (j = { instances: new Set(), series: 0 }));
    if (r.instance !== '') j.instances.add(r.instance);
    j.series += r.series;
  }
  const list: DiscoveredJob[] = [...jobs]
    .map(([job, j]) => ({ job, component: componentOf.get(job) ?? 'unknown', instances: j.instances.size, series: j.series }))
    .sort((a, b) => (a.component === b.component ? (a.job < b.job ? -1 : a.job > b.job ? 1 : 0) : a.component < b.component ? -1 : 1));
  const comps = new Map<string, { component: string; jobs: number; instances: number; series: number }>();
  for (const j of list) {
    let c = comps.get(j.component);
    if (c === undefined) comps.set(j.component, (c = { component: j.component, jobs: 0, instances: 0, series: 0 }));
    c.jobs++;
    c.instances += j.instances;
    c.series += j.series;
  }
  return { components: [...comps.values()], jobs: list, totalSeries: list.reduce((n, j) => n + j.series, 0) };
}

/**
 * At most `limit` series of a stream of export lines, parsed, the samples of a series met again
 * joined to it; `stopWhenFull`: a series is never met again (the stream ends at the first new
 * one past the limit).
 */
async function collectSeries(lines: (signal: AbortSignal) => AsyncIterable<Buffer>, limit: number, stopWhenFull: boolean): Promise<SeriesSample[]> {
  const out = new Map<string, SeriesSample>();
  if (limit <= 0) return [];
  const ac = new AbortController();
  try {
    outer: for await (const chunk of lines(ac.signal)) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        const s = parseExportLine(line);
        const key = metricJson(Labels.fromRecord(s.metric));
        const had = out.get(key);
        if (had !== undefined) out.set(key, { metric: had.metric, values: [...had.values, ...s.values], timestamps: [...had.timestamps, ...s.timestamps] });
        else if (out.size < limit) out.set(key, s);
        else if (stopWhenFull) break outer;
      }
    }
  } finally {
    ac.abort();
  }
  return [...out.values()];
}
