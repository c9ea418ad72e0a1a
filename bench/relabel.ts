/**
 * Relabeling cost per series: 1,014 node_exporter series (the fixture page twice, shard="0"
 * and shard="1", with the job and instance labels a scrape attaches before metric relabeling)
 * through the 10 rules of ../shared/bench/scrape_rw.py `--relabel 10`, uncached and through
 * CachedRelabeler (identity hits, as with interned label sets, and content hits by key).
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compare, type Contender } from './harness.js';
import { relabelConfigsSchema } from '../src/config/relabel.js';
import { parseFamilies } from '../src/formats/prometheus/families.js';
import { Labels, LabelsBuilder } from '../src/model/labels.js';
import { CachedRelabeler, Relabeler } from '../src/relabel/index.js';

/** scrape_rw.py's RELABEL_RULES, the same 10 rules vmagent and Prometheus run there. */
export const RULES = [
  { source_labels: ['__name__'], regex: 'go_gc_.*', action: 'drop' },
  { source_labels: ['__name__', 'mode'], separator: '@', regex: 'node_cpu_seconds_total@(.+)', target_label: 'cpu_mode', replacement: '$1' },
  { regex: 'fstype', action: 'labeldrop' },
  { source_labels: ['instance'], regex: '127\\.0\\.0\\.1:(\\d+)', target_label: 'port', replacement: 'p$1' },
  { source_labels: ['device'], regex: '(.*)', target_label: 'dev', action: 'replace' },
  { source_labels: ['__name__'], regex: 'node_(.+)', target_label: 'subsystem', replacement: '$1' },
  { source_labels: ['subsystem'], regex: '(\\w+?)_.*', target_label: 'subsystem' },
  { regex: 'dev', action: 'labeldrop' },
  { source_labels: ['job'], target_label: 'team', replacement: 'infra' },
  { source_labels: ['__name__'], regex: 'node_scrape_collector_.*|promhttp_.*', action: 'drop' },
];

const DEFAULT_FIXTURE = fileURLToPath(new URL('../../bench/fixtures/node_exporter.txt', import.meta.url));

export function loadBenchSeries(fixture: string = DEFAULT_FIXTURE): Labels[] {
  const families = parseFamilies(readFileSync(fixture, 'utf8'), { format: 'prometheus' }).families;
  const series: Labels[] = [];
  const lb = new LabelsBuilder();
  for (const shard of ['0', '1']) {
    for (const f of families) {
      for (const p of f.metrics) {
        lb.reset(p.labels).set('job', 'farm').set('instance', '127.0.0.1:19300').set('shard', shard);
        series.push(lb.build());
      }
    }
  }
  return series;
}

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
