/**
 * The parts of the push path every protocol shares, as `npm run bench:ingest` tuned them: the
 * byte-keyed series cache (`BytesKeyedLabels`, model/keyed-labels.ts) must find exactly what a
 * string-keyed map finds, wherever the bytes lie; the `Ingester`'s reused batches must hand the
 * pipeline every row once, whatever the order of requests, flushes and finishes.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BytesKeyedLabels, hashBytes } from '../../src/model/keyed-labels.js';
import { Labels } from '../../src/model/labels.js';
import type { SampleBatch } from '../../src/model/samples.js';
import { silentLogger } from '../../src/log/logger.js';
import { Ingester, IngestMetrics } from '../../src/ingest/ingester.js';
import { Registry } from '../../src/selfmetrics/registry.js';
import { rng } from '../helpers/seeded-random.js';

test('BytesKeyedLabels finds what a Map of the same keys as strings finds, at any offset and in any buffer', () => {
  const rand = rng(7);
  const cache = new BytesKeyedLabels<number>(1_000_000);
  const model = new Map<string, number>();
  // keys of every length 0..130 (the 4-byte steps and the tails), many sharing prefixes
  const keys: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(rand() * 131);
    let k = i % 3 === 0 ? 'bench.host-1.metric_' : '';
    while (k.length < len) k += String.fromCharCode(Math.floor(rand() * 256));
    keys.push(k);
  }
  keys.push('', 'a', 'ab', 'abc', 'abcd', 'abcde');
  const place = (k: string) => {
    // the key somewhere inside a buffer of its own, with bytes around it that must not count
    const pre = Math.floor(rand() * 9);
    const b = Buffer.alloc(pre + k.length + 5, 0xee);
    b.write(k, pre, 'latin1');
    return { b, start: pre, end: pre + k.length };
  };
  keys.forEach((k, i) => {
    const { b, start, end } = place(k);
    if (cache.get(b, start, end) === undefined) cache.set(b, start, end, i);
    if (!model.has(k)) model.set(k, i);
  });
  assert.equal(cache.size, model.size);
  for (const [k, v] of model) {
    const { b, start, end } = place(k);
    assert.equal(cache.get(b, start, end), v, `key of ${k.length} bytes`);
    // a key one byte shorter or with its last byte changed is another key
    if (k.length > 0) {
      const shorter = k.slice(0, -1);
      assert.equal(cache.get(b, start, end - 1), model.get(shorter));
      const c = Buffer.from(b);
      c[end - 1] ^= 1;
      assert.equal(cache.get(c, start, end), model.get(c.toString('latin1', start, end)));
    }
  }
  // set on a present key replaces its value
  const { b, start, end } = place(keys[1]);
  cache.set(b, start, end, -1);
  assert.equal(cache.get(b, start, end), -1);
  assert.equal(cache.size, model.size);
});

test('BytesKeyedLabels keeps what is looked up again and forgets the rest (two generations)', () => {
  const cache = new BytesKeyedLabels<number>(100); // 50 a generation
  const key = (i: number) => Buffer.from(`series-${i}`);
  for (let i = 0; i < 50; i++) cache.set(key(i), 0, key(i).length, i);
  // series 0..9 are sent again while 50..99 arrive: promoted, they survive the next turnover
  for (let i = 50; i < 100; i++) {
    cache.set(key(i), 0, key(i).length, i);
    if (i < 60) assert.equal(cache.get(key(i - 50), 0, key(i - 50).length), i - 50);
  }
  // (no more than fits the young generation with the ten promotions the checks below make)
  for (let i = 100; i < 130; i++) cache.set(key(i), 0, key(i).length, i);
  for (let i = 0; i < 10; i++) assert.equal(cache.get(key(i), 0, key(i).length), i, `promoted ${i} kept`);
  for (let i = 10; i < 50; i++) assert.equal(cache.get(key(i), 0, key(i).length), undefined, `stale ${i} forgotten`);
  assert.ok(cache.size <= 100);
});

test('BytesKeyedLabels pairs of ranges (OpenTSDB metric + tags) agree with a Map of the pairs, across growth and generations', () => {
  const rand = rng(77);
  const cache = new BytesKeyedLabels<number>(2000);
  const model = new Map<string, number>();
  const alphabet = 'ab= .\u0000x';
  for (let i = 0; i < 20_000; i++) {
    const k1 = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    const k2 = rand() < 0.5 ? '' : Array.from({ length: Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    const text = `xx${k1}yy${k2}zz`;
    const buf = Buffer.from(text, 'latin1');
    const [s1, e1, s2, e2] = [2, 2 + k1.length, 4 + k1.length, 4 + k1.length + k2.length];
    // the pair is the key, not the concatenation: `ab`+`c` and `a`+`bc` differ; an empty second range is the first alone
    const key = k2 === '' ? k1 : JSON.stringify([k1, k2]);
    const got = cache.getPair(buf, s1, e1, s2, e2);
    const want = model.get(key);
    // the cache may have forgotten an old key (generations); it never answers a wrong value
    if (got !== undefined) assert.equal(got, want, `key ${JSON.stringify(key)}`);
    if (k2 === '') assert.equal(cache.get(buf, s1, e1), got);
    if (got === undefined) {
      const v = want ?? i;
      model.set(key, v);
      cache.setPair(buf, s1, e1, s2, e2, v);
    }
  }
  assert.ok(cache.size <= 2000);
});

test('hashBytes spreads similar keys (no more than a few in any of 4096 buckets)', () => {
  const buckets = new Uint16Array(4096);
  for (let i = 0; i < 4096; i++) {
    const b = Buffer.from(`bench.host-${i % 100}.metric_${Math.floor(i / 100)}`);
    buckets[hashBytes(new DataView(b.buffer, b.byteOffset, b.length), 0, b.length) & 4095]++;
  }
  assert.ok(Math.max(...buckets) <= 9, `max bucket ${Math.max(...buckets)}`);
});

test('Ingester: reused batches hand every row to the pipeline once, across requests, flushes and repeated finishes', () => {
  const got: string[] = [];
  const sink = {
    write(job: string, batch: SampleBatch) {
      for (let i = 0; i < batch.length; i++) got.push(`${job} ${batch.series[i].get('__name__')} ${batch.values[i]} ${batch.timestamps[i]}`);
    },
  };
  const ing = new Ingester({ protocol: 'test', sink, metrics: new IngestMetrics(new Registry()), logger: silentLogger, maxLabelsPerSeries: 3 });
  const a = Labels.fromRecord({ __name__: 'a', k: 'v' });
  const wide = Labels.fromRecord({ __name__: 'w', a: '1', b: '2', c: '3' });
  const want: string[] = [];
  // two requests interleaved; one passes the flush size (4096) on its own
  const r1 = ing.begin();
  const r2 = ing.begin();
  for (let i = 0; i < 5000; i++) {
    r1.sample(a, i, 1000 + i);
    want.push(`test a ${i} ${1000 + i}`);
    if (i % 100 === 0) {
      r2.sample(a, -i, 5);
      want.push(`test a ${-i} 5`);
    }
  }
  r2.sample(wide, 1, 1); // refused: four labels
  const s1 = r1.finish();
  const s2 = r2.finish();
  assert.equal(s1.rows, 5000);
  assert.equal(s2.rows, 50);
  assert.equal(s2.invalid, 1);
  // finished twice (a reader that finishes itself, then the glue): nothing sent again
  assert.equal(r1.finish().rows, 5000);
  // a request goes on after finish: its rows still arrive (a fresh batch)
  r1.sample(a, 42, 42);
  want.push('test a 42 42');
  r1.finish();
  // the next requests reuse the batches given back; rows of earlier ones never reappear
  const r3 = ing.begin();
  r3.stale(a, 7);
  r3.finish();
  assert.deepEqual(got.slice(0, -1).sort(), want.sort());
  assert.equal(got.at(-1), 'test a NaN 7');
});
