/** The shared data model: label sets, the builder and interner, sample batches and staleness. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Labels,
  LabelsBuilder,
  PackedBase,
  LabelsInterner,
  SampleBatch,
  STALE_NAN_BITS,
  isStaleNaNBits,
  writeSampleValue,
  escapeToLegacyName,
  isLegacyMetricName,
  isLegacyLabelName,
  isValidUtf8Name,
} from '../../src/model/index.js';
import { packLabels, unpackLabels } from '../../src/model/labels-packed.js';
import { rng } from '../helpers/seeded-random.js';

test('Labels sort by name in byte order, drop empty values, and a later duplicate wins', () => {
  const l = Labels.fromPairs([
    ['job', 'node'],
    ['__name__', 'up'],
    ['Zone', 'a'],
    ['empty', ''],
    ['job', 'api'],
  ]);
  // uppercase sorts before "_" (0x5f), which sorts before lowercase, as in Prometheus
  assert.deepEqual(l.kv, ['Zone', 'a', '__name__', 'up', 'job', 'api']);
  assert.equal(l.metricName, 'up');
  assert.equal(l.get('empty'), undefined);
  assert.equal(l.size, 3);
  assert.equal(l.toString(), 'up{Zone="a", job="api"}');
});

test('Labels keys are equal exactly when the sets are equal, and cannot be forged by separators', () => {
  const a = Labels.fromRecord({ a: 'x', b: 'y' });
  const b = Labels.fromRecord({ b: 'y', a: 'x' });
  const c = Labels.fromRecord({ a: 'x,b=y' });
  assert.equal(a.key, b.key);
  assert.ok(a.equals(b));
  assert.notEqual(a.key, c.key);
  // a value holding every printable separator candidate still differs from a split set
  const tricky = Labels.fromRecord({ a: 'x\u0000b\u00ffy' });
  assert.notEqual(tricky.key, Labels.fromRecord({ a: 'x', b: 'y' }).key);
});

test('Labels.compare orders like Prometheus labels.Compare', () => {
  const sets = [
    Labels.fromRecord({ a: '2' }),
    Labels.fromRecord({ a: '1', b: '1' }),
    Labels.fromRecord({ a: '1' }),
    Labels.fromRecord({ b: '0' }),
  ];
  sets.sort((x, y) => x.compare(y));
  assert.deepEqual(sets.map((s) => s.toString()), ['{a="1"}', '{a="1", b="1"}', '{a="2"}', '{b="0"}']);
});

test('LabelsBuilder sets, deletes and builds sorted immutable sets; empty value deletes', () => {
  const base = Labels.fromRecord({ __name__: 'm', instance: 'h:1', job: 'j' });
  const b = new LabelsBuilder().reset(base);
  b.set('zone', 'eu').del('instance').set('job', '');
  const built = b.build();
  assert.deepEqual(built.toRecord(), { __name__: 'm', zone: 'eu' });
  assert.deepEqual(base.toRecord(), { __name__: 'm', instance: 'h:1', job: 'j' }, 'the source is unchanged');
  assert.equal(new LabelsBuilder().build(), Labels.EMPTY);
});

test('LabelsInterner returns one shared instance per distinct set', () => {
  const interner = new LabelsInterner();
  const first = interner.intern(Labels.fromRecord({ a: '1' }));
  const second = interner.intern(Labels.fromRecord({ a: '1' }));
  const other = interner.intern(Labels.fromRecord({ a: '2' }));
  assert.equal(first, second);
  assert.notEqual(first, other);
  assert.equal(interner.size, 2);
});

test('SampleBatch grows, keeps order, and reuses storage after reset', () => {
  const batch = new SampleBatch(2);
  const series = Labels.fromRecord({ __name__: 'x' });
  for (let i = 0; i < 1000; i++) batch.append(series, i * 0.5, 1_700_000_000_000 + i);
  assert.equal(batch.length, 1000);
  assert.equal(batch.values[999], 499.5);
  assert.equal(batch.timestamps[999], 1_700_000_000_999);
  const capacity = batch.capacity;
  batch.reset();
  assert.equal(batch.length, 0);
  assert.equal(batch.capacity, capacity, 'storage is kept for the next scrape');
  // int64 millisecond timestamps up to 2^53 are exact
  batch.append(series, 1, Number.MAX_SAFE_INTEGER);
  assert.equal(batch.timestamps[0], Number.MAX_SAFE_INTEGER);
});

test('the staleness marker is written with its exact bits 0x7ff0000000000002; a plain NaN is not stale', () => {
  const batch = new SampleBatch();
  const s = Labels.fromRecord({ __name__: 'gone' });
  batch.append(s, NaN, 1);
  batch.appendStale(s, 2);
  const buf = new Uint8Array(16);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < batch.length; i++) writeSampleValue(view, i * 8, batch.values[i], batch.isStale(i));
  assert.equal(view.getBigUint64(8, true), STALE_NAN_BITS);
  assert.ok(isStaleNaNBits(buf, 8));
  assert.ok(!isStaleNaNBits(buf, 0), 'an ordinary NaN is not the marker');
  assert.ok(Number.isNaN(view.getFloat64(0, true)));
  // and the marker survives a copy of the bytes, which is how it travels on
  const copy = buf.slice(8, 16);
  assert.ok(isStaleNaNBits(copy, 0));
});

test('name rules: legacy names, UTF-8 names, underscore escaping', () => {
  assert.ok(isLegacyMetricName('node_cpu:rate5m'));
  assert.ok(!isLegacyMetricName('1abc'));
  assert.ok(!isLegacyLabelName('a:b'));
  assert.ok(isValidUtf8Name('my.metric.ü'));
  assert.ok(!isValidUtf8Name(''));
  assert.ok(!isValidUtf8Name('bad\uD800'));
  assert.equal(escapeToLegacyName('my.metric-name', true), 'my_metric_name');
  assert.equal(escapeToLegacyName('9lives', false), '_lives');
  assert.equal(escapeToLegacyName('a:b', false), 'a_b');
  assert.equal(escapeToLegacyName('a:b', true), 'a:b');
});

test('a packed label set reads back the same: pairs, key, hash, equality; encoded as remote write sends it', () => {
  const next = rng(7);
  const alphabet = ['a', 'Z', '_', '9', 'é', '🐢', ' ', '"', '\n', 'x'.repeat(150)];
  for (let round = 0; round < 300; round++) {
    const pairs: [string, string][] = [['__name__', 'm' + round]];
    for (let j = 0; j < Math.floor(next() * 7); j++) {
      pairs.push(['l' + j, Array.from({ length: 1 + Math.floor(next() * 3) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('')]);
    }
    const plain = Labels.fromPairs(pairs);
    const packed = Labels.fromPairs(pairs);
    const hash = packed.hash;
    packed.pack();
    assert.equal(packed.size, plain.size, 'counted from the packed form (values up to 450 bytes: two-byte lengths too)');
    assert.equal(packed.key, packLabels(plain.kv), 'the packed form is the remote-write encoding');
    assert.equal(packed.hash, hash);
    assert.deepEqual(packed.kv, plain.kv, 'unpacked on demand');
    assert.equal(packed.key, plain.key);
    assert.ok(packed.equals(plain));
    assert.equal(packed.get('__name__'), 'm' + round);
  }
  // a packed set costs one string: decoding it again gives UTF-8 text back, not its bytes
  const turtle = Labels.fromRecord({ __name__: 'x', animal: '🐢é' });
  turtle.pack();
  assert.equal(turtle.get('animal'), '🐢é');
  assert.deepEqual(unpackLabels(packLabels(['a', 'b'])), ['a', 'b']);
  Labels.EMPTY.pack();
  assert.equal(Labels.EMPTY.size, 0, 'the empty set stays as it is');
});

test('a set packed around shared labels holds only its own, reads back whole, and writes the same bytes', () => {
  const next = rng(11);
  const alphabet = ['a', 'Z', '_', '9', 'é', '🐢', '"', 'x'.repeat(300)];
  const word = () => Array.from({ length: 1 + Math.floor(next() * 3) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
  const shared: string[] = [];
  const share = (own: string) => (shared.push(own), own);
  for (let round = 0; round < 300; round++) {
    const target = Labels.fromRecord({ instance: `host-${round % 7}:9100`, job: 'node', ...(round % 3 === 0 ? { a_zone: word(), zz: word() } : {}) });
    const base = new PackedBase(target);
    const pairs: [string, string][] = [...target.kv.reduce<[string, string][]>((out, v, i, kv) => (i % 2 ? out : [...out, [v, kv[i + 1]]]), [])];
    pairs.push(['__name__', 'm' + round]);
    for (let j = 0; j < Math.floor(next() * 5); j++) pairs.push([['a', 'instance_x', 'k', 'zzz', 'j'][j] + j, word()]);
    const plain = Labels.fromPairs(pairs);
    const split = Labels.fromPairs(pairs);
    const before = shared.length;
    split.packAround(base, share);
    assert.equal(shared.length, before + 1, 'packed around the target: its own part is offered for sharing');
    assert.ok(!shared[before].includes('host-'), 'the shared labels are not in its own part');
    assert.equal(split.packedLength, plain.key.length);
    assert.equal(split.packedTransient(), plain.key, 'reassembled in name order: the remote-write encoding');
    const buf = Buffer.alloc(split.packedLength + 3);
    assert.equal(split.writePacked(buf, 3), buf.length);
    assert.equal(buf.toString('latin1', 3), plain.key);
    assert.equal(split.size, plain.size);
    assert.equal(split.hash, plain.hash);
    assert.ok(split.equals(plain) && plain.equals(split));
    assert.deepEqual(split.kvTransient, plain.kv);
    const twin = Labels.fromPairs(pairs);
    twin.packAround(base, share);
    assert.ok(twin.equals(split), 'same own part, same base');
    const other = Labels.fromPairs([...pairs, ['zz_more', 'x']]);
    other.packAround(base, share);
    assert.ok(!other.equals(split));
    assert.equal(split.key, plain.key, 'keyed by content: the whole string, kept from then on');
    assert.ok(split.equals(twin) && twin.equals(split), 'flat and split sets of the same labels are equal');
  }
});

test('a set without every shared label, or with another value for one, is packed whole', () => {
  const base = new PackedBase(Labels.fromRecord({ instance: 'h:1', job: 'node' }));
  let offered = 0;
  const share = (own: string) => (offered++, own);
  const relabeled = Labels.fromRecord({ __name__: 'up', instance: 'h:2', job: 'node' });
  relabeled.packAround(base, share);
  const dropped = Labels.fromRecord({ __name__: 'up', job: 'node' });
  dropped.packAround(base, share);
  assert.equal(offered, 0);
  assert.equal(relabeled.packedTransient(), packLabels(['__name__', 'up', 'instance', 'h:2', 'job', 'node']));
  assert.equal(dropped.get('job'), 'node');
  assert.equal(dropped.size, 2);
});
