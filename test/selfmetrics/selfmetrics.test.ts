import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricFamily } from '../../src/model/family.js';
import { ProcessCollector, Registry } from '../../src/selfmetrics/index.js';

/** `name{a="b"} value` lines, for compact assertions. */
function lines(fam: MetricFamily | undefined): string[] {
  assert.ok(fam, 'family missing');
  return fam.metrics.map((m) => `${m.labels.toString()} ${m.value}`);
}

function family(families: MetricFamily[], name: string): MetricFamily | undefined {
  return families.find((f) => f.name === name);
}

test('counter: unlabelled and labelled children, full sample name, children sorted by label set', () => {
  const r = new Registry();
  const plain = r.counter({ name: 'a_events_total', help: 'Events.' });
  plain.inc();
  plain.inc(2.5);
  const byCode = r.counter({ name: 'b_requests_total', help: 'Requests.', labelNames: ['path', 'code'] });
  byCode.labels('/z', '200').inc();
  byCode.labels('/a', '500').inc(3);
  byCode.labels('/z', '200').inc();
  const fams = r.collect();
  assert.deepEqual(
    fams.map((f) => [f.name, f.type, f.help]),
    [
      ['a_events_total', 'counter', 'Events.'],
      ['b_requests_total', 'counter', 'Requests.'],
    ],
  );
  assert.deepEqual(lines(fams[0]), ['a_events_total{} 3.5']);
  assert.deepEqual(lines(fams[1]), [
    'b_requests_total{code="200", path="/z"} 2',
    'b_requests_total{code="500", path="/a"} 3',
  ]);
  assert.equal(byCode.labels('/z', '200').value, 2);
});

test('counter rejects negative and NaN increments and names without _total', () => {
  const r = new Registry();
  const c = r.counter({ name: 'x_total', help: 'x' });
  assert.throws(() => c.inc(-1), RangeError);
  assert.throws(() => c.inc(NaN), RangeError);
  assert.equal(c.value, 0);
  assert.throws(() => r.counter({ name: 'x_count', help: 'x' }), /_total/);
});

test('duplicate names and invalid names or label values are rejected', () => {
  const r = new Registry();
  r.gauge({ name: 'dup_total', help: 'x' });
  assert.throws(() => r.counter({ name: 'dup_total', help: 'x' }), /already registered/);
  assert.throws(() => r.gauge({ name: 'bad-name', help: 'x' }), /invalid metric name/);
  assert.throws(() => r.gauge({ name: 'g1', help: 'x', labelNames: ['__reserved'] }), /invalid label name/);
  assert.throws(() => r.gauge({ name: 'g2', help: 'x', labelNames: ['a b'] }), /invalid label name/);
  assert.throws(() => r.gauge({ name: 'g3', help: 'x', labelNames: ['a', 'a'] }), /duplicate label name/);
  assert.throws(() => r.histogram({ name: 'h1', help: 'x', labelNames: ['le'] }), /reserved/);
  const g = r.gauge({ name: 'g4', help: 'x', labelNames: ['a'] });
  assert.throws(() => g.labels(), /expected 1 label values/);
  assert.throws(() => g.labels('x', 'y'), /expected 1 label values/);
  assert.throws(() => g.labels('bad\uD800'), /invalid label value/);
  assert.throws(() => g.set(1), /has labels/);
  const r2 = new Registry();
  const c = { collect: () => [] };
  r2.register(c);
  assert.throws(() => r2.register(c), /already registered/);
});

test('gauge: set/inc/dec, collect-time callback, labelled gauge without children is omitted', () => {
  const r = new Registry();
  const g = r.gauge({ name: 'temp', help: 't' });
  g.set(10);
  g.inc(5);
  g.dec(2);
  let calls = 0;
  r.gauge({
    name: 'queue_length',
    help: 'q',
    labelNames: ['queue'],
    collect: (self) => {
      calls++;
      self.labels('a').set(calls * 10);
    },
  });
  r.gauge({ name: 'unused', help: 'u', labelNames: ['x'] });
  let fams = r.collect();
  assert.deepEqual(
    fams.map((f) => f.name),
    ['queue_length', 'temp'],
  );
  assert.deepEqual(lines(family(fams, 'temp')), ['temp{} 13']);
  assert.deepEqual(lines(family(fams, 'queue_length')), ['queue_length{queue="a"} 10']);
  fams = r.collect();
  assert.deepEqual(lines(family(fams, 'queue_length')), ['queue_length{queue="a"} 20']);
});

test('histogram: cumulative buckets with +Inf, _sum and _count, per child', () => {
  const r = new Registry();
  const h = r.histogram({ name: 'lat_seconds', help: 'l', labelNames: ['path'], buckets: [0.1, 1, 10] });
  for (const v of [0.05, 0.1, 0.5, 5, 50]) h.labels('/a').observe(v);
  h.labels('/b').observe(1);
  const fam = family(r.collect(), 'lat_seconds');
  assert.equal(fam?.type, 'histogram');
  assert.deepEqual(lines(fam), [
    'lat_seconds_bucket{le="0.1", path="/a"} 2',
    'lat_seconds_bucket{le="1", path="/a"} 3',
    'lat_seconds_bucket{le="10", path="/a"} 4',
    'lat_seconds_bucket{le="+Inf", path="/a"} 5',
    'lat_seconds_sum{path="/a"} 55.65',
    'lat_seconds_count{path="/a"} 5',
    'lat_seconds_bucket{le="0.1", path="/b"} 0',
    'lat_seconds_bucket{le="1", path="/b"} 1',
    'lat_seconds_bucket{le="10", path="/b"} 1',
    'lat_seconds_bucket{le="+Inf", path="/b"} 1',
    'lat_seconds_sum{path="/b"} 1',
    'lat_seconds_count{path="/b"} 1',
  ]);
  assert.throws(() => r.histogram({ name: 'h2', help: 'x', buckets: [1, 1] }), /strictly increasing/);
  assert.throws(() => h.labels('/a').observe(NaN), RangeError);
});

test('histogram: default buckets and timer', () => {
  const r = new Registry();
  const h = r.histogram({ name: 'op_seconds', help: 'o' });
  const stop = h.startTimer();
  const elapsed = stop();
  assert.ok(elapsed >= 0 && elapsed < 1);
  const fam = family(r.collect(), 'op_seconds');
  assert.equal(fam?.metrics.length, 11 + 1 + 2);
  assert.equal(fam?.metrics.at(-1)?.value, 1);
});

test('collectors: families merged and sorted; a failing collector or duplicate is left out', () => {
  const r = new Registry();
  r.gauge({ name: 'm_gauge', help: 'm' }).set(1);
  const fam = (name: string): MetricFamily => ({ name, type: 'gauge', help: name, metrics: [] });
  r.register({ collect: () => [fam('z_family'), fam('a_family'), fam('m_gauge')] });
  r.register({
    collect: () => {
      throw new Error('boom');
    },
  });
  const names = r.collect().map((f) => f.name);
  assert.deepEqual(names, ['a_family', 'm_gauge', 'z_family']);
  assert.equal(family(r.collect(), 'm_gauge')?.help, 'm');
});

test('remove and reset forget children', () => {
  const r = new Registry();
  const c = r.counter({ name: 'per_target_total', help: 'p', labelNames: ['target'] });
  c.labels('a').inc();
  c.labels('b').inc();
  assert.equal(c.remove('a'), true);
  assert.deepEqual(lines(family(r.collect(), 'per_target_total')), ['per_target_total{target="b"} 1']);
  c.reset();
  assert.equal(family(r.collect(), 'per_target_total'), undefined);
  const u = r.counter({ name: 'plain_total', help: 'p' });
  u.inc(4);
  u.reset();
  assert.equal(u.value, 0);
});

test('process collector: standard metrics with plausible values', () => {
  const pc = new ProcessCollector({ version: '1.2.3' });
  try {
    const fams = pc.collect();
    const value = (name: string): number => {
      const f = family(fams, name);
      assert.ok(f, `${name} missing`);
      return f.metrics[0].value;
    };
    assert.ok(value('process_resident_memory_bytes') > 0);
    assert.ok(value('process_cpu_seconds_total') > 0);
    assert.equal(family(fams, 'process_cpu_seconds_total')?.type, 'counter');
    assert.ok(value('tributary_heap_used_bytes') > 0);
    const start = value('process_start_time_seconds');
    assert.ok(Math.abs(start - Date.now() / 1000) < 60, `start time ${start} not within a minute of now`);
    if (process.platform === 'linux') {
      assert.ok(value('process_open_fds') >= 1);
      assert.ok(value('process_max_fds') >= value('process_open_fds'));
      assert.ok(value('process_virtual_memory_bytes') >= value('process_resident_memory_bytes'));
    }
    assert.deepEqual(lines(family(fams, 'tributary_build_info')), [
      `tributary_build_info{node_version=${JSON.stringify(process.version)}, version="1.2.3"} 1`,
    ]);
    const lag = family(fams, 'tributary_event_loop_lag_seconds');
    assert.equal(lag?.type, 'summary');
    assert.deepEqual(
      lag?.metrics.map((m) => m.labels.metricName + (m.labels.get('quantile') ?? '')),
      [
        'tributary_event_loop_lag_seconds0.5',
        'tributary_event_loop_lag_seconds0.9',
        'tributary_event_loop_lag_seconds0.99',
        'tributary_event_loop_lag_seconds_sum',
        'tributary_event_loop_lag_seconds_count',
      ],
    );
  } finally {
    pc.close();
  }
});

test('process collector: event-loop lag sees a blocked loop', async () => {
  const pc = new ProcessCollector({ eventLoopResolutionMs: 5 });
  try {
    pc.collect();
    await new Promise((r) => setTimeout(r, 30));
    const until = Date.now() + 120;
    while (Date.now() < until) {
      // Busy-wait: the monitor's timer cannot fire, which is the lag being measured.
    }
    await new Promise((r) => setTimeout(r, 30));
    const lag = family(pc.collect(), 'tributary_event_loop_lag_seconds');
    assert.ok(lag);
    const max99 = lag.metrics[2].value;
    assert.ok(max99 >= 0.08, `p99 lag ${max99} should reflect the 120 ms block`);
    assert.ok(lag.metrics[4].value > 0);
    assert.ok(lag.metrics[3].value >= 0.08);
  } finally {
    pc.close();
  }
});

test('process collector reads a fake procfs and skips what is missing', { skip: process.platform !== 'linux' }, () => {
  const root = mkdtempSync(join(tmpdir(), 'tributary-proc-'));
  mkdirSync(join(root, 'self'));
  writeFileSync(join(root, 'stat'), 'cpu  1 2 3\nbtime 1700000000\nprocesses 5\n');
  // The command name holds ") (" to prove fields are counted from the last parenthesis.
  const fields = ['S', ...Array.from({ length: 18 }, () => '0'), '12345', '987654321', '100'];
  writeFileSync(join(root, 'self', 'stat'), `42 (odd) (name) ${fields.join(' ')} 0 0\n`);
  writeFileSync(
    join(root, 'self', 'limits'),
    'Limit                     Soft Limit           Hard Limit           Units\nMax open files            unlimited            4096                 files\n',
  );
  const pc = new ProcessCollector({ procRoot: root });
  try {
    const fams = pc.collect();
    assert.equal(family(fams, 'process_start_time_seconds')?.metrics[0].value, 1700000000 + 123.45);
    assert.equal(family(fams, 'process_virtual_memory_bytes')?.metrics[0].value, 987654321);
    assert.equal(family(fams, 'process_max_fds')?.metrics[0].value, Infinity);
    assert.equal(family(fams, 'process_open_fds'), undefined);
  } finally {
    pc.close();
  }
});

test('process collector registers into a registry', () => {
  const r = new Registry();
  const pc = new ProcessCollector();
  try {
    r.register(pc);
    r.counter({ name: 'tributary_x_total', help: 'x' });
    const names = r.collect().map((f) => f.name);
    assert.ok(names.includes('process_resident_memory_bytes'));
    assert.deepEqual(names, [...names].sort());
  } finally {
    pc.close();
  }
});
