/**
 * The durable stream between agents and storage, with real parts only: Debian's nats-server
 * (JetStream; one node, or three clustered on localhost), agents started as processes, and
 * VictoriaMetrics as the storage, queried back series by series. Samples are pushed into the
 * publishing agent with explicit timestamps, so what must arrive is known exactly: every sample
 * does, through two consumers sharing one durable, through a NATS outage of 30 s, through a NATS
 * node killed, and through a consumer killed with SIGKILL (redelivered; duplicates allowed).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseNatsUrl } from '../../src/nats/index.js';
import { startAgent, type Started } from '../helpers/cli-process.js';
import { tempDataDir } from '../helpers/fixtures.js';
import { natsUrl, startNats, type NatsNode } from '../helpers/nats-peer.js';
import { NATS_SERVER, requirePeer, VICTORIA_METRICS } from '../helpers/peers.js';
import { stopProcess } from '../helpers/prometheus-peer.js';
import { waitFor } from '../helpers/scrape-harness.js';
import { startVictoriaMetricsFor } from '../helpers/vm-peer.js';

test('nats:// addresses: hosts, subject, stream and replicas, and precise complaints', () => {
  const a = parseNatsUrl('nats://u:p%40ss@10.0.0.1:4222,10.0.0.2:4222/metrics.rw?stream=RW&replicas=3');
  assert.deepEqual(a.servers, ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222']);
  assert.equal(a.subject, 'metrics.rw');
  assert.equal(a.stream, 'RW');
  assert.equal(a.replicas, 3);
  assert.equal(a.pass, 'p@ss');
  assert.ok(!a.shown.includes('p%40ss'));
  assert.equal(parseNatsUrl('nats://h:1/a.b').stream, 'tributary_a_b');
  assert.throws(() => parseNatsUrl('nats://h:1/'), /not nats:\/\/HOST:PORT/);
  assert.throws(() => parseNatsUrl('nats://h:1/a.*'), /not a subject/);
  assert.throws(() => parseNatsUrl('nats://h/a'), /"h" is not HOST:PORT/);
  assert.throws(() => parseNatsUrl('nats://h:1/a?replica=3'), /unknown parameter "replica"/);
  assert.throws(() => parseNatsUrl('nats://h:1/a?replicas=9'), /replicas must be 1 to 5/);
});

test('config: a nats:// remote_write URL; HTTP-only keys beside it are errors; ingest.nats defaults', () => {
  const c = parseConfigText('remote_write: [{url: "nats://127.0.0.1:4222/rw"}]\ningest: {nats: {url: "nats://127.0.0.1:4222/rw"}}\n', 't.yml').config;
  assert.equal(c.remote_write[0].url, 'nats://127.0.0.1:4222/rw');
  assert.deepEqual(c.ingest.nats, { url: 'nats://127.0.0.1:4222/rw', durable: 'tributary', batch: 256, max_ack_pending: 4096, ack_wait: 60_000 });
  assert.throws(() => parseConfigText('remote_write: [{url: "nats://127.0.0.1:4222/rw", basic_auth: {username: a, password: b}}]\n', 't.yml'), /remote_write\[0\]\.basic_auth: a nats:\/\/ URL takes its user and password in the URL/);
  assert.throws(() => parseConfigText('remote_write: [{url: "ftp://x/rw"}]\n', 't.yml'), /must be http, https or nats/);
  assert.throws(() => parseConfigText('ingest: {nats: {url: "nats://h:1/rw", durable: "a.b"}}\n', 't.yml'), /ingest\.nats\.durable/);
  assert.throws(() => parseConfigText('ingest: {nats: {durable: x}}\n', 't.yml'), /ingest\.nats\.url/);
  assert.throws(() => parseConfigText('remote_write: [{url: "nats://h:1/rw", tls_config: {insecure_skip_verify: true}}]\n', 't.yml'), /TLS to NATS is not supported yet/);
  assert.equal(parseConfigText('scrape_configs: []\n', 't.yml').config.ingest.nats, undefined);
});

test('a consumer without remote_write is refused at start (it would acknowledge messages into nowhere); check-config warns', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-nats-conf-'));
  try {
    const file = join(dir, 'c.yml');
    writeFileSync(file, 'ingest: {nats: {url: "nats://127.0.0.1:1/rw"}}\n');
    const loaded = parseConfigText('ingest: {nats: {url: "nats://127.0.0.1:1/rw"}}\n', 'c.yml');
    assert.ok(loaded.warnings.some((w) => w.path === 'ingest.nats' && /no remote_write URL/.test(w.message)));
    await assert.rejects(resolveConfig({ configFile: file }), /ingest\.nats: no remote_write URL/);
    // a URL from the command line is enough
    const ok = await resolveConfig({ configFile: file, remoteWriteUrls: ['http://127.0.0.1:1/api/v1/write'] });
    assert.equal(ok.config.remote_write.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

type Series = Map<string, Map<number, number>>;

let batchNo = 0;
/** Pushes `series` series × `points` samples (VictoriaMetrics import lines) into the agent; returns them. */
async function push(agent: Started, series = 20, points = 5): Promise<Series> {
  const b = batchNo++;
  const base = Date.now() - 60_000 + b * 10;
  const out: Series = new Map();
  const lines: string[] = [];
  for (let i = 0; i < series; i++) {
    const ts = Array.from({ length: points }, (_, k) => base + k * 1000);
    const values = ts.map((_, k) => b * 1000 + i + k / 4);
    lines.push(JSON.stringify({ metric: { __name__: 'nats_test', batch: String(b), i: String(i) }, values, timestamps: ts }));
    out.set(`${b}/${i}`, new Map(ts.map((x, k) => [x, values[k]])));
  }
  const r = await fetch(`http://${agent.address}/api/v1/import`, { method: 'POST', body: lines.join('\n') + '\n' });
  assert.equal(r.status, 204, await r.text());
  return out;
}

function merge(...parts: Series[]): Series {
  const all: Series = new Map();
  for (const p of parts) for (const [k, v] of p) all.set(k, v);
  return all;
}

async function stored(vmUrl: string): Promise<Series> {
  await fetch(`${vmUrl}/internal/force_flush`);
  const text = await (await fetch(`${vmUrl}/api/v1/export?match[]=nats_test`)).text();
  const got: Series = new Map();
  for (const line of text.split('\n').filter(Boolean)) {
    const row = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
    const m = got.get(`${row.metric.batch}/${row.metric.i}`) ?? new Map<number, number>();
    row.timestamps.forEach((ts, k) => m.set(ts, row.values[k]));
    got.set(`${row.metric.batch}/${row.metric.i}`, m);
  }
  return got;
}

/** Waits until every expected sample is in VictoriaMetrics, then compares exactly. */
async function assertArrived(vmUrl: string, want: Series, timeoutMs = 30_000): Promise<void> {
  let got: Series = new Map();
  const count = (s: Series) => [...s.values()].reduce((n, m) => n + m.size, 0);
  await waitFor(`${count(want)} samples in VictoriaMetrics`, async () => {
    got = await stored(vmUrl);
    return [...want].every(([k, m]) => got.get(k)?.size === m.size);
  }, timeoutMs).catch(() => {});
  for (const [k, m] of want) assert.deepEqual(got.get(k), m, `series ${k}: ${count(got)} of ${count(want)} samples stored`);
}

function publisherConfig(dir: string, url: string): string {
  const file = join(dir, `publisher-${batchNo}-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(
    file,
    `ingest: {import: {http: true}}
remote_write:
  - url: "${url}"
    remote_timeout: 2s
    queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 1s}
`,
  );
  return file;
}

function consumerConfig(dir: string, url: string, vmUrl: string, durable = 'storage'): string {
  const file = join(dir, `consumer-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(
    file,
    `ingest: {nats: {url: "${url}", durable: ${durable}, ack_wait: 2s, batch: 16}}
remote_write:
  - url: ${vmUrl}/api/v1/write
    queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 1s}
`,
  );
  return file;
}

async function metric(agent: Started, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://${agent.address}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (labels && !line.includes(labels))) continue;
    if (line[name.length] !== '{' && line[name.length] !== ' ') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function peers(t: import('node:test').TestContext): boolean {
  return requirePeer(t, NATS_SERVER, 'nats-server') && requirePeer(t, VICTORIA_METRICS, 'victoria-metrics');
}

function scratch(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-nats-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function agent(t: import('node:test').TestContext, file: string, dataDir = tempDataDir()): Promise<Started> {
  const a = await startAgent(['--config', file, '--data-dir', dataDir]);
  t.after(() => stopProcess(a.child));
  return a;
}

async function stopNodes(nodes: readonly NatsNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
}

test('agent → JetStream → two consumers on one durable → VictoriaMetrics: every sample, work shared', { timeout: 90_000 }, async (t) => {
  if (!peers(t)) return;
  const dir = scratch(t);
  const nodes = await startNats(dir);
  t.after(() => stopNodes(nodes));
  const vmUrl = await startVictoriaMetricsFor(t);
  const url = natsUrl(nodes, 'metrics.rw');
  const publisher = await agent(t, publisherConfig(dir, url));
  const consumers = [await agent(t, consumerConfig(dir, url, vmUrl)), await agent(t, consumerConfig(dir, url, vmUrl))];
  const sent: Series[] = [];
  for (let i = 0; i < 30; i++) {
    sent.push(await push(publisher));
    await new Promise((r) => setTimeout(r, 100));
  }
  await assertArrived(vmUrl, merge(...sent));
  assert.ok((await metric(publisher, 'tributary_remotewrite_requests_total', 'code="ack"')) > 0);
  const acked = await Promise.all(consumers.map((c) => metric(c, 'tributary_ingest_nats_messages_total', 'outcome="acked"')));
  assert.ok(acked.every((n) => n > 0), `each consumer took a share: ${acked.join(', ')}`);
});

test('NATS stopped for 30 s and started again: nothing lost', { timeout: 120_000 }, async (t) => {
  if (!peers(t)) return;
  const dir = scratch(t);
  const nodes = await startNats(dir);
  t.after(() => stopNodes(nodes));
  const vmUrl = await startVictoriaMetricsFor(t);
  const url = natsUrl(nodes, 'outage.rw');
  const publisher = await agent(t, publisherConfig(dir, url));
  await agent(t, consumerConfig(dir, url, vmUrl));
  const before = await push(publisher);
  await assertArrived(vmUrl, before);

  await nodes[0].stop();
  const during = [await push(publisher)];
  await new Promise((r) => setTimeout(r, 15_000));
  during.push(await push(publisher));
  await new Promise((r) => setTimeout(r, 15_000));
  assert.ok((await metric(publisher, 'tributary_remotewrite_retries_total')) > 0, 'the publisher kept retrying');
  await nodes[0].restart();
  const after = await push(publisher);
  await assertArrived(vmUrl, merge(before, ...during, after), 45_000);
});

test('one NATS node of three killed: nothing lost (stream replicas=3)', { timeout: 120_000 }, async (t) => {
  if (!peers(t)) return;
  const dir = scratch(t);
  const nodes = await startNats(dir, 3);
  t.after(() => stopNodes(nodes));
  const vmUrl = await startVictoriaMetricsFor(t);
  const url = natsUrl(nodes, 'cluster.rw', 'replicas=3');
  // JetStream in a fresh cluster needs a moment to elect its meta leader
  const publisher = await agent(t, publisherConfig(dir, url));
  const consumer = await agent(t, consumerConfig(dir, url, vmUrl));
  const before = await push(publisher);
  await assertArrived(vmUrl, before, 60_000);
  await nodes[0].stop('SIGKILL');
  const after: Series[] = [];
  for (let i = 0; i < 10; i++) {
    after.push(await push(publisher));
    await new Promise((r) => setTimeout(r, 300));
  }
  await assertArrived(vmUrl, merge(before, ...after), 60_000);
  assert.ok((await metric(consumer, 'tributary_ingest_nats_messages_total', 'outcome="acked"')) > 0);
});

test('the consumer killed with SIGKILL mid-stream: redelivered, nothing lost', { timeout: 120_000 }, async (t) => {
  if (!peers(t)) return;
  const dir = scratch(t);
  const nodes = await startNats(dir);
  t.after(() => stopNodes(nodes));
  const vmUrl = await startVictoriaMetricsFor(t);
  const url = natsUrl(nodes, 'kill.rw');
  const publisher = await agent(t, publisherConfig(dir, url));
  const consumerData = tempDataDir();
  const file = consumerConfig(dir, url, vmUrl);
  let consumer = await agent(t, file, consumerData);
  const sent: Series[] = [];
  const pushing = (async () => {
    for (let i = 0; i < 40; i++) {
      sent.push(await push(publisher, 50, 5));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await waitFor('the consumer at work', async () => (await metric(consumer, 'tributary_ingest_nats_messages_total', 'outcome="acked"')) > 5, 20_000);
  const killed: ChildProcess = consumer.child;
  // frozen first, so that messages JetStream hands it meanwhile are held unacknowledged when it dies
  killed.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 1000));
  killed.kill('SIGKILL');
  await new Promise<void>((r) => killed.once('exit', () => r()));
  await pushing;
  // the same data directory: what it had acknowledged was on its disk queue, sent on restart
  consumer = await agent(t, file, consumerData);
  await assertArrived(vmUrl, merge(...sent), 60_000);
  const redelivered = await metric(consumer, 'tributary_ingest_nats_redelivered_total');
  t.diagnostic(`messages redelivered after the kill: ${redelivered}`);
  assert.ok(redelivered > 0, 'the messages the killed consumer held came again, counted');
});
