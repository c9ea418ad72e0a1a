/**
 * Stream aggregation cost per sample and memory per series, the engine alone: 101,400 series
 * (the node_exporter fixture page twice — shard 0 and 1 — on 100 instances, label sets packed
 * as the scrape cache keeps them, in 100 batches of one instance each, as scrapes deliver them)
 * through the 5 rules of `npm run bench -- streamaggr` at once, and through none (the cost of
 * making the batches); a run is one scrape of every series (the clock 5 s on, a flush every
 * 30 s included). One configuration per process: with several, V8's code for the shared sample
 * path serves them all and measures slower than any one alone. Then the heap bytes per series all 5 rules hold, and the state file's
 * size and the time and CPU to write it (the running agent writes it every
 * state_write_interval).
 */

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, type Contender } from '../../bench/harness.js';
import { loadBenchSeries } from '../../bench/fixtures.js';
import { streamAggrSchema } from '../config/stream-aggr.js';
import { silentLogger } from '../log/logger.js';
import { LabelsBuilder, type Labels } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import { StreamAggregation } from './aggregation.js';

export const BENCH_RULES = [
  { interval: '30s', by: ['__name__', 'shard'], outputs: ['sum_samples'] },
  { interval: '30s', without: ['instance'], outputs: ['total'] },
  { interval: '30s', without: ['instance'], outputs: ['increase'] },
  { interval: '30s', by: ['__name__'], outputs: ['quantiles(0.5, 0.9, 0.99)'] },
  { interval: '30s', without: ['instance'], outputs: ['histogram_bucket'] },
];

function series(): Labels[] {
  const base = loadBenchSeries();
  const out: Labels[] = [];
  const lb = new LabelsBuilder();
  for (let i = 0; i < 100; i++) {
    for (const l of base) {
      const s = lb.reset(l).set('instance', `10.0.${i >> 8}.${i & 255}:9100`).build();
      s.pack();
      out.push(s);
    }
  }
  return out;
}

export async function runStreamAggrEngineBench(): Promise<void> {
  const all = series();
  const perInstance = all.length / 100;
  const batch = new SampleBatch(perInstance);
  const pass = new SampleBatch(perInstance);
  let now = 1_800_000_000_000;
  let counter = 0;
  const make = (rules: object[], stateFile?: string) =>
    new StreamAggregation(streamAggrSchema.parse({ keep_input: true, rules }), {
      scope: 'bench',
      logger: silentLogger,
      timers: false,
      now: () => now,
      stateFile,
      emit: () => {},
    });
  const run = (aggr: StreamAggregation) => () => {
    now += 5_000;
    aggr.advance(now);
    counter++;
    let n = 0;
    for (let t = 0; t < 100; t++) {
      batch.reset();
      for (let i = t * perInstance; i < (t + 1) * perInstance; i++) batch.append(all[i], counter * 10 + (i & 7), now);
      n += aggr.process(batch, pass).length;
    }
    return n;
  };
  const contenders: Contender[] = [
    { name: 'no rules (the batches alone)', run: run(make([])) },
    { name: 'all 5 rules', run: run(make(BENCH_RULES)) },
  ];
  const results = compare(contenders, 5, 2_000);
  console.log(`streamaggr engine: ${all.length.toLocaleString('en-US')} series per run (one scrape), 30 s intervals, keep_input (CPU time, best of 5 interleaved rounds)`);
  for (const r of results) console.log(`  ${r.name.padEnd(34)} ${(r.nsPerRun / all.length).toFixed(0).padStart(6)} ns/sample`);

  // memory and the state file, all 5 rules
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-bench-'));
  try {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const file = join(dir, 'state');
    const held = make(BENCH_RULES, file);
    for (let i = 0; i < 7; i++) run(held)();
    gc?.();
    const after = process.memoryUsage().heapUsed;
    const timed = async () => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await held.writeState();
      const c = process.cpuUsage(c0);
      return `${(performance.now() - t0).toFixed(0)} ms (${((c.user + c.system) / 1000).toFixed(0)} ms CPU)`;
    };
    // the first write puts every series' labels in the key journal; the next ones only numbers
    const first = await timed();
    // then one write per scrape, as the agent does every state_write_interval: the last of several
    let next = '';
    for (let i = 0; i < 10; i++) {
      run(held)();
      next = await timed();
    }
    console.log(gc ? `  heap held by 5 rules ${((after - before) / all.length).toFixed(0)} bytes/series` : '  heap held by 5 rules: needs node --expose-gc');
    console.log(`  state ${(statSync(file).size / 1e6).toFixed(1)} MB: first write ${first} with the key journal, then ${next}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
