/**
 * RE2 regexes in relabeling end to end (relabel-cases.ts RE2_RELABEL_CASES): each case is a
 * job whose target serves the case's series, with the case's rules as metric_relabel_configs;
 * a real Prometheus and Tributary scrape the same prometheus.yml and must keep the same series
 * with the same labels, the ones the case expects.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relabelConfigsSchema } from '../../src/config/relabel.js';
import { Labels } from '../../src/model/labels.js';
import { Relabeler } from '../../src/relabel/index.js';
import { requirePeer } from '../helpers/peers.js';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus-peer.js';
import { RE2_RELABEL_CASES as CASES } from '../helpers/relabel-cases.js';
import { startScraping, startTarget, waitFor, type TestTarget } from '../helpers/scrape-harness.js';

for (const c of CASES) {
  test(`RE2 relabel case: ${c.name}`, () => {
    const out = Relabeler.compile(relabelConfigsSchema.parse(c.rules)).process(Labels.fromRecord(c.input));
    assert.deepEqual(out?.toRecord(), c.output);
  });
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function page(input: Record<string, string>): string {
  const { __name__: name, ...labels } = input;
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',')}} 1\n`;
}

test('RE2 relabel cases: Prometheus and Tributary keep the same series', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const targets: TestTarget[] = [];
  t.after(() => Promise.all(targets.map((x) => x.close())));
  let yaml = 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n';
  for (const [i, c] of CASES.entries()) {
    const target = await startTarget();
    target.page(page(c.input));
    targets.push(target);
    yaml += `  - job_name: case${i}\n    static_configs: [{targets: ['${target.address}']}]\n    metric_relabel_configs: ${JSON.stringify(c.rules)}\n`;
  }

  const prom = await startPrometheus(yaml);
  t.after(() => prom.stop());
  type Series = Record<string, string>;
  const theirs = await waitFor(
    'Prometheus to scrape every case',
    async () => {
      const up = await prom.api<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent('up')}`);
      if (up.result.length !== CASES.length || up.result.some((r) => r.value[1] !== '1')) return undefined;
      return prom.api<Series[]>(`/api/v1/series?match[]=${encodeURIComponent('{__name__="m"}')}`);
    },
    30_000,
  );

  const h = await startScraping(yaml.replace('scrape_interval: 1s', 'scrape_interval: 1h'));
  t.after(() => h.close());
  for (const [i, c] of CASES.entries()) {
    const scraped = { job: `case${i}`, instance: targets[i].address };
    const series = (out: Record<string, string> | undefined) => (out === undefined ? [] : [Labels.fromRecord({ ...out, ...scraped }).toString()]);
    const expected = series(c.output);
    const promCase = theirs.filter((s) => s.job === scraped.job).map((s) => Labels.fromRecord(s).toString());
    assert.deepEqual(promCase, series(c.prometheus242 ?? c.output), `Prometheus, ${c.name}`);
    const ours: string[] = [];
    for (const loop of await h.loops(scraped.job)) {
      await loop.scrapeOnce();
      for (const s of h.sink.last()) if (!s.stale && s.series.startsWith('m{')) ours.push(s.series);
    }
    assert.deepEqual(ours, expected, `Tributary, ${c.name}`);
  }
});
