/**
 * Scrape pipeline cost: 100 targets × 1,014 series (the node_exporter fixture page twice,
 * shard="0" and shard="1", values changing on every request, served by exporter-farm.js in a
 * child process) scraped every 2 s by a ScrapeManager built from YAML as the runtime builds it,
 * into a sink that only counts. Process CPU per sample over a 10 s window after a warm-up of
 * 2 intervals, without metric relabeling and with the 10 rules of ../shared/bench/scrape_rw.py
 * `--relabel 10`: the rules run once per distinct series (the per-target series cache), so the
 * cost with them should stay about the cost without. Side by side with vmagent (a separate
 * process, with remote write): `npm run bench:side-by-side`.
 */

import { readFileSync } from 'node:fs';
import { parseConfigText } from '../src/config/index.js';
import { silentLogger } from '../src/log/logger.js';
import type { SampleBatch } from '../src/model/samples.js';
import type { SampleSink } from '../src/pipeline/index.js';
import { ScrapeManager } from '../src/scrape/index.js';
import { Registry } from '../src/selfmetrics/registry.js';
import { startExporterFarm } from './harness.js';
import { RULES } from './fixtures.js';

class CountingSink implements SampleSink {
  samples = 0;

  write(_job: string, batch: SampleBatch): void {
    this.samples += batch.length;
  }
}

interface Window {
  /** CPU µs per sample the sink received (after relabeling, with the 5 auto series per scrape). */
  perSample: number;
  /** CPU µs per sample read from the pages (before relabeling). */
  perScraped: number;
  scraped: number;
  /** Scrapes that failed in the window (a timeout under load shows here). */
  failed: number;
  heapMb: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function total(registry: Registry, name: string): number {
  const family = registry.collect().find((f) => f.name === name);
  return family?.metrics.reduce((n, m) => n + Number(m.value), 0) ?? 0;
}

async function measure(ports: number[], intervalS: number, windowS: number, rules: boolean): Promise<Window> {
  const targets = ports.map((p) => `'127.0.0.1:${p}'`).join(', ');
  let yaml = `global:\n  scrape_interval: ${intervalS}s\n  scrape_timeout: ${intervalS}s\n` + `scrape_configs:\n  - job_name: farm\n    static_configs:\n      - targets: [${targets}]\n`;
  if (rules) yaml += `    metric_relabel_configs: ${JSON.stringify(RULES)}\n`;
  const sink = new CountingSink();
  const registry = new Registry();
  const manager = new ScrapeManager({ sink, logger: silentLogger, registry });
  manager.apply(parseConfigText(yaml, 'bench.yml', {}).config.scrape_configs);
  try {
    await manager.ready();
    await sleep(2 * intervalS * 1000);
    const samples0 = sink.samples;
    const scraped0 = total(registry, 'tributary_scrape_samples_scraped_total');
    const failed0 = total(registry, 'tributary_scrapes_failed_total');
    const cpu0 = process.cpuUsage();
    await sleep(windowS * 1000);
    const cpu = process.cpuUsage(cpu0);
    const us = cpu.user + cpu.system;
    const scraped = total(registry, 'tributary_scrape_samples_scraped_total') - scraped0;
    const failed = total(registry, 'tributary_scrapes_failed_total') - failed0;
    return { perSample: us / (sink.samples - samples0), perScraped: us / scraped, scraped, failed, heapMb: process.memoryUsage().heapUsed / 1e6 };
  } finally {
    await manager.close();
  }
}

export async function runScrapeBench(fixture: string, targets = 100, intervalS = 2, windowS = 10): Promise<void> {
  const mult = 2;
  const series = readFileSync(fixture, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).length * mult;
  const farm = await startExporterFarm([String(targets), '--page', fixture, String(mult)]);
  try {
    const plain = await measure(farm.ports, intervalS, windowS, false);
    const relabeled = await measure(farm.ports, intervalS, windowS, true);
    console.log(`scrape: ${targets} targets × ${series.toLocaleString('en-US')} series every ${intervalS} s, ${windowS} s window after ${2 * intervalS} s warm-up (process CPU)`);
    for (const [name, w] of [['no rules', plain], [`${RULES.length} rules`, relabeled]] as const) {
      console.log(
        `  ${name.padEnd(10)} ${w.perSample.toFixed(2).padStart(6)} µs CPU/sample passed on ${w.perScraped.toFixed(2).padStart(6)} µs/sample scraped ` +
          `${w.scraped.toLocaleString('en-US').padStart(9)} scraped, ${w.failed} failed scrapes, heap used ${w.heapMb.toFixed(1)} MB`,
      );
    }
    console.log(
      `  with rules / without: ${(relabeled.perSample / plain.perSample).toFixed(2)}× per sample passed on, ` +
        `${(relabeled.perScraped / plain.perScraped).toFixed(2)}× per sample scraped`,
    );
  } finally {
    farm.stop();
  }
}
