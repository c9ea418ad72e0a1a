/**
 * Scrape clusters (vmagent's -promscrape.cluster.*): how targets are shared out (every target
 * exactly replication_factor times, evenly, few moves when a member joins), what a member
 * shows about the targets it leaves to others, the config keys and flags, and three real
 * agents writing into a real VictoriaMetrics, reloaded to four members, with no gap in storage
 * longer than the scrape interval.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseMemberNum } from '../../src/config/cluster.js';
import { ClusterMembership, ScrapeManager } from '../../src/scrape/index.js';
import { targetDiscovery } from '../../src/scrape/pages/targets-api.js';
import { renderTargetsText } from '../../src/scrape/pages/targets-page.js';
import { Registry } from '../../src/selfmetrics/registry.js';
import { silentLogger } from '../../src/log/logger.js';
import { runCli, startAgent } from '../helpers/cli-process.js';
import { requirePeer, VICTORIA_METRICS } from '../helpers/peers.js';
import { startVictoriaMetricsFor } from '../helpers/vm-peer.js';
import { stopProcess } from '../helpers/prometheus-peer.js';
import { RecordingSink, scrapeConfigs, selfMetricValue, startTarget, waitFor } from '../helpers/scrape-harness.js';

const member = (count: number, num: number, rf = 1) => new ClusterMembership({ members_count: count, member_num: num, replication_factor: rf, name: '' });
const keys = Array.from({ length: 2000 }, (_, i) => `{instance="10.0.${i >> 8}.${i & 255}:9100",job="node"}\nhttp://10.0.${i >> 8}.${i & 255}:9100/metrics`);

test('each target goes to exactly one of the members, evenly', () => {
  const counts = [0, 0, 0, 0];
  for (const k of keys) {
    const owners = [0, 1, 2, 3].filter((m) => member(4, m).owns(k));
    assert.equal(owners.length, 1, k);
    assert.deepEqual(member(4, 0).owners(k), owners);
    counts[owners[0]]++;
  }
  for (const c of counts) assert.ok(Math.abs(c - 500) < 75, `uneven: ${counts.join(', ')}`);
});

test('replication_factor 2: each target on two distinct members; at or above the count, on all', () => {
  for (const k of keys.slice(0, 300)) {
    const owners = [0, 1, 2].filter((m) => member(3, m, 2).owns(k));
    assert.equal(owners.length, 2);
    assert.deepEqual([...member(3, 0, 2).owners(k)].sort(), owners);
  }
  assert.ok(keys.every((k) => member(3, 1, 5).owns(k)));
});

test('from 3 members to 4, only the targets the new member wins move, about a quarter', () => {
  let moved = 0;
  for (const k of keys) {
    const before = member(3, 0).owners(k)[0];
    const after = member(4, 0).owners(k)[0];
    if (before !== after) {
      moved++;
      assert.equal(after, 3, 'a target moved between old members');
    }
  }
  assert.ok(moved > keys.length * 0.2 && moved < keys.length * 0.3, `moved ${moved} of ${keys.length}`);
});

test('member_num: a number or a StatefulSet pod name', () => {
  assert.equal(parseMemberNum('2'), 2);
  assert.equal(parseMemberNum('vmagent-0'), 0);
  assert.equal(parseMemberNum('tributary-shard-12'), 12);
  assert.throws(() => parseMemberNum('vmagent'), /StatefulSet pod name/);
  assert.throws(() => parseMemberNum('-1'), /must be 0 or more, got -1/);
});

test('the cluster section: defaults, pod names, and a member outside the count named by key', async () => {
  const base = 'scrape_configs: []\n';
  assert.deepEqual(parseConfigText(base, 't.yml').config.cluster, { members_count: 1, member_num: 0, replication_factor: 1, name: '' });
  const c = parseConfigText(`${base}cluster: {members_count: 3, member_num: agent-2, replication_factor: 2, name: eu}\n`, 't.yml').config.cluster;
  assert.deepEqual(c, { members_count: 3, member_num: 2, replication_factor: 2, name: 'eu' });
  assert.throws(
    () => parseConfigText(`${base}cluster: {members_count: 3, member_num: 3}\n`, 't.yml'),
    (err: unknown) => err instanceof ConfigError && /cluster\.member_num/.test(err.message) && /outside 0…2/.test(err.message),
  );
  assert.throws(() => parseConfigText(`${base}cluster: {members: 3}\n`, 't.yml'), /members/);
  // flags (vmagent's names or ours) over the file, checked together
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cluster-'));
  try {
    const file = join(dir, 'c.yml');
    writeFileSync(file, `${base}cluster: {members_count: 4}\n`);
    const r = await resolveConfig({ configFile: file, cluster: { member_num: 'vmagent-3' } });
    assert.equal(r.config.cluster.member_num, 3);
    assert.equal(r.config.cluster.members_count, 4);
    await assert.rejects(resolveConfig({ configFile: file, cluster: { member_num: '4' } }), /--cluster\.member-num: member_num 4 is outside/);
    // a flag that overrides the file's own value says so (flags win on reload too)
    const over = await resolveConfig({ configFile: file, cluster: { members_count: '3' } });
    assert.equal(over.config.cluster.members_count, 3);
    assert.ok(over.warnings.some((w) => w.path === 'cluster.members_count' && /file's 4 is overridden by --cluster\.members-count 3/.test(w.message)));
    // vmagent's one-dash spelling reaches the same setting
    const cli = await runCli(['--config', file, '-promscrape.cluster.memberNum=9', '--log-format', 'json']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /member_num 9 is outside 0…3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('three members share a job: each scrapes its own, shows the others as owned by member k', async (t) => {
  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('m 1\n');
  });
  t.after(() => target.close());
  const yaml = `scrape_configs:
  - job_name: shared
    scrape_interval: 1s
    static_configs:
${Array.from({ length: 30 }, (_, i) => `      - {targets: ['${target.address}'], labels: {t: '${i}'}}`).join('\n')}
`;
  const members = [0, 1, 2].map((m) => {
    const registry = new Registry();
    const manager = new ScrapeManager({ sink: new RecordingSink(), logger: silentLogger, registry });
    manager.apply(scrapeConfigs(yaml), member(3, m));
    return { manager, registry };
  });
  t.after(() => Promise.all(members.map((m) => m.manager.close())));
  await Promise.all(members.map((m) => m.manager.ready()));

  const seen = new Map<string, number>();
  for (const [m, { manager, registry }] of members.entries()) {
    const [pool] = manager.pools();
    for (const a of pool.active) {
      assert.ok(!seen.has(a.labels.get('t')!), `target ${a.labels.get('t')} on two members`);
      seen.set(a.labels.get('t')!, m);
    }
    assert.equal(pool.active.length + pool.otherMembers.length, 30);
    for (const o of pool.otherMembers) assert.notEqual(o.members[0], m);
    // the page and the API say who has the others
    const text = renderTargetsText([pool], { state: undefined, job: undefined, collapseHealthy: false }, Date.now());
    assert.equal(text.split('\n').filter((l) => /state=owned by member [0-2],/.test(l)).length, pool.otherMembers.length);
    const api = targetDiscovery([pool], new URLSearchParams());
    assert.equal(api.activeTargets.length, pool.active.length);
    assert.equal(api.droppedTargets.filter((d) => d.ownedByMembers?.length === 1).length, pool.otherMembers.length);
    // the targets gauge counts its own only
    await waitFor('scrapes', () => manager.pools()[0].active.every((a) => a.health === 'up'), 5000);
    assert.equal(selfMetricValue(registry, 'tributary_scrape_targets', { job: 'shared', state: 'up' }), pool.active.length);
    assert.equal(selfMetricValue(registry, 'tributary_scrape_targets_other_members', { job: 'shared' }), pool.otherMembers.length);
  }
  assert.equal(seen.size, 30);
  // each member's others are exactly what the rest scrape
  for (const [m, { manager }] of members.entries()) {
    for (const o of manager.pools()[0].otherMembers) assert.equal(seen.get(o.labels.get('t')!), o.members[0], `member ${m}`);
  }
});

test('three agents into VictoriaMetrics, reloaded to four: every target scraped throughout, no gap over one interval', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cluster-vm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const vmUrl = await startVictoriaMetricsFor(t);

  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('cluster_test_metric 1\n');
  });
  t.after(() => target.close());
  const TARGETS = 40;
  const INTERVAL_MS = 1000;
  const config = (count: number, num: number) => `cluster: {members_count: ${count}, member_num: tributary-${num}}
scrape_configs:
  - job_name: sharded
    scrape_interval: 1s
    static_configs:
${Array.from({ length: TARGETS }, (_, i) => `      - {targets: ['${target.address}'], labels: {t: '${i}'}}`).join('\n')}
remote_write:
  - url: ${vmUrl}/api/v1/write
    queue_config: {batch_send_deadline: 200ms}
`;
  const files = [0, 1, 2, 3].map((m) => join(dir, `member-${m}.yml`));
  for (const m of [0, 1, 2]) writeFileSync(files[m], config(3, m));
  const agents = await Promise.all([0, 1, 2].map((m) => startAgent(['--config', files[m]])));
  t.after(() => Promise.all(agents.map((a) => stopProcess(a.child))));
  const ownTargets = async (address: string) => {
    const body = (await (await fetch(`http://${address}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { t: string } }[] } };
    return body.data.activeTargets.map((a) => a.labels.t);
  };
  const before = await Promise.all(agents.map((a) => ownTargets(a.address)));
  assert.equal(before.flat().length, TARGETS);
  assert.equal(new Set(before.flat()).size, TARGETS);
  await new Promise((r) => setTimeout(r, 4000));

  // grow: the new member starts first, then the others take the new count
  writeFileSync(files[3], config(4, 3));
  const fourth = await startAgent(['--config', files[3]]);
  agents.push(fourth);
  for (const m of [0, 1, 2]) writeFileSync(files[m], config(4, m));
  for (const a of agents.slice(0, 3)) assert.equal((await fetch(`http://${a.address}/-/reload`, { method: 'POST' })).status, 200);
  const after = await Promise.all(agents.map((a) => ownTargets(a.address)));
  assert.equal(after.flat().length, TARGETS, 'every target on exactly one member after the reload');
  assert.equal(new Set(after.flat()).size, TARGETS);
  assert.ok(after[3].length > 0, 'the new member took some targets');
  // the old members only gave targets away
  for (const m of [0, 1, 2]) for (const x of after[m]) assert.ok(before[m].includes(x), `target ${x} moved between old members`);
  await new Promise((r) => setTimeout(r, 4000));
  await Promise.all(agents.map((a) => stopProcess(a.child)));

  type Exported = { metric: Record<string, string>; values: number[]; timestamps: number[] };
  let rows: Exported[] = [];
  await waitFor('every target in VictoriaMetrics', async () => {
    await fetch(`${vmUrl}/internal/force_flush`);
    const text = await (await fetch(`${vmUrl}/api/v1/export?match[]=${encodeURIComponent('cluster_test_metric')}`)).text();
    rows = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Exported);
    return rows.length === TARGETS;
  }, 15_000);
  const moved = new Set(after[3]);
  for (const row of rows) {
    const ts = [...row.timestamps].sort((a, b) => a - b);
    assert.ok(ts.length >= 8, `target ${row.metric.t}: ${ts.length} samples`);
    const gaps = ts.slice(1).map((x, i) => x - ts[i]);
    const worst = Math.max(...gaps);
    // the phase is the target's own, whoever scrapes it: a tenth of an interval covers jitter
    assert.ok(worst <= INTERVAL_MS * 1.1, `target ${row.metric.t}${moved.has(row.metric.t) ? ' (moved)' : ''}: a gap of ${worst} ms`);
    // a target that moved has no staleness marker where it left
    assert.ok(row.values.every((v) => Number.isFinite(v)), `target ${row.metric.t}: a staleness marker`);
  }
});
