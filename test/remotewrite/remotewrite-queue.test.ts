/**
 * The remote-write queue against a receiver whose answers the test chooses (a real HTTP server
 * decoding real requests): spec headers, batches of at most max_samples_per_send, order kept,
 * 5xx retried (Retry-After honoured), 4xx dropped and counted without a retry loop, external
 * labels and write_relabel_configs applied per URL.
 */

import { test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { uncompressSync } from 'snappy';
import { parseWriteRequest } from '../../src/formats/remotewrite/index.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { QueueDirInUseError, queueDirName } from '../../src/remotewrite/index.js';
import { receiver, startQueues, type Received, capturingLogger } from '../helpers/remotewrite-harness.js';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';

function batchOf(n: number, from = 0): SampleBatch {
  const b = new SampleBatch(n);
  for (let i = from; i < from + n; i++) b.append(Labels.fromRecord({ __name__: 'm', i: String(i % 7) }), i, 1_700_000_000_000 + i);
  return b;
}

test('batches of max_samples_per_send with the spec headers, in order, external labels and write relabeling applied', async (t) => {
  const r = await receiver(() => ({ status: 204 }));
  t.after(() => r.close());
  const { rw, pipeline } = await startQueues(t, `global:
  external_labels: {site: lab, i: 'never-overrides'}
remote_write:
  - url: ${r.url}
    queue_config: {max_samples_per_send: 100, senders: 1}
    write_relabel_configs: [{source_labels: [i], regex: '6', action: drop}]
`);
  pipeline.write('job', batchOf(250));
  pipeline.write('job', batchOf(250, 250));
  await rw.close();
  const samples = r.got.flatMap((x) => x.body.timeseries);
  assert.ok(r.got.every((x) => x.body.timeseries.length <= 100));
  const kept = Array.from({ length: 500 }, (_, i) => i).filter((i) => i % 7 !== 6);
  assert.deepEqual(samples.map((s) => s.samples[0].value), kept, 'every kept sample once, in order');
  assert.ok(samples.every((s) => s.labels.get('site') === 'lab' && s.labels.get('i') !== 'never-overrides'));
  const h = r.got[0].headers;
  assert.equal(h['content-encoding'], 'snappy');
  assert.equal(h['content-type'], 'application/x-protobuf');
  assert.equal(h['x-prometheus-remote-write-version'], '0.1.0');
  assert.match(String(h['user-agent']), /^Tributary\//);
});

test('5xx is retried (Retry-After honoured) until accepted; nothing is lost or reordered', async (t) => {
  const times: number[] = [];
  const r = await receiver((n) => {
    times.push(Date.now());
    return n <= 2 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 204 };
  });
  t.after(() => r.close());
  const { rw, pipeline, registry } = await startQueues(t, `remote_write:\n  - url: ${r.url}\n    queue_config: {senders: 1}\n`);
  pipeline.write('job', batchOf(10));
  // the receiver records a request before it answers: the counters move once the answer is in
  await waitFor('accepted after two refusals', () => selfMetricValue(registry, 'tributary_remotewrite_samples_sent_total', { url: r.url }) === 10, 10_000);
  assert.equal(r.requests(), 3);
  assert.ok(times[2] - times[0] < 2000, 'Retry-After: 0 means at once, not the default backoff');
  assert.deepEqual(r.got[0].body.timeseries.map((s) => s.samples[0].value), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_retries_total', { url: r.url }), 2);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_requests_total', { url: r.url, code: '503' }), 2);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_sent_total', { url: r.url }), 10);
  await rw.close();
});

test('sample_age_limit: data that waited too long for a refusing receiver is dropped as too_old, fresh data is sent', async (t) => {
  const t0 = Date.now();
  const r = await receiver(() => (Date.now() - t0 < 2600 ? { status: 503 } : { status: 204 }));
  t.after(() => r.close());
  const { rw, pipeline, registry } = await startQueues(
    t,
    `remote_write:\n  - url: ${r.url}\n    queue_config: {senders: 1, batch_send_deadline: 100ms, min_backoff: 100ms, max_backoff: 300ms, sample_age_limit: 1500ms}\n`,
  );
  pipeline.write('job', batchOf(5));
  await new Promise((res) => setTimeout(res, 2200));
  pipeline.write('job', batchOf(3, 100));
  await waitFor('the fresh batch accepted', () => r.got.length === 1, 10_000);
  assert.deepEqual(r.got[0].body.timeseries.map((s) => s.samples[0].value), [100, 101, 102], 'only the fresh batch arrived');
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url: r.url, reason: 'too_old' }), 5);
  await rw.close();
});

test('a 400 is dropped and counted, never retried; later requests go on', async (t) => {
  const r = await receiver((n) => ({ status: n === 1 ? 400 : 204 }));
  t.after(() => r.close());
  const { rw, pipeline, registry } = await startQueues(t, `remote_write:\n  - url: ${r.url}\n    queue_config: {senders: 1}\n`);
  pipeline.write('job', batchOf(5));
  await rw.queues[0].flush();
  pipeline.write('job', batchOf(5, 5));
  await rw.close();
  assert.equal(r.requests(), 2, 'no retry of the refused request');
  assert.deepEqual(r.got[0].body.timeseries.map((s) => s.samples[0].value), [5, 6, 7, 8, 9]);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url: r.url, reason: 'http_400' }), 5);
});

/** Samples per series in arrival order: `series key → timestamps`. */
function arrivals(got: Received[]): Map<string, number[]> {
  const by = new Map<string, number[]>();
  for (const r of got) {
    for (const s of r.body.timeseries) {
      const k = s.labels.toString();
      let list = by.get(k);
      if (!list) by.set(k, (list = []));
      list.push(s.samples[0].timestampMs);
    }
  }
  return by;
}

test('several senders in parallel keep each series in timestamp order', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const got: Received[] = [];
  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // answers in a random order, so a sender that did not wait for its request would overtake
      setTimeout(() => {
        got.push({ headers: req.headers, body: parseWriteRequest(uncompressSync(Buffer.concat(chunks)) as Buffer) });
        inFlight--;
        res.writeHead(204).end();
      }, Math.random() * 30);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/write`;
  const { rw, pipeline } = await startQueues(t, `remote_write:\n  - url: ${url}\n    queue_config: {senders: 4, max_samples_per_send: 20}\n`);
  const series = Array.from({ length: 20 }, (_, i) => Labels.fromRecord({ __name__: 'ordered', s: String(i) }));
  for (let round = 0; round < 40; round++) {
    const b = new SampleBatch(20);
    for (const l of series) b.append(l, round, 1_700_000_000_000 + round * 1000);
    pipeline.write('job', b);
  }
  assert.ok(await rw.queues[0].flush(20_000), 'everything sent');
  await rw.close();
  assert.ok(maxInFlight > 1, `requests overlapped (at most ${maxInFlight} at once)`);
  const by = arrivals(got);
  assert.equal(by.size, 20);
  for (const [k, ts] of by) {
    assert.equal(ts.length, 40, `${k}: every sample once`);
    assert.ok(ts.every((x, i) => i === 0 || x > ts[i - 1]), `${k}: timestamps in order`);
  }
});

test('a receiver that is down: the queue is kept on disk across a restart and sent in order after', async (t) => {
  let up = false;
  const r = await receiver(() => ({ status: up ? 204 : 503, headers: { 'retry-after': '0' } }));
  t.after(() => r.close());
  const yaml = `remote_write:\n  - url: ${r.url}\n    queue_config: {senders: 2, max_samples_per_send: 50}\n`;
  const first = await startQueues(t, yaml);
  for (let i = 0; i < 10; i++) first.pipeline.write('job', batchOf(30, i * 30));
  assert.equal(await first.rw.queues[0].flush(300), false, 'nothing can be sent while the receiver is down');
  // what waited half a batch_send_deadline unsent is on disk
  await waitFor('the backlog on disk', () => (selfMetricValue(first.registry, 'tributary_remotewrite_pending_bytes', { url: r.url, location: 'disk' }) ?? 0) > 0, 3_000);
  await first.rw.close(0);
  // a request close() cut off may still be read by the receiver (this same process): let it be
  // answered while the receiver is down, or it would be delivered and, unacknowledged, sent again
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(r.got.length, 0);
  up = true;
  const second = await startQueues(t, yaml, first.dataDir);
  assert.ok(await second.rw.queues[0].flush(15_000), 'the queued backlog is sent after the restart');
  await second.rw.close();
  const by = arrivals(r.got);
  const total = [...by.values()].reduce((n, ts) => n + ts.length, 0);
  assert.equal(total, 300, 'every sample queued before the restart arrives once');
  for (const ts of by.values()) assert.ok(ts.every((x, i) => i === 0 || x > ts[i - 1]), 'in order');
});

test('a full disk queue drops the oldest data, counted and said in the log; the newest is sent', async (t) => {
  let up = false;
  const r = await receiver(() => ({ status: up ? 204 : 503, headers: { 'retry-after': '0' } }));
  t.after(() => r.close());
  const { logger, lines } = capturingLogger();
  const { rw, pipeline, registry } = await startQueues(
    t,
    `remote_write:\n  - url: ${r.url}\n    queue_config: {senders: 1, max_samples_per_send: 500, max_disk_usage: 1MiB}\n`,
    undefined,
    logger,
  );
  // random label values compress poorly: a few MiB of requests for a 1 MiB queue
  const written = 60_000;
  for (let i = 0; i < written; i += 500) {
    const b = new SampleBatch(500);
    for (let j = i; j < i + 500; j++) b.append(Labels.fromRecord({ __name__: 'filler', id: Math.random().toString(36).repeat(4) }), j, 1_700_000_000_000 + j);
    pipeline.write('job', b);
  }
  const droppedNow = () => selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url: r.url, reason: 'queue_full' }) ?? 0;
  // the requests go to disk at the next tick, where the oldest are dropped
  await waitFor('samples dropped and counted', () => droppedNow() > written / 4, 5_000);
  const said = lines.filter((l) => String(l.msg).includes('its oldest data is dropped'));
  assert.equal(said.length, 1, 'said once (at most once a minute)');
  assert.equal(said[0].level, 'warn');
  assert.ok(Number(said[0].dropped) > 0);
  await rw.queues[0].flush(600);
  const dropped = droppedNow();
  const onDisk = selfMetricValue(registry, 'tributary_remotewrite_pending_bytes', { url: r.url, location: 'disk' }) ?? Infinity;
  assert.ok(onDisk <= 1.25 * 1024 * 1024, `the queue stays near its bound (${onDisk} bytes)`);
  up = true;
  assert.ok(await rw.queues[0].flush(20_000));
  await rw.close();
  const values = r.got.flatMap((x) => x.body.timeseries.map((s) => s.samples[0].value));
  assert.equal(values.length + dropped, written, 'every sample is either delivered or counted as dropped');
  assert.deepEqual(values, Array.from({ length: values.length }, (_, k) => written - values.length + k), 'the newest survive, in order');
});

test('queues of URLs no longer configured are removed; a queue in use by another process is refused', async (t) => {
  const a = await receiver(() => ({ status: 503 }));
  const b = await receiver(() => ({ status: 204 }));
  t.after(() => Promise.all([a.close(), b.close()]));
  const first = await startQueues(t, `remote_write:\n  - url: ${a.url}\n`);
  first.pipeline.write('job', batchOf(10));
  const dirA = join(first.dataDir, 'remotewrite', queueDirName({ url: a.url }));
  assert.ok(existsSync(dirA));
  await first.rw.close(0);
  const second = await startQueues(t, `remote_write:\n  - url: ${b.url}\n`, first.dataDir);
  assert.ok(!existsSync(dirA), 'the old URL\'s queue is gone');
  assert.ok(existsSync(join(first.dataDir, 'remotewrite', queueDirName({ url: b.url }))));
  await second.rw.close();
  // another process holding the queue's lock (flock(1) on the lock file while it sleeps)
  const dirB = join(first.dataDir, 'remotewrite', queueDirName({ url: b.url }));
  const holder = spawn('flock', ['--nonblock', join(dirB, 'lock'), 'sleep', '30'], { stdio: 'ignore' });
  t.after(() => holder.kill());
  await waitFor('the lock held', () => spawnSync('flock', ['--nonblock', join(dirB, 'lock'), 'true']).status === 1, 30_000);
  await assert.rejects(startQueues(t, `remote_write:\n  - url: ${b.url}\n`, first.dataDir), QueueDirInUseError);
});

test('global relabeling and labels, then per-URL labels and write relabeling; shard_by_url with replicas', async (t) => {
  const rs = await Promise.all([0, 1, 2].map(() => receiver(() => ({ status: 204 }))));
  t.after(() => Promise.all(rs.map((r) => r.close())));
  const { rw, pipeline } = await startQueues(
    t,
    `global:
  external_labels: {site: lab}
remote_write_options:
  relabel_configs: [{source_labels: [i], regex: '0', action: drop}]
  labels: {tier: global, dc: global}
  shard_by_url: true
  shard_by_url_replicas: 2
remote_write:
${rs.map((r, k) => `  - url: ${r.url}\n    labels: {dc: url${k}, url: '${k}'}\n    write_relabel_configs: [{target_label: seen, replacement: '{{url}}-{{dc}}'}]\n`).join('')}`,
  );
  const b = new SampleBatch(200);
  for (let i = 0; i < 200; i++) b.append(Labels.fromRecord({ __name__: 'm', i: String(i % 50), n: String(i) }), i, 1_700_000_000_000);
  pipeline.write('job', b);
  await rw.close();
  const seen = new Map<string, number>();
  rs.forEach((r, k) => {
    for (const s of r.got.flatMap((x) => x.body.timeseries)) {
      const l = s.labels;
      assert.notEqual(l.get('i'), '0', 'global relabeling dropped i=0');
      assert.equal(l.get('site'), 'lab');
      assert.equal(l.get('tier'), 'global');
      assert.equal(l.get('dc'), 'global', 'a label set earlier wins over a later stage\'s');
      assert.equal(l.get('seen'), `${k}-global`, 'write relabeling runs after the URL\'s labels');
      const n = l.get('n')!;
      seen.set(n, (seen.get(n) ?? 0) + 1);
    }
  });
  assert.equal(seen.size, 200 - 4, 'every series not dropped arrives');
  assert.ok([...seen.values()].every((c) => c === 2), 'each series goes to exactly two of the three URLs');
  assert.ok(rs.every((r) => r.got.length > 0), 'every URL gets a share');
});

test('a dead URL and a URL that never answers do not slow delivery to a healthy one', async (t) => {
  const healthy = await receiver(() => ({ status: 204 }));
  t.after(() => healthy.close());
  // takes requests and never answers: its senders wait out remote_timeout
  const hanging = createServer(() => {});
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => (hanging.closeAllConnections(), hanging.close(() => r()))));
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/write`;
  // nothing listens there: connections are refused
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/write`;
  await new Promise<void>((r) => dead.close(() => r()));

  const { rw, pipeline, registry } = await startQueues(
    t,
    `remote_write:
  - url: ${deadUrl}
    queue_config: {batch_send_deadline: 200ms}
  - url: ${hangingUrl}
    remote_timeout: 30s
    queue_config: {batch_send_deadline: 200ms}
  - url: ${healthy.url}
    queue_config: {batch_send_deadline: 200ms}
`,
  );
  const rounds = 10;
  const delays: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const before = healthy.got.length;
    const start = Date.now();
    pipeline.write('job', batchOf(50, round * 50));
    await waitFor('the healthy URL got this round', () => healthy.got.length > before, 5_000);
    delays.push(Date.now() - start);
  }
  const total = healthy.got.reduce((n, g) => n + g.body.timeseries.length, 0);
  assert.equal(total, rounds * 50, 'the healthy URL got every sample');
  // a batch is sealed within half a batch_send_deadline (100 ms): a second would mean waiting on the others
  assert.ok(Math.max(...delays) < 1_000, `each round reached the healthy URL promptly (${delays.join(', ')} ms)`);
  assert.ok((selfMetricValue(registry, 'tributary_remotewrite_requests_total', { url: deadUrl, code: 'refused' }) ?? 0) > 0, 'the dead URL was tried (and its refusals counted as such)');
  await rw.close(0);
});

test('compression fast and small: the same samples to every URL (a second fast one too), small requests fewer bytes', async (t) => {
  const receivers = [await receiver(() => ({ status: 204 })), await receiver(() => ({ status: 204 })), await receiver(() => ({ status: 204 }))];
  t.after(() => Promise.all(receivers.map((r) => r.close())));
  const { rw, pipeline } = await startQueues(t, `remote_write:
  - url: ${receivers[0].url}
    queue_config: {senders: 2}
  - url: ${receivers[1].url}
    queue_config: {senders: 2, compression: small}
  - url: ${receivers[2].url}
    queue_config: {senders: 3, compression: fast}
`);
  const series = Array.from({ length: 300 }, (_, i) =>
    Labels.fromRecord({ __name__: `node_metric_${i >> 3}`, cpu: String(i & 7), instance: `host-${i % 3}:9100`, job: 'node' }),
  );
  // several scrapes of the same series: the first builds the fast URL's cached records, the next reuse them
  for (let scrape = 0; scrape < 4; scrape++) {
    const b = new SampleBatch(series.length);
    for (let i = 0; i < series.length; i++) {
      if (scrape === 2 && i % 50 === 0) b.appendStale(series[i], 1_700_000_000_000 + scrape * 15_000);
      else b.append(series[i], i % 4 === 0 ? i : scrape * 1.5 + i, 1_700_000_000_000 + scrape * 15_000);
    }
    pipeline.write('job', b);
  }
  await rw.close();
  const sent = receivers.map((r) =>
    r.got
      .flatMap((x) => x.body.timeseries)
      .map((s) => `${s.labels.key} ${s.samples[0].timestampMs} ${s.samples[0].stale ? 'stale' : s.samples[0].value}`)
      .sort(),
  );
  assert.equal(sent[0].length, 1200);
  assert.deepEqual(sent[1], sent[0], 'small sends what fast sends');
  assert.deepEqual(sent[2], sent[0], 'the second fast URL too');
  const bytes = receivers.map((r) => r.got.reduce((n, x) => n + Number(x.headers['content-length']), 0));
  assert.ok(bytes[1] < bytes[0], `small: ${bytes[1]} bytes, fast: ${bytes[0]}`);
});

test('one URL in two unnamed entries (as Prometheus allows): each has a queue of its own and delivers everything', async (t) => {
  const r = await receiver(() => ({ status: 204 }));
  t.after(() => r.close());
  const { rw, pipeline } = await startQueues(t, `remote_write:
  - url: ${r.url}
    write_relabel_configs: [{target_label: via, replacement: a}]
  - url: ${r.url}
    write_relabel_configs: [{target_label: via, replacement: b}]
`);
  assert.notEqual(queueDirName({ url: r.url }, 0), queueDirName({ url: r.url }, 1));
  pipeline.write('job', batchOf(50));
  await rw.close();
  const samples = r.got.flatMap((x) => x.body.timeseries);
  for (const via of ['a', 'b']) {
    assert.deepEqual(
      samples.filter((s) => s.labels.get('via') === via).map((s) => s.samples[0].value).sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i),
      `entry ${via}: every sample once`,
    );
  }
});

test('the failure counters are there at 0 from the start, so an alert on increase() sees the first one', async (t) => {
  const url = 'http://127.0.0.1:1/api/v1/write';
  const { rw, registry } = await startQueues(t, `remote_write:\n  - url: ${url}\n`);
  t.after(() => rw.close(0));
  for (const op of ['open', 'write', 'fsync', 'read', 'close']) {
    assert.equal(selfMetricValue(registry, 'tributary_remotewrite_disk_errors_total', { url, op }), 0, op);
  }
  for (const reason of ['queue_full', 'disk_full', 'too_old']) {
    assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url, reason }), 0, reason);
  }
});
