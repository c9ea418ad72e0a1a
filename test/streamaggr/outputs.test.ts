// Stream aggregation outputs on deterministic input: VictoriaMetrics' own test vectors
// (lib/streamaggr/streamaggr_test.go: same config, same input, same expected lines) and
// hand-computed streams with counter resets, stale series, out-of-order and old samples.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamAggrSchema } from '../../src/config/stream-aggr.js';
import { SampleBatch } from '../../src/model/samples.js';
import { parseLabelSet } from '../../src/relabel/index.js';
import { StreamAggregation } from '../../src/streamaggr/index.js';

import { silentLogger } from '../../src/log/logger.js';
import { batchOf, harness, lines, T0 } from '../helpers/streamaggr-harness.js';

const once = (rule: object, input: string, section: object = {}): string[] => {
  const h = harness([{ interval: '1m', ...rule }], section);
  h.push(input);
  return h.flushAt(T0 + 60_000);
};

test('count_samples, sum_samples, count_series, last without grouping (VictoriaMetrics vector)', () => {
  const got = once(
    { outputs: ['count_samples', 'sum_samples', 'count_series', 'last'] },
    `foo{abc="123"} 4
     bar 5 100
     bar 34 10
     foo{abc="123"} 8.5
     foo{abc="456",de="fg"} 8`,
  );
  assert.deepEqual(got, [
    'bar:1m_count_samples 2',
    'bar:1m_count_series 1',
    'bar:1m_last 5',
    'bar:1m_sum_samples 39',
    'foo:1m_count_samples{abc="123"} 2',
    'foo:1m_count_samples{abc="456", de="fg"} 1',
    'foo:1m_count_series{abc="123"} 1',
    'foo:1m_count_series{abc="456", de="fg"} 1',
    'foo:1m_last{abc="123"} 8.5',
    'foo:1m_last{abc="456", de="fg"} 8',
    'foo:1m_sum_samples{abc="123"} 12.5',
    'foo:1m_sum_samples{abc="456", de="fg"} 8',
  ]);
});

const INPUT2 = `foo{abc="123"} 4
  bar 5
  foo{abc="123"} 8.5
  foo{abc="456",de="fg"} 8`;

test('by and without name the outputs as vmagent does', () => {
  assert.deepEqual(once({ by: ['abc'], outputs: ['count_samples', 'sum_samples', 'count_series'] }, INPUT2), [
    'bar:1m_by_abc_count_samples 1',
    'bar:1m_by_abc_count_series 1',
    'bar:1m_by_abc_sum_samples 5',
    'foo:1m_by_abc_count_samples{abc="123"} 2',
    'foo:1m_by_abc_count_samples{abc="456"} 1',
    'foo:1m_by_abc_count_series{abc="123"} 1',
    'foo:1m_by_abc_count_series{abc="456"} 1',
    'foo:1m_by_abc_sum_samples{abc="123"} 12.5',
    'foo:1m_by_abc_sum_samples{abc="456"} 8',
  ]);
  assert.deepEqual(once({ without: ['__name__'], outputs: ['count_samples', 'sum_samples'] }, INPUT2), [
    ':1m_count_samples 1',
    ':1m_count_samples{abc="123"} 2',
    ':1m_count_samples{abc="456", de="fg"} 1',
    ':1m_sum_samples 5',
    ':1m_sum_samples{abc="123"} 12.5',
    ':1m_sum_samples{abc="456", de="fg"} 8',
  ]);
  assert.deepEqual(once({ by: ['foo', 'bar'], outputs: ['sum_samples'] }, 'foo{foo="1"} 2'), ['foo:1m_by_bar_foo_sum_samples{foo="1"} 2']);
  assert.deepEqual(once({ without: ['abc'], outputs: ['count_samples'] }, INPUT2), [
    'bar:1m_without_abc_count_samples 1',
    'foo:1m_without_abc_count_samples 2',
    'foo:1m_without_abc_count_samples{de="fg"} 1',
  ]);
});

test('total: first samples wait out the start, out-of-order samples are skipped, resets count (VictoriaMetrics vector)', () => {
  const input = `foo 123
    bar{baz="qwe"} 1.31
    bar{baz="qwe"} 4.34 1000
    bar{baz="qwe"} 2
    foo{baz="qwe"} -5
    bar{baz="qwer"} 343
    bar{baz="qwer"} 344
    foo{baz="qwe"} 10`;
  assert.deepEqual(once({ outputs: ['total'] }, input), ['bar:1m_total{baz="qwe"} 3.03', 'bar:1m_total{baz="qwer"} 1', 'foo:1m_total 0', 'foo:1m_total{baz="qwe"} 15']);
  const reset = `bar{baz="qwe"} 1.32
    bar{baz="qwe"} 4.34
    bar{baz="qwe"} 2`;
  assert.deepEqual(once({ outputs: ['total_prometheus'] }, reset), ['bar:1m_total_prometheus{baz="qwe"} 5.02']);
  const both = `foo 123
    bar{baz="qwe"} 1.32
    bar{baz="qwe"} 4.34
    bar{baz="qwe"} 2
    foo{baz="qwe"} -5
    bar{baz="qwer"} 343
    bar{baz="qwer"} 344
    foo{baz="qwe"} 10`;
  assert.deepEqual(once({ outputs: ['total'], by: ['__name__'] }, both), ['bar:1m_total 6.02', 'foo:1m_total 15']);
  // with no grace at the start, a new series counts from 0 for total but not total_prometheus
  assert.deepEqual(once({ outputs: ['total'], ignore_first_sample_interval: '0s' }, 'foo 123\nbar{baz="qwe"} 4.34'), ['bar:1m_total{baz="qwe"} 4.34', 'foo:1m_total 123']);
  assert.deepEqual(once({ outputs: ['total_prometheus'], ignore_first_sample_interval: '0s' }, 'foo 123'), ['foo:1m_total_prometheus 0']);
});

test('avg, stddev, stdvar (VictoriaMetrics vectors)', () => {
  assert.deepEqual(once({ outputs: ['avg', 'stddev', 'stdvar'] }, INPUT2), [
    'bar:1m_avg 5',
    'bar:1m_stddev 0',
    'bar:1m_stdvar 0',
    'foo:1m_avg{abc="123"} 6.25',
    'foo:1m_avg{abc="456", de="fg"} 8',
    'foo:1m_stddev{abc="123"} 2.25',
    'foo:1m_stddev{abc="456", de="fg"} 0',
    'foo:1m_stdvar{abc="123"} 5.0625',
    'foo:1m_stdvar{abc="456", de="fg"} 0',
  ]);
});

const CPU = `cpu_usage{cpu="1"} 12.5
  cpu_usage{cpu="1"} 13.3
  cpu_usage{cpu="1"} 13
  cpu_usage{cpu="1"} 12
  cpu_usage{cpu="1"} 14
  cpu_usage{cpu="1"} 25
  cpu_usage{cpu="2"} 90`;

test('histogram_bucket: vmrange buckets as VictoriaMetrics names them, counting on across intervals', () => {
  const h = harness([{ interval: '1m', outputs: ['histogram_bucket'] }]);
  h.push(CPU);
  const first = [
    'cpu_usage:1m_histogram_bucket{cpu="1", vmrange="1.136e+01...1.292e+01"} 2',
    'cpu_usage:1m_histogram_bucket{cpu="1", vmrange="1.292e+01...1.468e+01"} 3',
    'cpu_usage:1m_histogram_bucket{cpu="1", vmrange="2.448e+01...2.783e+01"} 1',
    'cpu_usage:1m_histogram_bucket{cpu="2", vmrange="8.799e+01...1.000e+02"} 1',
  ];
  assert.deepEqual(h.flushAt(T0 + 60_000), first);
  h.push('cpu_usage{cpu="2"} 100\ncpu_usage{cpu="2"} 0\ncpu_usage{cpu="2"} -1');
  assert.deepEqual(h.flushAt(T0 + 120_000), [
    ...first.slice(0, 3),
    'cpu_usage:1m_histogram_bucket{cpu="2", vmrange="0...1.000e-09"} 1',
    'cpu_usage:1m_histogram_bucket{cpu="2", vmrange="8.799e+01...1.000e+02"} 2',
  ]);
});

test('histogram_bucket: a run of samples in one bucket counted without a logarithm keeps the edges exact', () => {
  const h = harness([{ interval: '1m', outputs: ['histogram_bucket'] }]);
  // 10 sits on the edge (the bucket below it); just above it is the next bucket, though inside the run's span
  h.push(['9.5', '10', '10.000001', '9.9', '9.5', '10.000001'].map((v) => `m ${v}`).join('\n'));
  assert.deepEqual(h.flushAt(T0 + 60_000), ['m:1m_histogram_bucket{vmrange="1.000e+01...1.136e+01"} 2', 'm:1m_histogram_bucket{vmrange="8.799e+00...1.000e+01"} 4']);
});

test('quantiles: the nearest rank, 0 and 1 the extremes (VictoriaMetrics vector)', () => {
  assert.deepEqual(once({ outputs: ['quantiles(0, 0.5, 1)'] }, CPU), [
    'cpu_usage:1m_quantiles{cpu="1", quantile="0"} 12',
    'cpu_usage:1m_quantiles{cpu="1", quantile="0.5"} 13.3',
    'cpu_usage:1m_quantiles{cpu="1", quantile="1"} 25',
    'cpu_usage:1m_quantiles{cpu="2", quantile="0"} 90',
    'cpu_usage:1m_quantiles{cpu="2", quantile="0.5"} 90',
    'cpu_usage:1m_quantiles{cpu="2", quantile="1"} 90',
  ]);
  assert.deepEqual(once({ without: ['cpu'], outputs: ['quantiles(0, 0.5, 1)'] }, CPU), [
    'cpu_usage:1m_without_cpu_quantiles{quantile="0"} 12',
    'cpu_usage:1m_without_cpu_quantiles{quantile="0.5"} 13.3',
    'cpu_usage:1m_without_cpu_quantiles{quantile="1"} 90',
  ]);
});

test('drop_input_labels with keep_metric_names (VictoriaMetrics vector)', () => {
  const got = once(
    { drop_input_labels: ['abc'], keep_metric_names: true, outputs: ['count_samples'] },
    `foo{abc="123"} 4
     bar 5
     foo{abc="123"} 8.5
     bar -34.3
     foo{abc="456",de="fg"} 8`,
  );
  assert.deepEqual(got, ['bar 2', 'foo 2', 'foo{de="fg"} 1']);
});

test('dedup_interval keeps the latest sample, the larger on a tie (VictoriaMetrics vector)', () => {
  const h = harness([{ interval: '1m', outputs: ['sum_samples'] }], { dedup_interval: '30s' });
  h.push(`foo 123
    bar{baz="qwe"} 1.32
    bar{baz="qwe"} 4.34
    bar{baz="qwe"} 2
    foo{baz="qwe"} -5
    bar{baz="qwer"} 343
    bar{baz="qwer"} 344
    foo{baz="qwe"} 10`);
  assert.deepEqual(h.flushAt(T0 + 60_000), ['bar:1m_sum_samples{baz="qwe"} 4.34', 'bar:1m_sum_samples{baz="qwer"} 344', 'foo:1m_sum_samples 123', 'foo:1m_sum_samples{baz="qwe"} 10']);
});

test('match selects the input; unmatched samples go on, matched ones only with keep_input', () => {
  const rule = { match: ['foo{abc=~".+"}', '{non_existing_label!=""}'], by: ['abc'], outputs: ['count_samples'] };
  const h = harness([{ interval: '1m', ...rule }]);
  h.push(INPUT2);
  assert.deepEqual(h.passed, ['bar 5']);
  assert.deepEqual(h.flushAt(T0 + 60_000), ['foo:1m_by_abc_count_samples{abc="123"} 2', 'foo:1m_by_abc_count_samples{abc="456"} 1']);
  const keep = harness([{ interval: '1m', ...rule }], { keep_input: true });
  keep.push(INPUT2);
  assert.equal(keep.passed.length, 4);
  const drop = harness([{ interval: '1m', ...rule }], { drop_input: true });
  drop.push(INPUT2);
  assert.deepEqual(drop.passed, []);
  const both = harness([{ interval: '1m', ...rule }], { drop_input: true, keep_input: true });
  both.push(INPUT2);
  assert.deepEqual(both.passed, ['foo{abc="123"} 4', 'foo{abc="123"} 8.5', 'foo{abc="456", de="fg"} 8']);
});

test('rate_sum and rate_avg: per series increase over the time between its samples (VictoriaMetrics vectors)', () => {
  const h = harness([{ interval: '1m', by: ['cde'], outputs: ['rate_sum', 'rate_avg'] }]);
  h.push(`foo{abc="123",cde="1"} 3 ${T0}
    foo{abc="456",cde="1"} 8.5 ${T0}
    foo 12 ${T0 + 34}`);
  assert.deepEqual(h.flushAt(T0 + 60_000), []);
  h.push(`foo{abc="123",cde="1"} 8 ${T0 + 60_000}
    foo{abc="456",cde="1"} 11 ${T0 + 60_000}`);
  assert.deepEqual(h.flushAt(T0 + 120_000), ['foo:1m_by_cde_rate_avg{cde="1"} 0.0625', 'foo:1m_by_cde_rate_sum{cde="1"} 0.125']);

  const r = harness([{ interval: '1m', outputs: ['rate_sum'] }]);
  const pushes = [`foo 1 ${T0}`, `foo 61 ${T0 + 60_000}`, `foo 31 ${T0 + 120_000 - 70_000}\nfoo 91 ${T0 + 120_000}`, `foo 121 ${T0 + 180_000}`];
  const got: string[] = [];
  pushes.forEach((p, i) => {
    r.push(p, T0 + i * 60_000);
    got.push(...r.flushAt(T0 + (i + 1) * 60_000));
  });
  assert.deepEqual(got, ['foo:1m_rate_sum 1', 'foo:1m_rate_sum 0.5', 'foo:1m_rate_sum 0.5']);
});

test('a stream with counter resets, staleness markers, a stale series, out-of-order and old samples, by hand', () => {
  // interval 1m aligned; ignore_old_samples; staleness 2m; increase and total from the first sample on
  const rule = { interval: '1m', no_align_flush_to_interval: false, flush_on_shutdown: true, ignore_old_samples: true, ignore_first_sample_interval: '0s', outputs: ['total', 'increase', 'increase_prometheus', 'count_samples', 'min', 'max', 'unique_samples'] };
  const h = harness([rule]);
  const s = (v: number, ts: number) => `c{i="a"} ${v} ${ts}`;
  // interval 1: 10, 15, reset to 3, 3 again; a staleness marker (ignored); an out-of-order sample
  h.push([s(10, T0 + 1000), s(15, T0 + 2000), s(3, T0 + 3000), s(3, T0 + 4000), s(1, T0 + 2500)].join('\n'), T0 + 5000);
  const stale = new SampleBatch(1);
  stale.appendStale(parseLabelSet('c{i="a"}'), T0 + 5000);
  h.aggr.process(stale, new SampleBatch(1));
  assert.deepEqual(h.flushAt(T0 + 60_000), [
    'c:1m_count_samples{i="a"} 5',
    // 10 (from 0) + 5 + 3 (reset) + 0; the out-of-order 1 is not a reset
    'c:1m_increase_prometheus{i="a"} 8',
    'c:1m_increase{i="a"} 18',
    'c:1m_max{i="a"} 15',
    'c:1m_min{i="a"} 1',
    'c:1m_total{i="a"} 18',
    'c:1m_unique_samples{i="a"} 4',
  ]);
  // interval 2: one old sample (before the interval: ignored) and +2
  h.push([s(100, T0 + 59_000), s(5, T0 + 61_000)].join('\n'), T0 + 61_000);
  assert.deepEqual(h.flushAt(T0 + 120_000), [
    'c:1m_count_samples{i="a"} 1',
    'c:1m_increase_prometheus{i="a"} 2',
    'c:1m_increase{i="a"} 2',
    'c:1m_max{i="a"} 5',
    'c:1m_min{i="a"} 5',
    'c:1m_total{i="a"} 20',
    'c:1m_unique_samples{i="a"} 1',
  ]);
  // interval 3: nothing; running outputs go on, per-interval ones say nothing
  assert.deepEqual(h.flushAt(T0 + 180_000), ['c:1m_increase_prometheus{i="a"} 0', 'c:1m_increase{i="a"} 0', 'c:1m_total{i="a"} 20']);
  // 2m (staleness_interval) after its last sample the series is gone; back, it starts from 0 again
  assert.deepEqual(h.flushAt(T0 + 240_000), []);
  h.push(s(7, T0 + 250_000), T0 + 250_000);
  assert.deepEqual(h.flushAt(T0 + 300_000), [
    'c:1m_count_samples{i="a"} 1',
    'c:1m_increase_prometheus{i="a"} 0',
    'c:1m_increase{i="a"} 7',
    'c:1m_max{i="a"} 7',
    'c:1m_min{i="a"} 7',
    'c:1m_total{i="a"} 7',
    'c:1m_unique_samples{i="a"} 1',
  ]);
  const ignored = h.aggr.rules[0].stats;
  assert.deepEqual([ignored.ignoredNaN, ignored.ignoredOld, ignored.outOfOrder], [1, 1, 1]);
});

test('output_relabel_configs and input_relabel_configs apply', () => {
  const got = once(
    {
      outputs: ['sum_samples'],
      by: ['job'],
      input_relabel_configs: [{ source_labels: ['instance'], regex: 'h(.*)', target_label: 'job', replacement: 'j$1' }],
      output_relabel_configs: [{ action: 'labeldrop', regex: 'job' }],
    },
    'up{instance="h1"} 1\nup{instance="h2"} 1',
  );
  assert.deepEqual(got, ['up:1m_by_job_sum_samples 1', 'up:1m_by_job_sum_samples 1']);
});

test('interval outputs are aligned: the first partial interval is dropped unless flush_on_shutdown', () => {
  const rule = { interval: '1m', outputs: ['count_samples'], no_align_flush_to_interval: false, flush_on_shutdown: false };
  const h = harness([rule], {}, T0 + 30_000);
  h.push('x 1', T0 + 30_000);
  assert.deepEqual(h.flushAt(T0 + 60_000), []);
  h.push('x 1', T0 + 70_000);
  assert.deepEqual(h.flushAt(T0 + 120_000), ['x:1m_count_samples 1']);
  const skip = harness([{ ...rule, ignore_first_intervals: 1 }], {}, T0 + 30_000);
  assert.deepEqual(skip.flushAt(T0 + 60_000), []);
  skip.push('x 1', T0 + 70_000);
  assert.deepEqual(skip.flushAt(T0 + 120_000), []);
  skip.push('x 1', T0 + 130_000);
  assert.deepEqual(skip.flushAt(T0 + 180_000), ['x:1m_count_samples 1']);
});

test('dedup_interval without rules passes on one sample per series and interval, with its own timestamp', () => {
  const cfg = streamAggrSchema.parse({ dedup_interval: '30s' });
  let out: string[] = [];
  const ts: number[] = [];
  const aggr = new StreamAggregation(cfg, {
    scope: 'test',
    logger: silentLogger,
    timers: false,
    now: () => T0,
    emit: (b) => {
      out = lines(b);
      for (let i = 0; i < b.length; i++) ts.push(b.timestamps[i]);
    },
  });
  // an HA pair: the same series from two agents
  const passed = aggr.process(batchOf(`up{job="a"} 1 ${T0 + 1000}\nup{job="a"} 0 ${T0 + 2000}\nup{job="a"} 1 ${T0 + 2000}\nup{job="b"} 5 ${T0 + 5000}`), new SampleBatch(4));
  assert.equal(passed.length, 0);
  aggr.advance(T0 + 30_000);
  assert.deepEqual(out, ['up{job="a"} 1', 'up{job="b"} 5']);
  assert.deepEqual(ts.sort(), [T0 + 2000, T0 + 5000]);
});

test('configuration errors name the key', () => {
  const bad = (rule: object) => {
    const r = streamAggrSchema.safeParse({ rules: [rule] });
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  assert.match(bad({ interval: '1m', outputs: ['median'] }), /rules\.0\.outputs\.0: unsupported output "median"/);
  assert.match(bad({ interval: '500ms', outputs: ['total'] }), /interval: must be at least 1s/);
  assert.match(bad({ interval: '1m', dedup_interval: '7s', outputs: ['total'] }), /dedup_interval: interval \(1m\) must be a multiple of it/);
  assert.match(bad({ interval: '1m', outputs: ['quantiles(1.5)'] }), /is outside 0\.\.1/);
  assert.match(bad({ interval: '1m', by: ['a'], without: ['b'], outputs: ['total'] }), /by and without cannot both be set/);
  assert.match(bad({ interval: '1m', keep_metric_names: true, outputs: ['total', 'min'] }), /keep_metric_names: needs exactly one output/);
  assert.match(bad({ interval: '1m', outputs: ['total'], match: 'foo{' }), /match: invalid series selector/);
  assert.match(bad({ outputs: ['total'] }), /interval/);
});

test('a series forgotten and back at its place in the batch is found again, not taken for the series that got its index', () => {
  const h = harness([{ interval: '1m', staleness_interval: '1m', outputs: ['last'] }]);
  h.push('a 1\nb 10', T0 + 1_000);
  assert.deepEqual(h.flushAt(T0 + 60_000), ['a:1m_last 1', 'b:1m_last 10']);
  // a and b go stale and are forgotten; d and e take their indexes
  h.flushAt(T0 + 180_000);
  h.push('d 5\ne 7', T0 + 181_000);
  h.push('a 2\nb 20', T0 + 182_000);
  assert.deepEqual(h.flushAt(T0 + 240_000), ['a:1m_last 2', 'b:1m_last 20', 'd:1m_last 5', 'e:1m_last 7']);
});
