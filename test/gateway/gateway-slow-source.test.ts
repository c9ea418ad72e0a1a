/**
 * A source that hangs must never cost the scraper its target: the gateway answers before the
 * scraper's own timeout (Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`, less a margin;
 * `pageDeadlineMs` in src/gateway/gateway.ts), with the healthy sources' series and the hung
 * one marked down. Checked as a unit (the deadline arithmetic), in-process with the header
 * sent by hand, and with a real Prometheus scraping the gateway while a script hangs.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { DEFAULT_GATEWAY_TIMEOUT_MS } from '../../src/config/gateway.js';
import { pageDeadlineMs } from '../../src/gateway/gateway.js';
import { requirePeer } from '../helpers/peers.js';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus-peer.js';
import { appsJson, fileSource, gatewayYaml, sleep, testDir, timedGet, withTributary, type Tributary } from '../helpers/gateway-harness.js';

const SH = '/bin/sh';

/** A script that hangs for 30 s before it would print its page (a stuck collector). */
const HANGING_SCRIPT = `{ command: "${SH}", args: ["-c", "sleep 30; echo slow_metric 1"], mode: on_scrape }`;

const HEALTHY_PAGE = '# HELP healthy_value A healthy source.\n# TYPE healthy_value gauge\nhealthy_value{k="a"} 42\nhealthy_value{k="b"} 7.5\n';

/**
 * Runs `fn` against Tributary with two sources, the hanging script `stuck` and the file
 * `healthy` (HEALTHY_PAGE), and `more` of its gateway section; closes it afterwards.
 */
async function withStuckAndHealthy(t: TestContext, more: string, fn: (tr: Tributary) => Promise<void>): Promise<void> {
  const dir = testDir(t, 'tributary-slow-');
  writeFileSync(join(dir, 'healthy.prom'), HEALTHY_PAGE);
  await withTributary(gatewayYaml({ stuck: `script: ${HANGING_SCRIPT}`, healthy: fileSource(join(dir, 'healthy.prom')) }, more), fn);
}

// ------------------------------------------------------------------ the deadline arithmetic

test('pageDeadlineMs: the scraper\'s timeout less a margin, never more than the path timeout; the default path timeout is below 10 s', () => {
  // No header: the path's own timeout.
  assert.equal(pageDeadlineMs(9_500, undefined), 9_500);
  assert.equal(pageDeadlineMs(30_000, undefined), 30_000);
  // Prometheus' default scrape timeout (10 s): 9.5 s, whatever longer the path allows.
  assert.equal(pageDeadlineMs(30_000, 10), 9_500);
  assert.equal(pageDeadlineMs(DEFAULT_GATEWAY_TIMEOUT_MS, 10), 9_500);
  // A short scraper timeout: a quarter of it as the margin (1 s → 0.75 s).
  assert.equal(pageDeadlineMs(30_000, 1), 750);
  assert.equal(pageDeadlineMs(30_000, 2), 1_500);
  // A fractional header (Prometheus sends e.g. 0.9 for 900ms).
  assert.equal(pageDeadlineMs(30_000, 0.9), 675);
  // The path's timeout wins when it is the smaller.
  assert.equal(pageDeadlineMs(1_000, 10), 1_000);
  assert.equal(pageDeadlineMs(1_000, 2), 1_000);
  // Always a positive deadline.
  assert.ok(pageDeadlineMs(30_000, 0.001) > 0);

  // The default path timeout (no header) stays under Prometheus' default scrape timeout.
  assert.ok(DEFAULT_GATEWAY_TIMEOUT_MS < 10_000, `DEFAULT_GATEWAY_TIMEOUT_MS = ${DEFAULT_GATEWAY_TIMEOUT_MS}`);
  const implicit = parseConfigText('gateway: {}\n', 'test.yml', {}).config.gateway.paths;
  assert.equal(implicit.length, 1);
  assert.ok(implicit[0].timeout < 10_000, `default /metrics timeout ${implicit[0].timeout} ms`);
  const listed = parseConfigText('gateway:\n  paths:\n    - path: /metrics\n    - path: /other\n', 'test.yml', {}).config.gateway.paths;
  for (const p of listed) assert.ok(p.timeout < 10_000, `${p.path}: default timeout ${p.timeout} ms`);
});

// ------------------------------------------------------------------ in-process, header by hand

test('a hanging script source: a scrape with X-Prometheus-Scrape-Timeout-Seconds: 2 is answered in about 1.5 s with the healthy series, the script down with a reason', { timeout: 60_000 }, (t) =>
  withStuckAndHealthy(t, '', async ({ base }) => {
    for (let i = 0; i < 2; i++) {
      const { reply: r, took } = await timedGet(`${base}/metrics`, { 'X-Prometheus-Scrape-Timeout-Seconds': '2' });
      assert.equal(r.status, 200);
      // deadline = 2 s − min(0.5 s, 2 s / 4) = 1.5 s; the answer must reach the scraper before its 2 s.
      assert.ok(took < 1_900, `scrape ${i} took ${Math.round(took)} ms; the scraper gives up at 2000 ms`);
      assert.ok(took >= 1_400, `scrape ${i} waited for the hanging source until the deadline (${Math.round(took)} ms)`);
      assert.match(r.body, /^healthy_value\{exporter_name="healthy",k="a"\} 42$/m);
      assert.match(r.body, /^healthy_value\{exporter_name="healthy",k="b"\} 7\.5$/m);
      assert.doesNotMatch(r.body, /^slow_metric/m);
      assert.match(r.body, /^tributary_source_up\{exporter_name="tributary",kind="script",source="stuck"\} 0$/m);
      assert.match(r.body, /^tributary_source_up\{exporter_name="tributary",kind="file",source="healthy"\} 1$/m);
    }
    const apps = await appsJson(base);
    const stuck = apps.find((a) => a.name === 'stuck');
    assert.ok(stuck, 'the script is listed on /apps');
    assert.equal(stuck.kind, 'script');
    assert.equal(stuck.series, 0);
    assert.match(stuck.lastError ?? '', /deadline|timed out|aborted/i, `reason on /apps: ${stuck.lastError}`);
    const healthy = apps.find((a) => a.name === 'healthy');
    assert.equal(healthy?.lastError, undefined);
    assert.equal(healthy?.series, 2);

    // A 1 s scraper timeout: 0.75 s.
    const { reply: r, took } = await timedGet(`${base}/metrics`, { 'X-Prometheus-Scrape-Timeout-Seconds': '1' });
    assert.equal(r.status, 200);
    assert.ok(took < 950 && took >= 650, `a 1 s scraper timeout answered after ${Math.round(took)} ms (deadline 750 ms)`);
    assert.match(r.body, /^healthy_value\{exporter_name="healthy",k="a"\} 42$/m);
  }));

test('a path timeout shorter than the scraper\'s header wins', { timeout: 30_000 }, (t) =>
  withStuckAndHealthy(t, '  paths:\n    - path: /metrics\n      timeout: 500ms\n', async (tr) => {
    const { reply: r, took } = await timedGet(`${tr.base}/metrics`, { 'X-Prometheus-Scrape-Timeout-Seconds': '10' });
    assert.equal(r.status, 200);
    assert.ok(took < 1_200 && took >= 400, `path timeout 500ms, header 10 s: answered after ${Math.round(took)} ms`);
    assert.match(r.body, /^healthy_value\{exporter_name="healthy",k="a"\} 42$/m);
    assert.match(r.body, /^tributary_source_up\{exporter_name="tributary",kind="script",source="stuck"\} 0$/m);
  }));

// ------------------------------------------------------------------ a real Prometheus

interface PromVector {
  resultType: string;
  result: { metric: Record<string, string>; value: [number, string] }[];
}

interface PromTarget {
  health: string;
  lastError: string;
  lastScrapeDuration: number;
  labels: Record<string, string>;
}

test('Prometheus (scrape_interval 3s, scrape_timeout 2s) keeps the gateway up while a source hangs, with the healthy series, over several scrapes', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  await withStuckAndHealthy(t, '', async ({ runtime }) => {
    const p = await startPrometheus(`global:
  scrape_interval: 3s
  scrape_timeout: 2s
  evaluation_interval: 3s
scrape_configs:
  - job_name: gw
    honor_labels: true
    static_configs:
      - targets: ["${runtime.address}"]
`);
    t.after(() => p.stop());
    const q = (expr: string) => p.api<PromVector>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    const scalarOf = async (expr: string): Promise<number | undefined> => {
      const v = await q(expr);
      return v.result.length === 0 ? undefined : Number(v.result[0].value[1]);
    };

    // Wait for at least two scrapes of the gateway.
    const deadline = Date.now() + 45_000;
    let scrapes = 0;
    while (Date.now() < deadline) {
      scrapes = (await scalarOf('count_over_time(up{job="gw"}[5m])')) ?? 0;
      if (scrapes >= 2) break;
      await sleep(500);
    }
    assert.ok(scrapes >= 2, `Prometheus scraped the gateway ${scrapes} times in 45 s:\n${p.log()}`);

    // Every scrape succeeded: the hung source never failed the target.
    assert.equal(await scalarOf('min_over_time(up{job="gw"}[5m])'), 1, 'up was 0 for some scrape');
    const durations = await q('max_over_time(scrape_duration_seconds{job="gw"}[5m])');
    const slowest = Number(durations.result[0]?.value[1]);
    assert.ok(slowest < 2, `the slowest scrape took ${slowest} s (timeout 2 s)`);
    assert.ok(slowest >= 1.2, `the scrapes waited for the hung source until the deadline (${slowest} s)`);
    const targets = await p.api<{ activeTargets: PromTarget[] }>('/api/v1/targets');
    const gw = targets.activeTargets.find((x) => x.labels.job === 'gw');
    assert.equal(gw?.health, 'up', `target: ${JSON.stringify(gw)}`);
    assert.equal(gw?.lastError, '');

    // The healthy series are in Prometheus, from every scrape.
    const healthy = await q('healthy_value{exporter_name="healthy"}');
    assert.deepEqual(
      healthy.result.map((s) => [s.metric.k, s.value[1]]).sort(),
      [['a', '42'], ['b', '7.5']],
    );
    const seen = await q('count_over_time(healthy_value{exporter_name="healthy",k="a"}[5m])');
    assert.ok(Number(seen.result[0]?.value[1]) >= 2, `healthy_value in ${seen.result[0]?.value[1]} scrapes`);
    // And the hung source shows as down, in every scrape.
    assert.equal(await scalarOf('max_over_time(tributary_source_up{source="stuck"}[5m])'), 0);
    assert.ok(((await scalarOf('count_over_time(tributary_source_up{source="stuck"}[5m])')) ?? 0) >= 2);
    assert.equal(await scalarOf('min_over_time(tributary_source_up{source="healthy"}[5m])'), 1);
    assert.equal((await q('slow_metric')).result.length, 0);
  });
});
