/**
 * A fake gather `Source` for the export tests: a fixed dataset answered as VictoriaMetrics export
 * lines for any range and series selector narrowed by `job="..."`, with failures on demand
 * (too many series, timeouts, errors, a hang until aborted) and counts of what was asked.
 */
import { SourceError, type DiscoverResult, type Selection, type Source, type SourceInfo } from '../../src/gather/types.js';

export interface FakeSeries {
  metric: Record<string, string>;
  /** Sample every `stepMs` from 0 for ever; value = f(t). */
}

export interface FakeOptions {
  jobs?: number;
  instancesPerJob?: number;
  metricsPerInstance?: number;
  stepMs?: number;
  /** Refuse (too_many_series) a request longer than this, or one not narrowed to a job when `needJob`. */
  maxRangeMs?: number;
  needJob?: boolean;
  /** Hang (until aborted) once this many requests have been answered. */
  hangAfter?: number;
  /** Wait this long per request. */
  delayMs?: number;
  /** Throw this many network errors first. */
  failFirst?: number;
  /** Answer with a timeout for ranges longer than this. */
  timeoutRangeMs?: number;
}

export const FAKE_BASE_MS = Date.UTC(2026, 0, 1, 0, 0, 0);

export function fakeSeries(o: FakeOptions = {}): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (let j = 0; j < (o.jobs ?? 3); j++) {
    for (let i = 0; i < (o.instancesPerJob ?? 2); i++) {
      for (let m = 0; m < (o.metricsPerInstance ?? 3); m++) {
        out.push({
          __name__: `metric_${m}`,
          instance: `host-${j}-${i}.corp.example:${9100 + i}`,
          job: `job-${j}`,
          team: `squad-${(j + i) % 2}`,
          exported_instance: `host-${j}-${i}.corp.example:${9100 + i}`,
          dc: 'secret-dc',
        });
      }
    }
  }
  return out;
}

export class FakeSource implements Source {
  readonly info: SourceInfo = { flavour: 'victoriametrics-single', version: 'v1.0.0-fake', apiBase: 'http://fake', exportApi: true };
  readonly series: Record<string, string>[];
  requests: { startMs: number; endMs: number; selection: Selection }[] = [];
  closed = 0;
  private answered = 0;

  constructor(readonly o: FakeOptions = {}) {
    this.series = fakeSeries(o);
  }

  async validateQuery() {
    return { ok: true };
  }
  async discover(): Promise<DiscoverResult> {
    const jobs = [...new Set(this.series.map((s) => s.job))];
    return { components: [], jobs: jobs.map((job) => ({ job, component: 'unknown', instances: 1, series: 1 })), totalSeries: this.series.length };
  }
  async jobComponents() {
    return {};
  }
  async sample() {
    return [];
  }
  async labelNames() {
    return [...new Set(this.series.flatMap((m) => Object.keys(m)))].filter((n) => n !== '__name__').sort();
  }
  async labelValues(label: string) {
    return [...new Set(this.series.flatMap((m) => (m[label] === undefined ? [] : [m[label]])))].sort();
  }
  async close() {
    this.closed++;
  }

  /** What the source holds over the range, as sorted export lines (the expected bundle content without obfuscation). */
  expected(startMs: number, endMs: number): string[] {
    return this.lines(startMs, endMs, undefined).map((l) => l.trimEnd());
  }

  private lines(startMs: number, endMs: number, job: string | undefined): string[] {
    const step = this.o.stepMs ?? 10_000;
    const out: string[] = [];
    for (const [n, m] of this.series.entries()) {
      if (job !== undefined && (m.job ?? '') !== job) continue;
      const ts: number[] = [];
      const vs: number[] = [];
      for (let t = Math.ceil(startMs / step) * step; t < endMs; t += step) {
        ts.push(t);
        vs.push(((t / step) % 100) + n / 10);
      }
      if (ts.length === 0) continue;
      out.push(`${JSON.stringify({ metric: m, values: vs, timestamps: ts })}\n`);
    }
    return out;
  }

  async *exportLines(selection: Selection, startMs: number, endMs: number, signal: AbortSignal): AsyncIterable<Buffer> {
    this.requests.push({ startMs, endMs, selection });
    if (this.o.failFirst !== undefined && this.o.failFirst > 0) {
      this.o.failFirst--;
      throw new SourceError('network', 'connection refused (fake)');
    }
    if (this.o.delayMs) await abortableDelay(this.o.delayMs, signal);
    if (this.o.hangAfter !== undefined && this.answered >= this.o.hangAfter) {
      await abortableDelay(1e9, signal);
    }
    const sel = 'selectors' in selection ? selection.selectors.join(' ') : selection.query;
    const jm = /job="([^"]*)"/.exec(sel);
    const job = jm ? jm[1] : undefined;
    if (this.o.timeoutRangeMs !== undefined && endMs - startMs > this.o.timeoutRangeMs) throw new SourceError('timeout', 'request timed out (fake)');
    if (this.o.maxRangeMs !== undefined && endMs - startMs > this.o.maxRangeMs) throw new SourceError('too_many_series', 'too many series (fake)', 422);
    if (this.o.needJob && job === undefined) throw new SourceError('too_many_series', 'too many series without a job (fake)', 422);
    this.answered++;
    const lines = this.lines(startMs, endMs, job);
    // two lines per chunk, one chunk cut mid-line to check the joining
    for (let i = 0; i < lines.length; i += 2) {
      const chunk = Buffer.from(lines.slice(i, i + 2).join(''));
      if (i === 0 && chunk.length > 10) {
        yield chunk.subarray(0, 7);
        yield chunk.subarray(7);
      } else yield chunk;
    }
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new SourceError('canceled', 'canceled'));
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new SourceError('canceled', 'canceled'));
      },
      { once: true },
    );
  });
}
