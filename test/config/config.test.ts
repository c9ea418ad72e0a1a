import { selfScrapeTarget } from '../../src/config/self-scrape.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLAG_URL_SAMPLES_PER_SEND, resolveConfig } from '../../src/config/resolve.js';
import {
  ConfigError,
  DEFAULT_CONFIG_TEXT,
  DEFAULT_SCRAPE_PROTOCOLS,
  compileAnchoredRegex,
  defaultConfig,
  formatDuration,
  loadConfigFile,
  parseConfigText,
  parseDuration,
  parseSize,
} from '../../src/config/index.js';
import type { ConfigIssue, Env, LoadedConfig } from '../../src/config/index.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../test/fixtures/config/${name}`, import.meta.url));
const example = fileURLToPath(new URL('../../../examples/tributary.yml', import.meta.url));

/** Lines joined with \n, so a test reads its own line numbers off the array index (+1). */
const yaml = (...lines: string[]) => lines.join('\n') + '\n';

function load(text: string, env: Env = {}): LoadedConfig {
  return parseConfigText(text, 'test.yml', env);
}

function issuesOf(text: string, env: Env = {}): ConfigIssue[] {
  try {
    load(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return [...err.issues];
  }
  assert.fail('expected the config to be rejected');
}

/** Exactly one issue, at this line and key path (and column, when given). */
function oneIssue(
  text: string,
  want: { line: number; column?: number; path: string; message?: RegExp },
  env: Env = {},
): ConfigIssue {
  const issues = issuesOf(text, env);
  assert.equal(
    issues.length,
    1,
    `expected one issue, got:\n${issues.map((i) => JSON.stringify(i)).join('\n')}`,
  );
  const [issue] = issues;
  assert.equal(issue.file, 'test.yml');
  assert.equal(issue.line, want.line, `line of ${JSON.stringify(issue)}`);
  if (want.column !== undefined)
    assert.equal(issue.column, want.column, `column of ${JSON.stringify(issue)}`);
  assert.equal(issue.path, want.path);
  if (want.message) assert.match(issue.message, want.message);
  return issue;
}

// --- Prometheus compatibility --------------------------------------------------------------

test('a realistic prometheus.yml loads, with warnings for what Tributary ignores', async () => {
  const { config, warnings } = await loadConfigFile(fixture('prometheus.yml'));
  assert.deepEqual(
    warnings.map((w) => [w.line, w.path, w.message]),
    [
      [6, 'global.evaluation_interval', 'Tributary evaluates no rules; ignored'],
      [12, 'rule_files', 'Tributary does not evaluate rules; ignored'],
      [16, 'alerting', 'Tributary does not send alerts; ignored'],
      [117, 'remote_write[0].queue_config.capacity', 'not used: samples wait in a disk queue bounded by max_disk_usage; ignored'],
      [118, 'remote_write[0].queue_config.max_shards', 'not used: Tributary sends with a fixed number of senders (queue_config.senders); ignored'],
    ],
  );
  assert.ok(warnings.every((w) => w.file === fixture('prometheus.yml')));

  assert.equal(config.global.scrape_interval, 15_000);
  assert.equal(config.global.evaluation_interval, 30_000);
  // Label values are kept as written, not as YAML numbers.
  assert.deepEqual(config.global.external_labels, { cluster: 'eu-west-1', replica: 'A', version: '1.0' });
  assert.deepEqual(
    config.scrape_configs.map((c) => c.job_name),
    ['prometheus', 'node', 'blackbox', 'kubernetes-pods', 'files'],
  );

  const node = config.scrape_configs[1];
  assert.equal(node.scrape_interval, 30_000);
  assert.equal(node.scrape_timeout, 20_000);
  assert.deepEqual(node.static_configs[0].labels, { datacenter: 'fra1', rack: '12' });
  assert.equal(node.relabel_configs[0].regex, '([^:]+):\\d+');
  assert.equal(node.metric_relabel_configs[0].action, 'drop');

  const blackbox = config.scrape_configs[2];
  assert.equal(blackbox.metrics_path, '/probe');
  assert.deepEqual(blackbox.params, { module: ['http_2xx'] });

  // bearer_token_file is folded into authorization, as Prometheus does.
  const pods = config.scrape_configs[3];
  assert.equal(pods.scheme, 'https');
  assert.equal(pods.honor_labels, true);
  assert.deepEqual(pods.authorization, {
    type: 'Bearer',
    credentials_file: '/var/run/secrets/kubernetes.io/serviceaccount/token',
  });
  assert.equal('bearer_token_file' in pods, false);
  assert.equal(pods.kubernetes_sd_configs?.length, 1);

  const files = config.scrape_configs[4];
  assert.deepEqual(files.file_sd_configs, [
    { files: ['/etc/prometheus/targets/*.json'], refresh_interval: 60_000 },
  ]);
  assert.deepEqual(files.dns_sd_configs, [
    { names: ['_metrics._tcp.example.com'], type: 'SRV', refresh_interval: 30_000 },
  ]);

  const [rw] = config.remote_write;
  assert.equal(rw.url, 'https://metrics.example.com/api/v1/write');
  assert.equal(rw.remote_timeout, 60_000);
  assert.deepEqual(rw.queue_config, {
    capacity: 20_000,
    max_shards: 30,
    min_shards: 1,
    max_samples_per_send: 5_000,
    batch_send_deadline: 10_000,
    senders: 4,
    max_disk_usage: 1024 ** 3,
    min_backoff: 100,
    max_backoff: 10_000,
    retry_on_http_429: false,
    sample_age_limit: 0,
    compression: 'fast',
  });
  assert.deepEqual(rw.metadata_config, { send: true, send_interval: 60_000, max_samples_per_send: 2_000 });
  assert.equal(rw.enable_http2, false);
  assert.equal(rw.write_relabel_configs[0].regex, 'go_.*');
});

test("Prometheus' own default prometheus.yml loads (null values from commented-out lists)", () => {
  const { config, warnings } = load(
    yaml(
      'global:',
      '  scrape_interval: 15s',
      '  evaluation_interval: 15s',
      'alerting:',
      '  alertmanagers:',
      '    - static_configs:',
      '        - targets:',
      '          # - alertmanager:9093',
      'rule_files:',
      '  # - "first_rules.yml"',
      'scrape_configs:',
      '  - job_name: "prometheus"',
      '    static_configs:',
      '      - targets: ["localhost:9090"]',
      '        labels:',
      '          app: "prometheus"',
    ),
  );
  assert.deepEqual(
    warnings.map((w) => [w.line, w.path]),
    [
      [3, 'global.evaluation_interval'],
      [4, 'alerting'],
    ],
  );
  assert.equal(config.scrape_configs[0].scrape_timeout, 10_000);
  assert.deepEqual(config.scrape_configs[0].static_configs, [
    { targets: ['localhost:9090'], labels: { app: 'prometheus' } },
  ]);
});

test('every other service discovery kind loads with a warning', () => {
  const { warnings } = load(
    yaml(
      'scrape_configs:',
      '  - job_name: nomad',
      '    nomad_sd_configs:',
      '      - server: http://localhost:4646',
      '    ec2_sd_configs: [{region: eu-west-1, port: 9100}]',
    ),
  );
  assert.deepEqual(
    warnings.map((w) => [w.line, w.column, w.path, w.message]),
    [
      [3, 5, 'scrape_configs[0].nomad_sd_configs', 'not supported yet; ignored'],
      [5, 5, 'scrape_configs[0].ec2_sd_configs', 'not supported yet; ignored'],
    ],
  );
});

test('consul_sd_configs: Prometheus defaults, no warning, and the deprecated username/password as basic_auth', () => {
  const { config, warnings } = load(
    yaml(
      'scrape_configs:',
      '  - job_name: consul',
      '    consul_sd_configs:',
      '      - services: [web]',
      '      - server: consul.example:8501',
      '        scheme: https',
      '        path_prefix: /consul',
      '        token: secret',
      '        datacenter: dc2',
      '        namespace: team-a',
      '        partition: part-1',
      '        tag_separator: ";"',
      '        allow_stale: false',
      '        refresh_interval: 1m',
      '        tags: [prod, http]',
      '        node_meta: {rack: r1}',
      '        filter: Service.Meta.env == "prod"',
      '        username: 123',
      '        password: 1234',
      '        tls_config: {insecure_skip_verify: true}',
    ),
  );
  assert.deepEqual(warnings, []);
  const [defaults, full] = config.scrape_configs[0].consul_sd_configs;
  assert.deepEqual(defaults, {
    server: 'localhost:8500',
    path_prefix: '',
    datacenter: '',
    namespace: '',
    partition: '',
    tag_separator: ',',
    scheme: 'http',
    allow_stale: true,
    refresh_interval: 30_000,
    services: ['web'],
    tags: [],
    node_meta: {},
    follow_redirects: true,
    enable_http2: true,
  });
  assert.equal(full.server, 'consul.example:8501');
  assert.equal(full.refresh_interval, 60_000);
  assert.equal(full.allow_stale, false);
  assert.deepEqual(full.node_meta, { rack: 'r1' });
  assert.equal(full.filter, 'Service.Meta.env == "prod"');
  assert.deepEqual(full.basic_auth, { username: '123', password: '1234' });
  assert.equal('username' in full, false);
});

test('consul_sd_configs: unknown keys and Prometheus\' exclusions are errors at their key', () => {
  const job = (...lines: string[]) => yaml('scrape_configs:', '  - job_name: consul', '    consul_sd_configs:', ...lines);
  oneIssue(job('      - server: localhost:8500', '        service: [web]'), {
    line: 5,
    path: 'scrape_configs[0].consul_sd_configs[0].service',
    message: /unknown key "service"; did you mean "services"\?/,
  });
  oneIssue(job('      - server: " "'), {
    line: 4,
    path: 'scrape_configs[0].consul_sd_configs[0].server',
    message: /consul SD configuration requires a server address/,
  });
  oneIssue(job('      - server: localhost:8500', '        scheme: ftp'), {
    line: 4,
    path: 'scrape_configs[0].consul_sd_configs[0].server',
    message: /not a valid Consul address/,
  });
  oneIssue(job('      - username: a', '        basic_auth: {username: b}'), {
    line: 5,
    path: 'scrape_configs[0].consul_sd_configs[0].basic_auth',
    message: /at most one of consul SD configuration username and password and basic auth can be configured/,
  });
  oneIssue(job('      - token: t', '        authorization: {credentials: c}'), {
    line: 4,
    path: 'scrape_configs[0].consul_sd_configs[0].token',
    message: /at most one of consul SD token, authorization, or oauth2 can be configured/,
  });
});

test('YAML 1.1 scalars read by field type, as Go yaml.v2 does', () => {
  const { config } = load(
    yaml(
      'scrape_configs:',
      '  - job_name: 123',
      '    honor_labels: yes',
      '    enable_compression: off',
      '    sample_limit: 0x10',
      '    body_size_limit: 1.5KB',
      '    static_configs: [{targets: [a:1], labels: {on: on, n: 1e3}}]',
    ),
  );
  const c = config.scrape_configs[0];
  assert.equal(c.job_name, '123');
  assert.equal(c.honor_labels, true);
  assert.equal(c.enable_compression, false);
  assert.equal(c.sample_limit, 16);
  assert.equal(c.body_size_limit, 1536);
  assert.deepEqual(c.static_configs[0].labels, { on: 'on', n: '1e3' });
});

test('anchors, aliases and merge keys are expanded', () => {
  const { config } = load(
    yaml(
      'scrape_configs:',
      '  - job_name: a',
      '    tls_config: &tls',
      '      ca_file: /ca.pem',
      '      server_name: internal',
      '    static_configs: &targets [{targets: [a:1]}]',
      '  - job_name: b',
      '    tls_config:',
      '      <<: *tls',
      '      server_name: other',
      '    static_configs: *targets',
    ),
  );
  assert.deepEqual(config.scrape_configs[1].tls_config, { ca_file: '/ca.pem', server_name: 'other' });
  assert.deepEqual(config.scrape_configs[1].static_configs, config.scrape_configs[0].static_configs);
});

// --- Errors: file, line, column, key path ---------------------------------------------------

test('unknown top-level key', () => {
  oneIssue(yaml('global:', '  scrape_interval: 1m', 'scrape_config:', '  - job_name: x'), {
    line: 3,
    column: 1,
    path: 'scrape_config',
    message: /unknown key "scrape_config"; did you mean "scrape_configs"\?/,
  });
});

test('unknown key nested in scrape_configs[1].static_configs[0]', () => {
  const text = yaml(
    'scrape_configs:',
    '  - job_name: a',
    '    static_configs: [{targets: [a:1]}]',
    '  - job_name: b',
    '    static_configs:',
    '      - targets: [b:1]',
    '        lables:',
    '          env: prod',
  );
  const issue = oneIssue(text, {
    line: 7,
    column: 9,
    path: 'scrape_configs[1].static_configs[0].lables',
    message: /did you mean "labels"/,
  });
  assert.equal(
    new ConfigError([issue]).message,
    'test.yml:7:9: scrape_configs[1].static_configs[0].lables: unknown key "lables"; did you mean "labels"?',
  );
});

test('wrong types name the value found', () => {
  oneIssue(yaml('scrape_configs:', '  - job_name: a', '    honor_labels: maybe'), {
    line: 3,
    column: 19,
    path: 'scrape_configs[0].honor_labels',
    message: /expected true or false, got "maybe"/,
  });
  oneIssue(
    yaml('scrape_configs:', '  - job_name: a', '    static_configs:', '      - targets: localhost:9090'),
    {
      line: 4,
      path: 'scrape_configs[0].static_configs[0].targets',
      message: /expected a list, got "localhost:9090"/,
    },
  );
  oneIssue(yaml('global:', '  sample_limit: -5'), {
    line: 2,
    path: 'global.sample_limit',
    message: /must not be negative/,
  });
  oneIssue(yaml('scrape_configs:', '  job_name: a'), {
    line: 2,
    path: 'scrape_configs',
    message: /expected a list, got a mapping/,
  });
  oneIssue(yaml('scrape_configs:', '  - job_name: a', '    scheme: ftp'), {
    line: 3,
    path: 'scrape_configs[0].scheme',
    message: /expected one of "http", "https"/,
  });
});

test('a missing required key points at its mapping', () => {
  oneIssue(yaml('scrape_configs:', '  - job_name: a', '  - scrape_interval: 1m', '    metrics_path: /m'), {
    line: 3,
    column: 5,
    path: 'scrape_configs[1].job_name',
    message: /^missing required key "job_name"$/,
  });
  oneIssue(yaml('remote_write:', '  - name: x'), {
    line: 2,
    path: 'remote_write[0].url',
    message: /missing required key "url"/,
  });
});

test('bad durations say what is wrong', () => {
  oneIssue(yaml('global:', '  scrape_interval: 30'), {
    line: 2,
    column: 20,
    path: 'global.scrape_interval',
    message: /missing unit after 30/,
  });
  oneIssue(yaml('scrape_configs:', '  - job_name: a', '    scrape_timeout: 5m1h'), {
    line: 3,
    path: 'scrape_configs[0].scrape_timeout',
    message: /unit "h" after "m"/,
  });
});

test('scrape_timeout greater than scrape_interval, explicit or inherited', () => {
  oneIssue(yaml('global:', '  scrape_interval: 10s', '  scrape_timeout: 15s'), {
    line: 3,
    path: 'global.scrape_timeout',
    message: /scrape_timeout \(15s\) must not be greater than scrape_interval \(10s\)/,
  });
  oneIssue(
    yaml(
      'global:',
      '  scrape_interval: 10s',
      'scrape_configs:',
      '  - job_name: a',
      '    scrape_timeout: 30s',
    ),
    {
      line: 5,
      column: 21,
      path: 'scrape_configs[0].scrape_timeout',
      message: /\(30s\) must not be greater than scrape_interval \(10s, from global\)/,
    },
  );
});

test('duplicate job_name', () => {
  oneIssue(yaml('scrape_configs:', '  - job_name: node', '  - job_name: app', '  - job_name: node'), {
    line: 4,
    column: 15,
    path: 'scrape_configs[2].job_name',
    message: /duplicate job_name "node" \(first used by scrape_configs\[0\]\)/,
  });
});

test('bad regex', () => {
  oneIssue(
    yaml(
      'scrape_configs:',
      '  - job_name: a',
      '    metric_relabel_configs:',
      '      - source_labels: [__name__]',
      '        regex: "go_(.*"',
      '        action: drop',
    ),
    {
      line: 5,
      column: 16,
      path: 'scrape_configs[0].metric_relabel_configs[0].regex',
      message: /invalid regex "go_\(\.\*"/,
    },
  );
  // vmagent's list form: the bad entry is named.
  oneIssue(
    yaml(
      'remote_write:',
      '  - url: http://x/api/v1/write',
      '    write_relabel_configs:',
      '      - regex: [ok, "a(?=b)"]',
      '        action: keep',
    ),
    {
      line: 4,
      path: 'remote_write[0].write_relabel_configs[0].regex[1]',
      message: /invalid or unsupported Perl syntax: `\(\?=` \(at offset 1\); RE2 has no lookahead or lookbehind/,
    },
  );
});

test('undefined %{ENV} variable', () => {
  oneIssue(
    yaml('global:', '  external_labels:', '    region: %{REGION}', '    zone: %{ZONE}'),
    {
      line: 4,
      column: 11,
      path: 'global.external_labels.zone',
      message: /environment variable ZONE is not defined/,
    },
    {
      REGION: 'eu',
    },
  );
});

test('YAML syntax error', () => {
  // An unclosed quote is reported where it opens, not where the file ends.
  oneIssue(
    yaml('global:', '  scrape_interval: 1m', 'scrape_configs:', '  - job_name: "a', '    static_configs: []'),
    {
      line: 4,
      column: 15,
      path: 'scrape_configs[0].job_name',
      message: /YAML syntax error: a quoted string is not closed \(missing "\)/,
    },
  );
  oneIssue(
    yaml(
      'scrape_configs:',
      '  - job_name: a',
      '    static_configs:',
      '      - targets: [a:1, b:2',
      '  - job_name: b',
    ),
    {
      line: 5,
      path: 'scrape_configs[0].static_configs[0].targets',
      message: /YAML syntax error/,
    },
  );
});

test('duplicate key in a mapping', () => {
  oneIssue(
    yaml(
      'scrape_configs:',
      '  - job_name: a',
      '    scrape_interval: 1m',
      '    honor_labels: true',
      '    scrape_interval: 2m',
    ),
    {
      line: 5,
      column: 5,
      path: 'scrape_configs[0].scrape_interval',
      message: /duplicate key "scrape_interval" \(first defined on line 3\)/,
    },
  );
});

test('all issues are reported at once, in file order, one per line of the message', () => {
  const text = yaml(
    'global:',
    '  scrape_interval: soon',
    'scrape_configs:',
    '  - job_name: a',
    '    honor_labels: 2',
    'bogus: 1',
  );
  try {
    load(text);
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.message.split('\n'), [
      'test.yml:2:20: global.scrape_interval: invalid duration "soon": expected a number at "soon"',
      'test.yml:5:19: scrape_configs[0].honor_labels: expected true or false, got "2"',
      'test.yml:6:1: bogus: unknown key "bogus"',
    ]);
  }
});

test('semantic checks: label names, URLs, auth exclusivity, relabel actions', () => {
  oneIssue(
    yaml('global:', '  metric_name_validation_scheme: legacy', '  external_labels:', '    app.name: x'),
    {
      line: 4,
      column: 5,
      path: 'global.external_labels["app.name"]',
      message: /not a valid label name/,
    },
  );
  oneIssue(yaml('remote_write:', '  - url: localhost:9090/api/v1/write'), {
    line: 2,
    path: 'remote_write[0].url',
    message: /URL scheme must be http, https or nats, got "localhost"/,
  });
  oneIssue(
    yaml(
      'scrape_configs:',
      '  - job_name: a',
      '    basic_auth: {username: u, password: p}',
      '    bearer_token: t',
    ),
    {
      line: 4,
      column: 5,
      path: 'scrape_configs[0].bearer_token',
      message: /cannot be combined with basic_auth/,
    },
  );
  oneIssue(yaml('scrape_configs:', '  - job_name: a', '    relabel_configs:', '      - action: shuffle'), {
    line: 4,
    path: 'scrape_configs[0].relabel_configs[0].action',
    message: /unknown relabel action "shuffle"/,
  });
  oneIssue(
    yaml(
      'scrape_configs:',
      '  - job_name: a',
      '    relabel_configs:',
      '      - action: labeldrop',
      '        regex: tmp_.*',
      '        target_label: x',
    ),
    {
      line: 6,
      path: 'scrape_configs[0].relabel_configs[0].target_label',
      message: /the labeldrop action takes only regex/,
    },
  );
  oneIssue(yaml('server:', '  listen: localhost'), {
    line: 2,
    path: 'server.listen',
    message: /missing port/,
  });
  oneIssue(yaml('log:', '  level: verbose'), {
    line: 2,
    path: 'log.level',
    message: /expected one of "debug", "info", "warn", "error"/,
  });
});

// --- Environment expansion ------------------------------------------------------------------

test('%{ENV} expansion substitutes values and keeps positions', () => {
  const env = {
    INTERVAL: '20s',
    TARGETS: 'a.example.com:9100, b.example.com:9100',
    PASS: 's3cr3t: with colon',
  };
  const { config } = load(
    yaml(
      '# %{NOT_SET} in a comment line is left alone',
      'global:',
      '  scrape_interval: %{INTERVAL}',
      'scrape_configs:',
      '  - job_name: env',
      '    static_configs: [{targets: [%{TARGETS}]}]',
      '    basic_auth: {username: u, password: "%{PASS}"}',
    ),
    env,
  );
  assert.equal(config.global.scrape_interval, 20_000);
  assert.deepEqual(config.scrape_configs[0].static_configs[0].targets, [
    'a.example.com:9100',
    'b.example.com:9100',
  ]);
  assert.equal(config.scrape_configs[0].basic_auth?.password, 's3cr3t: with colon');

  // Columns after a substitution are the columns the author wrote, not those of the expanded text.
  oneIssue(
    yaml('scrape_configs:', '  - job_name: env', '    static_configs: [{targets: [%{TARGETS}], lables: {}}]'),
    { line: 3, column: 46, path: 'scrape_configs[0].static_configs[0].lables' },
    env,
  );
  // A multi-line value does not shift the lines after it.
  const labels = { LABELS: '\n    a: one\n    b: two' };
  assert.deepEqual(
    load(yaml('global:', '  external_labels: %{LABELS}'), labels).config.global.external_labels,
    { a: 'one', b: 'two' },
  );
  oneIssue(
    yaml('global:', '  external_labels: %{LABELS}', '  bogus: 1'),
    { line: 3, column: 3, path: 'global.bogus' },
    labels,
  );
});

// --- Defaults and inheritance ---------------------------------------------------------------

test('empty file, {} and the built-in defaults load', () => {
  for (const text of ['', '# only a comment\n', '{}\n']) {
    const { config, warnings } = load(text);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.scrape_configs, []);
    assert.deepEqual(config.server, { listen: '127.0.0.1:9190', data_dir: './data' });
    assert.deepEqual(config.log, { level: 'info', format: 'logfmt' });
  }
  const d = defaultConfig();
  assert.equal(d.global.scrape_interval, 60_000);
  assert.equal(d.global.scrape_timeout, 10_000);
  assert.equal(d.global.evaluation_interval, 60_000);
  // Tributary's own /metrics, as Prometheus' default configuration scrapes Prometheus
  assert.deepEqual(
    d.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((s) => s.targets)]),
    [['tributary', ['127.0.0.1:9190']]],
  );
  assert.deepEqual(d, load(DEFAULT_CONFIG_TEXT).config);
  assert.notEqual(defaultConfig(), defaultConfig(), 'each call returns a fresh object');
});

test('the self-scrape target: the bound address, or the loopback of its family when bound to every interface', () => {
  assert.equal(selfScrapeTarget('127.0.0.1:9190'), '127.0.0.1:9190');
  assert.equal(selfScrapeTarget('[::1]:41000'), '[::1]:41000');
  assert.equal(selfScrapeTarget('[::]:9190'), '[::1]:9190');
  assert.equal(selfScrapeTarget('0.0.0.0:9190'), '127.0.0.1:9190');
  assert.equal(selfScrapeTarget('10.1.2.3:80'), '10.1.2.3:80');
});

test('Prometheus defaults are applied and scrape jobs inherit from global', () => {
  const { config } = load(
    yaml(
      'global:',
      '  scrape_interval: 5s',
      '  sample_limit: 1000',
      '  body_size_limit: 10MB',
      'scrape_configs:',
      '  - job_name: inherits',
      '  - job_name: overrides',
      '    scrape_interval: 2m',
      '    sample_limit: 50',
    ),
  );
  // The global timeout defaults to 10s but never above the interval.
  assert.equal(config.global.scrape_timeout, 5_000);
  const [a, b] = config.scrape_configs;
  assert.equal(a.scrape_interval, 5_000);
  assert.equal(a.scrape_timeout, 5_000);
  assert.equal(a.sample_limit, 1_000);
  assert.equal(a.body_size_limit, 10 * 1024 * 1024);
  assert.equal(a.metrics_path, '/metrics');
  assert.equal(a.scheme, 'http');
  assert.equal(a.honor_labels, false);
  assert.equal(a.honor_timestamps, true);
  assert.equal(a.follow_redirects, true);
  assert.equal(a.enable_compression, true);
  assert.equal(a.enable_http2, true);
  assert.deepEqual(a.scrape_protocols, DEFAULT_SCRAPE_PROTOCOLS);
  assert.equal(a.metric_name_validation_scheme, 'utf8');
  assert.equal(a.metric_name_escaping_scheme, 'allow-utf-8');
  assert.equal(b.scrape_interval, 120_000);
  assert.equal(b.scrape_timeout, 5_000);
  assert.equal(b.sample_limit, 50);

  const relabel = load(
    yaml(
      'scrape_configs:',
      '  - job_name: r',
      '    relabel_configs:',
      '      - target_label: env',
      '        replacement: prod',
    ),
  ).config.scrape_configs[0].relabel_configs[0];
  assert.deepEqual(relabel, {
    source_labels: [],
    separator: ';',
    regex: '(.*)',
    modulus: 0,
    target_label: 'env',
    replacement: 'prod',
    action: 'replace',
  });
});

test('vmagent relabeling extensions load', () => {
  const { config } = load(
    yaml(
      'scrape_configs:',
      '  - job_name: vm',
      '    metric_relabel_configs:',
      '      - action: drop',
      '        regex: [go_.*, process_.*]',
      '        source_labels: [__name__]',
      '      - if: \'{job="vm"}\'',
      '        action: Keep_If_Equal',
      '        source_labels: [a, b]',
      '      - action: graphite',
      '        match: "*.requests.*"',
      '        labels: {__name__: requests_total, job: $1}',
    ),
  );
  const [list, cond, graphite] = config.scrape_configs[0].metric_relabel_configs;
  assert.equal(list.regex, 'go_.*|process_.*');
  assert.deepEqual(cond.if, ['{job="vm"}']);
  assert.equal(cond.action, 'keep_if_equal');
  assert.equal(graphite.match, '*.requests.*');
});

test('examples/tributary.yml loads cleanly', async () => {
  const { config, warnings } = await loadConfigFile(example);
  assert.deepEqual(warnings, []);
  assert.ok(config.scrape_configs.length >= 2);
  assert.deepEqual(config.remote_write, []);
});

// --- Durations, sizes, regexes --------------------------------------------------------------

test('durations parse to milliseconds and round-trip through the canonical form', () => {
  const cases: [string, number, string][] = [
    ['0', 0, '0s'],
    ['0s', 0, '0s'],
    ['1ms', 1, '1ms'],
    ['90s', 90_000, '1m30s'],
    ['1h30m', 5_400_000, '1h30m'],
    ['90d', 90 * 86_400_000, '90d'],
    ['14d', 14 * 86_400_000, '2w'],
    ['365d', 365 * 86_400_000, '1y'],
    [
      '1y2w3d4h5m6s7ms',
      31_536_000_000 + 2 * 604_800_000 + 3 * 86_400_000 + 4 * 3_600_000 + 5 * 60_000 + 6_000 + 7,
      '382d4h5m6s7ms',
    ],
  ];
  for (const [text, ms, canonical] of cases) {
    assert.equal(parseDuration(text), ms, text);
    assert.equal(formatDuration(ms), canonical, text);
    assert.equal(parseDuration(formatDuration(ms)), ms, text);
  }
  for (const ms of [1, 999, 1_000, 59_999, 86_400_000 * 7 * 3 + 1, 123_456_789_012]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
  const errors: [string, RegExp][] = [
    ['', /empty/],
    ['5', /missing unit after 5/],
    ['1h1h', /unit "h" appears twice/],
    ['5m1h', /unit "h" after "m"/],
    ['1.5h', /fractions are not allowed/],
    ['-1s', /negative/],
    ['3x', /unknown unit "x"/],
    ['1 h', /unexpected " "/],
    ['300y', /out of range/],
  ];
  for (const [text, re] of errors) assert.throws(() => parseDuration(text), re, text);
});

test('sizes use 1024-based units and require one', () => {
  assert.equal(parseSize('0'), 0);
  assert.equal(parseSize('512B'), 512);
  assert.equal(parseSize('100MB'), 100 * 1024 * 1024);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('1GB512MB'), 1024 ** 3 + 512 * 1024 ** 2);
  assert.throws(() => parseSize('10'), /missing unit/);
  assert.throws(() => parseSize('10XB'), /unknown unit "XB"/);
});

test('RE2 regexes translate to anchored JavaScript regexes', () => {
  const matches = (re: string, s: string) => compileAnchoredRegex(re).test(s);
  assert.ok(matches('foo', 'foo'));
  assert.ok(!matches('foo', 'foobar'), 'anchored at both ends');
  assert.ok(matches('(?i)foo', 'FOO'));
  assert.ok(matches('(?P<name>a+)b', 'aab'));
  assert.ok(matches('[[:digit:]]+', '123'));
  assert.ok(matches('[\\w-.]+', 'a-b.c'));
  assert.ok(matches('a\\-b\\_c', 'a-b_c'), 'RE2 escapes any punctuation');
  assert.ok(matches('\\Q.*\\E', '.*'));
  assert.ok(matches('{x}', '{x}'), 'a brace that is not a repetition is literal');
  assert.ok(matches('a{2}', 'aa'));
  assert.ok(matches('a.b', 'a\nb'), 'Prometheus compiles ^(?s:...)$');
  assert.ok(!matches('(?-s)a.b', 'a\nb'));
  assert.throws(() => compileAnchoredRegex('(a)\\1'), /backreferences/);
  assert.ok(matches('a(?i)b', 'aB'), 'flags anywhere, as in RE2');
  assert.throws(() => compileAnchoredRegex('a(b'), SyntaxError);
});

test('label names valid only under UTF-8 names load with a warning (promtool 2.x refuses them)', () => {
  const { warnings } = parseConfigText(
    'global:\n  external_labels: {"1x": a}\nscrape_configs:\n  - job_name: j\n    static_configs: [{targets: ["h:1"], labels: {"0bad": x, ok: y}}]\n',
    'p.yml',
  );
  assert.deepEqual(
    warnings.map((w) => w.path),
    ['global.external_labels["1x"]', 'scrape_configs[0].static_configs[0].labels["0bad"]'],
  );
  assert.ok(warnings.every((w) => /Prometheus 2 refuses it/.test(w.message)));
  const legacyOk = parseConfigText('scrape_configs:\n  - job_name: j\n    static_configs: [{targets: ["h:1"], labels: {ok: y}}]\n', 'p.yml');
  assert.deepEqual(legacyOk.warnings, []);
});

test('ingest: two listeners on one port are refused at load, naming both keys; port 0 and distinct ports load', () => {
  oneIssue(yaml('ingest:', '  influx: {listen_address: 127.0.0.1:12010}', '  graphite:', '    listen_address: 127.0.0.1:12010'), {
    line: 4,
    path: 'ingest.graphite.listen_address',
    message: /also ingest\.influx\.listen_address's address/,
  });
  oneIssue(yaml('ingest:', '  opentsdb: {listen_address: ":4242", http_listen_address: "127.0.0.1:4242"}'), {
    line: 2,
    path: 'ingest.opentsdb.http_listen_address',
  });
  const ok = load(yaml('ingest:', '  influx: {listen_address: 127.0.0.1:0}', '  graphite: {listen_address: 127.0.0.1:0}', '  opentsdb: {listen_address: 127.0.0.1:4242, http_listen_address: 127.0.0.1:4243}'));
  assert.equal(ok.config.ingest.opentsdb.http_listen_address, '127.0.0.1:4243');
});

test("--remote-write-url sends vmagent's batch size; a file's URL keeps Prometheus' default", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rwflag-'));
  try {
    const file = join(dir, 'tributary.yml');
    writeFileSync(file, 'remote_write:\n  - url: http://127.0.0.1:1/file\n');
    const { config } = await resolveConfig({ configFile: file, remoteWriteUrls: ['http://127.0.0.1:1/flag'] });
    const byUrl = Object.fromEntries(config.remote_write.map((rw) => [rw.url, rw.queue_config.max_samples_per_send]));
    assert.deepEqual(byUrl, { 'http://127.0.0.1:1/file': 2_000, 'http://127.0.0.1:1/flag': FLAG_URL_SAMPLES_PER_SEND });
    assert.equal(FLAG_URL_SAMPLES_PER_SEND, 10_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
