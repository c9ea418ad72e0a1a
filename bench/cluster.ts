/**
 * `npm run bench:cluster` — scale-out, in real `tributary` processes (issue 22):
 *
 * 1. A scrape cluster: 1,000 targets × 1,014 series (the node_exporter fixture twice,
 *    bench/exporter-farm.js) shared by 4 members (`cluster.members_count: 4`), beside one
 *    agent alone with 250 of the targets, all at once over the same window (this machine's CPU
 *    time per unit of work drifts by a quarter from minute to minute; side by side, all see the
 *    same drift). Per process: CPU per sample scraped, RSS and peak RSS. Bar: each member within
 *    10% of the single agent.
 * 2. Through NATS JetStream (Debian's nats-server, when installed): an agent remote-writing 250
 *    targets directly, beside one publishing the same to JetStream and a consumer taking them
 *    off to remote write. Samples per CPU-second of each, and end to end (publisher + consumer)
 *    against direct.
 *
 * Every process runs with the V8 flags of `tributary`'s own command line (src/cli.ts), as users
 * run it. `CLUSTER_WINDOW_S` (default 60) sets the window, after a 30 s warm-up.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_EXPORTER_PAGE } from './fixtures.js';
import { countingReceiver, startExporterFarm } from './harness.js';
import { cpuSeconds, freePort } from './victoria.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const NATS_SERVER = '/usr/sbin/nats-server';
const INTERVAL_S = 5;
const WARMUP_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The V8 flags on cli.js' `#!/usr/bin/env -S node …` line. */
function cliFlags(): string[] {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0];
  return first.replace(/^#!.*?\bnode\b/, '').trim().split(/\s+/).filter(Boolean);
}

interface Agent {
  name: string;
  child: ChildProcess;
  address: string;
  dir: string;
}

async function startAgent(name: string, config: string): Promise<Agent> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-cluster-'));
  const file = join(dir, 'tributary.yml');
  writeFileSync(file, config);
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [...cliFlags(), CLI, '--config', file, '--data-dir', join(dir, 'data'), '--listen', address, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    if (await fetch(`http://${address}/ready`).then((r) => r.ok, () => false)) break;
    if (i > 200) throw new Error(`${name} did not start`);
    await sleep(100);
  }
  return { name, child, address, dir };
}

async function stopAgent(a: Agent): Promise<void> {
  if (a.child.exitCode === null) {
    a.child.kill('SIGTERM');
    await new Promise((r) => a.child.once('exit', r));
  }
  rmSync(a.dir, { recursive: true, force: true });
}

function scrapeConfig(ports: readonly number[]): string {
  return `global: { scrape_interval: ${INTERVAL_S}s, scrape_timeout: ${INTERVAL_S}s }
scrape_configs:
  - job_name: farm
    static_configs: [{ targets: [${ports.map((p) => `'127.0.0.1:${p}'`).join(', ')}] }]
`;
}

function status(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The sum of a counter's series on the agent's /metrics. */
async function counter(a: Agent, name: string): Promise<number> {
  const page = await (await fetch(`http://${a.address}/metrics`)).text();
  let n = 0;
  for (const m of page.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) n += Number(m[1]);
  return n;
}

interface Measured {
  name: string;
  cpu: number;
  samples: number;
  rssMb: number;
  peakMb: number;
  targets: number;
}

/** Each agent's CPU and its count of `metric` over one window, measured at once. */
async function measure(agents: readonly Agent[], metric: (a: Agent) => string, windowS: number): Promise<Measured[]> {
  await sleep(WARMUP_MS);
  const s0 = await Promise.all(agents.map((a) => counter(a, metric(a))));
  const c0 = agents.map((a) => cpuSeconds(a.child.pid));
  await sleep(windowS * 1000);
  const cpu = agents.map((a, i) => cpuSeconds(a.child.pid) - c0[i]);
  const s1 = await Promise.all(agents.map((a) => counter(a, metric(a))));
  const targets = await Promise.all(agents.map(async (a) => {
    const body = (await (await fetch(`http://${a.address}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: unknown[] } };
    return body.data.activeTargets.length;
  }));
  return agents.map((a, i) => ({ name: a.name, cpu: cpu[i], samples: s1[i] - s0[i], rssMb: status(a.child.pid!, 'VmRSS'), peakMb: status(a.child.pid!, 'VmHWM'), targets: targets[i] }));
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function clusterPart(ports: readonly number[], rw: string, windowS: number): Promise<void> {
  const agents: Agent[] = [];
  try {
    for (let m = 0; m < 4; m++) {
      agents.push(await startAgent(`member ${m}`, `${scrapeConfig(ports)}cluster: { members_count: 4, member_num: ${m} }\nremote_write: [{ url: '${rw}' }]\n`));
    }
    agents.push(await startAgent('single', `${scrapeConfig(ports.slice(0, 250))}remote_write: [{ url: '${rw}' }]\n`));
    const r = await measure(agents, () => 'tributary_scrape_samples_scraped_total', windowS);
    const single = r[4];
    const perSample = (x: Measured) => (x.cpu * 1e6) / x.samples;
    console.log(`cluster: ${ports.length} targets × 1,014 series every ${INTERVAL_S} s over 4 members, beside one agent with 250 targets; ${windowS} s window`);
    let worstCpu = 0;
    let worstRss = 0;
    for (const x of r) {
      const dCpu = perSample(x) / perSample(single) - 1;
      const dRss = x.rssMb / single.rssMb - 1;
      if (x !== single) {
        worstCpu = Math.max(worstCpu, Math.abs(dCpu));
        worstRss = Math.max(worstRss, Math.abs(dRss));
      }
      console.log(
        `  ${x.name.padEnd(9)} ${String(x.targets).padStart(4)} targets  ${perSample(x).toFixed(2)} µs CPU/sample  RSS ${x.rssMb.toFixed(0)} MB (peak ${x.peakMb.toFixed(0)} MB)  ${fmt(x.samples)} samples` +
          (x === single ? '' : `  (${dCpu >= 0 ? '+' : ''}${(dCpu * 100).toFixed(0)}% CPU, ${dRss >= 0 ? '+' : ''}${(dRss * 100).toFixed(0)}% RSS)`),
      );
    }
    console.log(`  members against the single agent: CPU per sample within ${(worstCpu * 100).toFixed(0)}%, RSS within ${(worstRss * 100).toFixed(0)}% (bar 10%)`);
  } finally {
    await Promise.all(agents.map(stopAgent));
  }
}

async function jetstreamPart(ports: readonly number[], rw: string, windowS: number): Promise<void> {
  if (!existsSync(NATS_SERVER)) {
    console.log(`jetstream: skipped, ${NATS_SERVER} is not installed (Debian package nats-server)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-nats-'));
  mkdirSync(join(dir, 'js'));
  const port = await freePort();
  const nats = spawn(NATS_SERVER, ['-js', '-sd', join(dir, 'js'), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const agents: Agent[] = [];
  try {
    await sleep(1000);
    const url = `nats://127.0.0.1:${port}/bench.rw`;
    const targets = ports.slice(0, 250);
    agents.push(await startAgent('direct', `${scrapeConfig(targets)}remote_write: [{ url: '${rw}' }]\n`));
    agents.push(await startAgent('publisher', `${scrapeConfig(targets)}remote_write: [{ url: '${url}' }]\n`));
    agents.push(await startAgent('consumer', `ingest: { nats: { url: '${url}' } }\nremote_write: [{ url: '${rw}' }]\n`));
    const r = await measure(agents, (a) => (a.name === 'consumer' ? 'tributary_ingest_rows_total' : 'tributary_scrape_samples_scraped_total'), windowS);
    const [direct, publisher, consumer] = r;
    const rate = (samples: number, cpu: number) => samples / cpu;
    console.log(`jetstream: 250 targets × 1,014 series every ${INTERVAL_S} s, direct remote write beside agent → JetStream → consumer → remote write; ${windowS} s window`);
    for (const x of r) console.log(`  ${x.name.padEnd(9)} ${fmt(rate(x.samples, x.cpu))} samples per CPU-second  (${fmt(x.samples)} samples, ${x.cpu.toFixed(1)} CPU-s, RSS ${x.rssMb.toFixed(0)} MB, peak ${x.peakMb.toFixed(0)} MB)`);
    const endToEnd = rate(publisher.samples, publisher.cpu + (consumer.cpu * publisher.samples) / Math.max(1, consumer.samples));
    console.log(
      `  consumer: ${(rate(consumer.samples, consumer.cpu) / rate(direct.samples, direct.cpu)).toFixed(2)}× the direct agent's samples per CPU-second; ` +
        `end to end (publisher + consumer) ${fmt(endToEnd)} samples per CPU-second, ${(endToEnd / rate(direct.samples, direct.cpu)).toFixed(2)}× direct`,
    );
  } finally {
    await Promise.all(agents.map(stopAgent));
    nats.kill('SIGTERM');
    await new Promise((r) => nats.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runClusterBench(): Promise<void> {
  const windowS = Number(process.env.CLUSTER_WINDOW_S ?? 60);
  const farm = await startExporterFarm(['1000', '--page', NODE_EXPORTER_PAGE, '2']);
  const receiver = await countingReceiver();
  try {
    if (process.env.CLUSTER_PART !== 'jetstream') await clusterPart(farm.ports, receiver.url, windowS);
    if (process.env.CLUSTER_PART !== 'cluster') await jetstreamPart(farm.ports, receiver.url, windowS);
  } finally {
    farm.stop();
    receiver.server.close();
  }
}
