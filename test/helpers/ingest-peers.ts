/**
 * Push ingestion side by side with the reference: vmagent 1.79.5 and Tributary, each taking the
 * same payloads on its own listeners and remote-writing into its own VictoriaMetrics (Debian's),
 * both read back through `/api/v1/export` and compared series by series.
 *
 * Tributary runs in-process (startRuntime) with every ingest protocol on; vmagent runs as the
 * real binary with the matching listeners. `settle` waits until both storages hold what was
 * sent (their series and sample counts stop changing) and returns both exports. Also here: the
 * tolerant export reader, lines over TCP, and comparing series each agent stamped "now".
 */

import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { startRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { requirePeer, VICTORIA_METRICS, VMAGENT } from './peers.js';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
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
  /**
   * Waits until both storages stop changing (and hold at least `minSeries` series each);
   * their exports then: `[vmagent's, Tributary's]`.
   */
  settle(minSeries?: number, match?: string): Promise<[ExportedSeries[], ExportedSeries[]]>;
}

export interface SideBySideOptions {
  /** More vmagent flags (e.g. `-influxMeasurementFieldSeparator=.`). */
  readonly vmagentFlags?: readonly string[];
  /** YAML merged into Tributary's `ingest:` section (as `key: value` lines, indented two spaces). */
  readonly tributaryIngest?: string;
  /** More keys of Tributary's `ingest.influx` block (flow-map entries: `skip_single_field: true`), already set there. */
  readonly tributaryInflux?: string;
}

/** `n` distinct ports, each free a moment ago for both TCP and UDP (the push listeners bind both). */
async function freePorts(n: number): Promise<number[]> {
  const held: { tcp: NetServer; udp: UdpSocket }[] = [];
  try {
    while (held.length < n) {
      const tcp = createNetServer();
      await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
      const { port } = tcp.address() as AddressInfo;
      const udp = createSocket('udp4');
      const ok = await new Promise<boolean>((r) => {
        udp.once('error', () => r(false));
        udp.bind(port, '127.0.0.1', () => r(true));
      });
      if (ok) held.push({ tcp, udp });
      else {
        udp.close();
        tcp.close();
      }
    }
    return held.map((h) => (h.tcp.address() as AddressInfo).port);
  } finally {
    for (const h of held) {
      h.udp.close();
      await new Promise<void>((r) => h.tcp.close(() => r()));
    }
  }
}

export const DEFAULT_MATCH = '{__name__=~".+"}';

export async function startStorage(t: TestContext, dir: string): Promise<string> {
  const port = await freePort();
  const vm = spawn(VICTORIA_METRICS, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=100y', '-loggerLevel=ERROR', '-search.disableCache', '-search.latencyOffset=0s'], {
    stdio: 'ignore',
  });
  t.after(() => stopProcess(vm));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('VictoriaMetrics up', () => fetch(`${url}/health`).then((r) => r.ok, () => false), 20_000);
  return url;
}

/**
 * `/api/v1/export` of a storage, sorted by labels, a series' samples by time. VictoriaMetrics
 * writes `+Inf`, `-Inf` and `NaN` bare there (not JSON): they are read as the numbers.
 */
export async function exportSeries(storage: string, match = DEFAULT_MATCH): Promise<ExportedSeries[]> {
  await fetch(`${storage}/internal/force_flush`).catch(() => undefined);
  const r = await fetch(`${storage}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`);
  if (!r.ok) throw new Error(`export from ${storage}: ${r.status} ${await r.text()}`);
  const out: ExportedSeries[] = [];
  for (const line of (await r.text()).split('\n')) {
    if (line.trim() === '') continue;
    const fixed = line.replace(/"values":\[([^\]]*)\]/, (_m, vs: string) => `"values":[${vs.split(',').map((v) => (/^[+-]?Inf$|^NaN$/.test(v) ? JSON.stringify(v) : v)).join(',')}]`);
    const s = JSON.parse(fixed) as { metric: Record<string, string>; values: (number | string | null)[]; timestamps: number[] };
    const metric = Object.fromEntries(Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    // (anything else as exported: a staleness marker is `null`)
    const values = s.values.map((v) => (typeof v !== 'string' ? v : v === 'NaN' ? NaN : v.startsWith('-') ? -Infinity : Infinity));
    // export gives a series' samples in time order already; keep pairs together when sorting anyway
    const pairs = s.timestamps.map((ts, i) => [ts, values[i]] as const).sort((a, b) => a[0] - b[0]);
    out.push({ metric, timestamps: pairs.map((p) => p[0]), values: pairs.map((p) => p[1] as number) });
  }
  return out.sort((a, b) => {
    const ka = JSON.stringify(a.metric);
    const kb = JSON.stringify(b.metric);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/** Writes `text` on a fresh TCP connection and closes it; resolves once the peer closed too. */
export function sendTcp(port: number, text: string | Buffer, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host, () => s.end(text));
    s.resume();
    s.once('close', () => resolve());
    s.once('error', reject);
  });
}

/** Series stamped "now" by each agent: the same names and values, timestamps a few seconds apart at most. */
export function assertNowStamped(got: ExportedSeries[], want: ExportedSeries[], slackMs = 5_000): void {
  assert.deepEqual(
    got.map((s) => [s.metric, s.values]),
    want.map((s) => [s.metric, s.values]),
  );
  for (let i = 0; i < got.length; i++) {
    for (let k = 0; k < got[i].timestamps.length; k++) {
      assert.ok(Math.abs(got[i].timestamps[k] - want[i].timestamps[k]) <= slackMs, `${JSON.stringify(got[i].metric)}: ${got[i].timestamps[k]} vs ${want[i].timestamps[k]}`);
      assert.equal(got[i].timestamps[k] % 1000, 0, 'now is whole seconds, as vmagent');
    }
  }
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

  // a port free a moment ago may be taken by the time vmagent binds it (TCP and UDP, five of
  // them, on a busy machine): it exits then, and is started again on other ports
  let vp: Agent['ports'] & { http: number } = { http: 0, influx: 0, graphite: 0, opentsdb: 0, opentsdbHttp: 0 };
  for (let attempt = 1; ; attempt++) {
    const [http, influx, graphite, opentsdb, opentsdbHttp] = await freePorts(5);
    vp = { http, influx, graphite, opentsdb, opentsdbHttp };
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
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    vmagent.stderr!.on('data', (c: Buffer) => void (stderr = (stderr + c.toString()).slice(-2000)));
    t.after(() => stopProcess(vmagent));
    const up = await waitFor<'up' | 'exited'>(
      'vmagent up',
      () => (vmagent.exitCode !== null ? 'exited' : fetch(`http://127.0.0.1:${vp.http}/health`).then((r) => (r.ok ? ('up' as const) : false), () => false)),
      40_000,
    );
    if (up === 'up') break;
    if (attempt === 3) throw new Error(`vmagent exited at start three times; last stderr:\n${stderr}`);
  }

  const [influx, graphite, opentsdb, opentsdbHttp] = await freePorts(4);
  const tp = { influx, graphite, opentsdb, opentsdbHttp };
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
    export: (match) => exportSeries(storage, match),
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
      let result: [ExportedSeries[], ExportedSeries[]] = [[], []];
      await waitFor(
        'both storages to settle',
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          result = await Promise.all([sides.vmagent.export(match), sides.tributary.export(match)]);
          const [a, b] = result;
          const shape = JSON.stringify([a.length, b.length, a.reduce((n, s) => n + s.values.length, 0), b.reduce((n, s) => n + s.values.length, 0)]);
          same = shape === last ? same + 1 : 0;
          last = shape;
          return a.length >= minSeries && b.length >= minSeries && same >= 3;
        },
        30_000,
      );
      return result;
    },
  };
}
