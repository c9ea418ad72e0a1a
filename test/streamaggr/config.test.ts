// vmagent stream aggregation files as its documentation writes them: loaded unchanged (by
// check-config, by the loader, by --stream-aggr-config), producing the outputs it names; bad
// files refused with file, line and key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, loadStreamAggrFile } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { StreamAggregation } from '../../src/streamaggr/index.js';
import { runCli } from '../helpers/cli-process.js';
import { batchOf, lines, T0 } from '../helpers/streamaggr-harness.js';

/** The examples of docs.victoriametrics.com/stream-aggregation (use cases and the config reference). */
const VMAGENT_DOCS = `# count and sum input samples (statsd alternative)
- match: 'some_metric'
  interval: 1m
  outputs: [count_samples]
- match: 'some_metric'
  interval: 1m
  outputs: [sum_samples]
# quantiles and histograms over input metrics
- match: 'response_size_bytes'
  interval: 1m
  outputs: ['quantiles(0.50, 0.99)']
- match: 'response_size_bytes'
  interval: 1m
  outputs: [histogram_bucket]
# aggregating histograms, recording rules alternative
- match: 'http_request_duration_seconds_bucket'
  interval: 1m
  without: [instance]
  outputs: [total]
- match: 'http_requests_total'
  interval: 30s
  without: [instance]
  outputs: [total]
- match: '{__name__=~".+_total"}'
  interval: 1m
  by: [job]
  outputs: [rate_sum]
# the configuration reference, every key
- name: 'foobar'
  match: 'http_request_duration_seconds_bucket{env=~"prod|staging"}'
  interval: 1m
  dedup_interval: 30s
  enable_windows: false
  staleness_interval: 2m
  ignore_first_sample_interval: 0s
  no_align_flush_to_interval: false
  flush_on_shutdown: true
  without: [instance]
  outputs: [total]
  keep_metric_names: false
  ignore_old_samples: false
  ignore_first_intervals: 0
  drop_input_labels: [replica, availability_zone]
  input_relabel_configs:
  - target_label: vmaggr
    replacement: before
  output_relabel_configs:
  - target_label: vmaggr
    replacement: after
`;

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aggr-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('vmagent documentation examples load unchanged and produce the outputs they name', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'aggr.yml');
  writeFileSync(file, VMAGENT_DOCS);
  const { section, warnings } = await loadStreamAggrFile(file);
  assert.deepEqual(warnings, []);
  assert.equal(section.rules.length, 8);
  let now = T0 + 1_000;
  const out: string[] = [];
  const aggr = new StreamAggregation(
    { ...section, rules: section.rules.map((r) => ({ ...r, no_align_flush_to_interval: true, flush_on_shutdown: true, ignore_first_sample_interval: 0 })) },
    { scope: 't', logger: silentLogger, timers: false, now: () => now, emit: (b) => out.push(...lines(b)) },
  );
  aggr.process(
    batchOf(`some_metric{instance="a"} 3
      some_metric{instance="b"} 4
      response_size_bytes{instance="a"} 100
      response_size_bytes{instance="a"} 300
      http_request_duration_seconds_bucket{env="prod",instance="a",le="1",replica="1"} 5
      http_requests_total{instance="a",job="api"} 10
      http_requests_total{instance="b",job="api"} 20`),
    batchOf(''),
  );
  now = T0 + 61_000;
  aggr.advance(now);
  const names = [...new Set(out.map((l) => l.replace(/ [^ ]+$/, '')))].sort();
  assert.deepEqual(names, [
    'http_request_duration_seconds_bucket:1m_without_instance_total{env="prod", le="1", replica="1"}',
    'http_request_duration_seconds_bucket:1m_without_instance_total{env="prod", le="1", vmaggr="after"}',
    'http_requests_total:30s_without_instance_total{job="api"}',
    'response_size_bytes:1m_histogram_bucket{instance="a", vmrange="2.783e+02...3.162e+02"}',
    'response_size_bytes:1m_histogram_bucket{instance="a", vmrange="8.799e+01...1.000e+02"}',
    'response_size_bytes:1m_quantiles{instance="a", quantile="0.5"}',
    'response_size_bytes:1m_quantiles{instance="a", quantile="0.99"}',
    'some_metric:1m_count_samples{instance="a"}',
    'some_metric:1m_count_samples{instance="b"}',
    'some_metric:1m_sum_samples{instance="a"}',
    'some_metric:1m_sum_samples{instance="b"}',
  ]);
  // (no rate_sum yet: a rate needs two samples of a series) the totals count from 0
  assert.ok(out.includes('http_requests_total:30s_without_instance_total{job="api"} 30'), out.join('\n'));
});

test('check-config takes a rule file alone, and a configuration naming one, with the rule file\'s problems at its lines', async (t) => {
  const dir = tmp(t);
  const good = join(dir, 'aggr.yml');
  writeFileSync(good, VMAGENT_DOCS.replace('enable_windows: false', 'enable_windows: true'));
  const alone = await runCli(['check-config', good]);
  assert.equal(alone.code, 0, alone.stderr);
  assert.match(alone.stdout, /warning: .*aggr\.yml:\d+:\d+: \[7\]\.enable_windows: aggregation windows are not supported/);
  assert.match(alone.stdout, /aggr\.yml: OK/);

  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, `- interval: 1m\n  outputs: [total]\n- match: 'x{'\n  interval: 30s\n  by: [a]\n  without: [b]\n  outputs: [median, total]\n`);
  const main = join(dir, 'tributary.yml');
  writeFileSync(main, `remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    stream_aggr:\n      config: bad.yml\n`);
  const r = await runCli(['check-config', main]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.yml:3:3: \[1\]\.match: invalid series selector/);
  assert.match(r.stderr, /bad\.yml:6:3: \[1\]\.without: by and without cannot both be set/);
  assert.match(r.stderr, /bad\.yml:7:13: \[1\]\.outputs\[0\]: unsupported output "median"/);

  const flag = await runCli(['check-config', '--config', main.replace('tributary.yml', 'none.yml'), '--stream-aggr-config', good]);
  assert.equal(flag.code, 1, 'a missing --config file still fails');
  writeFileSync(join(dir, 'plain.yml'), 'scrape_configs: []\n');
  const ok = await runCli(['check-config', '--config', join(dir, 'plain.yml'), '--stream-aggr-config', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /enable_windows/);
});

test('the loader reads stream_aggr.config relative to the file, before the inline rules; a missing file is an error at the key', async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'aggr.yml'), "- match: a\n  interval: 1m\n  outputs: [total]\n");
  const main = join(dir, 'tributary.yml');
  writeFileSync(main, "stream_aggr:\n  config: aggr.yml\n  keep_input: true\n  rules:\n    - match: b\n      interval: 1m\n      outputs: [max]\nremote_write_options:\n  max_hourly_series: 10\n");
  const { config } = await loadConfigFile(main);
  assert.deepEqual(config.stream_aggr!.rules.map((r) => r.match), ['a', 'b']);
  assert.equal(config.stream_aggr!.keep_input, true);
  assert.equal(config.remote_write_options.max_hourly_series, 10);

  writeFileSync(main, 'stream_aggr:\n  config: missing.yml\n');
  await assert.rejects(loadConfigFile(main), (err: unknown) => err instanceof ConfigError && /tributary\.yml:2:3: stream_aggr\.config: cannot read .*missing\.yml/.test(err.message));
});
