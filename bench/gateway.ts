/**
 * Gateway benchmark: 100 HTTP exporters × 1,000 series fetched on every scrape and merged
 * into one page (the "100 HTTP sources" case). The exporters run in a child process;
 * the figures are the gateway's own: scrape latency p50/p99 and CPU per scrape.
 */

import { startExporterFarm } from './harness.js';
import { parseConfigText } from '../src/config/index.js';
import { silentLogger } from '../src/log/logger.js';
import { Registry } from '../src/selfmetrics/registry.js';
import { Gateway, type GatewayPath } from '../src/gateway/gateway.js';
import { AppStore } from '../src/gateway/push/app-store.js';
import { createSource } from '../src/gateway/sources/index.js';

export async function runGatewayBench(exporters = 100, series = 1000, scrapes = 30): Promise<void> {
  const farm = await startExporterFarm([String(exporters), String(series)]);
  try {
    const ports = farm.ports;
    const yaml = 'gateway:\n  sources:\n' + ports.map((p, i) => `    - name: exporter${i}\n      http:\n        url: http://127.0.0.1:${p}/metrics\n        timeout: 10s\n`).join('');
    const config = parseConfigText(yaml, 'bench.yml', {}).config.gateway;
    const registry = new Registry();
    const sources = config.sources.map((s) => ({ source: createSource(s, silentLogger), labels: s.labels, sourceLabel: s.source_label }));
    const path: GatewayPath = { path: '/metrics', pushedApps: false, selfMetrics: true, timeoutMs: 10_000 };
    const gateway = new Gateway({ registry, logger: silentLogger, sources, store: new AppStore(), sourceLabelName: 'exporter_name', paths: [path] });
    const params = new URLSearchParams();
    let bytes = 0;
    let lines = 0;
    // warm connections and caches; each page is released as the server does once it is sent
    for (let i = 0; i < 3; i++) (await gateway.page(path, undefined, params)).release();
    const latencies: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < scrapes; i++) {
      const t = performance.now();
      const { body, release } = await gateway.page(path, undefined, params);
      latencies.push(performance.now() - t);
      bytes = body.length;
      if (i === 0) lines = body.toString().split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
      release();
    }
    const cpu = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);
    await gateway.close();
    console.log(`gateway: ${exporters} HTTP sources × ${series} series fetched on scrape, ${scrapes} scrapes`);
    console.log(
      `  p50 ${latencies[Math.floor(scrapes / 2)].toFixed(1)} ms, p99 ${latencies[Math.ceil(scrapes * 0.99) - 1].toFixed(1)} ms, ` +
        `CPU ${((cpu.user + cpu.system) / 1000 / scrapes).toFixed(1)} ms per scrape, ${(bytes / 1e6).toFixed(1)} MB page, ${lines} series`,
    );
  } finally {
    farm.stop();
  }
}
