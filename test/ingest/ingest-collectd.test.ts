/**
 * collectd (Debian's collectd-core) as the real sender: `load` and `memory` every second through
 * `write_graphite` (TCP) and `write_tsdb`, each with two nodes — one to vmagent 1.79.5, one to
 * Tributary — so both agents get the same values at the same timestamps. The series arrive
 * under collectd's names (`<host>.load.load.shortterm`, `load.load.shortterm{fqdn=<host>}`), and
 * what Tributary stores is what vmagent stores.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSeries, startSideBySide, type ExportedSeries } from '../helpers/ingest-peers.js';
import { COLLECTD, requirePeer } from '../helpers/peers.js';
import { stopProcess } from '../helpers/prometheus-peer.js';
import { waitFor } from '../helpers/scrape-harness.js';

/** The collectd host name: its dots become `_` in Graphite paths (EscapeCharacter), and stay in write_tsdb's `fqdn` tag. */
const HOST = 'tributary.test';

const GRAPHITE_NAMES = [
  'tributary_test.load.load.longterm',
  'tributary_test.load.load.midterm',
  'tributary_test.load.load.shortterm',
  'tributary_test.memory.memory-buffered',
  'tributary_test.memory.memory-cached',
  'tributary_test.memory.memory-free',
  'tributary_test.memory.memory-used',
];
const TSDB_NAMES = ['load.load.longterm', 'load.load.midterm', 'load.load.shortterm', 'memory.buffered.memory', 'memory.cached.memory', 'memory.free.memory', 'memory.used.memory'];

/** `dir` may be a placeholder that startCollectd fills in (`@DIR@`). */
function collectdConfig(dir: string, nodes: { name: string; graphite: number; opentsdb: number }[]): string {
  const node = (kind: 'graphite' | 'opentsdb') =>
    nodes.map((n) => `  <Node "${n.name}">\n    Host "127.0.0.1"\n    Port "${n[kind]}"\n${kind === 'graphite' ? '    Protocol "tcp"\n    LogSendErrors true\n' : ''}  </Node>`).join('\n');
  return `Hostname "${HOST}"
FQDNLookup false
BaseDir "${dir}"
PIDFile "${join(dir, 'collectd.pid')}"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDERR
</Plugin>
LoadPlugin load
LoadPlugin memory
<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<LoadPlugin write_tsdb>
  FlushInterval 1
</LoadPlugin>
<Plugin write_graphite>
${node('graphite')}
</Plugin>
<Plugin write_tsdb>
${node('opentsdb')}
</Plugin>
`;
}

function startCollectd(t: TestContext, config: string): { proc: ChildProcess; log: () => string } {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-collectd-'));
  const file = join(dir, 'collectd.conf');
  writeFileSync(file, config.replaceAll('@DIR@', dir));
  let log = '';
  const proc = spawn(COLLECTD, ['-f', '-C', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  t.after(async () => {
    await stopProcess(proc);
    rmSync(dir, { recursive: true, force: true });
  });
  return { proc, log: () => log };
}

/**
 * Samples at timestamps up to `until` (the agents may have got collectd's last flush a moment
 * apart), by timestamp then value: collectd's whole-second timestamps can put two samples of a
 * series in one second, and a storage exports such samples in no set order.
 */
function upTo(series: ExportedSeries[], until: number): ExportedSeries[] {
  return series.map((s) => {
    const keep = s.timestamps
      .map((ts, i) => [ts, s.values[i]] as const)
      .filter(([ts]) => ts <= until)
      .sort((p, q) => p[0] - q[0] || p[1] - q[1]);
    return { metric: s.metric, timestamps: keep.map((p) => p[0]), values: keep.map((p) => p[1]) };
  });
}

const lastTs = (series: ExportedSeries[]) => Math.max(...series.map((s) => s.timestamps[s.timestamps.length - 1] ?? 0));

test('collectd write_graphite and write_tsdb into Tributary: collectd names, the same series as vmagent', { timeout: 150_000 }, async (t) => {
  if (!requirePeer(t, COLLECTD, 'collectd-core')) return;
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const config = collectdConfig('@DIR@', [
    { name: 'vmagent', graphite: sbs.vmagent.ports.graphite, opentsdb: sbs.vmagent.ports.opentsdb },
    { name: 'tributary', graphite: sbs.tributary.ports.graphite, opentsdb: sbs.tributary.ports.opentsdb },
  ]);
  const collectd = startCollectd(t, config);
  const wanted = [...GRAPHITE_NAMES, ...TSDB_NAMES];
  try {
    await waitFor(
      'three intervals of every series in both storages',
      async () => {
        const [a, b] = await Promise.all([exportSeries(sbs.vmagent.storage), exportSeries(sbs.tributary.storage)]);
        const ok = (got: ExportedSeries[]) => wanted.every((name) => got.some((s) => s.metric.__name__ === name && s.timestamps.length >= 3));
        return ok(a) && ok(b);
      },
      60_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; collectd said:\n${collectd.log()}`);
  }
  await stopProcess(collectd.proc);
  const [want, got] = await sbs.settle(wanted.length);

  for (const name of GRAPHITE_NAMES) {
    const s = got.find((x) => x.metric.__name__ === name);
    assert.ok(s, `graphite series ${name}`);
    assert.deepEqual(Object.keys(s.metric), ['__name__'], 'write_graphite paths carry no tags');
  }
  for (const name of TSDB_NAMES) {
    const s = got.find((x) => x.metric.__name__ === name);
    assert.ok(s, `write_tsdb series ${name}`);
    assert.equal(s.metric.fqdn, HOST);
  }
  const memUsed = got.find((s) => s.metric.__name__ === 'tributary_test.memory.memory-used')!;
  assert.ok(memUsed.values.every((v) => v > 0), 'memory used is positive');
  assert.ok(memUsed.timestamps.every((ts) => ts % 1000 === 0 && Math.abs(ts - Date.now()) < 120_000), 'timestamps are collectd\'s, in whole seconds');

  const until = Math.min(lastTs(want), lastTs(got));
  assert.deepEqual(upTo(got, until), upTo(want, until));
});
