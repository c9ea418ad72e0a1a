// max_hourly_series / max_daily_series: a sliding window of distinct series; known series
// always pass, new ones beyond the limit are dropped, counted and logged with an example.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { SeriesLimits } from '../../src/remotewrite/series-limits.js';
import { Registry } from '../../src/selfmetrics/registry.js';

const HOUR = 3_600_000;

function setup(limits: { max_hourly_series: number; max_daily_series: number }) {
  let now = 1_800_000_000_000;
  let log = '';
  const registry = new Registry();
  const l = new SeriesLimits(registry, new Logger('info', 'logfmt', { write: (s: string) => void (log += s) }), () => now);
  l.configure(limits);
  const series = (n: number) => Labels.fromRecord({ __name__: 'x', i: String(n) });
  const send = (...ids: number[]) => {
    const b = new SampleBatch(ids.length);
    for (const i of ids) b.append(series(i), i, now);
    const out = l.filter(b, new SampleBatch(ids.length));
    return Array.from({ length: out.length }, (_, k) => out.series[k].get('i'));
  };
  const metric = (name: string, limit: string) =>
    Number(registry.collect().find((f) => f.name === name)?.metrics.find((m) => m.labels.get('limit') === limit)?.value ?? NaN);
  return { send, metric, advance: (ms: number) => (now += ms), log: () => log, limits: l };
}

test('the hourly limit: known series pass, new ones over it are dropped until an hour without them', () => {
  const s = setup({ max_hourly_series: 3, max_daily_series: 0 });
  assert.deepEqual(s.send(1, 2, 3, 4, 5), ['1', '2', '3']);
  assert.deepEqual(s.send(1, 4, 2), ['1', '2']);
  assert.equal(s.metric('tributary_remotewrite_series_limit_samples_dropped_total', 'hourly'), 3);
  assert.equal(s.metric('tributary_remotewrite_series_limit_current_series', 'hourly'), 3);
  assert.match(s.log(), /series dropped: max_hourly_series reached.*limit=3.*example="x\{i=\\"4\\"\}"/);
  // series 3 last seen now; 1 and 2 go on being sent; after an hour 3 has left the window
  s.advance(40 * 60_000);
  assert.deepEqual(s.send(1, 2), ['1', '2']);
  s.advance(21 * 60_000);
  assert.deepEqual(s.send(4, 3), ['4']);
  assert.equal(s.metric('tributary_remotewrite_series_limit_current_series', 'hourly'), 3);
});

test('the daily limit holds a series out after the hourly one would let it in; a reload lifts the limits', () => {
  const s = setup({ max_hourly_series: 10, max_daily_series: 2 });
  assert.deepEqual(s.send(1, 2, 3), ['1', '2']);
  s.advance(2 * HOUR);
  assert.deepEqual(s.send(3), []);
  assert.equal(s.metric('tributary_remotewrite_series_limit_samples_dropped_total', 'daily'), 2);
  assert.equal(s.metric('tributary_remotewrite_series_limit_samples_dropped_total', 'hourly'), 0);
  s.limits.configure({ max_hourly_series: 0, max_daily_series: 0 });
  assert.equal(s.limits.enabled, false);
});
