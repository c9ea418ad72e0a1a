/**
 * Configuration spread over files: `scrape_config_files` includes, and relative paths resolved
 * against the directory of the file they are written in. Every test builds its files in a fresh
 * temporary directory.
 */

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ConfigError, loadConfigFile, parseConfigText } from '../../src/config/index.js';
import type { ConfigIssue, Env, TributaryConfig } from '../../src/config/index.js';
import { runCli } from '../helpers/cli-process.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Lines joined with \n, so a test reads its own line numbers off the array index (+1). */
const yaml = (...lines: string[]) => lines.join('\n') + '\n';

/** Writes `files` (relative path → content) under a new directory and returns the directory. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tributary-config-files-'));
  dirs.push(root);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

async function issuesOf(file: string, env: Env = {}): Promise<ConfigIssue[]> {
  try {
    await loadConfigFile(file, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return [...err.issues];
  }
  assert.fail('expected the configuration to be rejected');
}

const jobNames = (config: TributaryConfig) => config.scrape_configs.map((c) => c.job_name);

const show = (issues: readonly ConfigIssue[]) => issues.map((i) => JSON.stringify(i)).join('\n');

test('jobs of included files follow the main file and inherit its global', async () => {
  const root = tree({
    'prometheus.yml': yaml(
      'global:',
      '  scrape_interval: 7s',
      '  sample_limit: 500',
      '  metric_name_validation_scheme: legacy',
      'scrape_config_files: [jobs/*.yml]',
      'scrape_configs:',
      '  - job_name: main',
    ),
    'jobs/a.yml': yaml(
      'scrape_configs:',
      '  - job_name: a',
      '    static_configs: [{targets: [a:9100]}]',
      '  - job_name: b',
      '    scrape_interval: 3s',
      '    sample_limit: 20',
    ),
  });
  const { config, warnings } = await loadConfigFile(join(root, 'prometheus.yml'), {});
  // legacy validation is applied to the configuration only, which a warning says
  assert.deepEqual(warnings.map((w) => w.path), ['global.metric_name_validation_scheme']);
  assert.deepEqual(jobNames(config), ['main', 'a', 'b']);
  const [main, a, b] = config.scrape_configs;
  // An included job resolves exactly as the same job written in the main file would.
  assert.deepEqual({ ...a, job_name: 'main', static_configs: [] }, main);
  assert.equal(a.scrape_interval, 7_000);
  assert.equal(a.scrape_timeout, 7_000);
  assert.equal(a.sample_limit, 500);
  assert.equal(a.metric_name_validation_scheme, 'legacy');
  assert.equal(b.scrape_interval, 3_000);
  assert.equal(b.scrape_timeout, 3_000);
  assert.equal(b.sample_limit, 20);
});

test("checks that depend on the main file's global point into the included file", async () => {
  const root = tree({
    'main.yml': yaml('global:', '  scrape_interval: 10s', 'scrape_config_files: [jobs.yml]'),
    'jobs.yml': yaml(
      'scrape_configs:',
      '  - job_name: slow',
      '    scrape_timeout: 30s',
      '  - job_name: legacy',
      '    metric_name_validation_scheme: legacy',
      '    metric_name_escaping_scheme: allow-utf-8',
    ),
  });
  const issues = await issuesOf(join(root, 'main.yml'));
  assert.deepEqual(
    issues.map((i) => [i.file, i.line, i.column, i.path]),
    [
      [join(root, 'jobs.yml'), 3, 21, 'scrape_configs[0].scrape_timeout'],
      [join(root, 'jobs.yml'), 6, 34, 'scrape_configs[1].metric_name_escaping_scheme'],
    ],
    show(issues),
  );
  assert.match(issues[0].message, /\(30s\) must not be greater than scrape_interval \(10s, from global\)/);
});

test('patterns expand in pattern order, then file name order; a file matched twice is read once', async () => {
  const job = (name: string) => yaml('scrape_configs:', `  - job_name: ${name}`);
  const root = tree({
    'main.yml': yaml('scrape_config_files:', '  - b/*.yml', '  - a/?.yml', '  - b/1.yml'),
    'b/2.yml': job('b2'),
    'b/10.yml': job('b10'),
    'b/1.yml': job('b1'),
    'b/skipped.yaml': job('not-matched'),
    'a/x.yml': job('ax'),
    'a/xy.yml': job('not-matched-either'),
  });
  const { config } = await loadConfigFile(join(root, 'main.yml'), {});
  assert.deepEqual(jobNames(config), ['b1', 'b10', 'b2', 'ax']);
});

test('a pattern that matches no file is not an error', async () => {
  const root = tree({
    'main.yml': yaml(
      'scrape_config_files: [missing-dir/*.yml, absent.yml, "*.json"]',
      'scrape_configs:',
      '  - job_name: only',
    ),
  });
  const { config, warnings } = await loadConfigFile(join(root, 'main.yml'), {});
  assert.deepEqual(warnings, []);
  assert.deepEqual(jobNames(config), ['only']);
});

test('an included file allows scrape_configs only; problems carry its own file, line and column', async () => {
  const root = tree({
    'main.yml': yaml('# the jobs live elsewhere', 'scrape_config_files: [conf.d/*.yml]'),
    'conf.d/1.yml': yaml(
      'scrape_configs:',
      '  - job_name: node',
      '    scrape_intervall: 5s',
    ),
    'conf.d/2.yml': yaml('global:', '  scrape_interval: 1s', 'scrape_configs: []'),
    'conf.d/3.yml': '- job_name: not-a-mapping\n',
  });
  const issues = await issuesOf(join(root, 'main.yml'));
  assert.deepEqual(
    issues.map((i) => [relative(root, i.file), i.line, i.column, i.path]),
    [
      ['conf.d/1.yml', 3, 5, 'scrape_configs[0].scrape_intervall'],
      ['conf.d/2.yml', 1, 1, 'global'],
      ['conf.d/3.yml', 1, 1, ''],
    ],
    show(issues),
  );
  assert.match(issues[0].message, /unknown key "scrape_intervall"; did you mean "scrape_interval"\?/);
  assert.match(issues[1].message, /unknown key "global"/);
  assert.match(issues[2].message, /must hold a mapping with scrape_configs, not a list/);
});

test('job names are unique across the main file and every included file', async () => {
  const root = tree({
    'prometheus.yml': yaml('scrape_config_files: [jobs/*.yml]', 'scrape_configs:', '  - job_name: node'),
    'jobs/a.yml': yaml('scrape_configs:', '  - job_name: app'),
    'jobs/b.yml': yaml('scrape_configs:', '  - job_name: db', '  - job_name: app', '  - job_name: db'),
    'jobs/c.yml': yaml('scrape_configs:', '  - job_name: node'),
  });
  const issues = await issuesOf(join(root, 'prometheus.yml'));
  assert.deepEqual(
    issues.map((i) => [relative(root, i.file), i.line, i.column, i.path, i.message]),
    [
      [
        'jobs/b.yml',
        3,
        15,
        'scrape_configs[1].job_name',
        `duplicate job_name "app" (first defined in ${join(root, 'jobs/a.yml')})`,
      ],
      ['jobs/b.yml', 4, 15, 'scrape_configs[2].job_name', 'duplicate job_name "db" (first used by scrape_configs[0])'],
      [
        'jobs/c.yml',
        2,
        15,
        'scrape_configs[0].job_name',
        `duplicate job_name "node" (first defined in ${join(root, 'prometheus.yml')})`,
      ],
    ],
    show(issues),
  );
});

test('%{ENV} is expanded in included files, and a missing variable is reported there', async () => {
  const root = tree({
    'main.yml': yaml('scrape_config_files: ["%{JOBS_DIR}/*.yml"]'),
    'jobs/a.yml': yaml('scrape_configs:', '  - job_name: "%{JOB}"'),
  });
  const { config } = await loadConfigFile(join(root, 'main.yml'), { JOBS_DIR: 'jobs', JOB: 'from-env' });
  assert.deepEqual(jobNames(config), ['from-env']);
  const issues = await issuesOf(join(root, 'main.yml'), { JOBS_DIR: 'jobs' });
  assert.deepEqual(
    issues.map((i) => [relative(root, i.file), i.line, i.column]),
    [['jobs/a.yml', 2, 16]],
    show(issues),
  );
  assert.match(issues[0].message, /environment variable JOB is not defined/);
});

test('patterns with wildcards before the last component are refused; an unreadable match names it', async () => {
  const bad = tree({ 'main.yml': yaml('scrape_config_files:', '  - ok/*.yml', '  - "*/jobs.yml"') });
  const issues = await issuesOf(join(bad, 'main.yml'));
  assert.deepEqual(
    issues.map((i) => [i.line, i.column, i.path]),
    [[3, 5, 'scrape_config_files[1]']],
    show(issues),
  );
  assert.match(issues[0].message, /wildcards \(\* and \?\) are allowed in the last path component only/);

  const dir = tree({ 'main.yml': yaml('scrape_config_files:', '  - jobs/*'), 'jobs/sub/a.yml': '' });
  const [unreadable, ...rest] = await issuesOf(join(dir, 'main.yml'));
  assert.deepEqual(rest, []);
  assert.deepEqual([unreadable.file, unreadable.line, unreadable.column], [join(dir, 'main.yml'), 2, 5]);
  assert.match(unreadable.message, new RegExp(`cannot read ${join(dir, 'jobs/sub')}: EISDIR`));
});

test('relative paths are resolved against the directory of the file that holds them', async () => {
  const root = tree({
    'conf/main.yml': yaml(
      'global:',
      '  scrape_failure_log_file: failures.log',
      '  query_log_file: /var/log/queries.log',
      'scrape_config_files: [jobs/*.yml]',
      'scrape_configs:',
      '  - job_name: files',
      '    file_sd_configs:',
      '      - files: [targets/*.json, /etc/targets/abs.yml]',
      '    tls_config:',
      '      ca_file: ca.pem',
      '      cert_file: ../certs/client.pem',
      '      key_file: /etc/keys/client.key',
      '    basic_auth:',
      '      username: u',
      '      password_file: secrets/password',
      '    http_sd_configs:',
      '      - url: http://sd.example/targets',
      '        bearer_token_file: sd-token',
      '        http_headers:',
      '          X-Key: {files: [header.txt]}',
      'remote_write:',
      '  - url: http://rw.example/write',
      '    oauth2:',
      '      client_id: c',
      '      client_secret_file: oauth-secret',
      '      token_url: http://auth.example/token',
      '      tls_config: {ca_file: oauth-ca.pem}',
      'server:',
      '  data_dir: state',
      '  tls: {cert_file: tls.crt, key_file: /etc/tls.key, client_ca_file: clients.pem}',
      '  access: {bearer_token_files: [tokens/admin]}',
      'gateway:',
      '  sources:',
      '    - name: textfile',
      '      file: {path: textfile/backup.prom}',
      '    - name: exporter',
      '      http:',
      '        url: http://127.0.0.1:9100/metrics',
      '        authorization: {credentials_file: exporter-token}',
      '    - name: local-script',
      '      script: {command: ./bin/status.sh}',
      '    - name: path-script',
      '      script: {command: python3}',
      '  push:',
      '    listeners:',
      '      - {unix: run/push.sock, format: json}',
      '  paths:',
      '    - path: /metrics',
      '      access: {bearer_token_files: [tokens/scraper, /etc/tokens/other]}',
    ),
    'conf/jobs/more.yml': yaml(
      'scrape_configs:',
      '  - job_name: included',
      '    file_sd_configs: [{files: [more/*.yml]}]',
      '    basic_auth: {username: u, password_file: ../secrets/included-password}',
    ),
  });
  const conf = join(root, 'conf');
  const at = (p: string) => join(conf, p);
  const { config } = await loadConfigFile(join(conf, 'main.yml'), {});

  assert.equal(config.global.scrape_failure_log_file, at('failures.log'));
  assert.equal(config.global.query_log_file, '/var/log/queries.log');
  assert.deepEqual(config.scrape_config_files, [at('jobs/*.yml')]);

  const [files, included] = config.scrape_configs;
  assert.deepEqual(files.file_sd_configs[0].files, [at('targets/*.json'), '/etc/targets/abs.yml']);
  assert.deepEqual(files.tls_config, {
    ca_file: at('ca.pem'),
    cert_file: join(root, 'certs/client.pem'),
    key_file: '/etc/keys/client.key',
  });
  assert.deepEqual(files.basic_auth, { username: 'u', password_file: at('secrets/password') });
  assert.equal(files.scrape_failure_log_file, at('failures.log'));
  assert.deepEqual(files.http_sd_configs[0].authorization, { type: 'Bearer', credentials_file: at('sd-token') });
  assert.deepEqual(files.http_sd_configs[0].http_headers, { 'X-Key': { files: [at('header.txt')] } });

  // An included job's own paths are relative to its file; what it inherits stays the main file's.
  assert.equal(included.job_name, 'included');
  assert.deepEqual(included.file_sd_configs[0].files, [at('jobs/more/*.yml')]);
  assert.deepEqual(included.basic_auth, { username: 'u', password_file: at('secrets/included-password') });
  assert.equal(included.scrape_failure_log_file, at('failures.log'));

  const oauth2 = config.remote_write[0].oauth2;
  assert.equal(oauth2?.client_secret_file, at('oauth-secret'));
  assert.deepEqual(oauth2?.tls_config, { ca_file: at('oauth-ca.pem') });

  assert.equal(config.server.data_dir, at('state'));
  assert.deepEqual(
    [config.server.tls?.cert_file, config.server.tls?.key_file, config.server.tls?.client_ca_file],
    [at('tls.crt'), '/etc/tls.key', at('clients.pem')],
  );
  assert.deepEqual(config.server.access?.bearer_token_files, [at('tokens/admin')]);
  const [textfile, exporter, localScript, pathScript] = config.gateway.sources;
  assert.equal(textfile.file?.path, at('textfile/backup.prom'));
  assert.equal(exporter.http?.authorization?.credentials_file, at('exporter-token'));
  assert.equal(localScript.script?.command, at('bin/status.sh'));
  // A bare command name is found through PATH, not in the configuration's directory.
  assert.equal(pathScript.script?.command, 'python3');
  assert.equal(config.gateway.push.listeners[0].unix, at('run/push.sock'));
  assert.deepEqual(config.gateway.paths[0].access?.bearer_token_files, [at('tokens/scraper'), '/etc/tokens/other']);

  // The same file named relative to the working directory means the same paths.
  const again = await loadConfigFile(relative(process.cwd(), join(conf, 'main.yml')), {});
  assert.deepEqual(again.config, config);
});

test('configuration text has no directory: paths stay as written and includes are not read', () => {
  const { config, warnings } = parseConfigText(
    yaml(
      'scrape_config_files: [jobs/*.yml]',
      'scrape_configs:',
      '  - job_name: a',
      '    file_sd_configs: [{files: [targets/*.json]}]',
      'server: {data_dir: ./data}',
    ),
    'text.yml',
    {},
  );
  assert.deepEqual(config.scrape_config_files, ['jobs/*.yml']);
  assert.deepEqual(config.scrape_configs[0].file_sd_configs[0].files, ['targets/*.json']);
  assert.equal(config.server.data_dir, './data');
  assert.deepEqual(
    warnings.map((w) => [w.line, w.path]),
    [[1, 'scrape_config_files']],
  );
  assert.match(warnings[0].message, /only when the configuration is loaded from a file/);
});

test('warnings of included files name the included file', async () => {
  const root = tree({
    'main.yml': yaml('scrape_config_files: [ec2.yml]'),
    'ec2.yml': yaml('scrape_configs:', '  - job_name: nodes', '    ec2_sd_configs: [{region: eu-west-1}]'),
  });
  const { warnings } = await loadConfigFile(join(root, 'main.yml'), {});
  assert.deepEqual(
    warnings.map((w) => [w.file, w.line, w.path, w.message]),
    [[join(root, 'ec2.yml'), 3, 'scrape_configs[0].ec2_sd_configs', 'not supported yet; ignored']],
  );
});

test('check-config validates the included files too', async () => {
  const root = tree({
    'good.yml': yaml('scrape_config_files: [good.d/*.yml]'),
    'good.d/jobs.yml': yaml('scrape_configs:', '  - job_name: node'),
    'bad.yml': yaml('scrape_config_files: [bad.d/*.yml]', 'scrape_configs:', '  - job_name: node'),
    'bad.d/jobs.yml': yaml('scrape_configs:', '  - job_name: app', '    metrics_pth: /m'),
  });
  const ok = await runCli(['check-config', join(root, 'good.yml')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /good\.yml: OK/);

  const failed = await runCli(['check-config', join(root, 'bad.yml')]);
  assert.equal(failed.code, 1, failed.stdout);
  const included = join(root, 'bad.d/jobs.yml');
  assert.ok(
    failed.stderr.includes(`${included}:3:5: scrape_configs[0].metrics_pth: unknown key "metrics_pth"`),
    failed.stderr,
  );
  assert.match(failed.stderr, /bad\.yml: FAILED \(1 problem\)/);
});
