/**
 * The direct snappy WriteRequest writer against the plain writer and the reference decoder:
 * whatever the series order, predecessor changes, repeated series, timestamps (tiny, negative,
 * shared or not), values (equal, -0, NaN, stale markers) and label sizes (past 64 KiB, where
 * copies need 32-bit offsets), its request decompresses to exactly the plain writer's bytes —
 * on the first request, when every record head is built, and on later ones, when they are reused.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uncompressSync } from 'snappy';
import { WriteRequestWriter } from '../../src/formats/remotewrite/index.js';
import { SnappyWriteRequestWriter, seriesCodeCounts } from '../../src/formats/remotewrite/snappy-writer.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { rng } from '../helpers/seeded-random.js';

const plain = new WriteRequestWriter(64);

function check(w: SnappyWriteRequestWriter, batch: SampleBatch, what: string): Buffer {
  w.reset();
  for (let i = 0; i < batch.length; i++) w.appendOne(batch, i);
  assert.equal(w.samples, batch.length);
  const packed = w.finish();
  plain.reset();
  plain.append(batch);
  const back = Buffer.from(uncompressSync(packed) as Buffer);
  assert.ok(back.equals(plain.bytes()), `${what}: decompresses to the plain writer's request (${back.length} vs ${plain.size} bytes)`);
  return packed;
}

function nodePage(instance: string, n: number): Labels[] {
  const out: Labels[] = [];
  for (let i = 0; i < n; i++) {
    const family = `node_metric_${Math.floor(i / 8)}_total`;
    out.push(Labels.fromRecord({ __name__: family, cpu: String(i % 8), mode: ['idle', 'user', 'system'][i % 3], instance, job: 'node' }));
  }
  return out;
}

test('snappy writer: scrape after scrape of the same series, codes built then reused', () => {
  const series = [...nodePage('10.0.0.1:9100', 300), ...nodePage('10.0.0.2:9100', 300)];
  const w = new SnappyWriteRequestWriter(64);
  const next = rng(5);
  let codes: (string | undefined)[] = [];
  for (let scrape = 0; scrape < 6; scrape++) {
    const batch = new SampleBatch(16);
    const ts = 1_700_000_000_000 + scrape * 15_000;
    for (let i = 0; i < series.length; i++) {
      // a third of the values unchanged since the last scrape, as counters at rest are
      const value = next() < 0.3 ? i : scrape * 1000 + i + next();
      batch.append(series[i], value, ts);
    }
    const packed = check(w, batch, `scrape ${scrape}`);
    plain.reset();
    plain.append(batch);
    assert.ok(packed.length < plain.size / 3, `compresses: ${packed.length} of ${plain.size} bytes`);
    const now = series.map((s, i) => (i === 0 ? undefined : w.codeAfter(series[i - 1], s)));
    // every series but the request's first has a code; the same predecessor keeps the same one
    assert.equal(now.filter((c) => c !== undefined).length, series.length - 1);
    if (scrape > 0) assert.ok(now.every((c, i) => c === codes[i]), `scrape ${scrape} reused every code`);
    codes = now;
  }
  assert.equal(w.seriesKept, series.length);
  // the same series of both targets share one code string: their differences are copied
  assert.ok(codes[10] !== undefined && codes[10] === codes[310], 'one code shared by two targets');
});

test('snappy writer: series not written for 5 minutes are forgotten, the others keep their codes', () => {
  const series = [...nodePage('10.0.0.1:9100', 300), ...nodePage('10.0.0.2:9100', 300)];
  const w = new SnappyWriteRequestWriter(64);
  const scrape = (n: number, at: number, now: number) => {
    const batch = new SampleBatch(n);
    for (let i = 0; i < n; i++) batch.append(series[i], at + i, at);
    w.reset(now);
    for (let i = 0; i < n; i++) w.appendOne(batch, i);
    const back = Buffer.from(uncompressSync(w.finish()) as Buffer);
    plain.reset();
    plain.append(batch);
    assert.ok(back.equals(plain.bytes()), 'decompresses to the plain writer\'s request');
  };
  const t0 = Date.now();
  scrape(600, 1_700_000_000_000, t0);
  assert.equal(w.seriesKept, 600);
  // the first target goes on, the second is gone: within 5 minutes nothing is forgotten
  scrape(300, 1_700_000_015_000, t0 + 60_000);
  scrape(300, 1_700_000_030_000, t0 + 5 * 60_000 + 1);
  assert.equal(w.seriesKept, 600, 'a period ends: what was written in it is kept');
  const before = seriesCodeCounts.built;
  scrape(300, 1_700_000_045_000, t0 + 10 * 60_000 + 2);
  assert.equal(w.seriesKept, 300, "the second target's series are forgotten");
  assert.equal(seriesCodeCounts.built - before, 0, 'the rest kept their codes');
  assert.equal(w.codeAfter(series[299], series[300]), undefined);
  assert.ok(w.codeAfter(series[298], series[299]) !== undefined);
  // a forgotten series written again gets an entry and a code again
  scrape(600, 1_700_000_060_000, t0 + 10 * 60_000 + 3);
  assert.equal(w.seriesKept, 600);
});

test('snappy writer: random orders, timestamps, values and labels', () => {
  const next = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const pool: Labels[] = [];
  for (let i = 0; i < 60; i++) {
    const pairs: [string, string][] = [['__name__', 'metric_' + Math.floor(next() * 6)]];
    for (let j = 0; j < Math.floor(next() * 5); j++) pairs.push(['l' + j, pick(['a', 'bb', 'é', '🐢', 'x'.repeat(70), 'value_' + i])]);
    pool.push(Labels.fromPairs(pairs));
  }
  const timestamps = [0, 1, 127, 128, 16_383, 16_384, -1, -1_700_000_000_000, 1_700_000_000_000, 2 ** 53 - 1];
  const values = [0, -0, 1, NaN, Infinity, 0.5];
  const w = new SnappyWriteRequestWriter(16);
  for (let round = 0; round < 300; round++) {
    const batch = new SampleBatch(4);
    const n = 1 + Math.floor(next() * 50);
    let ts = pick(timestamps);
    for (let i = 0; i < n; i++) {
      // mostly the pool in order (so predecessors repeat), sometimes a jump or the same series again
      const r = next();
      const labels = r < 0.7 ? pool[(round + i) % pool.length] : r < 0.8 ? batch.series[Math.max(0, i - 1)] ?? pool[0] : pick(pool);
      if (next() < 0.2) ts = pick(timestamps);
      if (next() < 0.15) batch.appendStale(labels, ts);
      else batch.append(labels, pick(values), ts);
    }
    check(w, batch, `round ${round}`);
  }
});

test('snappy writer: label sets past 64 KiB (long literals, 32-bit copy offsets)', () => {
  const big = (c: string, n: number) => Labels.fromRecord({ __name__: 'huge', a: c.repeat(n), b: 'tail' });
  const series = [big('x', 70_000), big('y', 70_000), Labels.fromRecord({ __name__: 'small', a: 'x'.repeat(70) }), big('x', 140_000)];
  const w = new SnappyWriteRequestWriter(16);
  for (let scrape = 0; scrape < 3; scrape++) {
    const batch = new SampleBatch(4);
    for (const s of series) batch.append(s, scrape, 1_700_000_000_000);
    // and each again, so a head copies from its own twin over 64 KiB back
    for (const s of series) batch.append(s, scrape + 0.5, 1_700_000_000_001);
    check(w, batch, `scrape ${scrape}`);
  }
});
