// Stream aggregation against PromQL: the same raw stream through the aggregation (its clock at
// each sample's timestamp) and, raw, into a real VictoriaMetrics, whose MetricsQL gives each
// output's twin over the same one-minute windows: increase, rate, sum_over_time,
// count_over_time, count, quantile_over_time. VictoriaMetrics' increase and rate take the
// last sample before the window as their base and do not extrapolate, as the outputs do.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamAggrSchema } from '../../src/config/stream-aggr.js';
import { silentLogger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { StreamAggregation } from '../../src/streamaggr/index.js';
import { startStorage } from '../helpers/ingest-peers.js';
import { requirePeer, VICTORIA_METRICS } from '../helpers/peers.js';

const MIN = 60_000;
// three hours ago, on a minute: old enough for any query cache, well inside retention
const BASE = Math.floor((Date.now() - 3 * 3_600_000) / MIN) * MIN;
const MINUTES = 6;
const STEP = 10_000;
/** Samples sit 2.5 s past each 10 s step: never on a window's edge. */
const OFFSET = 2_500;

interface Raw {
  labels: Labels;
  values: number[];
}

/** Counters with resets and gauges, deterministic; one value per step. */
function stream(): Raw[] {
  const out: Raw[] = [];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const job of ['a', 'b']) {
    for (const instance of ['1', '2', '3']) {
      const steps = (MINUTES * MIN) / STEP;
      let c = Math.floor(rnd() * 100);
      const counter: number[] = [];
      const gauge: number[] = [];
      for (let i = 0; i < steps; i++) {
        // a reset now and then (never in the first minute: VictoriaMetrics guesses there)
        c = i > 6 && rnd() < 0.08 ? Math.floor(rnd() * 5) : c + Math.floor(rnd() * 20);
        counter.push(c);
        gauge.push(Math.round(rnd() * 1000) / 10);
      }
      out.push({ labels: Labels.fromRecord({ __name__: 'req_total', job, instance }), values: counter });
      out.push({ labels: Labels.fromRecord({ __name__: 'temp', job, instance }), values: gauge });
    }
  }
  return out;
}

const RULES = [
  { interval: '1m', match: 'req_total', by: ['job'], outputs: ['increase', 'rate_sum'], ignore_first_sample_interval: '0s' },
  { interval: '1m', match: 'temp', by: ['job'], outputs: ['sum_samples', 'count_samples', 'count_series'] },
  { interval: '1m', match: 'temp', outputs: ['quantiles(0, 0.2, 0.6, 1)'] },
];

test('outputs equal MetricsQL over the raw samples, window by window', async (t) => {
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-promql-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const vm = await startStorage(t, dir);
  const raw = stream();

  // the raw samples into VictoriaMetrics
  const lines = raw.map((r) =>
    JSON.stringify({
      metric: r.labels.toRecord(),
      values: r.values,
      timestamps: r.values.map((_, i) => BASE + i * STEP + OFFSET),
    }),
  );
  const imp = await fetch(`${vm}/api/v1/import`, { method: 'POST', body: lines.join('\n') });
  assert.equal(imp.status, 204);
  await fetch(`${vm}/internal/force_flush`);

  // the same samples through the aggregation, each arriving at its timestamp
  let now = BASE;
  const outputs = new Map<string, number>();
  const aggr = new StreamAggregation(streamAggrSchema.parse({ rules: RULES.map((r) => ({ flush_on_shutdown: true, ...r })) }), {
    scope: 'test',
    logger: silentLogger,
    timers: false,
    now: () => now,
    emit: (b) => {
      for (let i = 0; i < b.length; i++) outputs.set(`${b.series[i].toString()}@${b.timestamps[i]}`, b.values[i]);
    },
  });
  const steps = (MINUTES * MIN) / STEP;
  for (let i = 0; i < steps; i++) {
    now = BASE + i * STEP + OFFSET;
    aggr.advance(now);
    const b = new SampleBatch(raw.length);
    for (const r of raw) b.append(r.labels, r.values[i], now);
    aggr.process(b, new SampleBatch(1));
  }
  aggr.advance(BASE + MINUTES * MIN);

  const query = async (q: string, atMs: number): Promise<Map<string, number>> => {
    const r = await fetch(`${vm}/api/v1/query?${new URLSearchParams({ query: q, time: String(atMs / 1000) })}`);
    assert.equal(r.status, 200, await r.clone().text());
    const body = (await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    // (VictoriaMetrics keeps the name on some rollups; the outputs are compared by their other labels)
    return new Map(body.data.result.map((s) => [JSON.stringify(Object.entries(s.metric).filter(([k]) => k !== "__name__").sort()), Number(s.value[1])]));
  };
  const ours = (name: string, end: number, extra: (l: Labels) => Record<string, string>): Map<string, number> => {
    const m = new Map<string, number>();
    for (const [k, v] of outputs) {
      const [series, at] = k.split('@');
      if (Number(at) !== end) continue;
      const { __name__, ...labels } = Object.fromEntries([...seriesLabels(series)]);
      if (__name__ !== name) continue;
      m.set(JSON.stringify(Object.entries({ ...labels, ...extra(Labels.fromRecord(labels)) }).sort()), v);
    }
    return m;
  };
  const close = (a: Map<string, number>, b: Map<string, number>, what: string) => {
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: series`);
    for (const [k, v] of a) assert.ok(Math.abs(v - b.get(k)!) <= 1e-9 * Math.max(1, Math.abs(v)), `${what} ${k}: ours ${v}, MetricsQL ${b.get(k)}`);
  };
  const none = () => ({});
  let compared = 0;
  // minute 0 has no window before it for increase and rate: compared from minute 1 on
  for (let w = 1; w < MINUTES; w++) {
    const end = BASE + (w + 1) * MIN;
    close(ours('req_total:1m_by_job_increase', end, none), await query('sum by (job) (increase(req_total[1m]))', end), `increase @${w}`);
    close(ours('req_total:1m_by_job_rate_sum', end, none), await query('sum by (job) (rate(req_total[1m]))', end), `rate @${w}`);
    close(ours('temp:1m_by_job_sum_samples', end, none), await query('sum by (job) (sum_over_time(temp[1m]))', end), `sum @${w}`);
    close(ours('temp:1m_by_job_count_samples', end, none), await query('sum by (job) (count_over_time(temp[1m]))', end), `count @${w}`);
    close(ours('temp:1m_by_job_count_series', end, none), await query('count by (job) (count_over_time(temp[1m]))', end), `count_series @${w}`);
    for (const phi of ['0', '0.2', '0.6', '1']) {
      const mine = new Map([...ours('temp:1m_quantiles', end, none)].filter(([k]) => k.includes(`["quantile","${phi}"]`)).map(([k, v]) => [k.replace(`,["quantile","${phi}"]`, ''), v]));
      close(mine, await query(`quantile_over_time(${phi}, temp[1m])`, end), `quantile ${phi} @${w}`);
    }
    compared++;
  }
  assert.equal(compared, MINUTES - 1);
});

function seriesLabels(text: string): Map<string, string> {
  const m = new Map<string, string>();
  const brace = text.indexOf('{');
  m.set('__name__', brace < 0 ? text : text.slice(0, brace));
  if (brace >= 0) for (const [, k, v] of text.slice(brace).matchAll(/(\w+)="([^"]*)"/g)) m.set(k, v);
  return m;
}
