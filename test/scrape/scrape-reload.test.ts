/**
 * Reloading and discovery changes while scrapes run on their real schedule: a changed job is
 * taken over without a gap in its targets' scrapes (a new interval or timeout too, with no
 * staleness marker for the series that continue), an unchanged one keeps its loops, an
 * invalid file is refused (HTTP 400, metric, log) while the old jobs go on, a removed job's
 * series go stale; file_sd edits add and remove targets; a pool over target_limit scrapes
 * again once under it; SIGHUP reloads the real CLI.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../src/log/logger.js';
import { startRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { RecordingSink, scrapeConfigs, selfMetricValue, startScraping, startTarget, waitFor, type RecordedSample } from '../helpers/scrape-harness.js';
import { startAgent } from '../helpers/cli-process.js';
import { tempDataDir } from '../helpers/fixtures.js';

const INTERVAL_MS = 400;

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tributary-reload-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function writeAtomically(path: string, content: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** Timestamps of a series' samples across all batches, in order. */
function timestamps(sink: RecordingSink, series: string): number[] {
  const out: number[] = [];
  for (const b of sink.batches) for (const s of b.samples) if (s.series === series && !s.stale) out.push(s.ts);
  return out;
}

function maxGap(ts: number[]): number {
  let gap = 0;
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i] - ts[i - 1]);
  return gap;
}

/** Two targets, `a` with two series and `b` with one, closed after the test. */
async function twoTargets(t: TestContext) {
  const a = await startTarget();
  a.page('m{k="v"} 1\nother 2\n');
  const b = await startTarget();
  b.page('n 3\n');
  t.after(async () => {
    await a.close();
    await b.close();
  });
  return { a, b };
}

async function post(address: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${address}${path}`, { method: 'POST' });
  return { status: res.status, body: await res.text() };
}

test('reload: changed job taken over without a gap, invalid file refused, removed job goes stale', async (t) => {
  const { a, b } = await twoTargets(t);
  const dir = tempDir(t);
  const file = join(dir, 'tributary.yml');
  const base = (extra: string) => `global:
  scrape_interval: ${INTERVAL_MS}ms
  scrape_timeout: ${INTERVAL_MS}ms
scrape_configs:
  - job_name: a
    static_configs: [{targets: ['${a.address}']}]
${extra}`;
  writeFileSync(file, base(`  - job_name: b
    static_configs: [{targets: ['${b.address}']}]
`));
  const lines: string[] = [];
  const logger = new Logger('info', 'json', { write: (l: string) => void lines.push(l) });
  const runtime: Runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger, dataDir: tempDataDir() });
  t.after(() => runtime.close());
  const sink = new RecordingSink();
  runtime.pipeline.add(sink);
  const upA = `up{instance="${a.address}", job="a"}`;
  const upB = `up{instance="${b.address}", job="b"}`;
  await waitFor('three scrapes of a', () => timestamps(sink, upA).length >= 3, 10_000);
  const poolB = runtime.scrape.pool('b');

  // job a changes (a metric relabel rule), job b is unchanged, job c is new
  writeFileSync(file, base(`    metric_relabel_configs: [{source_labels: [k], target_label: copied}]
  - job_name: b
    static_configs: [{targets: ['${b.address}']}]
  - job_name: c
    static_configs: [{targets: ['${b.address}']}]
`));
  const before = timestamps(sink, upA).length;
  const ok = await post(runtime.address, '/-/reload');
  assert.equal(ok.status, 200, ok.body);
  assert.equal(runtime.scrape.pool('b'), poolB, 'an unchanged job keeps its pool');
  const relabeled = `m{copied="v", instance="${a.address}", job="a", k="v"}`;
  await waitFor('the new rule applied', () => sink.batches.some((x) => x.samples.some((s) => s.series === relabeled)), 10_000);
  await waitFor('more scrapes of a', () => timestamps(sink, upA).length >= before + 4, 10_000);
  const tsA = timestamps(sink, upA);
  assert.ok(maxGap(tsA) <= INTERVAL_MS * 1.5, `gap in a's scrapes across the reload: ${maxGap(tsA)} ms (${tsA.join(',')})`);
  // the old series without the new label went stale when the new loop did not see it
  const oldSeries = `m{instance="${a.address}", job="a", k="v"}`;
  assert.ok(sink.batches.some((x) => x.samples.some((s) => s.series === oldSeries && s.stale)), 'the replaced series goes stale');
  await waitFor('job c scraped', () => timestamps(sink, `up{instance="${b.address}", job="c"}`).length > 0, 10_000);

  // an invalid file changes nothing
  writeFileSync(file, 'scrape_configs:\n  - job_name: a\n    scrape_intervall: 1s\n');
  const bad = await post(runtime.address, '/-/reload');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /tributary\.yml:3:5: scrape_configs\[0\]\.scrape_intervall: unknown key/);
  assert.ok(lines.some((l) => l.includes('configuration reload failed')));
  const metrics = await (await fetch(`http://${runtime.address}/metrics`)).text();
  assert.match(metrics, /^tributary_config_last_reload_successful(\{[^}]*\})? 0$/m);
  assert.match(metrics, /^tributary_config_reloads_total\{[^}]*result="failure"\} 1$/m);
  const n = timestamps(sink, upB).length;
  await waitFor('b still scraped after the refused reload', () => timestamps(sink, upB).length >= n + 2, 10_000);

  // job b removed: its series end with staleness markers
  writeFileSync(file, base(''));
  assert.equal((await post(runtime.address, '/-/reload')).status, 200);
  await waitFor('b stale', () => sink.batches.some((x) => x.samples.some((s: RecordedSample) => s.series === upB && s.stale)), 10_000);
  assert.equal(runtime.scrape.pool('b'), undefined);
  const after = await (await fetch(`http://${runtime.address}/metrics`)).text();
  assert.match(after, /^tributary_config_last_reload_successful(\{[^}]*\})? 1$/m);
});

/** Stale markers of series (Prometheus notation) that contain `part`. */
function staleOf(sink: RecordingSink, part: string): RecordedSample[] {
  return sink.batches.flatMap((b) => b.samples.filter((s) => s.stale && s.series.includes(part)));
}

/** `ts` lies at `phase` of the interval, give or take a late timer (or one a millisecond early: Node rounds). */
function atPhase(ts: number, intervalMs: number, phase: number): boolean {
  const off = (((ts - phase) % intervalMs) + intervalMs) % intervalMs;
  return off < 150 || off > intervalMs - 20;
}

test('reload: a new scrape_interval and scrape_timeout hand the target over with no marker and no gap; a removed target goes stale', async (t) => {
  const { a, b } = await twoTargets(t);
  const dir = tempDir(t);
  const file = join(dir, 'tributary.yml');
  const NEW_INTERVAL_MS = 600;
  const cfg = (interval: number, timeout: string, targets: string[]) => `global:
  scrape_interval: ${interval}ms
scrape_configs:
  - job_name: j
${timeout}    static_configs: [{targets: [${targets.map((x) => `'${x}'`).join(', ')}]}]
`;
  writeFileSync(file, cfg(INTERVAL_MS, '', [a.address, b.address]));
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger: new Logger('error', 'json', { write() {} }), dataDir: tempDataDir() });
  t.after(() => runtime.close());
  const sink = new RecordingSink();
  runtime.pipeline.add(sink);
  const upA = `up{instance="${a.address}", job="j"}`;
  await waitFor('three scrapes of a', () => timestamps(sink, upA).length >= 3, 10_000);
  const loopA = () => runtime.scrape.pool('j')!.activeLoops().find((l) => l.target.labels.get('instance') === a.address)!;
  const hash = loopA().target.hash;

  writeFileSync(file, cfg(NEW_INTERVAL_MS, '    scrape_timeout: 500ms\n', [a.address]));
  const ok = await post(runtime.address, '/-/reload');
  assert.equal(ok.status, 200, ok.body);
  await waitFor('the new loop', () => loopA().target.intervalMs === NEW_INTERVAL_MS, 10_000);
  // the old loop scrapes no more now; the new one may first take its pending slot
  const reloadedAt = Date.now();
  await waitFor('b stale', () => staleOf(sink, `instance="${b.address}"`).length >= 2, 10_000);
  await waitFor('five scrapes of a after the reload', () => timestamps(sink, upA).filter((ts) => ts > reloadedAt).length >= 5, 10_000);

  const target = loopA().target;
  assert.deepEqual([target.intervalMs, target.timeoutMs], [NEW_INTERVAL_MS, 500], 'the new loop runs the new config');
  assert.equal(target.hash, hash, 'the hash, hence the phase, stays across the change');
  assert.deepEqual(staleOf(sink, `instance="${a.address}"`), [], 'no staleness marker for a series that continues');
  // the series cache was handed over too: the page's lines are not new to the new loop
  const added = sink.batches.flatMap((x) => x.samples.filter((s) => s.series === `scrape_series_added{instance="${a.address}", job="j"}`));
  assert.deepEqual(added.slice(1).map((s) => s.value), added.slice(1).map(() => 0), 'scrape_series_added after the first scrape');
  const tsA = timestamps(sink, upA);
  assert.ok(maxGap(tsA) <= NEW_INTERVAL_MS + 200, `gap in a's scrapes across the reload: ${maxGap(tsA)} ms (${tsA.join(',')})`);
  // the new schedule: the new interval, at the hash's phase of it (the first one may be the old loop's pending slot)
  const after = tsA.filter((ts) => ts > reloadedAt).slice(1);
  const phase = hash % NEW_INTERVAL_MS;
  assert.ok(after.every((ts) => atPhase(ts, NEW_INTERVAL_MS, phase)), `scrapes at phase ${phase} of ${NEW_INTERVAL_MS} ms: ${after.join(',')}`);
  // every series of the removed target ends, and the counter counts every marker written
  const staleB = staleOf(sink, `instance="${b.address}"`).map((s) => s.series);
  assert.ok(staleB.includes(`n{instance="${b.address}", job="j"}`) && staleB.includes(`up{instance="${b.address}", job="j"}`), staleB.join(' '));
  const written = sink.batches.filter((x) => x.job === 'j').reduce((n, x) => n + x.samples.filter((s) => s.stale).length, 0);
  assert.equal(selfMetricValue(runtime.registry, 'tributary_scrape_stale_markers_total', { job: 'j' }), written);
});

test('file_sd: a target whose __scrape_interval__ label changes keeps its series (no marker, no gap)', async (t) => {
  const x = await startTarget();
  x.page('fx 1\n');
  t.after(() => x.close());
  const dir = tempDir(t);
  const sd = join(dir, 'targets.json');
  const group = (interval: string) => JSON.stringify([{ targets: [x.address], labels: { __scrape_interval__: interval } }]);
  writeFileSync(sd, group(`${INTERVAL_MS}ms`));
  const h = await startScraping(`global:
  scrape_interval: ${INTERVAL_MS}ms
scrape_configs:
  - job_name: files
    file_sd_configs: [{files: ['${join(dir, '*.json')}'], refresh_interval: 1h}]
`);
  t.after(() => h.close());
  const upX = `up{instance="${x.address}", job="files"}`;
  await waitFor('three scrapes of x', () => timestamps(h.sink, upX).length >= 3, 10_000);
  writeAtomically(sd, group('600ms'));
  const changedAt = Date.now();
  await waitFor('x on the new interval', async () => (await h.loops('files'))[0]?.target.intervalMs === 600, 10_000);
  await waitFor('five scrapes of x after the change', () => timestamps(h.sink, upX).filter((ts) => ts > changedAt).length >= 5, 10_000);
  assert.deepEqual(staleOf(h.sink, `instance="${x.address}"`), [], 'no staleness marker for a series that continues');
  const ts = timestamps(h.sink, upX);
  assert.ok(maxGap(ts) <= 600 + 200, `gap in x's scrapes across the change: ${maxGap(ts)} ms (${ts.join(',')})`);
  assert.equal(selfMetricValue(h.registry, 'tributary_scrape_stale_markers_total', { job: 'files' }), 0);
});

test('file_sd: targets added and removed by editing the file', async (t) => {
  const x = await startTarget();
  x.page('fx 1\n');
  const y = await startTarget();
  y.page('fy 1\n');
  t.after(async () => {
    await x.close();
    await y.close();
  });
  const dir = tempDir(t);
  const sd = join(dir, 'targets.json');
  writeFileSync(sd, JSON.stringify([{ targets: [x.address], labels: { team: 'a' } }]));
  const h = await startScraping(`global:
  scrape_interval: ${INTERVAL_MS}ms
scrape_configs:
  - job_name: files
    file_sd_configs: [{files: ['${join(dir, '*.json')}'], refresh_interval: 1h}]
    relabel_configs: [{source_labels: [__meta_filepath], regex: '.*/(.*)', target_label: from}]
`);
  t.after(() => h.close());
  await waitFor('x scraped', () => h.sink.batches.some((bt) => bt.samples.some((s) => s.series === `fx{from="targets.json", instance="${x.address}", job="files", team="a"}`)));
  writeAtomically(sd, JSON.stringify([{ targets: [y.address], labels: { team: 'b' } }]));
  await waitFor('y scraped', () => h.sink.batches.some((bt) => bt.samples.some((s) => s.series === `fy{from="targets.json", instance="${y.address}", job="files", team="b"}`)), 10_000);
  const upX = `up{from="targets.json", instance="${x.address}", job="files", team="a"}`;
  await waitFor('x stale', () => h.sink.batches.some((bt) => bt.samples.some((s) => s.series === upX && s.stale)));
  const pool = h.manager.pools()[0];
  assert.deepEqual(pool.active.map((s) => s.labels.get('instance')), [y.address]);
});

test('series_limit across a reload: the new loop knows the series written before it, so one that vanishes goes stale', async (t) => {
  const x = await startTarget();
  x.page('sa 1\nsb 2\n');
  t.after(() => x.close());
  const yaml = (interval: number) => `scrape_configs:
  - job_name: capped
    scrape_interval: ${interval}ms
    scrape_timeout: ${INTERVAL_MS}ms
    series_limit: 10
    static_configs: [{targets: ['${x.address}']}]
`;
  const h = await startScraping(yaml(INTERVAL_MS));
  t.after(() => h.close());
  const sb = `sb{instance="${x.address}", job="capped"}`;
  await waitFor('sb written', () => timestamps(h.sink, sb).length >= 2, 10_000);
  h.manager.apply(scrapeConfigs(yaml(600)));
  await waitFor('the new loop', async () => (await h.loops('capped'))[0]?.target.intervalMs === 600, 10_000);
  x.page('sa 1\n');
  await waitFor('sb stale', () => staleOf(h.sink, 'sb{').length > 0, 10_000);
  const current = `scrape_series_current{instance="${x.address}", job="capped"}`;
  const afterReload = h.sink.batches.at(-1)!.samples.find((s) => s.series === current);
  assert.equal(afterReload?.value, 2, 'the 24h window goes on across the reload');
});

test('target_limit: a pool over its limit scrapes nothing, and scrapes again once discovery brings it under', async (t) => {
  const x = await startTarget();
  x.page('lx 1\n');
  t.after(() => x.close());
  const dir = tempDir(t);
  const sd = join(dir, 'targets.json');
  writeFileSync(sd, JSON.stringify([{ targets: [x.address, '127.0.0.1:1'] }]));
  const h = await startScraping(`global:
  scrape_interval: ${INTERVAL_MS}ms
scrape_configs:
  - job_name: limited
    target_limit: 1
    file_sd_configs: [{files: ['${join(dir, '*.json')}'], refresh_interval: 1h}]
`);
  t.after(() => h.close());
  const pool = () => h.manager.pools()[0];
  await waitFor('over the limit', () => pool().active.length === 2, 10_000);
  assert.match(pool().active[0].lastError, /target_limit exceeded/);
  await new Promise((r) => setTimeout(r, INTERVAL_MS * 2));
  assert.equal(h.sink.batches.length, 0, 'nothing scraped over the limit');
  writeAtomically(sd, JSON.stringify([{ targets: [x.address] }]));
  await waitFor('x scraped under the limit', () => timestamps(h.sink, `up{instance="${x.address}", job="limited"}`).length >= 2, 10_000);
  assert.deepEqual(pool().active.map((s) => s.health), ['up']);
});

test('SIGHUP reloads the running CLI; a bad file keeps it running', async (t) => {
  const target = await startTarget();
  target.page('z 1\n');
  t.after(() => target.close());
  const dir = tempDir(t);
  const file = join(dir, 'prometheus.yml');
  const cfg = (jobs: string[]) =>
    `global:\n  scrape_interval: 1s\nscrape_configs:\n${jobs.map((j) => `  - job_name: ${j}\n    static_configs: [{targets: ['${target.address}']}]\n`).join('')}`;
  writeFileSync(file, cfg(['first']));
  const agent = await startAgent(['--config', file]);
  t.after(() => {
    agent.child.kill('SIGKILL');
  });
  const targetsGauge = async (job: string) => {
    const text = await (await fetch(`http://${agent.address}/metrics`)).text();
    return new RegExp(`^tributary_scrape_targets\\{[^}]*job="${job}",state="up"\\} 1$`, 'm').test(text);
  };
  for (let i = 0; i < 50 && !(await targetsGauge('first')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(await targetsGauge('first'));
  writeFileSync(file, cfg(['first', 'second']));
  agent.child.kill('SIGHUP');
  let seen = false;
  for (let i = 0; i < 50 && !(seen = await targetsGauge('second')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(seen, `second job not scraped after SIGHUP: ${agent.output()}`);
  writeFileSync(file, 'scrape_configs: [');
  agent.child.kill('SIGHUP');
  await waitFor('the refusal logged', () => agent.output().includes('configuration reload failed'), 5000);
  assert.ok(await targetsGauge('second'), 'still running the previous configuration');
  assert.equal(agent.child.exitCode, null);
});

test('the pages show the live scrape: API health and errors, text lines, the rule that dropped a target', async (t) => {
  const good = await startTarget();
  good.page('g 1\n');
  t.after(() => good.close());
  const dir = tempDir(t);
  const file = join(dir, 'tributary.yml');
  writeFileSync(
    file,
    `global:
  scrape_interval: ${INTERVAL_MS}ms
  scrape_timeout: ${INTERVAL_MS}ms
scrape_configs:
  - job_name: web
    static_configs: [{targets: ['${good.address}', '127.0.0.1:1', 'skip.example:80']}]
    relabel_configs:
      - {source_labels: [__address__], regex: 'skip\\..*', action: drop}
`,
  );
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger: new Logger('error', 'json', { write() {} }), dataDir: tempDataDir() });
  t.after(() => runtime.close());
  type Api = {
    status: string;
    data: {
      activeTargets: { scrapeUrl: string; health: string; lastError: string; labels: Record<string, string> }[];
      droppedTargets: { discoveredLabels: Record<string, string> }[];
    };
  };
  const api = await waitFor('both targets scraped', async () => {
    const body = (await (await fetch(`http://${runtime.address}/api/v1/targets`)).json()) as Api;
    return body.data.activeTargets.every((x) => x.health !== 'unknown') ? body : undefined;
  });
  const byUrl = new Map(api.data.activeTargets.map((x) => [x.scrapeUrl, x]));
  assert.equal(byUrl.get(`http://${good.address}/metrics`)?.health, 'up');
  const refused = byUrl.get('http://127.0.0.1:1/metrics');
  assert.equal(refused?.health, 'down');
  assert.match(refused!.lastError, /ECONNREFUSED/);
  assert.deepEqual(api.data.droppedTargets.map((d) => d.discoveredLabels.__address__), ['skip.example:80']);
  const text = await (await fetch(`http://${runtime.address}/targets?format=text`)).text();
  assert.match(text, new RegExp(`state=up, endpoint=http://${good.address.replace(/\./g, '\\.')}/metrics`));
  const sd = await (await fetch(`http://${runtime.address}/service-discovery`)).text();
  assert.match(sd, /skip\.example:80/);
  assert.match(sd, /relabel_configs\[0\]|rule 1|#1|step 1/);
});
