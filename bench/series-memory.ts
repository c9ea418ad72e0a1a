/**
 * Heap bytes per series held across scrapes: 100 targets × 1,014 series (the node_exporter
 * fixture page twice per target, 101,400 series, served by exporter-farm.js in a child process)
 * scraped by a ScrapeManager into remote write, as the runtime wires them, with no URL, one URL
 * of each compression, and two `compression: fast` URLs (each with its own series codes). The
 * heap after a full GC once the queues are flushed, less the heap before the targets were
 * configured, divided by the series; the least of three such readings (one per interval), as a
 * reading taken while a scrape is in flight counts its page. Each setting runs in a process of
 * its own, since the line pool and the snappy codes are per process.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseConfigText } from '../src/config/index.js';
import { silentLogger } from '../src/log/logger.js';
import { SinkFanout } from '../src/pipeline/index.js';
import { startRemoteWrite } from '../src/remotewrite/index.js';
import { ScrapeManager } from '../src/scrape/index.js';
import { Registry } from '../src/selfmetrics/registry.js';
import { startExporterFarm } from './harness.js';

const TARGETS = 100;
const MULT = 2;
const INTERVAL_S = 3;

/** Setting → the compression of each remote-write URL. */
const SETTINGS: Record<string, readonly ('fast' | 'small')[]> = {
  'scrape only': [],
  'small ×1': ['small'],
  'fast ×1': ['fast'],
  'fast ×2': ['fast', 'fast'],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

interface Reading {
  bytesPerSeries: number;
  series: number;
  requests: number;
}

/** One setting, in this process: prints its reading as JSON. */
export async function measureSeriesMemory(setting: string, fixture: string): Promise<void> {
  const gc = collector();
  const urls = SETTINGS[setting];
  const series = readFileSync(fixture, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).length * MULT * TARGETS;
  const farm = await startExporterFarm([String(TARGETS), '--page', fixture, String(MULT)]);
  let requests = 0;
  const servers = urls.map(() =>
    createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        res.writeHead(204).end();
      });
    }),
  );
  for (const s of servers) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-seriesmem-'));
  const remote = servers.map((s, i) => `  - url: http://127.0.0.1:${(s.address() as AddressInfo).port}/api/v1/write\n    queue_config: { compression: ${urls[i]} }\n`).join('');
  const targets = farm.ports.map((p) => `'127.0.0.1:${p}'`).join(', ');
  const yaml =
    `global:\n  scrape_interval: ${INTERVAL_S}s\n  scrape_timeout: ${INTERVAL_S}s\n` +
    `scrape_configs:\n  - job_name: farm\n    static_configs:\n      - targets: [${targets}]\n` +
    (remote === '' ? '' : `remote_write:\n${remote}`);
  const { config } = parseConfigText(yaml, 'bench.yml', {});
  const registry = new Registry();
  const pipeline = new SinkFanout(() => {});
  const rw = await startRemoteWrite(config.remote_write, { pipeline, registry, logger: silentLogger, dataDir, externalLabels: {}, options: config.remote_write_options });
  const manager = new ScrapeManager({ sink: pipeline, logger: silentLogger, registry });
  const settle = async () => {
    for (const q of rw.queues) await q.flush(30_000);
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  try {
    const before = await settle();
    manager.apply(config.scrape_configs);
    await manager.ready();
    await sleep(3 * INTERVAL_S * 1000);
    let least = Infinity;
    for (let i = 0; i < 3; i++) {
      least = Math.min(least, await settle());
      await sleep(INTERVAL_S * 1000);
    }
    const reading: Reading = { bytesPerSeries: (least - before) / series, series, requests };
    process.stdout.write(JSON.stringify(reading) + '\n');
  } finally {
    await manager.close();
    await rw.close(1_000);
    for (const s of servers) s.close();
    farm.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runSeriesMemoryBench(fixture: string): Promise<void> {
  console.log(`series memory: ${TARGETS} targets × node_exporter page ×${MULT}, scraped every ${INTERVAL_S} s into remote write; heap after GC per series`);
  const self = new URL(import.meta.url).href;
  for (const setting of Object.keys(SETTINGS)) {
    const call = `const m = await import(${JSON.stringify(self)}); await m.measureSeriesMemory(${JSON.stringify(setting)}, ${JSON.stringify(fixture)});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', call], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.log(`  ${setting.padEnd(12)} failed (exit ${r.status})`);
      process.exitCode = 1;
      continue;
    }
    const m = JSON.parse(line) as Reading;
    console.log(`  ${setting.padEnd(12)} ${m.bytesPerSeries.toFixed(0).padStart(5)} B/series  (${m.series.toLocaleString('en-US')} series, ${m.requests} requests received)`);
  }
}
