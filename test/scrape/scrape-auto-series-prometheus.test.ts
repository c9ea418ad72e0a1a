/**
 * The per-target series a scrape adds, side by side with a real Prometheus 2.42 on the same
 * targets: a page over its sample_limit (up 0, but scrape_samples_scraped is what the target
 * exposed), duplicate lines (the first value kept, the scrape up), no Content-Type (read as
 * text), a gzip body, a body over body_size_limit, and the extra scrape metrics
 * (`--enable-feature=extra-scrape-metrics` in 2.42, `extra_scrape_metrics` in Prometheus 3).
 * vmagent 1.79.5, run by hand on the same targets, gave the same up / scraped /
 * post-relabeling figures, and scrape_samples_limit 50 for the limited target only.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { requirePeer } from '../helpers/peers.js';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus-peer.js';
import { selfMetricValue, startScraping, startTarget, waitFor, type TestTarget } from '../helpers/scrape-harness.js';
import { Labels } from '../../src/model/labels.js';

const HUNDRED = Array.from({ length: 100 }, (_, i) => `m{i="${i}"} ${i}`).join('\n') + '\n';
const DUPLICATES = 'd 1\nd 2\nd{x="1"} 5\nd{x="1"} 5\ne 3\n';

/** Job name → how its target answers. */
const PAGES: Record<string, (t: TestTarget) => void> = {
  limit: (t) => t.page(HUNDRED),
  dup: (t) => t.page(DUPLICATES),
  noct: (t) =>
    t.handle((_req, res) => {
      res.writeHead(200, { 'content-length': 5 });
      res.end('nc 1\n');
    }),
  gz: (t) =>
    t.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-encoding': 'gzip' });
      res.end(gzipSync(HUNDRED));
    }),
  big: (t) => t.page(HUNDRED),
};

function config(addresses: Record<string, string>, extra: string): string {
  const extraFor: Record<string, string> = { limit: '    sample_limit: 50\n', big: '    body_size_limit: 1000B\n' };
  return `global:
  scrape_interval: 1s
  scrape_timeout: 1s
${extra}scrape_configs:
${Object.keys(PAGES)
  .map((job) => `  - job_name: ${job}\n${extraFor[job] ?? ''}    static_configs: [{targets: ['${addresses[job]}']}]\n`)
  .join('')}`;
}

const COMPARED = [
  'up',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
  'scrape_timeout_seconds',
  'scrape_sample_limit',
  'scrape_body_size_bytes',
];

test('auto series vs Prometheus 2.42: sample_limit, duplicates, no Content-Type, gzip, body_size_limit, extra scrape metrics', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const addresses: Record<string, string> = {};
  for (const [job, serve] of Object.entries(PAGES)) {
    const target = await startTarget();
    serve(target);
    addresses[job] = target.address;
    t.after(() => target.close());
  }

  const prom = await startPrometheus(config(addresses, ''), ['--enable-feature=extra-scrape-metrics']);
  t.after(() => prom.stop());
  type Result = { metric: Record<string, string>; value: [number, string] }[];
  const query = (q: string) => prom.api<{ result: Result }>(`/api/v1/query?query=${encodeURIComponent(q)}`).then((d) => d.result);
  // two scrapes each, so scrape_series_added is the steady state's
  await waitFor(
    'Prometheus to scrape every target twice',
    async () => (await query('count_over_time(up[1m]) >= 2')).length === Object.keys(PAGES).length,
    30_000,
  );
  const theirs = new Map<string, number>();
  for (const r of await query(`{__name__=~"${COMPARED.join('|')}|d|e|nc|m"}`)) {
    theirs.set(Labels.fromRecord(r.metric).toString(), Number(r.value[1]));
  }

  const h = await startScraping(config(addresses, '  extra_scrape_metrics: true\n').replace('scrape_interval: 1s', 'scrape_interval: 1h'));
  t.after(() => h.close());
  const ours = new Map<string, number>();
  for (const job of Object.keys(PAGES)) {
    const [loop] = await h.loops(job);
    await loop.scrapeOnce();
    await loop.scrapeOnce();
    for (const s of h.sink.last()) if (!s.stale) ours.set(s.series, s.value);
  }

  const comparable = (k: string) => !/^scrape_(duration_seconds|samples_limit|response_size_bytes)\{/.test(k);
  assert.deepEqual([...ours.keys()].filter(comparable).sort(), [...theirs.keys()].sort());
  for (const [k, v] of theirs) assert.equal(ours.get(k), v, k);

  // the figures that make the comparison worth having, so a change in either cannot hide them
  const at = (job: string, name: string) => ours.get(`${name}{instance="${addresses[job]}", job="${job}"}`);
  assert.equal(at('limit', 'up'), 0);
  assert.equal(at('limit', 'scrape_samples_scraped'), 100);
  assert.equal(at('limit', 'scrape_samples_post_metric_relabeling'), 100);
  assert.equal(at('dup', 'd'), 1, 'the first of two values is kept');
  assert.equal(at('dup', 'up'), 1);
  assert.equal(at('noct', 'nc'), 1);
  assert.equal(at('gz', 'scrape_body_size_bytes'), HUNDRED.length, 'the uncompressed size');
  assert.equal(at('big', 'scrape_body_size_bytes'), -1);
  // vmagent's: the limit where one is set, and the response size
  assert.equal(at('limit', 'scrape_samples_limit'), 50);
  assert.equal(at('dup', 'scrape_samples_limit'), undefined);
  assert.equal(at('gz', 'scrape_response_size_bytes'), HUNDRED.length);
  assert.equal(at('big', 'scrape_response_size_bytes'), 0);

  // counted and logged (once per target), not silent
  assert.equal(selfMetricValue(h.registry, 'tributary_scrape_duplicate_series_total', { job: 'dup' }), 4);
  assert.equal(h.logLines.filter((l) => l.includes('Duplicate sample for timestamp')).length, 1);
  assert.equal(selfMetricValue(h.registry, 'tributary_scrape_fallback_content_type_total', { job: 'noct' }), 2);
  assert.equal(selfMetricValue(h.registry, 'tributary_scrape_fallback_content_type_total', { job: 'gz' }), 0);
});

test('without extra_scrape_metrics the five auto series only, plus scrape_samples_limit where a limit is set', async (t) => {
  const target = await startTarget();
  target.page(HUNDRED);
  t.after(() => target.close());
  const h = await startScraping(`global: {scrape_interval: 1h}
scrape_configs:
  - job_name: plain
    static_configs: [{targets: ['${target.address}']}]
  - job_name: limited
    sample_limit: 200
    static_configs: [{targets: ['${target.address}']}]
`);
  t.after(() => h.close());
  const names = async (job: string) => {
    const [loop] = await h.loops(job);
    await loop.scrapeOnce();
    return h.sink
      .last()
      .map((s) => s.series.slice(0, s.series.indexOf('{')))
      .filter((n) => n !== 'm')
      .sort();
  };
  const five = ['scrape_duration_seconds', 'scrape_samples_post_metric_relabeling', 'scrape_samples_scraped', 'scrape_series_added', 'up'];
  assert.deepEqual(await names('plain'), five);
  assert.deepEqual(await names('limited'), [...five, 'scrape_samples_limit'].sort());
  assert.equal(h.sink.find(`scrape_samples_limit{instance="${target.address}", job="limited"}`)?.value, 200);
});
