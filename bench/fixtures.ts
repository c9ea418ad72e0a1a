/**
 * What several benchmark suites share, wherever they live (bench/ for the end-to-end suites,
 * `src/<area>/*.bench.ts` for the micro ones beside their code): the fixture page, the 10
 * relabeling rules of ../shared/bench/scrape_rw.py and the series a scrape of the fixture page
 * makes.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFamilies } from '../src/formats/prometheus/families.js';
import { LabelsBuilder, type Labels } from '../src/model/labels.js';

/** The node_exporter page every suite reads (the source tree's file: compiled code runs from dist-test/bench/). */
export const NODE_EXPORTER_PAGE = fileURLToPath(new URL('../../bench/fixtures/node_exporter.txt', import.meta.url));

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

/** The fixture page twice (shard="0" and "1") with the job and instance labels a scrape attaches. */
export function loadBenchSeries(fixture: string = NODE_EXPORTER_PAGE): Labels[] {
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
