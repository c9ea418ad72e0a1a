/**
 * The remote-write queue against a receiver whose answers the test chooses (a real HTTP server
 * decoding real requests): spec headers, batches of at most max_samples_per_send, order kept,
 * 5xx retried (Retry-After honoured), 4xx dropped and counted without a retry loop, external
 * labels and write_relabel_configs applied per URL.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { uncompressSync } from 'snappy';
import { parseConfigText } from '../src/config/index.js';
import { parseWriteRequest, type DecodedWriteRequest } from '../src/formats/remotewrite/index.js';
import { silentLogger } from '../src/log/logger.js';
import { Labels } from '../src/model/labels.js';
import { SampleBatch } from '../src/model/samples.js';
import { SinkFanout } from '../src/pipeline/index.js';
import { startRemoteWrite } from '../src/remotewrite/index.js';
import { Registry } from '../src/selfmetrics/index.js';
import { selfMetricValue, waitFor } from './scrape-harness.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: DecodedWriteRequest;
}

async function receiver(answer: (n: number) => { status: number; headers?: Record<string, string> }) {
  const got: Received[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answer(++n);
      if (a.status < 300) got.push({ headers: req.headers, body: parseWriteRequest(uncompressSync(Buffer.concat(chunks)) as Buffer) });
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.status >= 400 ? `refused with ${a.status}` : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
  return {
    url,
    got,
    requests: () => n,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

function start(yaml: string) {
  const { config } = parseConfigText(yaml, 'rw.yml');
  const registry = new Registry();
  const pipeline = new SinkFanout(() => {});
  const rw = startRemoteWrite(config.remote_write, { pipeline, registry, logger: silentLogger, externalLabels: config.global.external_labels });
  return { rw, pipeline, registry };
}

function batchOf(n: number, from = 0): SampleBatch {
  const b = new SampleBatch(n);
  for (let i = from; i < from + n; i++) b.append(Labels.fromRecord({ __name__: 'm', i: String(i % 7) }), i, 1_700_000_000_000 + i);
  return b;
}

test('batches of max_samples_per_send with the spec headers, in order, external labels and write relabeling applied', async (t) => {
  const r = await receiver(() => ({ status: 204 }));
  t.after(() => r.close());
  const { rw, pipeline } = start(`global:
  external_labels: {site: lab, i: 'never-overrides'}
remote_write:
  - url: ${r.url}
    queue_config: {max_samples_per_send: 100}
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
  const { rw, pipeline, registry } = start(`remote_write:\n  - url: ${r.url}\n`);
  pipeline.write('job', batchOf(10));
  await waitFor('accepted after two refusals', () => r.got.length === 1, 10_000);
  assert.equal(r.requests(), 3);
  assert.ok(times[2] - times[0] < 2000, 'Retry-After: 0 means at once, not the default backoff');
  assert.deepEqual(r.got[0].body.timeseries.map((s) => s.samples[0].value), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_retries_total', { url: r.url }), 2);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_requests_total', { url: r.url, code: '503' }), 2);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_sent_total', { url: r.url }), 10);
  await rw.close();
});

test('a 400 is dropped and counted, never retried; later requests go on', async (t) => {
  const r = await receiver((n) => ({ status: n === 1 ? 400 : 204 }));
  t.after(() => r.close());
  const { rw, pipeline, registry } = start(`remote_write:\n  - url: ${r.url}\n`);
  pipeline.write('job', batchOf(5));
  await rw.queues[0].flush();
  pipeline.write('job', batchOf(5, 5));
  await rw.close();
  assert.equal(r.requests(), 2, 'no retry of the refused request');
  assert.deepEqual(r.got[0].body.timeseries.map((s) => s.samples[0].value), [5, 6, 7, 8, 9]);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url: r.url, reason: 'http_400' }), 5);
});
