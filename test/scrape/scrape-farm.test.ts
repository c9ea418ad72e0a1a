/**
 * Many targets on a real schedule: the exporter farm (bench/exporter-farm.ts, serving the
 * node_exporter page twice over with values changing on every request, as the shared harness's
 * targets.mjs does) scraped through the scrape manager with the benchmark's ten metric
 * relabeling rules. Every target stays up on its interval, and what each scrape passes on is
 * exactly what relabeling the page's series independently gives.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Entry, newExpositionParser } from '../../src/formats/prometheus/parser.js';
import { LabelsBuilder } from '../../src/model/labels.js';
import { Relabeler } from '../../src/relabel/index.js';
import { startScraping, scrapeConfigs, waitFor } from '../helpers/scrape-harness.js';

const TARGETS = 20;
const INTERVAL_MS = 1000;
const RULES = `    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'go_gc_.*', action: drop}
      - {source_labels: [__name__, mode], separator: '@', regex: 'node_cpu_seconds_total@(.+)', target_label: cpu_mode, replacement: '$1'}
      - {regex: 'fstype', action: labeldrop}
      - {source_labels: [instance], regex: '127\\.0\\.0\\.1:(\\d+)', target_label: port, replacement: 'p$1'}
      - {source_labels: [device], regex: '(.*)', target_label: dev, action: replace}
      - {source_labels: [__name__], regex: 'node_(.+)', target_label: subsystem, replacement: '$1'}
      - {source_labels: [subsystem], regex: '(\\w+?)_.*', target_label: subsystem}
      - {regex: 'dev', action: labeldrop}
      - {source_labels: [job], target_label: team, replacement: 'infra'}
      - {source_labels: [__name__], regex: 'node_scrape_collector_.*|promhttp_.*', action: drop}
`;

test('twenty farm targets with ten rules: all up on schedule, each passing on what the rules keep', { timeout: 60_000 }, async (t) => {
  const farmJs = fileURLToPath(new URL('../../bench/exporter-farm.js', import.meta.url));
  const page = fileURLToPath(new URL('../../../bench/fixtures/node_exporter.txt', import.meta.url));
  const farm = spawn(process.execPath, [farmJs, String(TARGETS), '--page', page, '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => farm.kill());
  const [line] = (await once(farm.stdout!, 'data')) as [Buffer];
  const ports = JSON.parse(line.toString()) as number[];
  const yaml = `global:
  scrape_interval: ${INTERVAL_MS}ms
  scrape_timeout: ${INTERVAL_MS}ms
scrape_configs:
  - job_name: farm
    static_configs:
      - targets: [${ports.map((p) => `'127.0.0.1:${p}'`).join(', ')}]
${RULES}`;

  // what the rules keep of one target's page, computed without the scrape loop
  const pageText = await (await fetch(`http://127.0.0.1:${ports[0]}/metrics`)).text();
  const relabeler = Relabeler.compile(scrapeConfigs(yaml)[0].metric_relabel_configs);
  let lines = 0;
  let kept = 0;
  const p = newExpositionParser(pageText, { format: 'prometheus' });
  const lb = new LabelsBuilder();
  for (let e = p.next(); e !== Entry.End; e = p.next()) {
    if (e !== Entry.Series) continue;
    lines++;
    lb.reset(p.labels()).set('job', 'farm').set('instance', `127.0.0.1:${ports[0]}`);
    if (relabeler.processBuilder(lb) && lb.build().size > 0) kept++;
  }
  assert.equal(lines, 1014);
  assert.ok(kept > 0 && kept < lines, `the rules keep ${kept} of ${lines}`);

  const h = await startScraping(yaml);
  t.after(() => h.close());
  await waitFor('every target scraped three times', () => {
    const loops = h.manager.pool('farm')?.activeLoops() ?? [];
    return loops.length === TARGETS && loops.every((l) => l.scrapes >= 3);
  }, 20_000);
  const status = h.manager.pools()[0];
  assert.equal(status.active.length, TARGETS);
  for (const s of status.active) {
    assert.equal(s.health, 'up', s.lastError);
    assert.equal(s.lastSamplesScraped, lines);
    assert.equal(s.lastSamples, kept);
  }
  // every batch of a healthy scrape: the kept samples plus the five auto series, no staleness
  // (the pages' series never change), values moving between scrapes
  const full = h.sink.batches.filter((b) => b.samples.length === kept + 5);
  assert.ok(full.length >= TARGETS * 3, `${full.length} full batches`);
  const staleOnes = h.sink.batches.flatMap((b) => b.samples.filter((s) => s.stale).map((s) => s.series));
  const downs = h.sink.batches.flatMap((b) => b.samples.filter((s) => s.series.startsWith("up{") && s.value === 0).map((s) => s.series));
  assert.deepEqual({ stale: staleOnes.slice(0, 5), staleCount: staleOnes.length, downs }, { stale: [], staleCount: 0, downs: [] });
  const series = `node_load1{instance="127.0.0.1:${ports[0]}", job="farm", port="p${ports[0]}", shard="0", subsystem="load1", team="infra"}`;
  const values = h.sink.batches.flatMap((b) => b.samples.filter((s) => s.series === series).map((s) => s.value));
  assert.ok(values.length >= 3);
  assert.ok(new Set(values).size > 1, `values change between scrapes: ${values.join(',')}`);
});
