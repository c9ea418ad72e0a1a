/**
 * Push ingestion side by side with the reference: vmagent 1.79.5 and Tributary, each taking the
 * same payloads on its own listeners and remote-writing into its own VictoriaMetrics (Debian's),
 * both read back through `/api/v1/export` and compared series by series.
 *
 * Tributary runs in-process (startRuntime) with every ingest protocol on; vmagent runs as the
 * real binary with the matching listeners. `settle` waits until both storages hold what was
 * sent (their series and sample counts stop changing).
 */

import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { startRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { requirePeer, VICTORIA_METRICS, VMAGENT } from './peers.js';
import { freePort, stopProcess } from './prometheus-peer.js';
import { waitFor } from './scrape-harness.js';

export interface ExportedSeries {
  /** Sorted labels, `__name__` included. */
  readonly metric: Record<string, string>;
  readonly values: number[];
  readonly timestamps: number[];
}

export interface Agent {
  readonly name: 'vmagent' | 'tributary';
  /** The HTTP listener, `http://127.0.0.1:port`. */
  readonly http: string;
  /** TCP (and UDP) listener ports by protocol. */
  readonly ports: { influx: number; graphite: number; opentsdb: number; opentsdbHttp: number };
  /** Its VictoriaMetrics, `http://127.0.0.1:port`. */
  readonly storage: string;
  /** Every series its storage holds (matching `match`), sorted by labels. */
  export(match?: string): Promise<ExportedSeries[]>;
}

export interface SideBySide {
  readonly vmagent: Agent;
  readonly tributary: Agent;
  readonly runtime: Runtime;
  /** Waits until both storages stop changing (and hold at least `minSeries` series each). */
  settle(minSeries?: number, match?: string): Promise<void>;
}

export interface SideBySideOptions {
  /** More vmagent flags (e.g. `-influxMeasurementFieldSeparator=.`). */
  readonly vmagentFlags?: readonly string[];
  /** YAML merged into Tributary's `ingest:` section (as `key: value` lines, indented two spaces). */
  readonly tributaryIngest?: string;
  /** More keys of Tributary's `ingest.influx` block (flow-map entries: `skip_single_field: true`), already set there. */
  readonly tributaryInflux?: string;
}

export const DEFAULT_MATCH = '{__name__=~".+"}';

async function startStorage(t: TestContext, dir: string): Promise<string> {
  const port = await freePort();
  const vm = spawn(VICTORIA_METRICS, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=100y', '-loggerLevel=ERROR', '-search.disableCache', '-search.latencyOffset=0s'], {
    stdio: 'ignore',
  });
  t.after(() => stopProcess(vm));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('VictoriaMetrics up', () => fetch(`${url}/health`).then((r) => r.ok, () => false), 20_000);
  return url;
}

async function exportFrom(storage: string, match = DEFAULT_MATCH): Promise<ExportedSeries[]> {
  await fetch(`${storage}/internal/force_flush`).catch(() => undefined);
  const r = await fetch(`${storage}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`);
  if (!r.ok) throw new Error(`export from ${storage}: ${r.status} ${await r.text()}`);
  const out: ExportedSeries[] = [];
  for (const line of (await r.text()).split('\n')) {
    if (line.trim() === '') continue;
    const s = JSON.parse(line) as ExportedSeries;
    const metric = Object.fromEntries(Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    // export gives a series' samples in time order already; keep pairs together when sorting anyway
    const pairs = s.timestamps.map((ts, i) => [ts, s.values[i]] as const).sort((a, b) => a[0] - b[0]);
    out.push({ metric, timestamps: pairs.map((p) => p[0]), values: pairs.map((p) => p[1]) });
  }
  return out.sort((a, b) => {
    const ka = JSON.stringify(a.metric);
    const kb = JSON.stringify(b.metric);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/**
 * vmagent and Tributary, every push listener on, each into its own VictoriaMetrics. Needs
 * victoria-metrics (vmagent is in the same package); skipped (or failed under CI) without it.
 */
export async function startSideBySide(t: TestContext, opts: SideBySideOptions = {}): Promise<SideBySide | undefined> {
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics') || !requirePeer(t, VMAGENT, 'victoria-metrics')) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-sbs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [vmStorage, trStorage] = await Promise.all([startStorage(t, join(dir, 'vm-a')), startStorage(t, join(dir, 'vm-b'))]);

  const vp = { http: await freePort(), influx: await freePort(), graphite: await freePort(), opentsdb: await freePort(), opentsdbHttp: await freePort() };
  const vmagent: ChildProcess = spawn(
    VMAGENT,
    [
      `-httpListenAddr=127.0.0.1:${vp.http}`,
      `-influxListenAddr=127.0.0.1:${vp.influx}`,
      `-graphiteListenAddr=127.0.0.1:${vp.graphite}`,
      `-opentsdbListenAddr=127.0.0.1:${vp.opentsdb}`,
      `-opentsdbHTTPListenAddr=127.0.0.1:${vp.opentsdbHttp}`,
      `-remoteWrite.url=${vmStorage}/api/v1/write`,
      `-remoteWrite.tmpDataPath=${join(dir, 'vmagent')}`,
      '-remoteWrite.flushInterval=200ms',
      '-loggerLevel=ERROR',
      ...(opts.vmagentFlags ?? []),
    ],
    { stdio: 'ignore' },
  );
  t.after(() => stopProcess(vmagent));
  await waitFor('vmagent up', () => fetch(`http://127.0.0.1:${vp.http}/health`).then((r) => r.ok, () => false), 20_000);

  const tp = { influx: await freePort(), graphite: await freePort(), opentsdb: await freePort(), opentsdbHttp: await freePort() };
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    `server: {listen: 127.0.0.1:0, data_dir: ${join(dir, 'tributary')}}
remote_write:
  - url: ${trStorage}/api/v1/write
    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}
ingest:
  remote_write: {http: true}
  influx: {http: true, listen_address: 127.0.0.1:${tp.influx}${opts.tributaryInflux ? ', ' + opts.tributaryInflux : ''}}
  graphite: {listen_address: 127.0.0.1:${tp.graphite}}
  opentsdb: {http: true, listen_address: 127.0.0.1:${tp.opentsdb}, http_listen_address: 127.0.0.1:${tp.opentsdbHttp}}
  import: {http: true}
  datadog: {http: true}
  opentelemetry: {http: true}
${opts.tributaryIngest ?? ''}`,
  );
  const runtime = await startRuntime({ configFile: file, logger: silentLogger });
  t.after(() => runtime.close(0));

  const agent = (name: Agent['name'], http: string, ports: Agent['ports'], storage: string): Agent => ({
    name,
    http,
    ports,
    storage,
    export: (match) => exportFrom(storage, match),
  });
  const sides = {
    vmagent: agent('vmagent', `http://127.0.0.1:${vp.http}`, vp, vmStorage),
    tributary: agent('tributary', `http://${runtime.address}`, tp, trStorage),
  };
  return {
    ...sides,
    runtime,
    async settle(minSeries = 1, match = DEFAULT_MATCH) {
      let last = '';
      let same = 0;
      await waitFor(
        'both storages to settle',
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          const [a, b] = await Promise.all([sides.vmagent.export(match), sides.tributary.export(match)]);
          const shape = JSON.stringify([a.length, b.length, a.reduce((n, s) => n + s.values.length, 0), b.reduce((n, s) => n + s.values.length, 0)]);
          same = shape === last ? same + 1 : 0;
          last = shape;
          return a.length >= minSeries && b.length >= minSeries && same >= 3;
        },
        30_000,
      );
    },
  };
}
