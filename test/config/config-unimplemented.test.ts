/**
 * Every key Tributary accepts but does not act on is a warning naming its key path, in
 * `check-config` and at load (the running agent's log) — never silence; and a value that asks
 * for nothing Tributary lacks (a default, `false`) is no warning.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import { UNIMPLEMENTED_KEYS } from '../../src/config/unimplemented.js';
import { Logger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { runCli } from '../helpers/cli-process.js';
import { tempDataDir } from '../helpers/fixtures.js';

/** One client with a proxy and every *_ref secret, one reading the proxy from the environment. */
const PROXIED = `basic_auth: {username_ref: user, password_ref: pass}
tls_config: {ca_ref: ca, cert_ref: cert, key_ref: key}
proxy_url: http://127.0.0.1:9
no_proxy: internal.example
proxy_connect_header: {X-Team: [a]}`;
const FROM_ENV = `authorization: {credentials_ref: token}
proxy_from_environment: true`;

const indent = (text: string, n: number) => text.replace(/^/gm, ' '.repeat(n));

const SCRAPE_KEYS = `scrape_native_histograms: true
convert_classic_histograms_to_nhcb: true
scrape_failure_log_file: failures.log
metric_name_validation_scheme: legacy
metric_name_escaping_scheme: underscores
scrape_protocols: [PrometheusProto, PrometheusText0.0.4]`;

const EVERY_KEY = `global:
  query_log_file: queries.log
  evaluation_interval: 15s
  rule_query_offset: 1m
${indent(SCRAPE_KEYS, 2)}
scrape_configs:
  - job_name: a
    native_histogram_bucket_limit: 160
    native_histogram_min_bucket_factor: 1.1
${indent(SCRAPE_KEYS, 4)}
${indent(PROXIED, 4)}
    static_configs: [{targets: ['127.0.0.1:9']}]
    http_sd_configs:
      - url: http://127.0.0.1:9/sd
${indent(PROXIED, 8)}
      - url: http://127.0.0.1:9/sd2
${indent(FROM_ENV, 8)}
    consul_sd_configs:
      - server: 127.0.0.1:9
${indent(PROXIED, 8)}
      - server: 127.0.0.1:9
${indent(FROM_ENV, 8)}
    kubernetes_sd_configs:
      - role: pod
        api_server: http://127.0.0.1:9
${indent(PROXIED, 8)}
      - role: node
        api_server: http://127.0.0.1:9
${indent(FROM_ENV, 8)}
  - job_name: b
${indent(FROM_ENV, 4)}
remote_write:
  - url: http://127.0.0.1:9/write
    round_robin_dns: true
    queue_config: {capacity: 2500, min_shards: 2, max_shards: 10, retry_on_http_429: false}
${indent(PROXIED, 4)}
    stream_aggr:
      rules:
        - {interval: 1m, outputs: [total], enable_windows: true}
  - url: http://127.0.0.1:9/write2
${indent(FROM_ENV, 4)}
stream_aggr:
  rules:
    - {interval: 1m, outputs: [total], enable_windows: true}
`;

/** The same keys with values that ask for nothing Tributary lacks. */
const HARMLESS = `global:
  scrape_native_histograms: false
  convert_classic_histograms_to_nhcb: false
  metric_name_validation_scheme: utf8
  metric_name_escaping_scheme: allow-utf-8
  scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4]
scrape_configs:
  - job_name: a
    native_histogram_bucket_limit: 0
    native_histogram_min_bucket_factor: 0
    proxy_from_environment: false
    static_configs: [{targets: ['127.0.0.1:9']}]
remote_write:
  - url: http://127.0.0.1:9/write
    round_robin_dns: false
    queue_config: {retry_on_http_429: true}
stream_aggr:
  rules:
    - {interval: 1m, outputs: [total], enable_windows: false}
`;

function pattern(path: readonly string[]): RegExp {
  const text = path.map((p, i) => (p === '*' ? '\\[\\d+\\]' : (i > 0 ? '\\.' : '') + p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${text}$`);
}

test('every unimplemented key is a warning naming its path, in check-config and at load; harmless values are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-unimplemented-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'every.yml');
  writeFileSync(file, EVERY_KEY);

  const { warnings } = await loadConfigFile(file, {});
  for (const key of UNIMPLEMENTED_KEYS) {
    const re = pattern(key.path);
    assert.ok(
      warnings.some((w) => re.test(w.path) && w.message === key.message),
      `no warning for ${key.path.join('.')}; got:\n${warnings.map((w) => `${w.path}: ${w.message}`).join('\n')}`,
    );
  }
  // each warning points at the key itself
  const lines = EVERY_KEY.split('\n');
  for (const w of warnings) {
    const last = w.path.replace(/\[\d+\]$/, '').split('.').pop() ?? '';
    assert.ok(lines[w.line - 1].includes(last), `${w.path} reported at line ${w.line}: ${lines[w.line - 1]}`);
  }

  const checked = await runCli(['check-config', file]);
  assert.equal(checked.code, 0, checked.stderr);
  for (const w of warnings) {
    assert.ok(checked.stdout.includes(`warning: ${file}:${w.line}:${w.column}: ${w.path}: ${w.message}`), `${w.path} missing from:\n${checked.stdout}`);
  }
  assert.match(checked.stdout, /warning: .*: remote_write\[0\]\.queue_config\.max_shards: not used: Tributary sends with a fixed number of senders/);
  assert.match(checked.stdout, /warning: .*: scrape_configs\[0\]\.http_sd_configs\[0\]\.no_proxy: not supported yet/);

  // at load: the running agent logs each
  const logged: string[] = [];
  const logger = new Logger('warn', 'json', { write: (l: string) => void logged.push(l) });
  const runtime = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger, dataDir: tempDataDir() });
  await runtime.close(0);
  for (const w of warnings) {
    assert.ok(
      logged.some((l) => l.includes(`${w.path}`) && l.includes(JSON.stringify(w.message).slice(1, -1))),
      `${w.path} not logged at load`,
    );
  }

  const harmless = join(dir, 'harmless.yml');
  writeFileSync(harmless, HARMLESS);
  assert.deepEqual((await loadConfigFile(harmless, {})).warnings, []);
});
