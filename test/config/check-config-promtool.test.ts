/**
 * `tributary check-config` side by side with `promtool check config` (2.42) on the same files:
 * what promtool refuses, check-config refuses too (both exit non-zero), and says where — the
 * file, line and key. Where promtool 2.42 predates the key (scrape_config_files), only
 * Tributary's answer is checked.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli-process.js';
import { PROMTOOL, requirePeer } from '../helpers/peers.js';

function tree(t: TestContext, files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'tributary-check-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

function promtool(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, ['check', 'config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

interface Case {
  name: string;
  files: Record<string, string | Buffer>;
  /** What check-config's error must say: file:line:column: key: message. */
  expect: RegExp;
  /** promtool 2.42 knows the key and refuses the file. */
  promtool: boolean;
  /** The file that is valid again once fixed, to show the check is about this one thing. */
  fixed?: Record<string, string | Buffer>;
}

const job = (extra: string) => `scrape_configs:\n  - job_name: a\n${extra}`;
const sd = job("    file_sd_configs:\n      - files: ['targets/*.json', 'targets/*.yml']\n");

const CASES: Case[] = [
  {
    name: 'a file_sd JSON file that is not a list of target groups',
    files: { 'main.yml': sd, 'targets/a.json': '{"targets": ["h:1"]}' },
    expect: /main\.yml:4:17: scrape_configs\[0\]\.file_sd_configs\[0\]\.files\[0\]: file_sd file .*targets\/a\.json: expected a list of target groups/,
    promtool: true,
    fixed: { 'targets/a.json': '[{"targets": ["h:1"]}]' },
  },
  {
    name: 'a file_sd JSON file that does not parse',
    files: { 'main.yml': sd, 'targets/a.json': '[{"targets": ["h:1"]},\n garbage' },
    expect: /main\.yml:4:17: scrape_configs\[0\]\.file_sd_configs\[0\]\.files\[0\]: file_sd file .*a\.json: invalid JSON at line 2, column 2/,
    promtool: true,
  },
  {
    name: 'a file_sd group with an empty label name',
    files: { 'main.yml': sd, 'targets/a.yml': '- targets: ["h:1"]\n  labels: {"": x}\n' },
    expect: /main\.yml:4:35: scrape_configs\[0\]\.file_sd_configs\[0\]\.files\[1\]: file_sd file .*a\.yml: target group 0: empty label name/,
    promtool: true,
    fixed: { 'targets/a.yml': '- targets: ["h:1"]\n  labels: {x: y}\n' },
  },
  {
    name: 'a file_sd YAML file with an unknown key',
    files: { 'main.yml': sd, 'targets/a.yml': '- targets: ["h:1"]\n  lables: {x: y}\n' },
    expect: /files\[1\]: file_sd file .*a\.yml: target group 0: unknown key "lables"/,
    promtool: true,
  },
  {
    name: 'a file_sd target that is not an address',
    files: { 'main.yml': sd, 'targets/a.yml': '- targets: ["h:1", "bad host/x"]\n' },
    expect: /files\[1\]: file_sd file .*a\.yml: target group 0: "bad host\/x" is not a valid target address/,
    promtool: true,
    fixed: { 'targets/a.yml': '- targets: ["h:1", "host:2"]\n' },
  },
  {
    name: 'a file_sd YAML file that is not UTF-8',
    files: { 'main.yml': sd, 'targets/a.yml': Buffer.from('- targets: ["h:1"]\n  labels: {x: "v\xff"}\n', 'latin1') },
    expect: /files\[1\]: file_sd file .*a\.yml: invalid YAML at line 2, column 17: not valid UTF-8 \(byte 0xff\)/,
    promtool: true,
  },
  {
    name: 'replacement on a lowercase action',
    files: { 'main.yml': job('    relabel_configs:\n      - {action: lowercase, source_labels: [x], target_label: y, replacement: z}\n') },
    expect: /main\.yml:4:79: scrape_configs\[0\]\.relabel_configs\[0\]\.replacement: replacement cannot be set for the lowercase action/,
    promtool: true,
    fixed: { 'main.yml': job('    relabel_configs:\n      - {action: lowercase, source_labels: [x], target_label: y}\n') },
  },
  {
    name: 'replacement on an uppercase action',
    files: { 'main.yml': job('    metric_relabel_configs:\n      - {action: uppercase, source_labels: [x], target_label: y, replacement: $2}\n') },
    expect: /main\.yml:4:79: scrape_configs\[0\]\.metric_relabel_configs\[0\]\.replacement: replacement cannot be set for the uppercase action/,
    promtool: true,
  },
  {
    name: 'a label value that is not UTF-8',
    files: { 'main.yml': Buffer.from('global:\n  external_labels:\n    region: "eu\xff"\n', 'latin1') },
    expect: /main\.yml:3:16: global\.external_labels\.region: not valid UTF-8 \(byte 0xff\)/,
    promtool: true,
  },
  {
    name: 'a label name that is not UTF-8',
    files: { 'main.yml': Buffer.from(job("    static_configs: [{targets: ['h:1'], labels: {\"b\xfe\": v}}]\n"), 'latin1') },
    expect: /main\.yml:3:52: scrape_configs\[0\]\.static_configs\[0\]\.labels\[".*"\]: not valid UTF-8 \(byte 0xfe\)/,
    promtool: true,
  },
  {
    name: 'a comment that is not UTF-8',
    files: { 'main.yml': Buffer.from('# caf\xe9\nscrape_configs: []\n', 'latin1') },
    expect: /main\.yml:1:6: not valid UTF-8 \(byte 0xe9\)/,
    promtool: true,
  },
  {
    name: 'an escape naming half of a surrogate pair',
    files: { 'main.yml': 'global:\n  external_labels:\n    region: "eu\\ud800"\n' },
    expect: /main\.yml:3:13: global\.external_labels\.region: not valid UTF-8: an escape names half of a UTF-16 surrogate pair/,
    promtool: true,
    fixed: { 'main.yml': 'global:\n  external_labels:\n    region: "eu\\u00e9"\n' },
  },
  // Debian's promtool is built without Consul discovery (it refuses consul_sd_configs as an
  // unknown field), so these two are checked on Tributary's side only.
  {
    name: 'a consul_sd_config with an unknown key',
    files: { 'main.yml': job('    consul_sd_configs:\n      - server: localhost:8500\n        service: [web]\n') },
    expect: /main\.yml:5:9: scrape_configs\[0\]\.consul_sd_configs\[0\]\.service: unknown key "service"; did you mean "services"\?/,
    promtool: false,
    fixed: { 'main.yml': job('    consul_sd_configs:\n      - server: localhost:8500\n        services: [web]\n') },
  },
  {
    name: 'a consul_sd_config with both username and basic_auth',
    files: { 'main.yml': job('    consul_sd_configs:\n      - username: a\n        basic_auth: {username: b}\n') },
    expect: /main\.yml:5:9: scrape_configs\[0\]\.consul_sd_configs\[0\]\.basic_auth: at most one of consul SD configuration username and password and basic auth can be configured/,
    promtool: false,
    fixed: { 'main.yml': job('    consul_sd_configs:\n      - basic_auth: {username: b}\n') },
  },
  {
    name: 'a bad file_sd file of a job in an included file',
    files: { 'main.yml': 'scrape_config_files: [jobs/*.yml]\n', 'jobs/a.yml': sd, 'jobs/targets/a.yml': '- targets: ["h:1"]\n  labels: {"": x}\n' },
    expect: /jobs\/a\.yml:4:35: scrape_configs\[0\]\.file_sd_configs\[0\]\.files\[1\]: file_sd file .*targets\/a\.yml: target group 0: empty label name/,
    promtool: false,
  },
  {
    name: 'the same scrape_config_files entry twice',
    files: { 'main.yml': 'scrape_config_files: [jobs.yml, other.yml, jobs.yml]\n', 'jobs.yml': job('') },
    expect: /main\.yml:1:44: scrape_config_files\[2\]: "jobs\.yml" is listed twice \(first as scrape_config_files\[0\]\)/,
    promtool: false,
    fixed: { 'main.yml': 'scrape_config_files: [jobs.yml, other.yml]\n' },
  },
];

for (const c of CASES) {
  test(`check-config refuses ${c.name}${c.promtool ? ', as promtool does' : ''}`, async (t) => {
    const root = tree(t, c.files);
    const main = join(root, 'main.yml');
    const ours = await runCli(['check-config', main]);
    assert.equal(ours.code, 1, ours.stdout + ours.stderr);
    assert.match(ours.stderr, c.expect);
    if (c.promtool && requirePeer(t, PROMTOOL, 'prometheus')) {
      const theirs = await promtool(main);
      assert.notEqual(theirs.code, 0, `promtool accepts it too:\n${theirs.output}`);
    }
    if (c.fixed) {
      for (const [name, content] of Object.entries(c.fixed)) writeFileSync(join(root, name), content);
      const again = await runCli(['check-config', main]);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      if (c.promtool && requirePeer(t, PROMTOOL, 'prometheus')) {
        const theirs = await promtool(main);
        assert.equal(theirs.code, 0, theirs.output);
      }
    }
  });
}
