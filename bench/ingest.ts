/**
 * `npm run bench:ingest`: push ingestion side by side with vmagent — per protocol, samples per
 * CPU-second from request to remote write, vmagent 1.79 (/usr/bin/vmagent) and Tributary
 * (dist/cli.js) on the same payloads, on the same machine, in one run.
 *
 * For each protocol, each agent is started fresh (so its peak RSS is that protocol's), remote-
 * writing to one sink (bench/ingest-load.ts `sink`, a process of its own that answers 204 and
 * counts the samples each agent delivered). A load generator (`gen`, also its own process, with
 * every payload built before the clock starts) sends a warm-up, then the measured rounds as
 * fast as the agent takes them over a few connections; the clock stops when the sink holds
 * every sample sent. Per agent: its CPU time (utime+stime of /proc/<pid>/stat, all threads)
 * over that window, its peak RSS (VmHWM) and its peak anonymous RSS (RssAnon, sampled: RSS
 * without the mapped binary and libraries). A protocol an agent answers 404 is reported as
 * not available.
 *
 *   npm run bench:ingest -- [--protocols remote_write,influx,graphite,jsonl] [--series 10000]
 *     [--rounds 100] [--warmup 20] [--concurrency 4] [--agents vmagent,tributary[,label=other/cli.js]] [--repeat 3]
 *     [--node-flags="--max-semi-space-size=2 --heap-growing-percent=20"] [--cli dist/cli.js]
 *     [--queue-config "{max_samples_per_send: 10000}"] [--json]
 *
 * `--agents …,floor` adds Node.js itself as a yardstick: a process (run with Tributary's node
 * flags) that reads the same requests and answers them, parsing nothing and sending nothing —
 * the CPU and memory every agent on this runtime pays before its own work. Its ratio line is
 * what vmagent's figures leave to an agent written on Node.
 *
 * `--repeat N` runs the agents N times in turn and reports each one's least disturbed run (the
 * most samples per CPU-second; the highest peak RSS of all); `--agents` may name other builds
 * of Tributary (`before=/tmp/old/dist/cli.js`) to measure a change beside vmagent.
 *
 * Quote ratios from one run, not absolute figures: the machines are shared and noisy.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROTOCOLS, type Protocol, type SendCommand, type SendResult, type Target } from './ingest-load.js';

const VMAGENT = '/usr/bin/vmagent';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const LOAD = fileURLToPath(new URL('./ingest-load.js', import.meta.url));
/** What `npm start` runs Tributary with. */
const NPM_START_NODE_FLAGS = '--max-semi-space-size=2 --heap-growing-percent=20';

const { values: opt } = parseArgs({
  options: {
    protocols: { type: 'string', default: PROTOCOLS.join(',') },
    agents: { type: 'string', default: 'vmagent,tributary' },
    series: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '4' },
    repeat: { type: 'string', default: '3' },
    'node-flags': { type: 'string', default: NPM_START_NODE_FLAGS },
    /** Another build of Tributary (e.g. a branch's, built elsewhere) instead of this repository's dist/cli.js. */
    cli: { type: 'string', default: CLI },
    /** Tributary's `queue_config` for the sink, as YAML flow (e.g. `{max_samples_per_send: 10000}`, vmagent's block size). */
    'queue-config': { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const SERIES = Number(opt.series);
const ROUNDS = Number(opt.rounds);
const WARMUP = Number(opt.warmup);
const CONCURRENCY = Number(opt.concurrency);
const REPEAT = Math.max(1, Number(opt.repeat));
const protocols = opt.protocols.split(',').filter(Boolean) as Protocol[];
/** `vmagent`, `tributary` (this build, or --cli), or `label=path/to/cli.js`: another Tributary build beside it (before/after). */
const agents = opt.agents.split(',').filter(Boolean).map((spec): AgentSpec => {
  const eq = spec.indexOf('=');
  if (eq > 0) return { name: spec.slice(0, eq), cli: spec.slice(eq + 1) };
  if (spec === 'floor') return { name: spec, cli: undefined, floor: true };
  if (spec !== 'vmagent' && spec !== 'tributary') throw new Error(`--agents: ${spec}: expected vmagent, tributary, floor or label=path/to/cli.js`);
  return { name: spec, cli: spec === 'tributary' ? opt.cli : undefined };
});
for (const p of protocols) if (!PROTOCOLS.includes(p)) throw new Error(`--protocols: unknown ${p} (${PROTOCOLS.join(', ')})`);

/** An agent's label: `vmagent`, `tributary` or the label of another Tributary build. */
type AgentName = string;

interface AgentSpec {
  readonly name: AgentName;
  /** Tributary's cli.js; undefined for vmagent and the floor. */
  readonly cli: string | undefined;
  /** Node.js reading and answering the load, nothing more (bench/ingest-load.ts `floor`). */
  readonly floor?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => void (opt.verbose && process.stderr.write(`[bench:ingest] ${s}\n`));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, ok: () => Promise<boolean> | boolean, ms: number, proc?: ChildProcess): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc && proc.exitCode !== null) throw new Error(`${what}: the process exited (${proc.exitCode})`);
    if (await ok()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const httpOk = (url: string) => () => fetch(url).then((r) => r.ok, () => false);

/** utime+stime of every thread of `pid`, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // fields after ") ": state is [0], utime is field 14 of the full line → [11], stime → [12]
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function statusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

/** A child that prints one JSON line when ready; its next lines are read with `next()`. */
function lineChild(args: string[], nodeFlags: string[] = []): { proc: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const proc = spawn(process.execPath, [...nodeFlags, LOAD, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl: Interface = createInterface({ input: proc.stdout! });
  const waiting: ((l: string) => void)[] = [];
  const lines: string[] = [];
  rl.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const l = lines.shift();
      if (l !== undefined) return resolve(JSON.parse(l) as Record<string, unknown>);
      const onExit = () => reject(new Error(`${args[0]} exited`));
      proc.once('exit', onExit);
      waiting.push((line) => {
        proc.off('exit', onExit);
        resolve(JSON.parse(line) as Record<string, unknown>);
      });
    });
  return { proc, next };
}

interface RunningAgent {
  readonly name: AgentName;
  readonly proc: ChildProcess;
  readonly target: Target;
  stop(): Promise<void>;
}

const PATHS: Record<Exclude<Protocol, 'graphite'>, string> = { remote_write: '/api/v1/write', influx: '/write', jsonl: '/api/v1/import' };

function targetOf(protocol: Protocol, http: string, graphitePort: number): Target {
  return protocol === 'graphite' ? { tcp: { host: '127.0.0.1', port: graphitePort } } : { http: http + PATHS[protocol] };
}

async function startVmagent(protocol: Protocol, sink: string, work: string): Promise<RunningAgent> {
  const [http, influx, graphite] = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(
    VMAGENT,
    [
      `-httpListenAddr=127.0.0.1:${http}`,
      `-influxListenAddr=127.0.0.1:${influx}`,
      `-graphiteListenAddr=127.0.0.1:${graphite}`,
      `-remoteWrite.url=${sink}/vmagent/api/v1/write`,
      `-remoteWrite.tmpDataPath=${join(work, 'vmagent')}`,
      '-loggerLevel=ERROR',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitFor('vmagent up', httpOk(`http://127.0.0.1:${http}/health`), 30_000, proc);
  return { name: 'vmagent', proc, target: targetOf(protocol, `http://127.0.0.1:${http}`, graphite), stop: () => stop(proc) };
}

async function startFloor(protocol: Protocol): Promise<RunningAgent> {
  const child = lineChild(['floor'], opt['node-flags'].split(' ').filter(Boolean));
  const { port, graphite } = (await child.next()) as { port: number; graphite: number };
  return { name: 'floor', proc: child.proc, target: targetOf(protocol, `http://127.0.0.1:${port}`, graphite), stop: () => stop(child.proc) };
}

/**
 * Tributary with every protocol of this benchmark on. Remote write in moved from
 * `remote_write_options.receiver` to `ingest.remote_write`: the first configuration the
 * running code accepts is used.
 */
async function startTributary(spec: AgentSpec, protocol: Protocol, sink: string, work: string): Promise<RunningAgent> {
  const [http, graphite] = [await freePort(), await freePort()];
  const base = `server: {listen: 127.0.0.1:${http}, data_dir: ${join(work, 'tributary')}}
remote_write:
  - url: ${sink}/${spec.name}/api/v1/write
${opt['queue-config'] ? `    queue_config: ${opt['queue-config']}\n` : ''}`;
  const ingest = `ingest:
  remote_write: {http: true}
  influx: {http: true}
  graphite: {listen_address: 127.0.0.1:${graphite}}
  import: {http: true}
`;
  const variants = [base + 'remote_write_options: {receiver: {enabled: true}}\n' + ingest, base + ingest];
  const file = join(work, 'tributary.yml');
  let lastErr: unknown;
  for (const yaml of variants) {
    writeFileSync(file, yaml);
    const flags = opt['node-flags'].split(' ').filter(Boolean);
    const proc = spawn(process.execPath, [...flags, spec.cli!, '--config', file, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
    try {
      await waitFor('Tributary up', httpOk(`http://127.0.0.1:${http}/ready`), 30_000, proc);
      proc.stderr!.pipe(process.stderr);
      return { name: spec.name, proc, target: targetOf(protocol, `http://127.0.0.1:${http}`, graphite), stop: () => stop(proc) };
    } catch (err) {
      lastErr = new Error(`${(err as Error).message}: ${stderr.trim().slice(-500)}`);
      await stop(proc);
    }
  }
  throw lastErr;
}

interface Measured {
  protocol: Protocol;
  agent: AgentName;
  samples?: number;
  delivered?: number;
  seconds?: number;
  samples_per_s?: number;
  cpu_s?: number;
  samples_per_cpu_s?: number;
  peak_rss_mb?: number;
  /** Peak RssAnon while measured (sampled every 100 ms): RSS without the mapped binary and libraries. */
  peak_anon_mb?: number;
  retried?: number;
  error?: string;
}

async function sinkCount(sink: string, agent: AgentName): Promise<number> {
  const all = (await (await fetch(`${sink}/count`)).json()) as Record<string, { samples: number }>;
  return all[agent]?.samples ?? 0;
}

/** Waits until the sink holds `want` samples of `agent`, or until nothing has arrived for 10 s; the count. */
async function drained(sink: string, agent: AgentName, want: number): Promise<number> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = await sinkCount(sink, agent);
    if (n >= want) return n;
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since > 10_000) return n;
    await sleep(20);
  }
}

async function measure(protocol: Protocol, spec: AgentSpec, gen: ReturnType<typeof lineChild>, sink: string, work: string): Promise<Measured> {
  const name = spec.name;
  mkdirSync(work, { recursive: true });
  const agent = spec.floor ? await startFloor(protocol) : spec.cli === undefined ? await startVmagent(protocol, sink, work) : await startTributary(spec, protocol, sink, work);
  // the floor delivers nothing: its window ends when the generator's last request is answered
  const settled = (want: number) => (spec.floor ? Promise.resolve(want) : drained(sink, name, want));
  const send = async (from: number, to: number): Promise<SendResult> => {
    const cmd: SendCommand = { target: agent.target, from, to };
    gen.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    return (await gen.next()) as unknown as SendResult;
  };
  let sampler: NodeJS.Timeout | undefined;
  try {
    const base = await sinkCount(sink, name);
    say(`${protocol} ${name}: warm-up`);
    const warm = await send(0, WARMUP);
    if (warm.notFound) return { protocol, agent: name, error: 'not available' };
    if (warm.error) return { protocol, agent: name, error: warm.error };
    const warmed = await settled(base + warm.samples);
    const pid = agent.proc.pid!;
    // anonymous memory (heap, buffers) apart from the mapped binary and libraries, sampled: the
    // kernel keeps no peak of it
    let anon = statusKb(pid, 'RssAnon');
    sampler = setInterval(() => {
      try {
        anon = Math.max(anon, statusKb(pid, 'RssAnon'));
      } catch {
        // exited: the run reports it
      }
    }, 100);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    say(`${protocol} ${name}: measuring`);
    const r = await send(WARMUP, WARMUP + ROUNDS);
    const got = (await settled(warmed + r.samples)) - warmed;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    const hwm = statusKb(pid, 'VmHWM') / 1024;
    clearInterval(sampler);
    anon = Math.max(anon, statusKb(pid, 'RssAnon'));
    if (r.error) return { protocol, agent: name, error: r.error };
    return {
      protocol,
      agent: name,
      samples: r.samples,
      delivered: Math.round((got / r.samples) * 1000) / 1000,
      seconds: round(seconds, 2),
      samples_per_s: Math.round(got / seconds),
      cpu_s: round(cpu, 2),
      samples_per_cpu_s: Math.round(got / cpu),
      peak_rss_mb: round(hwm, 1),
      peak_anon_mb: round(anon / 1024, 1),
      retried: r.retried,
    };
  } finally {
    clearInterval(sampler);
    await agent.stop();
  }
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const fmt = (n: number) => n.toLocaleString('en-US');

function line(m: Measured): string {
  if (opt.json) return JSON.stringify(m);
  const head = `${m.protocol.padEnd(13)} ${m.agent.padEnd(10)}`;
  if (m.error !== undefined) return `${head} ${m.error}`;
  return (
    `${head} ${fmt(m.samples_per_s!).padStart(10)} samples/s  ${m.cpu_s!.toFixed(2).padStart(6)} CPU-s  ` +
    `${fmt(m.samples_per_cpu_s!).padStart(10)} samples/CPU-s  peak RSS ${m.peak_rss_mb!.toFixed(1).padStart(6)} MB (anon ${m.peak_anon_mb!.toFixed(1)})` +
    (m.agent === 'floor'
      ? `  (${fmt(m.samples!)} samples read and answered, nothing parsed or sent)`
      : `  (${fmt(m.samples!)} samples, delivered ${m.delivered!.toFixed(3)}${m.retried ? `, ${m.retried} retried 429` : ''})`)
  );
}

function ratioLine(protocol: Protocol, v: Measured | undefined, t: Measured | undefined): string | undefined {
  if (!v?.samples_per_cpu_s || !t?.samples_per_cpu_s) return undefined;
  const speed = t.samples_per_cpu_s / v.samples_per_cpu_s;
  const rss = t.peak_rss_mb! / v.peak_rss_mb!;
  const r = {
    protocol,
    ratio: `${t.agent}/vmagent`,
    samples_per_cpu_s: round(speed, 2),
    peak_rss: round(rss, 2),
    bar: speed >= 1 && rss <= 2 ? 'met' : 'missed',
  };
  if (opt.json) return JSON.stringify(r);
  return `${protocol.padEnd(13)} ratio      ${r.ratio}: samples/CPU-s ${r.samples_per_cpu_s.toFixed(2)}× (bar ≥ 1), peak RSS ${r.peak_rss.toFixed(2)}× (bar ≤ 2): ${r.bar}`;
}

/**
 * Of an agent's repeats, the least disturbed: the most samples per CPU-second (other processes
 * on a shared machine only ever add CPU time), with the highest peak RSS of all of them.
 */
function best(runs: readonly Measured[]): Measured {
  const ok = runs.filter((m) => m.samples_per_cpu_s !== undefined);
  if (ok.length === 0) return runs[runs.length - 1];
  const top = ok.reduce((a, b) => (b.samples_per_cpu_s! > a.samples_per_cpu_s! ? b : a));
  return {
    ...top,
    peak_rss_mb: Math.max(...ok.map((m) => m.peak_rss_mb!)),
    peak_anon_mb: Math.max(...ok.map((m) => m.peak_anon_mb!)),
    samples_per_s: Math.max(...ok.map((m) => m.samples_per_s!)) };
}

async function main(): Promise<void> {
  for (const a of agents) if (a.cli !== undefined && !existsSync(a.cli)) throw new Error(`${a.cli} not found: npm run build first`);
  if (agents.some((a) => a.name === 'vmagent') && !existsSync(VMAGENT)) throw new Error(`${VMAGENT} not found: apt-get install victoria-metrics`);
  const work = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const sinkChild = lineChild(['sink']);
  const children: ChildProcess[] = [sinkChild.proc];
  try {
    const sink = `http://127.0.0.1:${(await sinkChild.next()).port as number}`;
    if (!opt.json) {
      console.log(
        `# bench:ingest — ${SERIES} series × ${ROUNDS} rounds per protocol (after ${WARMUP} warm-up rounds), ${CONCURRENCY} connections` +
          `${REPEAT > 1 ? `, best of ${REPEAT} interleaved runs` : ''}; Tributary: node ${opt['node-flags']} <cli.js>; vmagent 1.79 defaults`,
      );
    }
    for (const protocol of protocols) {
      // timestamps of the last hour, a second apart per round, so that real storage would take them
      const startMs = Math.floor(Date.now() / 1000) * 1000 - (WARMUP + ROUNDS) * 1000 - 60_000;
      const gen = lineChild(['gen', protocol, String(SERIES), String(WARMUP + ROUNDS), String(CONCURRENCY), String(startMs)]);
      children.push(gen.proc);
      await gen.next();
      const runs = new Map<AgentName, Measured[]>(agents.map((a) => [a.name, []]));
      for (let rep = 0; rep < REPEAT; rep++) {
        for (const a of agents) {
          let m: Measured;
          try {
            m = await measure(protocol, a, gen, sink, join(work, `${protocol}-${a.name}-${rep}`));
          } catch (err) {
            m = { protocol, agent: a.name, error: (err as Error).message };
          }
          runs.get(a.name)!.push(m);
          if (REPEAT > 1) say(line(m));
        }
      }
      const results = new Map([...runs].map(([name, ms]) => [name, best(ms)]));
      for (const m of results.values()) console.log(line(m));
      for (const a of agents) {
        if (a.name === 'vmagent') continue;
        const ratio = ratioLine(protocol, results.get('vmagent'), results.get(a.name));
        if (ratio) console.log(ratio);
      }
      gen.proc.stdin!.end();
      await stop(gen.proc);
    }
  } finally {
    for (const c of children) await stop(c);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
