/**
 * Event-loop lag of the real `tributary` process while its disk queue overflows: 100 targets
 * (bench/exporter-farm.js serving the node_exporter fixture) scraped every second, a remote-write
 * receiver whose port refuses connections, and (a) `max_disk_usage: 256MiB`, (b) the default
 * bound (1 GiB). Filling the queue at the scrape rate would take minutes, so each sender's
 * directory is filled first with valid segments of the on-disk format (disk-queue.ts: plain
 * `<offset>.seg` names, as every version reads them) up to a few MiB below its share of the
 * bound; the live scrapes then push it over within seconds and every further segment drops the
 * oldest (counted as `queue_full`). From the first such drop on, for `QUEUE_LAG_SECONDS`
 * (default 90), a probe loaded into the process (`--import` of this module) measures every
 * 10 ms timer's lateness — and the same less the time the kernel kept the main thread waiting
 * for a CPU (/proc/self/schedstat), which on a machine busy with other work is the part the
 * process's own event-loop work caused — the process's own `tributary_event_loop_lag_seconds`
 * p99 is read every 5 s, and /api/v1/targets every second for how late each scrape started
 * against its schedule.
 *
 * `npm run bench -- queue-lag` measures this checkout's build; `QUEUE_LAG_CLI=/path/dist/cli.js`
 * another one, `QUEUE_LAG_CLI=a/cli.js,b/cli.js` several side by side (at the same time, sharing
 * the farm: on a busy machine the fairest before/after); `QUEUE_LAG_SCENARIO=max` or `default`
 * only one scenario. Bar: lag p99 ≤ 20 ms.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import type { queueDirName as QueueDirName } from '../src/remotewrite/queue-dir.js';

const PROBE_ENV = 'TRIBUTARY_LAG_PROBE';
const PROBE_TICK_MS = 10;
const TARGETS = 100;
const SENDERS = 4;
/** Below each sender's share of the bound the prefill stops: the live scrapes cross it. */
const HEADROOM = 2 * 1024 * 1024;

// Loaded with `--import` into the measured process: every 10 ms timer's lateness, appended to a file each second.
if (process.env[PROBE_ENV]) installProbe(process.env[PROBE_ENV]);

/** Nanoseconds the main thread waited for a CPU while runnable (Linux schedstat), or undefined elsewhere. */
function runQueueWaitNs(): number | undefined {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * Each tick's lateness, and the same less the time the kernel kept the main thread waiting for a
 * CPU: on a machine busy with other work the first includes being descheduled, the second is
 * what the process's own work on its event loop cost.
 */
function installProbe(file: string): void {
  let lags: number[] = [];
  let own: number[] = [];
  let expected = performance.now() + PROBE_TICK_MS;
  let waited = runQueueWaitNs();
  const tick = () => {
    const now = performance.now();
    const late = Math.max(0, now - expected);
    const w = runQueueWaitNs();
    lags.push(Math.round(late * 100) / 100);
    own.push(Math.round(Math.max(0, late - (w !== undefined && waited !== undefined ? (w - waited) / 1e6 : 0)) * 100) / 100);
    waited = w;
    expected = now + PROBE_TICK_MS;
    setTimeout(tick, PROBE_TICK_MS).unref();
  };
  setTimeout(tick, PROBE_TICK_MS).unref();
  // garbage collection pauses: the part of a tick's lateness that is the heap's, not the queue's
  let gc: number[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.push(Math.round(e.duration * 100) / 100);
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    appendFileSync(file, JSON.stringify({ at: Date.now(), lags, own, gc }) + '\n');
    lags = [];
    own = [];
    gc = [];
  }, 1000).unref();
}

interface Scenario {
  readonly name: string;
  /** YAML for max_disk_usage, or undefined for the default. */
  readonly maxDiskUsage?: string;
  readonly bytes: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'max_disk_usage 256MiB', maxDiskUsage: '256MiB', bytes: 256 * 1024 * 1024 },
  { name: 'default bound (1GiB)', bytes: 1024 * 1024 * 1024 },
];

/** Segments of `segmentBytes` in `dir` up to `total` bytes, records as disk-queue.ts writes them. */
function prefill(dir: string, total: number, segmentBytes: number): void {
  mkdirSync(dir, { recursive: true });
  const payload = randomBytes(16 * 1024);
  const record = Buffer.allocUnsafe(20 + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(1000, 8);
  record.writeDoubleLE(Date.now(), 12);
  payload.copy(record, 20);
  record.writeUInt32LE(crc32(record.subarray(8)), 4);
  let offset = 0;
  while (offset + record.length <= total) {
    const chunks: Buffer[] = [];
    let size = 0;
    while (size < segmentBytes && offset + size + record.length <= total) {
      chunks.push(record);
      size += record.length;
    }
    writeFileSync(join(dir, String(offset).padStart(20, '0') + '.seg'), Buffer.concat(chunks));
    offset += size;
  }
}

async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function startTributary(cli: string, args: string[], probe: string): Promise<{ child: ChildProcess; address: string }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', self, cli, '--listen', '127.0.0.1:0', '--log-format', 'json', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, [PROBE_ENV]: probe },
  });
  let out = '';
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line in: ${out}`)), 60_000);
    child.stderr!.on('data', (d) => {
      out += d;
      const m = /"msg":"Tributary started"[^\n]*"listen":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { child, address };
}

async function metric(address: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** One build through one scenario; resolves with its report lines. */
async function runScenario(cli: string, s: Scenario, ports: number[], seconds: number): Promise<string> {
  // imported here, not at the top: the probe loads this module into the measured process
  const queueDirName: typeof QueueDirName = (await import('../src/remotewrite/queue-dir.js')).queueDirName;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-queuelag-'));
  try {
    const url = `http://127.0.0.1:${await refusedPort()}/api/v1/write`;
    const perShard = Math.floor(s.bytes / SENDERS);
    const segmentBytes = Math.max(64 * 1024, Math.min(32 * 1024 * 1024, Math.floor(perShard / 8)));
    const queue = join(dir, 'data', 'remotewrite', queueDirName({ url }));
    for (let i = 0; i < SENDERS; i++) prefill(join(queue, `s0${i}`), perShard - HEADROOM, segmentBytes);
    const config = join(dir, 'tributary.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: farm\n    static_configs: [{targets: [${ports.map((p) => `'127.0.0.1:${p}'`).join(', ')}]}]\n` +
        `remote_write:\n  - url: ${url}\n    queue_config: {senders: ${SENDERS}${s.maxDiskUsage ? `, max_disk_usage: ${s.maxDiskUsage}` : ''}}\n`,
    );
    const probe = join(dir, 'probe.jsonl');
    const { child, address } = await startTributary(cli, ['--config', config, '--data-dir', join(dir, 'data')], probe);
    try {
      const dropped = () => metric(address, 'tributary_remotewrite_samples_dropped_total', 'reason="queue_full"');
      const startedAt = Date.now();
      while ((await dropped()) === 0) {
        if (Date.now() - startedAt > 300_000) throw new Error('the queue did not overflow within 5 minutes');
        await new Promise((r) => setTimeout(r, 1000));
      }
      const from = Date.now();
      const dropped0 = await dropped();
      const scraped0 = await metric(address, 'tributary_scrape_samples_scraped_total', '');
      // per target: the phase of its first scrape seen; each later one's lateness against it
      const phase = new Map<string, number>();
      const seen = new Map<string, number>();
      const late: number[] = [];
      // what the process reports itself: the p99 of its own monitor over each 5 s between reads
      const ownP99: number[] = [];
      await metric(address, 'tributary_event_loop_lag_seconds', 'quantile="0.99"');
      for (let i = 1; Date.now() - from < seconds * 1000; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        if (i % 5 === 0) ownP99.push(1000 * (await metric(address, 'tributary_event_loop_lag_seconds', 'quantile="0.99"')));
        const body = (await (await fetch(`http://${address}/api/v1/targets?state=active`)).json()) as {
          data: { activeTargets: { scrapeUrl: string; lastScrape: string }[] };
        };
        for (const t of body.data.activeTargets) {
          const at = Date.parse(t.lastScrape);
          if (!(at > 0) || seen.get(t.scrapeUrl) === at) continue;
          seen.set(t.scrapeUrl, at);
          const p = phase.get(t.scrapeUrl);
          if (p === undefined) phase.set(t.scrapeUrl, at % 1000);
          else late.push((at - p + 1000) % 1000);
        }
      }
      const elapsed = (Date.now() - from) / 1000;
      const scraped = (await metric(address, 'tributary_scrape_samples_scraped_total', '')) - scraped0;
      const droppedN = (await dropped()) - dropped0;
      const perSecond = readFileSync(probe, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { at: number; lags: number[]; own: number[]; gc: number[] })
        .filter((r) => r.at > from);
      const lags = perSecond.flatMap((r) => r.lags).sort((a, b) => a - b);
      const own = perSecond.flatMap((r) => r.own).sort((a, b) => a - b);
      const gc = perSecond.flatMap((r) => r.gc).sort((a, b) => a - b);
      // "throughout": the worst p99 of any 5 s of the run
      let worstWindow = 0;
      for (let i = 0; i + 5 <= perSecond.length; i += 5) {
        worstWindow = Math.max(worstWindow, quantile(perSecond.slice(i, i + 5).flatMap((r) => r.lags).sort((a, b) => a - b), 0.99));
      }
      // lateness near 1000 ms is a scrape a little early (the timer's rounding), not a second late
      const lateness = late.map((x) => (x > 900 ? x - 1000 : x)).sort((a, b) => a - b);
      return (
        `  ${s.name.padEnd(24)} lag p50 ${quantile(lags, 0.5).toFixed(1)} ms  p99 ${quantile(lags, 0.99).toFixed(1)} ms  max ${lags.at(-1)?.toFixed(1)} ms` +
          `  (${lags.length} ticks over ${elapsed.toFixed(0)} s); worst 5 s p99 ${worstWindow.toFixed(1)} ms;` +
          ` tributary_event_loop_lag_seconds p99 (5 s windows) max ${Math.max(...ownP99).toFixed(1)} ms\n` +
          `  ${''.padEnd(24)} lag less CPU wait (own work) p99 ${quantile(own, 0.99).toFixed(1)} ms  max ${own.at(-1)?.toFixed(1)} ms;` +
          `  GC pauses ${gc.length}, p99 ${quantile(gc, 0.99).toFixed(1)} ms  max ${(gc.at(-1) ?? 0).toFixed(1)} ms\n` +
          `  ${''.padEnd(24)} scrape start late p50 ${quantile(lateness, 0.5)} ms  p99 ${quantile(lateness, 0.99)} ms  max ${lateness.at(-1)} ms;` +
          `  ${(scraped / elapsed / 1000).toFixed(1)}k samples scraped/s; ${(droppedN / elapsed / 1000).toFixed(1)}k/s dropped as queue_full`
      );
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runQueueLagBench(): Promise<void> {
  const clis = (process.env.QUEUE_LAG_CLI ?? fileURLToPath(new URL('../src/cli.js', import.meta.url))).split(',');
  const seconds = Number(process.env.QUEUE_LAG_SECONDS ?? 90);
  const page = fileURLToPath(new URL('../../bench/fixtures/node_exporter.txt', import.meta.url));
  const { startExporterFarm } = await import('./harness.js');
  const farm = await startExporterFarm([String(TARGETS), '--page', page]);
  try {
    console.log(`queue-lag: ${TARGETS} targets every 1s, receiver refusing, queue overflowing`);
    const only = process.env.QUEUE_LAG_SCENARIO;
    for (const s of SCENARIOS) {
      if (only && !s.name.startsWith(only)) continue;
      // several builds run at once, so the machine's other load hits them alike
      const reports = await Promise.all(clis.map((cli) => runScenario(cli, s, farm.ports, seconds)));
      clis.forEach((cli, i) => console.log(`${cli}\n${reports[i]}`));
    }
  } finally {
    farm.stop();
  }
}
