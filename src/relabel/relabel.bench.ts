/**
 * Relabeling cost per series: 1,014 node_exporter series (the fixture page twice, shard="0"
 * and shard="1", with the job and instance labels a scrape attaches before metric relabeling)
 * through the 10 rules of ../shared/bench/scrape_rw.py `--relabel 10`, uncached and through
 * CachedRelabeler (identity hits, as with interned label sets, and content hits by key).
 */

import { compare, type Contender } from '../../bench/harness.js';
import { loadBenchSeries, RULES } from '../../bench/fixtures.js';
import { relabelConfigsSchema } from '../config/relabel.js';
import type { Labels } from '../model/labels.js';
import { CachedRelabeler, Relabeler } from './index.js';

export function runRelabelBench(fixture?: string): void {
  const series = loadBenchSeries(fixture);
  const relabeler = Relabeler.compile(relabelConfigsSchema.parse(RULES));
  const byIdentity = new CachedRelabeler(relabeler);
  const byContent = new CachedRelabeler(relabeler, { byIdentity: false });
  let kept = 0;
  for (const s of series) if (relabeler.process(s) !== undefined) kept++;

  const pass = (p: { process(l: Labels): Labels | undefined }) => () => {
    let n = 0;
    for (const s of series) if (p.process(s) !== undefined) n++;
    return n;
  };
  const contenders: Contender[] = [
    { name: 'uncached', run: pass(relabeler) },
    { name: 'cached, same Labels objects', run: pass(byIdentity) },
    { name: 'cached, by labels.key only', run: pass(byContent) },
  ];
  const results = compare(contenders);
  console.log(`relabel: ${series.length} series, ${RULES.length} rules, ${kept} kept (CPU time, best of 7 interleaved rounds)`);
  for (const r of results) {
    console.log(`  ${r.name.padEnd(30)} ${(r.nsPerRun / series.length).toFixed(0).padStart(6)} ns/series`);
  }
}
