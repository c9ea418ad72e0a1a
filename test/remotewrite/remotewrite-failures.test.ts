/**
 * Remote-write failures as an operator sees them (issue 16, item 7): a dead receiver is one log
 * line with the reason, not a line per retry (nor silence); a minute's summary while it lasts;
 * the recovery with the outage's length; `requests_total` by kind of failure (timeout, refused,
 * reset, tls); bytes counted for requests the receiver refused.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { Logger } from '../../src/log/logger.js';
import { OutageLog, OUTAGE_SUMMARY_MS, classifyNetworkError } from '../../src/remotewrite/failures.js';
import { freePort } from '../helpers/prometheus-peer.js';
import { capturingLogger, receiver, startQueues } from '../helpers/remotewrite-harness.js';
import { selfMetricValue, waitFor } from '../helpers/scrape-harness.js';

function batchOf(n: number): SampleBatch {
  const b = new SampleBatch(n);
  for (let i = 0; i < n; i++) b.append(Labels.fromRecord({ __name__: 'm', i: String(i) }), i, 1_700_000_000_000 + i);
  return b;
}

const fastRetries = 'queue_config: {senders: 1, min_backoff: 10ms, max_backoff: 40ms, batch_send_deadline: 200ms}';

test('dead receiver (closed port): one line saying "refused", no line per retry; requests counted as refused', async (t) => {
  const url = `http://127.0.0.1:${await freePort()}/api/v1/write`;
  const { logger, lines } = capturingLogger();
  const { rw, pipeline, registry } = await startQueues(t, `remote_write:\n  - url: ${url}\n    ${fastRetries}\n`, undefined, logger);
  pipeline.write('job', batchOf(5));
  await waitFor('ten refused attempts', () => selfMetricValue(registry, 'tributary_remotewrite_requests_total', { url, code: 'refused' }) >= 10, 15_000);
  await rw.close(0);
  const failures = lines.filter((l) => /remote write/.test(String(l.msg)) && l.level !== 'debug');
  assert.equal(failures.length, 1, `one line for the whole outage: ${JSON.stringify(lines)}`);
  assert.equal(failures[0].reason, 'refused');
  assert.equal(failures[0].level, 'warn');
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_requests_total', { url, code: 'error' }), 0, 'not lumped into "error"');
});

test('500 then 204: the failure is logged with status and body, then the recovery with its duration', async (t) => {
  const r = await receiver((n) => (n <= 3 ? { status: 500 } : { status: 204 }));
  t.after(() => r.close());
  const { logger, lines } = capturingLogger();
  const { rw, pipeline, registry } = await startQueues(t, `remote_write:\n  - url: ${r.url}\n    ${fastRetries}\n`, undefined, logger);
  pipeline.write('job', batchOf(5));
  await waitFor('delivered', () => selfMetricValue(registry, 'tributary_remotewrite_samples_sent_total', { url: r.url }) === 5, 10_000);
  await rw.close();
  const failed = lines.find((l) => l.msg === 'remote write failed; retrying until the receiver accepts (a summary follows every minute)');
  assert.ok(failed, JSON.stringify(lines));
  assert.equal(failed.status, 500);
  assert.equal(failed.reason, 'http_500');
  assert.equal(failed.detail, 'refused with 500', 'the start of the receiver answer');
  const recovered = lines.find((l) => l.msg === 'remote write recovered');
  assert.ok(recovered, JSON.stringify(lines));
  assert.equal(recovered.failures, 3);
  assert.equal(recovered.retries, 3);
  assert.equal(typeof recovered.outage_seconds, 'number');
  assert.equal(lines.filter((l) => l.level === 'warn').length, 1, 'no line per retry');
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_bytes_sent_total', { url: r.url }) > 0, true);
});

test('a summary every minute while the outage lasts: failures, retries, oldest pending age', () => {
  let now = 1_000_000;
  const { logger, lines } = capturingLogger();
  const log = new OutageLog(logger, () => 42.4, () => now);
  log.failed({ reason: 'timeout', detail: 'timeout after 30s' });
  for (let i = 0; i < 5; i++) {
    now += 10_000;
    log.retried();
    log.failed({ reason: 'refused', detail: 'connect ECONNREFUSED' });
  }
  assert.equal(lines.length, 1, 'nothing more before a minute');
  now += OUTAGE_SUMMARY_MS;
  log.tick();
  log.tick();
  assert.equal(lines.length, 2, 'one summary');
  assert.deepEqual(
    { msg: lines[1].msg, failures: lines[1].failures, retries: lines[1].retries, oldest: lines[1].oldest_pending_seconds, reason: lines[1].last_reason },
    { msg: 'remote write still failing', failures: 6, retries: 5, oldest: 42, reason: 'refused' },
  );
  log.succeeded();
  assert.equal(lines[2].msg, 'remote write recovered');
  assert.equal(lines[2].outage_seconds, 110);
  log.succeeded();
  assert.equal(lines.length, 3, 'a success outside an outage says nothing');
});

test('requests_total by kind of failure: timeout, reset, tls', async (t) => {
  // never answers
  const silent = createServer(() => {});
  // closes every connection as soon as a request arrives
  const resetter = createNetServer((s: Socket) => s.once('data', () => s.resetAndDestroy()));
  for (const s of [silent, resetter]) {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    t.after(() => (s as { closeAllConnections?: () => void }).closeAllConnections?.());
    t.after(() => new Promise<void>((r) => s.close(() => r())));
  }
  const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port;
  const plain = await receiver(() => ({ status: 204 }));
  t.after(() => plain.close());
  const urls = {
    timeout: `http://127.0.0.1:${port(silent)}/write`,
    reset: `http://127.0.0.1:${port(resetter)}/write`,
    // TLS spoken to a plain HTTP server: the handshake fails
    tls: plain.url.replace('http:', 'https:'),
  };
  const { rw, pipeline, registry } = await startQueues(
    t,
    `remote_write:\n${Object.values(urls)
      .map((u) => `  - url: ${u}\n    remote_timeout: 300ms\n    ${fastRetries}\n`)
      .join('')}`,
  );
  pipeline.write('job', batchOf(3));
  for (const [code, url] of Object.entries(urls)) {
    await waitFor(`${code} counted`, () => selfMetricValue(registry, 'tributary_remotewrite_requests_total', { url, code }) >= 2, 15_000);
    assert.equal(selfMetricValue(registry, 'tributary_remotewrite_requests_total', { url, code: 'error' }), 0, `${code}: not "error"`);
  }
  await rw.close(0);
});

test('a 400 answer: the request counted as sent bytes, its samples as dropped', async (t) => {
  const r = await receiver(() => ({ status: 400 }));
  t.after(() => r.close());
  const { rw, pipeline, registry } = await startQueues(t, `remote_write:\n  - url: ${r.url}\n    ${fastRetries}\n`);
  pipeline.write('job', batchOf(4));
  await waitFor('refused', () => selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url: r.url, reason: 'http_400' }) === 4, 10_000);
  assert.ok(selfMetricValue(registry, 'tributary_remotewrite_bytes_sent_total', { url: r.url }) > 20, 'bytes sent counted');
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_sent_total', { url: r.url }), 0);
  await rw.close(0);
});

test('network errors are classified by their code, also when wrapped as a cause', () => {
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
  assert.equal(classifyNetworkError(coded('ECONNREFUSED')), 'refused');
  assert.equal(classifyNetworkError(new Error('fetch failed', { cause: coded('ECONNRESET') })), 'reset');
  assert.equal(classifyNetworkError(coded('UND_ERR_SOCKET', 'other side closed')), 'reset');
  assert.equal(classifyNetworkError(coded('ERR_SSL_WRONG_VERSION_NUMBER')), 'tls');
  assert.equal(classifyNetworkError(coded('DEPTH_ZERO_SELF_SIGNED_CERT')), 'tls');
  assert.equal(classifyNetworkError(new Error('timeout after 30s')), 'timeout');
  assert.equal(classifyNetworkError(coded('ENOTFOUND')), 'error');
  void Logger;
});

test('a receiver that refuses every request (400): one line, not one per request; every sample counted as dropped', async (t) => {
  const r = await receiver(() => ({ status: 400 }));
  t.after(() => r.close());
  const { logger, lines } = capturingLogger();
  const { rw, pipeline, registry } = await startQueues(t, `remote_write:\n  - url: ${r.url}\n    queue_config: {senders: 1, max_samples_per_send: 2}\n`, undefined, logger);
  for (let i = 0; i < 5; i++) pipeline.write('job', batchOf(4));
  await waitFor('all refused', () => selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url: r.url, reason: 'http_400' }) === 20, 10_000);
  await rw.close(0);
  assert.ok(r.requests() >= 10, `${r.requests()} requests`);
  const refused = lines.filter((l) => l.msg === 'the receiver refused a request; its samples are dropped');
  assert.equal(refused.length, 1, JSON.stringify(refused));
  assert.equal(refused[0].response, 'refused with 400');
});
