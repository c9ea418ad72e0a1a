/**
 * Real peers the tests run against (promtool, Chromium, node_exporter, curl, python3), found on
 * this machine. Under CI=true a missing peer fails the test that needs it; on a developer's
 * machine it is skipped with a note saying what to install.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

export const PROMTOOL = '/usr/bin/promtool';
export const CHROMIUM = '/usr/bin/chromium';
/** Prometheus' node_exporter, a real scrape target. */
export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
/** VictoriaMetrics single node, a real remote-write receiver. */
export const VICTORIA_METRICS = '/usr/bin/victoria-metrics';
/** vmagent, the agent compared side by side (same Debian package). */
export const VMAGENT = '/usr/bin/vmagent';
/** Headless and quiet: this machine's closed network refuses Chromium's background connections. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** curl, as users push with it. */
export const CURL = '/usr/bin/curl';
/** Debian's python3 with Debian's prometheus_client (not a pyenv python on PATH). */
export const PYTHON3 = '/usr/bin/python3';
/** collectd (Debian collectd-core): a real Graphite and OpenTSDB sender. */
export const COLLECTD = '/usr/sbin/collectd';
/** OpenBSD netcat, as users send line protocols by hand. */
export const NC = '/usr/bin/nc';
/** Debian's nats-server: JetStream, the stream between agents and storage. */
export const NATS_SERVER = '/usr/sbin/nats-server';

/** Returns true when `path` exists; otherwise fails (CI) or skips (elsewhere) the test. */
export function requirePeer(t: TestContext, path: string, debianPackage: string): boolean {
  if (existsSync(path)) return true;
  const why = `${path} is missing (Debian package ${debianPackage}; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(why);
  t.skip(why);
  return false;
}
