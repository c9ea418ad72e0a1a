/**
 * The remote write 1.0 wire format: what the writer encodes the parser reads back exactly —
 * labels (UTF-8 included), values (±Inf, NaN, -0, subnormals), the staleness marker by its bits,
 * timestamps up to 2^53 and below zero, metadata — and malformed bytes fail with an offset.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressSync, uncompressSync } from 'snappy';
import { encodeLabels, parseWriteRequest, WireError, WriteRequestWriter } from '../../src/formats/remotewrite/index.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { rng } from '../helpers/seeded-random.js';

const ALPHABET = ['a', 'b', '_', 'Z', '9', 'é', '🐢', ' ', '"', '\\', '\n', 'x'.repeat(200)];
const VALUES = [0, -0, 1, -1.5, 1e308, 5e-324, Infinity, -Infinity, NaN, 2 ** 53, 0.1];

test('round trip: random series, values and timestamps come back exactly, stale markers by their bits', () => {
  const next = rng(99);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const w = new WriteRequestWriter(64);
  for (let round = 0; round < 200; round++) {
    const batch = new SampleBatch(4);
    const expected: { labels: string; value: number; ts: number; stale: boolean }[] = [];
    const n = 1 + Math.floor(next() * 40);
    for (let i = 0; i < n; i++) {
      const pairs: [string, string][] = [['__name__', 'm' + Math.floor(next() * 5)]];
      const k = Math.floor(next() * 6);
      for (let j = 0; j < k; j++) pairs.push(['l' + j, Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(ALPHABET)).join('')]);
      const labels = Labels.fromPairs(pairs);
      const ts = next() < 0.1 ? -Math.floor(next() * 1e12) : next() < 0.1 ? 2 ** 53 - 1 : Math.floor(next() * 2e12);
      const stale = next() < 0.15;
      const value = pick(VALUES) * (next() < 0.5 ? 1 : 3.25);
      if (stale) batch.appendStale(labels, ts);
      else batch.append(labels, value, ts);
      expected.push({ labels: labels.key, value: stale ? NaN : value, ts, stale });
    }
    w.reset();
    w.append(batch);
    const decoded = parseWriteRequest(uncompressSync(compressSync(w.bytes())) as Buffer);
    assert.equal(decoded.timeseries.length, n);
    decoded.timeseries.forEach((s, i) => {
      const e = expected[i];
      assert.equal(s.labels.key, e.labels);
      assert.equal(s.samples.length, 1);
      assert.equal(s.samples[0].timestampMs, e.ts);
      assert.equal(s.samples[0].stale, e.stale, `sample ${i} stale flag`);
      if (!e.stale) assert.ok(Object.is(s.samples[0].value, e.value), `${s.samples[0].value} vs ${e.value}`);
    });
  }
});

test('an ordinary NaN is not a staleness marker; labels are encoded once per Labels object', () => {
  const labels = Labels.fromRecord({ __name__: 'x', a: 'b' });
  const b = new SampleBatch(2);
  b.append(labels, NaN, 1);
  b.appendStale(labels, 2);
  const w = new WriteRequestWriter();
  w.append(b);
  const [s1, s2] = parseWriteRequest(w.bytes()).timeseries;
  assert.equal(s1.samples[0].stale, false);
  assert.ok(Number.isNaN(s1.samples[0].value));
  assert.equal(s2.samples[0].stale, true);
  assert.equal(labels.key, encodeLabels(labels), "the series' key is its encoded labels");
});

test('metadata round trip', () => {
  const w = new WriteRequestWriter();
  w.appendMetadata({ type: 'counter', family: 'http_requests', help: 'Requests — all of them.', unit: 'requests' });
  w.appendMetadata({ type: 'gauge', family: 'temp' });
  assert.deepEqual(parseWriteRequest(w.bytes()).metadata, [
    { type: 'counter', family: 'http_requests', help: 'Requests — all of them.', unit: 'requests' },
    { type: 'gauge', family: 'temp' },
  ]);
});

test('malformed bytes fail with the offset and what is wrong', () => {
  const w = new WriteRequestWriter();
  const b = new SampleBatch(1);
  b.append(Labels.fromRecord({ __name__: 'x' }), 1, 5);
  w.append(b);
  const bytes = Buffer.from(w.bytes());
  assert.throws(() => parseWriteRequest(bytes.subarray(0, bytes.length - 3)), (e: unknown) => e instanceof WireError && /runs past the end/.test(e.message));
  assert.throws(() => parseWriteRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /byte \d+: varint longer than 10 bytes/);
  assert.throws(() => parseWriteRequest(Buffer.from([0x0b])), /unsupported wire type 3/);
});
