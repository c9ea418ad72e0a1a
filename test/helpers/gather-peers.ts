/**
 * Real sources for gather's tests: a VictoriaMetrics single node and a Prometheus (Debian's),
 * both filled with the same known dataset (`makeDataset`), plus what stands in front of them —
 * vmauth with cluster-style paths and authentication, and a TLS reverse proxy with a
 * self-signed CA. The dataset is exported here as well, so that a test compares what gather
 * read with what was written, sample by sample.
 *
 * The dataset: several jobs, some of them VictoriaMetrics components (they carry
 * `vm_app_version{version="vmstorage-…"}`), one (`node`) without, so its component is unknown;
 * several instances per job (host names and IPs, with ports); a `datacenter` label on every
 * series and a `pod` label on the VictoriaMetrics jobs' series; a scrape every 30 s with a
 * per-instance offset of some milliseconds (real scrapes are not aligned to the second — a
 * batch edge at a whole second must not lose or repeat them). Values are integers, short
 * decimals and ±Inf: both servers keep them exactly (NaN is not in it, VictoriaMetrics drops
 * NaN samples at import).
 *
 * VictoriaMetrics is filled through `/api/v1/import` and `/internal/force_flush`;
 * Prometheus from OpenMetrics text turned into TSDB blocks by `promtool tsdb
 * create-blocks-from openmetrics`, then started on that directory (the samples end a few
 * minutes before now, inside the default 15 d retention).
 */

import { spawn, execFile as execFileCb, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopProcess, PROMETHEUS } from './prometheus-peer.js';
import { PROMTOOL, VICTORIA_METRICS } from './peers.js';
import { rng } from './seeded-random.js';

const execFile = promisify(execFileCb);

export const VMAUTH = '/usr/bin/vmauth';

/** What a gather test needs on the machine; under CI=true its absence is an error, elsewhere a reason to skip. */
export function gatherPeersMissing(): string | undefined {
  for (const [path, pkg] of [
    [VICTORIA_METRICS, 'victoria-metrics'],
    [VMAUTH, 'victoria-metrics'],
    [PROMETHEUS, 'prometheus'],
    [PROMTOOL, 'prometheus'],
  ] as const) {
    if (!existsSync(path)) {
      const why = `${path} is missing (Debian package ${pkg}; .ci/run installs it)`;
      if (process.env.CI === 'true') throw new Error(why);
      return why;
    }
  }
  return undefined;
}

export interface DatasetSeries {
  /** Labels, `__name__` included, sorted by name. */
  readonly metric: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  /** Unix ms, ascending. */
  readonly timestamps: readonly number[];
}

export interface DatasetJob {
  readonly job: string;
  /** `vmstorage`, `vmselect`, … or `unknown` (no vm_app_version). */
  readonly component: string;
  readonly instances: readonly string[];
  /** Series of this job in the dataset. */
  readonly series: number;
}

export interface Dataset {
  /** Every sample lies in `[startMs, endMs)`. */
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  /** Sorted by `seriesKey`. */
  readonly series: readonly DatasetSeries[];
  readonly jobs: readonly DatasetJob[];
  /** Every instance's host (without port), for leak checks. */
  readonly hosts: readonly string[];
  /** The custom labels and their values, for leak checks (`datacenter`, `pod`). */
  readonly labels: Readonly<Record<string, readonly string[]>>;
  readonly samples: number;
}

export interface DatasetOptions {
  /** Default 2. */
  readonly hours?: number;
  /** Default 30 s. */
  readonly stepMs?: number;
  /** Metrics per instance scale with this; default 1 (about 2,400 series). */
  readonly scale?: number;
  /** Where the last sample may lie at most; default 5 minutes before now. */
  readonly endBeforeNowMs?: number;
}

/** A stable key of a label set: its sorted `name="value"` pairs. */
export function seriesKey(metric: Readonly<Record<string, string>>): string {
  return Object.keys(metric)
    .sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`)
    .join(',');
}

const JOBS: readonly { job: string; component: string; version?: string; port: number; hosts: string[] }[] = [
  {
    job: 'vmstorage-prod',
    component: 'vmstorage',
    version: 'vmstorage-20230902-003338-tags-v1.93.4-cluster-0-g9b8a5f2e1',
    port: 8482,
    hosts: ['vmstorage-1.prod.example.internal', 'vmstorage-2.prod.example.internal', '10.20.1.3'],
  },
  { job: 'vmselect', component: 'vmselect', version: 'vmselect-20230902-003338-tags-v1.93.4-cluster-0-g9b8a5f2e1', port: 8481, hosts: ['10.20.2.1', '10.20.2.2'] },
  { job: 'vmagent-k8s', component: 'vmagent', version: 'vmagent-20230902-002008-tags-v1.93.4-0-g9b8a5f2e1', port: 8429, hosts: ['vmagent-0.monitoring.svc'] },
  { job: 'node', component: 'unknown', port: 9100, hosts: ['db-1.corp.example.com', 'db-2.corp.example.com', '192.168.7.21', '192.168.7.22'] },
];

const BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];

/** The dataset, deterministic but for its position in time (it ends a few minutes before now). */
export function makeDataset(opts: DatasetOptions = {}): Dataset {
  const stepMs = opts.stepMs ?? 30_000;
  const points = Math.round(((opts.hours ?? 2) * 3_600_000) / stepMs);
  const scale = opts.scale ?? 1;
  // whole minutes, so that batch edges of 30 s / 1 m / 5 m fall between the samples' offsets
  const endMs = Math.floor((Date.now() - (opts.endBeforeNowMs ?? 5 * 60_000) - stepMs) / 60_000) * 60_000;
  const startMs = endMs - points * stepMs;
  const random = rng(19);
  const series: DatasetSeries[] = [];
  const jobs: DatasetJob[] = [];
  const hosts: string[] = [];
  const datacenters = ['dc-east-1', 'dc-west-2', 'dc-north-3'];
  const pods = new Set<string>();
  let samples = 0;
  let instanceNo = 0;
  for (const j of JOBS) {
    const instances: string[] = [];
    let jobSeries = 0;
    for (const host of j.hosts) {
      const instance = `${host}:${j.port}`;
      instances.push(instance);
      hosts.push(host);
      // milliseconds after the step: 0 for the first instance, then up to half a step
      const offset = instanceNo === 0 ? 0 : (instanceNo * 2_731) % Math.floor(stepMs / 2) + (instanceNo % 3) * 7;
      const base: Record<string, string> = { job: j.job, instance, datacenter: datacenters[instanceNo % datacenters.length] };
      if (j.version !== undefined) {
        const pod = `${j.component}-${instanceNo}-${(instanceNo * 7919).toString(36)}`;
        base.pod = pod;
        pods.add(pod);
      }
      instanceNo++;
      const ts = Array.from({ length: points }, (_, k) => startMs + k * stepMs + offset);
      const add = (name: string, extra: Record<string, string>, value: (k: number) => number): void => {
        const metric = sortLabels({ __name__: name, ...base, ...extra });
        series.push({ metric, values: ts.map((_, k) => value(k)), timestamps: ts });
        samples += points;
        jobSeries++;
      };
      if (j.version !== undefined) add('vm_app_version', { version: j.version, short_version: j.version.replace(/^.*tags-(v[0-9.]+).*$/, '$1') }, () => 1);
      add('up', {}, () => 1);
      add('process_resident_memory_bytes', {}, (k) => 50_000_000 + ((k * 37_813) % 9_000_000));
      for (let p = 0; p < 60 * scale; p++) {
        for (const code of ['200', '500']) {
          const rate = 1 + Math.floor(random() * 20);
          add('http_requests_total', { path: `/api/v1/p${p}`, code }, (k) => k * rate);
        }
      }
      for (let h = 0; h < 10 * scale; h++) {
        for (let b = 0; b < BUCKETS.length; b++) add('http_request_duration_seconds_bucket', { handler: `h${h}`, le: BUCKETS[b] }, (k) => k * (b + 1));
      }
      for (let s = 0; s < 20 * scale; s++) {
        const start = Math.floor(random() * 400) / 8;
        add('temperature_celsius', { sensor: `s${s}` }, (k) => start + ((k * 13) % 40) * 0.125);
      }
      add('special_values', {}, (k) => [1, Infinity, -Infinity, 0, -0.5][k % 5]);
    }
    jobs.push({ job: j.job, component: j.component, instances, series: jobSeries });
  }
  series.sort((a, b) => cmp(seriesKey(a.metric), seriesKey(b.metric)));
  return {
    startMs,
    endMs,
    stepMs,
    series,
    jobs,
    hosts,
    labels: { datacenter: datacenters, pod: [...pods] },
    samples,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortLabels(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
}

/** A value as VictoriaMetrics' export and import write it (bare ±Inf, not JSON). */
function vmNumber(v: number): string {
  return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}

/** OpenMetrics' spelling of a value. */
function omNumber(v: number): string {
  return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}

/** The dataset as VictoriaMetrics import lines (one line per series). */
export function importLines(d: Dataset): string {
  const out: string[] = [];
  for (const s of d.series) {
    out.push(`{"metric":${JSON.stringify(s.metric)},"values":[${s.values.map(vmNumber).join(',')}],"timestamps":[${s.timestamps.join(',')}]}\n`);
  }
  return out.join('');
}

/** The dataset as OpenMetrics text (timestamps in seconds), families not interleaved, `# EOF` last. */
export function openMetricsText(d: Dataset): string {
  const byName = new Map<string, DatasetSeries[]>();
  for (const s of d.series) {
    const name = s.metric.__name__;
    let list = byName.get(name);
    if (list === undefined) byName.set(name, (list = []));
    list.push(s);
  }
  const out: string[] = [];
  for (const [name, list] of byName) {
    for (const s of list) {
      const labels = Object.entries(s.metric)
        .filter(([k]) => k !== '__name__')
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',');
      const head = `${name}{${labels}} `;
      const lines: string[] = [];
      for (let i = 0; i < s.values.length; i++) lines.push(`${head}${omNumber(s.values[i])} ${(s.timestamps[i] / 1000).toFixed(3)}\n`);
      out.push(lines.join(''));
    }
  }
  out.push('# EOF\n');
  return out.join('');
}

export interface RunningPeer {
  /** `http://127.0.0.1:port` (or https). */
  readonly url: string;
  log(): string;
  stop(): Promise<void>;
}

/** A server process whose output is kept (its last 20 kB) for the error that says why it failed. */
export function spawnLogged(bin: string, args: string[]): { child: ChildProcess; log: () => string } {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (c: Buffer): void => void (log = (log + c.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, log: () => log };
}

/** Until `url` answers (below 500), or the process exits, or 30 s pass. */
export async function waitUp(what: string, url: string, child: ChildProcess, log: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}: ${log()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status < 500, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} not up at ${url}: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface VictoriaMetricsOptions {
  /** More flags, e.g. `-search.maxUniqueTimeseries=50`, `-search.maxExportSeries=50`. */
  readonly flags?: readonly string[];
}

/** A VictoriaMetrics single node holding `d` (imported and flushed: queryable at once). */
export async function startVictoriaMetrics(d: Dataset, opts: VictoriaMetricsOptions = {}): Promise<RunningPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-gather-vm-'));
  const port = await freePort();
  const { child, log } = spawnLogged(VICTORIA_METRICS, [
    `-httpListenAddr=127.0.0.1:${port}`,
    `-storageDataPath=${dir}`,
    '-retentionPeriod=100y',
    '-loggerLevel=ERROR',
    '-search.disableCache',
    '-search.latencyOffset=0s',
    ...(opts.flags ?? []),
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUp('victoria-metrics', `${url}/health`, child, log);
    const body = importLines(d);
    const r = await fetch(`${url}/api/v1/import`, { method: 'POST', body, signal: AbortSignal.timeout(60_000) });
    if (r.status !== 204) throw new Error(`import into VictoriaMetrics: ${r.status} ${await r.text()}`);
    await fetch(`${url}/internal/force_flush`);
    // the import is asynchronous in part: wait until every series is searchable
    const deadline = Date.now() + 20_000;
    for (;;) {
      // (not a count query: a test may start it with -search.maxUniqueTimeseries below the dataset)
      const c = (await (await fetch(`${url}/api/v1/series/count`)).json()) as { data: number[] };
      if (c.data[0] === d.series.length) break;
      if (Date.now() > deadline) throw new Error(`VictoriaMetrics holds ${c.data[0]} of ${d.series.length} series`);
      await fetch(`${url}/internal/force_flush`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, log, stop };
}

/** A Prometheus whose TSDB holds `d` (blocks built by promtool), no scrape targets; `flags` e.g. `--query.max-samples=1000`. */
export async function startPrometheusWith(d: Dataset, flags: readonly string[] = []): Promise<RunningPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-gather-prom-'));
  const data = join(dir, 'data');
  const stopDir = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    writeFileSync(join(dir, 'data.om'), openMetricsText(d));
    await execFile(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), data], { maxBuffer: 16 * 1024 * 1024 });
    rmSync(join(dir, 'data.om'));
  } catch (err) {
    stopDir();
    throw err;
  }
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
  const port = await freePort();
  const { child, log } = spawnLogged(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${data}`,
    '--storage.tsdb.retention.time=30d',
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...flags,
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    stopDir();
  };
  try {
    await waitUp('prometheus', `${url}/-/ready`, child, log);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await fetch(`${url}/-/ready`);
      if (r.status === 200) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, log, stop };
}

export interface VmauthUser {
  readonly username?: string;
  readonly password?: string;
  readonly bearerToken?: string;
}

export interface VmauthOptions {
  /** Who may pass; absent: anyone (vmauth 1.79 wants a user entry, so an unauthenticated one is not possible there: a Node proxy answers then). */
  readonly users?: readonly VmauthUser[];
}

/**
 * Stands in for a VictoriaMetrics cluster's vmselect in front of a single node, because Debian
 * ships no cluster binaries: requests to `/select/<tenant>/prometheus/...` are answered by the
 * single node's `/...` (the tenant is ignored — the single node has one), anything else is
 * refused as vmselect refuses it (HTTP 400 "unsupported path"). With `users`, vmauth 1.79
 * stands in front of that and checks basic auth or bearer tokens, routing with `url_map` only
 * the `/select/<tenant>/prometheus/` paths (vmauth 1.79 cannot drop a path prefix, hence the
 * small rewriting proxy behind it). `url` is what a user types: the root, no tenant path.
 */
export async function startClusterStandIn(vmUrl: string, opts: VmauthOptions = {}): Promise<RunningPeer> {
  const rewriter = await startHttpServer((req, res) => {
    const m = /^\/(select|insert)\/\d+(?::\d+)?\/prometheus(\/.*)$/.exec(req.url ?? '');
    if (m === null) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`remoteAddr: "${req.socket.remoteAddress}"; requestURI: ${req.url}; unsupported path requested: ${JSON.stringify((req.url ?? '').split('?')[0])}\n`);
      return;
    }
    const path = m[2].startsWith('/prometheus/') ? m[2].slice('/prometheus'.length) : m[2];
    proxyTo(vmUrl, path, req, res);
  });
  if (opts.users === undefined || opts.users.length === 0) return { url: rewriter.url, log: () => '', stop: rewriter.stop };
  const dir = mkdtempSync(join(tmpdir(), 'tributary-gather-vmauth-'));
  const lines = ['users:'];
  for (const u of opts.users) {
    if (u.bearerToken !== undefined) lines.push(`- bearer_token: ${JSON.stringify(u.bearerToken)}`);
    else lines.push(`- username: ${JSON.stringify(u.username ?? '')}`, `  password: ${JSON.stringify(u.password ?? '')}`);
    lines.push('  url_map:', '  - src_paths: ["/select/[0-9]+(:[0-9]+)?/prometheus/.*", "/insert/[0-9]+(:[0-9]+)?/prometheus/.*"]', `    url_prefix: ${JSON.stringify(rewriter.url)}`);
  }
  writeFileSync(join(dir, 'auth.yml'), lines.join('\n') + '\n');
  const port = await freePort();
  const { child, log } = spawnLogged(VMAUTH, [`-httpListenAddr=127.0.0.1:${port}`, `-auth.config=${join(dir, 'auth.yml')}`, '-loggerLevel=ERROR']);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    await rewriter.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUp('vmauth', `${url}/health`, child, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, log, stop };
}

function proxyTo(target: string, path: string, req: IncomingMessage, res: ServerResponse): void {
  const t = new URL(target);
  const headers = { ...req.headers, host: t.host };
  const up = httpRequest({ hostname: t.hostname, port: t.port, method: req.method, path, headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy: ${err.message}`);
  });
  req.pipe(up);
  res.on('close', () => up.destroy());
}

async function startHttpServer(handler: (req: IncomingMessage, res: ServerResponse) => void, server: Server = createHttpServer(handler), scheme = 'http'): Promise<RunningPeer> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    log: () => '',
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface TlsProxy extends RunningPeer {
  /** PEM of the CA that signed the proxy's certificate (for 127.0.0.1 and localhost). */
  readonly caPem: string;
}

/** An https reverse proxy in front of `target`, its certificate signed by a fresh self-signed CA (openssl). */
export async function startTlsProxy(target: string): Promise<TlsProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-gather-tls-'));
  const openssl = (...args: string[]): Promise<unknown> => execFile('openssl', args, { cwd: dir });
  try {
    await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Gather Test CA');
    await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
    const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const server = createHttpsServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => proxyTo(target, req.url ?? '/', req, res));
    const running = await startHttpServer(() => {}, server, 'https');
    return {
      ...running,
      caPem,
      stop: async () => {
        await running.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface GatherPeers {
  readonly dataset: Dataset;
  readonly vm: RunningPeer;
  readonly prom: RunningPeer;
  stop(): Promise<void>;
}

/** VictoriaMetrics and Prometheus with the same dataset, started side by side. */
export async function startGatherPeers(opts: DatasetOptions & { vm?: VictoriaMetricsOptions; promFlags?: readonly string[] } = {}): Promise<GatherPeers> {
  const dataset = makeDataset(opts);
  const [vm, prom] = await Promise.allSettled([startVictoriaMetrics(dataset, opts.vm), startPrometheusWith(dataset, opts.promFlags)]);
  if (vm.status === 'rejected' || prom.status === 'rejected') {
    if (vm.status === 'fulfilled') await vm.value.stop();
    if (prom.status === 'fulfilled') await prom.value.stop();
    throw vm.status === 'rejected' ? vm.reason : (prom as PromiseRejectedResult).reason;
  }
  return {
    dataset,
    vm: vm.value,
    prom: prom.value,
    stop: async () => {
      await Promise.all([vm.value.stop(), prom.value.stop()]);
    },
  };
}

/**
 * Export lines parsed back into series (bare ±Inf/NaN read as numbers), merged by label set
 * (a series split over several batches is one series), sorted like the dataset. Throws on a
 * sample seen twice.
 */
export function parseExportLines(text: string): DatasetSeries[] {
  const byKey = new Map<string, { metric: Record<string, string>; pairs: [number, number][] }>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fixed = line.replace(/"values":\[([^\]]*)\]/, (_m, vs: string) =>
      `"values":[${vs.split(',').map((v) => (/^[+-]?Inf$|^NaN$/.test(v) ? JSON.stringify(v) : v)).join(',')}]`,
    );
    const s = JSON.parse(fixed) as { metric: Record<string, string>; values: (number | string)[]; timestamps: number[] };
    const key = seriesKey(s.metric);
    let e = byKey.get(key);
    if (e === undefined) byKey.set(key, (e = { metric: sortLabels(s.metric), pairs: [] }));
    for (let i = 0; i < s.timestamps.length; i++) {
      const v = s.values[i];
      e.pairs.push([s.timestamps[i], typeof v === 'number' ? v : v === 'NaN' ? NaN : v.startsWith('-') ? -Infinity : Infinity]);
    }
  }
  const out: DatasetSeries[] = [];
  for (const [key, e] of byKey) {
    e.pairs.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < e.pairs.length; i++) {
      if (e.pairs[i][0] === e.pairs[i - 1][0]) throw new Error(`${key}: sample at ${e.pairs[i][0]} twice`);
    }
    out.push({ metric: e.metric, timestamps: e.pairs.map((p) => p[0]), values: e.pairs.map((p) => p[1]) });
  }
  return out.sort((a, b) => cmp(seriesKey(a.metric), seriesKey(b.metric)));
}

/** The dataset's series matching `keep`, each cut to `[startMs, endMs)` (series left empty dropped). */
export function datasetSlice(d: Dataset, startMs: number, endMs: number, keep: (m: Readonly<Record<string, string>>) => boolean = () => true): DatasetSeries[] {
  const out: DatasetSeries[] = [];
  for (const s of d.series) {
    if (!keep(s.metric)) continue;
    const idx = s.timestamps.map((t, i) => [t, i] as const).filter(([t]) => t >= startMs && t < endMs).map(([, i]) => i);
    if (idx.length === 0) continue;
    out.push({ metric: s.metric, timestamps: idx.map((i) => s.timestamps[i]), values: idx.map((i) => s.values[i]) });
  }
  return out;
}
