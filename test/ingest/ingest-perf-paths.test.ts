/**
 * The push path's shortcuts (issue 18's speed work) against the slow paths they skip: each must
 * give exactly what the general code gives. The byte-keyed series cache's "the key after the last
 * one" guess, remote write in's one-walk reading of the usual series layout, the snappy decoder's
 * word and native copies, and the snappy writer's one-copy record of a series written twice in a row.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compressSync, uncompressSync } from 'snappy';
import { WriteRequestReceiver, type ReceiveSink } from '../../src/formats/remotewrite/receive.js';
import { parseWriteRequest, WriteRequestWriter } from '../../src/formats/remotewrite/index.js';
import { SnappyWriteRequestWriter } from '../../src/formats/remotewrite/snappy-writer.js';
import { uncompress } from '../../src/formats/snappy/index.js';
import { BytesKeyedLabels, KeyedLabels } from '../../src/model/keyed-labels.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { rng } from '../helpers/seeded-random.js';

test('BytesKeyedLabels: keys in a repeated order, a changed order, prefixes of each other, after updates and growth — what a Map finds', () => {
  const rand = rng(11);
  const cache = new BytesKeyedLabels<number>(1_000_000);
  const model = new Map<string, number>();
  // similar keys of similar lengths, as a sender's series: a wrong guess must not pass for a hit
  const keys: string[] = [];
  for (let i = 0; i < 700; i++) keys.push(`bench.host-${i % 37}.metric_${Math.floor(i / 37)}${i % 5 === 0 ? '' : '.x'}`);
  keys.push('bench.host-1', 'bench.host-1.', 'bench.host-1.m', '');
  const buf = (k: string, pad: number) => {
    const b = Buffer.alloc(pad + k.length + 3, 0x2e);
    b.write(k, pad, 'latin1');
    return b;
  };
  for (let round = 0; round < 6; round++) {
    // rounds 0–2 in one order (the guess learnt, then used), then shuffled, then the first again
    const order = keys.map((_, i) => i);
    if (round === 3 || round === 4) for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      const k = keys[i];
      const pad = Math.floor(rand() * 5);
      const b = buf(k, pad);
      const got = cache.get(b, pad, pad + k.length);
      assert.equal(got, model.get(k), `round ${round}: ${JSON.stringify(k)}`);
      if (got === undefined || rand() < 0.05) {
        const v = round * 10_000 + i;
        cache.set(b, pad, pad + k.length, v);
        model.set(k, v);
      }
      // a prefix of the key right after it: the guess (the key that followed last time) must be compared, not trusted
      if (k.length > 2) assert.equal(cache.get(b, pad, pad + k.length - 1), model.get(k.slice(0, -1)));
    }
  }
  assert.equal(cache.size, model.size);
});

/** Protobuf: a length-delimited field. */
function field(key: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([key, ...len]), body]);
}

function label(name: string, value: string): Buffer {
  return field(0x0a, Buffer.concat([field(0x0a, Buffer.from(name)), field(0x12, Buffer.from(value))]));
}

function sample(value: number, ts: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x09;
  b.writeDoubleLE(value, 1);
  const t: number[] = [0x10];
  let v = BigInt.asUintN(64, BigInt(ts));
  do {
    const c = Number(v & 0x7fn);
    v >>= 7n;
    t.push(v > 0n ? c | 0x80 : c);
  } while (v > 0n);
  return field(0x12, Buffer.concat([b, Buffer.from(t)]));
}

function collect(): { sink: ReceiveSink; rows: string[] } {
  const rows: string[] = [];
  const sink: ReceiveSink = {
    sample: (l, v, t) => void rows.push(`${l.key.length}:${JSON.stringify(l.kv)} ${Object.is(v, -0) ? '-0' : v} ${t}`),
    stale: (l, t) => void rows.push(`${JSON.stringify(l.kv)} stale ${t}`),
    invalid: (line, reason) => void rows.push(`invalid ${line} ${reason}`),
  };
  return { sink, rows };
}

test('keyed labels: a sender whose series in use outnumber a generation keeps them all (the young one grows); churn stays bounded', () => {
  const enc = new TextEncoder();
  for (const make of [() => new KeyedLabels<number>(1000), () => new BytesKeyedLabels<number>(1000)]) {
    const cache = make();
    const lookup = (k: string): number | undefined => {
      if (cache instanceof KeyedLabels) return cache.get(k);
      const b = enc.encode(k);
      return cache.get(b, 0, b.length);
    };
    const store = (k: string): void => {
      if (cache instanceof KeyedLabels) return cache.set(k, 1);
      const b = enc.encode(k);
      cache.set(b, 0, b.length, 1);
    };
    let misses = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 700; i++) {
        const k = `series_${i}`;
        if (lookup(k) === undefined) {
          if (round >= 10) misses++;
          store(k);
        }
      }
    }
    assert.equal(misses, 0, '700 keys in use against generations of 500: every one found after warm-up');
    // keys never asked for again do not make it grow: it stays at its bound
    for (let i = 0; i < 50_000; i++) store(`churn_${i}`);
    assert.ok(cache.size <= 2 * 1400, `churn kept ${cache.size}`);
  }
});

test('remote write in: the one-walk reading of plain series gives what the tree parser gives, for every layout, first and again', () => {
  const long = 'v'.repeat(200); // a label past 127 bytes: not the plain layout
  const series: Buffer[] = [
    // plain: labels, then samples (several, a negative and a big timestamp, -0, NaN)
    Buffer.concat([label('__name__', 'up'), label('job', 'a'), sample(1, 1_700_000_000_000), sample(-0, 1_700_000_015_000)]),
    Buffer.concat([label('__name__', 'up'), label('job', 'b'), sample(NaN, -5), sample(2.5, 2 ** 53 - 1)]),
    // a sample before the labels; labels split by a sample; a long label; an exemplar-like unknown field
    Buffer.concat([sample(3, 1000), label('__name__', 'x'), label('job', 'c')]),
    Buffer.concat([label('__name__', 'y'), sample(4, 1000), label('job', 'd')]),
    Buffer.concat([label('__name__', 'z'), label('long', long), sample(5, 1000)]),
    Buffer.concat([label('__name__', 'w'), sample(6, 1000), field(0x2a, Buffer.from([0x08, 0x01]))]),
    // a sample field with its fields in another order, and one with an unknown field inside
    Buffer.concat([label('__name__', 'u'), field(0x12, Buffer.concat([Buffer.from([0x10, 0x05, 0x09]), Buffer.alloc(8)]))]),
    Buffer.concat([label('__name__', 'v'), field(0x12, Buffer.concat([Buffer.from([0x09]), Buffer.alloc(8), Buffer.from([0x10, 0x07, 0x18, 0x01])]))]),
    // no samples (skipped), no labels (refused)
    Buffer.concat([label('__name__', 'none')]),
    Buffer.concat([sample(7, 1000)]),
  ];
  const req = Buffer.concat(series.map((s) => field(0x0a, s)));
  const tree = parseWriteRequest(req);
  const expected: string[] = [];
  for (const ts of tree.timeseries) {
    // the receiver refuses a series without labels (below), which the tree parser reads as {}
    if (ts.labels.size === 0) continue;
    for (const s of ts.samples) expected.push(`${ts.labels.key.length}:${JSON.stringify(ts.labels.kv)} ${Object.is(s.value, -0) ? '-0' : s.value} ${s.timestampMs}`);
  }
  const receiver = new WriteRequestReceiver();
  for (let pass = 0; pass < 3; pass++) {
    const { sink, rows } = collect();
    receiver.v1(req, sink);
    assert.deepEqual(rows.filter((r) => !r.startsWith('invalid')), expected, `pass ${pass}`);
    assert.deepEqual(rows.filter((r) => r.startsWith('invalid')), ['invalid 0 series 9 has no labels']);
  }
  // a truncated sample in a plain series: the samples before it are handed out, then a WireError
  const bad = field(0x0a, Buffer.concat([label('__name__', 'up'), label('job', 'a'), sample(1, 1000), field(0x12, Buffer.from([0x09, 1, 2]))]));
  for (let pass = 0; pass < 2; pass++) {
    const { sink, rows } = collect();
    assert.throws(() => receiver.v1(bad, sink), /truncated sample value/);
    assert.equal(rows.length, 1);
  }
});

test('snappy decoder: copies and literals of every length and offset decode as the reference does', () => {
  const rand = rng(3);
  for (let round = 0; round < 200; round++) {
    // runs that repeat at distances 1–80 for 1–90 bytes, between random literals
    const parts: number[] = [];
    while (parts.length < 3000) {
      if (parts.length < 4 || rand() < 0.3) {
        const n = 1 + Math.floor(rand() * 70);
        for (let i = 0; i < n; i++) parts.push(Math.floor(rand() * 256));
      } else {
        const dist = 1 + Math.floor(rand() * Math.min(80, parts.length));
        const n = 1 + Math.floor(rand() * 90);
        for (let i = 0; i < n; i++) parts.push(parts[parts.length - dist]);
      }
    }
    const raw = Buffer.from(parts);
    const packed = compressSync(raw);
    assert.ok(uncompress(packed).equals(raw), `round ${round}`);
    assert.ok(Buffer.from(uncompressSync(packed) as Buffer).equals(raw));
  }
});

test('snappy writer: points of a series in a row (one copy of its head), between other series — the plain writer\'s bytes', () => {
  const w = new SnappyWriteRequestWriter(64);
  const plain = new WriteRequestWriter(64);
  const a = Labels.fromRecord({ __name__: 'a_total', instance: 'h:1', job: 'j' });
  const b = Labels.fromRecord({ __name__: 'b_total', instance: 'h:1', job: 'j' });
  for (let req = 0; req < 4; req++) {
    const batch = new SampleBatch(16);
    const t = 1_700_000_000_000 + req * 1000;
    // a, a, a (same and different timestamp sizes), b, b, a — and a timestamp of another size
    batch.append(a, 1, t);
    batch.append(a, 2, t + 1);
    batch.append(a, 2, req === 2 ? 5 : t + 2);
    batch.append(b, 3, t);
    batch.appendStale(b, t + 1);
    batch.append(a, 4, t + 3);
    w.reset();
    for (let i = 0; i < batch.length; i++) w.appendOne(batch, i);
    plain.reset();
    plain.append(batch);
    assert.ok(Buffer.from(uncompressSync(w.finish()) as Buffer).equals(plain.bytes()), `request ${req}`);
    // the code of b after a is still the one kept: a's repeats did not overwrite it
    if (req > 0) assert.notEqual(w.codeAfter(a, b), undefined);
  }
});

