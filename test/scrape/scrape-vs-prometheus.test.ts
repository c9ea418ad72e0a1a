/**
 * "Scrapes exactly what Prometheus would, with the labels Prometheus would produce": the same
 * prometheus.yml — plain jobs, honor_labels, target relabeling (hashmod, labelmap, lowercase,
 * keep, params) and metric relabeling — is run by a real Prometheus and by Tributary against
 * the same targets, and the series each produces (labels and values) must be the same set.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePeer } from '../helpers/peers.js';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus-peer.js';
import { startScraping, startTarget, waitFor } from '../helpers/scrape-harness.js';
import { Labels } from '../../src/model/labels.js';

const PAGE_A = `# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",job="app-self",instance="inner"} 10
http_requests_total{code="500",handler="/x"} 1
# TYPE temp_celsius gauge
temp_celsius{sensor="a b",exported_job="x",env="dev"} 21.5
clash{job="j",exported_job="e"} 1
drop_me_total 3
`;
const PAGE_B = `# TYPE http_requests_total counter
http_requests_total{code="503"} 7
other_metric{port="9",region="page"} 1
empty_value{a=""} 2
`;

function config(a: string, b: string): string {
  return `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: plain
    static_configs:
      - targets: ['${a}', '${b}']
        labels: {env: prod, group: g1}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'drop_me_.*', action: drop}
  - job_name: honor
    honor_labels: true
    static_configs: [{targets: ['${a}']}]
  - job_name: relabel
    params: {module: [m1]}
    static_configs:
      - targets: ['${a}', '${b}']
        labels: {__meta_team: Infra, region: eu-west-1}
      - targets: ['${a}']
        labels: {region: us-east-1}
    relabel_configs:
      - {source_labels: [region], regex: 'eu-.*', action: keep}
      - {source_labels: [__address__], regex: '127\\.0\\.0\\.1:(\\d+)', target_label: port, replacement: 'p$1'}
      - {source_labels: [__address__], modulus: 4, target_label: __tmp_shard, action: hashmod}
      - {source_labels: [__tmp_shard], target_label: shard}
      - {regex: '__meta_(.+)', action: labelmap, replacement: 'meta_$1'}
      - {source_labels: [meta_team], target_label: team, action: lowercase}
      - {source_labels: [__param_module], target_label: module}
    metric_relabel_configs:
      - {source_labels: [code], regex: '5..', target_label: class, replacement: error}
      - {regex: 'code', action: labeldrop}
      - {source_labels: [__name__, sensor], separator: '@', regex: 'temp_celsius@(.*)', target_label: where, replacement: 'at-$1'}
      - {source_labels: [__name__], regex: 'drop_me_total', action: drop}
`;
}

test('the same prometheus.yml gives the same series in Prometheus and in Tributary', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const a = await startTarget();
  a.page(PAGE_A);
  const b = await startTarget();
  b.page(PAGE_B);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const yaml = config(a.address, b.address);

  const prom = await startPrometheus(yaml);
  t.after(() => prom.stop());
  type Series = Record<string, string>;
  const promSeries = await waitFor(
    'Prometheus to scrape every target',
    async () => {
      const targets = await prom.api<{ activeTargets: { health: string }[] }>('/api/v1/targets');
      if (targets.activeTargets.length !== 5 || targets.activeTargets.some((x) => x.health !== 'up')) return undefined;
      return prom.api<Series[]>(`/api/v1/series?match[]=${encodeURIComponent('{__name__=~".+"}')}`);
    },
    30_000,
  );
  const series = promSeries;
  const values = new Map<string, number>();
  for (const r of await prom.api<{ result: { metric: Series; value: [number, string] }[] }>(
    `/api/v1/query?query=${encodeURIComponent('{__name__=~".+",__name__!~"scrape_.*"}')}`,
  ).then((d) => d.result)) {
    values.set(Labels.fromRecord(r.metric).toString(), Number(r.value[1]));
  }

  // Tributary's loops run only when the test says (an hour apart), so each batch read is the
  // one just scraped; the interval plays no part in the labels
  const h = await startScraping(yaml.replace('scrape_interval: 1s', 'scrape_interval: 1h'));
  t.after(() => h.close());
  const ours = new Map<string, number>();
  for (const job of ['plain', 'honor', 'relabel']) {
    for (const loop of await h.loops(job)) {
      await loop.scrapeOnce();
      for (const s of h.sink.last()) if (!s.stale) ours.set(s.series, s.value);
    }
  }

  const theirs = new Set(series.map((s) => Labels.fromRecord(s).toString()));
  assert.ok(theirs.size > 30, `Prometheus produced ${theirs.size} series`);
  assert.deepEqual([...ours.keys()].sort(), [...theirs].sort());
  for (const [k, v] of values) {
    if (k.startsWith('up{') || !k.startsWith('scrape_')) assert.equal(ours.get(k), v, k);
  }
  // the cases that make this comparison worth having, so a refactoring cannot drop them unseen
  assert.ok(theirs.has(`clash{env="prod", exported_exported_job="j", exported_job="e", group="g1", instance="${a.address}", job="plain"}`));
  assert.ok([...theirs].some((x) => x.startsWith('other_metric{exported_port="9", exported_region="page"')));
  assert.ok(theirs.has(`http_requests_total{code="200", instance="inner", job="app-self"}`), 'honor_labels keeps the page\'s job and instance');
  assert.ok([...theirs].some((x) => x.startsWith('http_requests_total{class="error"') && x.includes('team="infra"')));
});
