// The aggregation state on disk: a run stopped and started again from its state file (several
// times, with series coming and going between, so the key journal is appended to and started
// afresh) emits what an uninterrupted run emits; a damaged file, a changed rule and a disk that
// refuses the write cost the state, never the process or an accepted sample.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamAggrSchema, type StreamAggrConfig } from '../../src/config/stream-aggr.js';
import { Logger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { StreamAggregation } from '../../src/streamaggr/index.js';
import { lines } from '../helpers/streamaggr-harness.js';

const T0 = 1_800_000_000_000 - (1_800_000_000_000 % 60_000);

const CONFIG = {
  rules: [
    { interval: '1m', outputs: ['total', 'increase', 'rate_sum', 'count_series', 'sum_samples', 'quantiles(0.5)', 'histogram_bucket', 'unique_samples', 'last'] },
    { interval: '1m', by: ['job'], outputs: ['total_prometheus', 'count_samples', 'stddev'], dedup_interval: '30s' },
  ],
};

function logger(): { log: Logger; text: () => string } {
  let text = '';
  return { log: new Logger('info', 'logfmt', { write: (s: string) => void (text += s) }), text: () => text };
}

/** Samples every 10 s for `minutes`; series come and go, counters reset now and then. */
function schedule(minutes: number): { at: number; text: [Labels, number][] }[] {
  const out: { at: number; text: [Labels, number][] }[] = [];
  const labels = new Map<string, Labels>();
  const l = (job: string, i: number) => {
    const k = `${job}/${i}`;
    if (!labels.has(k)) labels.set(k, Labels.fromRecord({ __name__: 'req_total', job, instance: String(i) }));
    return labels.get(k)!;
  };
  for (let step = 0; step < minutes * 6; step++) {
    const samples: [Labels, number][] = [];
    for (let i = 0; i < 6; i++) {
      // instance i lives from minute i/2 on; 5 goes away in minute 4
      if (step < i * 3 || (i === 5 && step > 24)) continue;
      const v = (step * (i + 3)) % 97;
      samples.push([l(i % 2 ? 'a' : 'b', i), v]);
    }
    out.push({ at: T0 + 1_000 + step * 10_000, text: samples });
  }
  return out;
}

async function run(cfg: StreamAggrConfig, file: string | undefined, restarts: ReadonlySet<number>): Promise<string[]> {
  let now = T0;
  const got: string[] = [];
  const make = async () => {
    const a = new StreamAggregation(cfg, { scope: 't', logger: logger().log, timers: false, now: () => now, stateFile: file, emit: (b) => got.push(...lines(b).map((x) => `${x}@${b.timestamps[0] - T0}`)) });
    await a.open();
    return a;
  };
  let aggr = await make();
  const steps = schedule(6);
  for (const [n, step] of steps.entries()) {
    now = step.at;
    aggr.advance(now);
    if (restarts.has(n)) {
      await aggr.close();
      aggr = await make();
    }
    const b = new SampleBatch(8);
    for (const [labels, v] of step.text) b.append(labels, v, now);
    aggr.process(b, new SampleBatch(8));
  }
  now = T0 + 6 * 60_000 + 1;
  aggr.advance(now);
  await aggr.close();
  return got.sort();
}

test('stopped and started again from the state file, mid-interval, several times: the same outputs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = streamAggrSchema.parse(CONFIG);
  const whole = await run(cfg, undefined, new Set());
  assert.ok(whole.length > 50, `${whole.length} outputs`);
  // restarts in the middle of minutes 1, 2 (twice), 3 and 5, with series appearing in between
  const file = join(dir, 'state');
  const restarted = await run(cfg, file, new Set([8, 14, 16, 21, 33]));
  assert.deepEqual(restarted, whole);
  // one journal per rule remains, of the latest generation
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.keys')).length, 2);
});

test('without the state the restart shows: the same run without a state file differs', async () => {
  const cfg = streamAggrSchema.parse(CONFIG);
  const whole = await run(cfg, undefined, new Set());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-state-'));
  try {
    // a state file that cannot be written (its directory is a file): every restart starts afresh
    writeFileSync(join(dir, 'blocker'), '');
    const lost = await run(cfg, join(dir, 'blocker', 'state'), new Set([8, 21]));
    assert.notDeepEqual(lost, whole);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged state file or journal is said and costs only the state', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = streamAggrSchema.parse(CONFIG);
  const file = join(dir, 'state');
  const now = T0 + 5_000;
  const { log, text } = logger();
  const write = async () => {
    const a = new StreamAggregation(cfg, { scope: 't', logger: log, timers: false, now: () => now, stateFile: file, emit: () => {} });
    await a.open();
    const b = new SampleBatch(2);
    b.append(Labels.fromRecord({ __name__: 'x', job: 'a' }), 1, now);
    a.process(b, new SampleBatch(2));
    await a.close();
  };
  await write();
  const bytes = readFileSync(file);
  bytes[20] ^= 0xff;
  writeFileSync(file, bytes);
  const a = new StreamAggregation(cfg, { scope: 't', logger: log, timers: false, now: () => now, stateFile: file, emit: () => {} });
  await a.open();
  assert.match(text(), /the aggregation state file is damaged; starting afresh.*checksum mismatch/);
  assert.equal(a.rules[0].inputSeries, 0);
  await a.close();

  // a journal cut short: that rule starts afresh, the other keeps its state
  await write();
  const journal = readdirSync(dir).find((f) => f.includes(a.rules[0].id) && f.endsWith('.keys'))!;
  writeFileSync(join(dir, journal), readFileSync(join(dir, journal)).subarray(0, 5));
  const c = new StreamAggregation(cfg, { scope: 't', logger: log, timers: false, now: () => now, stateFile: file, emit: () => {} });
  await c.open();
  assert.match(text(), /the aggregation state of a rule cannot be read; it starts afresh/);
  assert.equal(c.rules[0].inputSeries, 0);
  assert.equal(c.rules[1].inputSeries, 1);
  await c.close();
});

test('a changed rule starts afresh, an unchanged one keeps its state', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'state');
  const now = T0 + 5_000;
  const first = new StreamAggregation(streamAggrSchema.parse(CONFIG), { scope: 't', logger: logger().log, timers: false, now: () => now, stateFile: file, emit: () => {} });
  await first.open();
  const b = new SampleBatch(2);
  b.append(Labels.fromRecord({ __name__: 'x', job: 'a' }), 1, now);
  first.process(b, new SampleBatch(2));
  await first.close();
  const changed = { rules: [CONFIG.rules[0], { ...CONFIG.rules[1], by: ['instance'] }] };
  const { log, text } = logger();
  const second = new StreamAggregation(streamAggrSchema.parse(changed), { scope: 't', logger: log, timers: false, now: () => now, stateFile: file, emit: () => {} });
  await second.open();
  assert.equal(second.rules[0].inputSeries, 1);
  assert.equal(second.rules[1].inputSeries, 0);
  assert.match(text(), /aggregation state restored.*rules=1.*saved_rules_changed_or_removed=1/);
  await second.close();
});

test('a disk that refuses the state: counted and said once; at the stop the deduplicated samples go on rather than being lost', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'blocker'), '');
  const { log, text } = logger();
  let out: string[] = [];
  const a = new StreamAggregation(streamAggrSchema.parse({ dedup_interval: '1m' }), {
    scope: 't',
    logger: log,
    timers: false,
    now: () => T0 + 1_000,
    stateFile: join(dir, 'blocker', 'state'),
    emit: (b) => (out = lines(b)),
  });
  await a.open();
  const b = new SampleBatch(2);
  b.append(Labels.fromRecord({ __name__: 'x' }), 7, T0 + 1_000);
  a.process(b, new SampleBatch(2));
  await a.writeState();
  await a.writeState();
  await a.close();
  assert.equal(text().match(/cannot write the aggregation state/g)?.length, 1);
  assert.deepEqual(out, ['x 7']);
});
