/**
 * The VictoriaMetrics the gather and import benchmarks run against (/usr/bin/victoria-metrics):
 * started on a free port with a data folder of its own, filled with the benchmarks' series, and
 * the CPU a process has spent (from /proc), which is what the benchmarks compare besides time.
 * Every server started here is killed on the way out, whatever happens.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const VM = '/usr/bin/victoria-metrics';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** CPU seconds (user + system) a process has spent so far, from /proc (0 once it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return 0;
  }
}

export interface Vm {
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

/** An empty VictoriaMetrics, up. */
export async function startVm(prefix: string): Promise<Vm> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const child = spawn(VM, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=100y', '-loggerLevel=ERROR', '-search.maxExportSeries=10000000'], { stdio: 'ignore' });
  running.add(child);
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (i > 200 || child.exitCode !== null) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error('victoria-metrics did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      running.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The benchmarks' series, `bench_metric_*`. */
export const MATCH = '{__name__=~"bench_metric_.*"}';

/** `series` series × the range at `stepMs`, imported in pieces; returns the number of samples. */
export async function fill(url: string, startMs: number, endMs: number, series: number, stepMs: number): Promise<number> {
  let samples = 0;
  const perSeries = Math.ceil((endMs - startMs) / stepMs);
  // one line per series per hour of points keeps each request small
  const chunkPoints = Math.ceil(3_600_000 / stepMs);
  for (let from = 0; from < perSeries; from += chunkPoints) {
    const lines: string[] = [];
    for (let s = 0; s < series; s++) {
      const host = `node-${s % 50}.dc${s % 3}.customer.example`;
      const metric = { __name__: `bench_metric_${s % 20}`, job: `job-${s % 10}`, instance: `${host}:${9100 + (s % 4)}`, team: `team-${s % 7}`, idx: String(s) };
      const ts: number[] = [];
      const vs: number[] = [];
      for (let k = from; k < Math.min(perSeries, from + chunkPoints); k++) {
        ts.push(startMs + k * stepMs);
        vs.push(Math.round(Math.sin(k + s) * 1000) / 10);
      }
      samples += ts.length;
      lines.push(JSON.stringify({ metric, values: vs, timestamps: ts }));
    }
    const r = await fetch(`${url}/api/v1/import`, { method: 'POST', body: lines.join('\n') + '\n' });
    if (!r.ok) throw new Error(`import: ${r.status} ${await r.text()}`);
  }
  await fetch(`${url}/internal/force_flush`);
  return samples;
}

export interface Measured {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
  /** CPU seconds of the process, and its peak RSS (VmHWM) in bytes, polled every 20 ms. */
  readonly cpu: number;
  readonly peakRss: number;
}

/** Runs `node args…` to its end, timed, its CPU and peak memory read from /proc while it runs. */
export async function runMeasured(args: readonly string[]): Promise<Measured> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let peakRss = 0;
  let cpu = 0;
  const poll = setInterval(() => {
    cpu = Math.max(cpu, cpuSeconds(child.pid));
    try {
      const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  }, 20);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearInterval(poll);
  return { code, stdout, stderr, seconds: (performance.now() - t0) / 1000, cpu, peakRss };
}
