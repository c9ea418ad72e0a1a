/**
 * The protobuf exposition format (delimited io.prometheus.client.MetricFamily messages) against
 * protobufjs as the reference encoder and decoder: bodies it builds parse to the expected
 * families, bodies our writer builds decode to the messages they came from, parse(write(x)) is
 * x for random families, 64-bit counts and timestamps, unknown fields and odd field orders;
 * every malformed input fails with its precise ProtobufError, seeded mutations of a valid body
 * never fail any other way; and the text page of a parsed body is what the real Pushgateway
 * exposes for the same push.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import protobuf from 'protobufjs';
import {
  formatGoFloat,
  parseProtobufFamilies,
  ProtobufError,
  writeProtobufFamilies,
  CONTENT_TYPE_PROTOBUF_DELIMITED,
} from '../../src/formats/protobuf/index.js';
import { writeExposition } from '../../src/formats/prometheus/writer.js';
import { parseFamilies } from '../../src/formats/prometheus/families.js';
import { Labels, LabelsBuilder } from '../../src/model/labels.js';
import type { Exemplar, MetricFamily, MetricPoint, MetricType } from '../../src/model/family.js';
import { requirePeer } from '../helpers/peers.js';
import { freePort, stopProcess } from '../helpers/prometheus-peer.js';
import { rng } from '../helpers/seeded-random.js';

// ---------------------------------------------------------------- reference schema

/**
 * The messages of client_model's io/prometheus/client/metrics.proto that exposition uses, with
 * its field numbers (proto2, as client_golang compiles it; created timestamps left out).
 */
const METRICS_PROTO = `
syntax = "proto2";
package io.prometheus.client;

message LabelPair {
  optional string name  = 1;
  optional string value = 2;
}

enum MetricType {
  COUNTER         = 0;
  GAUGE           = 1;
  SUMMARY         = 2;
  UNTYPED         = 3;
  HISTOGRAM       = 4;
  GAUGE_HISTOGRAM = 5;
}

message Gauge {
  optional double value = 1;
}

message Counter {
  optional double   value    = 1;
  optional Exemplar exemplar = 2;
}

message Quantile {
  optional double quantile = 1;
  optional double value    = 2;
}

message Summary {
  optional uint64   sample_count = 1;
  optional double   sample_sum   = 2;
  repeated Quantile quantile     = 3;
}

message Untyped {
  optional double value = 1;
}

message Histogram {
  optional uint64 sample_count       = 1;
  optional double sample_count_float = 4;
  optional double sample_sum         = 2;
  repeated Bucket bucket             = 3;
  optional sint32 schema             = 5;
  optional double zero_threshold     = 6;
  optional uint64 zero_count         = 7;
  optional double zero_count_float   = 8;
  repeated BucketSpan negative_span  = 9;
  repeated sint64 negative_delta     = 10;
  repeated double negative_count     = 11;
  repeated BucketSpan positive_span  = 12;
  repeated sint64 positive_delta     = 13;
  repeated double positive_count     = 14;
  repeated Exemplar exemplars        = 16;
}

message Bucket {
  optional uint64   cumulative_count       = 1;
  optional double   cumulative_count_float = 4;
  optional double   upper_bound            = 2;
  optional Exemplar exemplar               = 3;
}

message BucketSpan {
  optional sint32 offset = 1;
  optional uint32 length = 2;
}

message Timestamp {
  optional int64 seconds = 1;
  optional int32 nanos   = 2;
}

message Exemplar {
  repeated LabelPair label     = 1;
  optional double    value     = 2;
  optional Timestamp timestamp = 3;
}

message Metric {
  repeated LabelPair label        = 1;
  optional Gauge     gauge        = 2;
  optional Counter   counter      = 3;
  optional Summary   summary      = 4;
  optional Untyped   untyped      = 5;
  optional Histogram histogram    = 7;
  optional int64     timestamp_ms = 6;
}

message MetricFamily {
  optional string     name   = 1;
  optional string     help   = 2;
  optional MetricType type   = 3;
  repeated Metric     metric = 4;
  optional string     unit   = 5;
}
`;

/** The same messages as a future version might send them: extra fields of every wire type. */
const FUTURE_PROTO = METRICS_PROTO.replace(/(\nmessage [\s\S]*?)\n}/g, `$1
  optional string  x_string  = 90;
  optional fixed64 x_fixed64 = 91;
  optional fixed32 x_fixed32 = 92;
  optional uint64  x_varint  = 93;
  optional Extra   x_message = 94;
  repeated sint64  x_packed  = 95 [packed = true];
}`).replace('package io.prometheus.client;', 'package io.prometheus.client;\nmessage Extra { optional string a = 1; repeated int64 b = 2; }');

const MF = protobuf.parse(METRICS_PROTO, { keepCase: true }).root.lookupType('io.prometheus.client.MetricFamily');
const FUTURE_MF = protobuf.parse(FUTURE_PROTO, { keepCase: true }).root.lookupType('io.prometheus.client.MetricFamily');

/** Plain MetricFamily objects as protobufjs takes them (64-bit fields as numbers or strings). */
type PbObject = Record<string, unknown>;

function encode(families: PbObject[], type = MF): Buffer {
  return Buffer.concat(families.map((f) => type.encodeDelimited(type.fromObject(f)).finish()));
}

function decode(body: Uint8Array): PbObject[] {
  const reader = protobuf.Reader.create(body);
  const out: PbObject[] = [];
  while (reader.pos < reader.len) {
    out.push(MF.toObject(MF.decodeDelimited(reader), { longs: String, enums: Number, defaults: false, arrays: false }));
  }
  return out;
}

// ---------------------------------------------------------------- model helpers

const L = (rec: Record<string, string>): Labels => Labels.fromRecord(rec);

function point(labels: Record<string, string>, value: number, timestamp?: number, exemplar?: Exemplar): MetricPoint {
  const p: MetricPoint = { labels: L(labels), value };
  if (timestamp !== undefined) p.timestamp = timestamp;
  if (exemplar !== undefined) p.exemplar = exemplar;
  return p;
}

/** Families as plain data, labels as their text: deepEqual-able with readable diffs. */
function plain(families: readonly MetricFamily[]): unknown[] {
  return families.map((f) => ({
    name: f.name,
    type: f.type,
    ...(f.help !== undefined ? { help: f.help } : {}),
    ...(f.unit !== undefined ? { unit: f.unit } : {}),
    metrics: f.metrics.map((m) => ({
      labels: m.labels.toString(),
      // Object.is semantics for NaN and -0 through their text
      value: Object.is(m.value, -0) ? '-0' : String(m.value),
      ...(m.timestamp !== undefined ? { timestamp: m.timestamp } : {}),
      ...(m.exemplar !== undefined
        ? { exemplar: { labels: m.exemplar.labels.toString(), value: String(m.exemplar.value), ...(m.exemplar.timestamp !== undefined ? { timestamp: m.exemplar.timestamp } : {}) } }
        : {}),
    })),
  }));
}

// ---------------------------------------------------------------- hand-made wire bytes

function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const key = (field: number, wire: number): number[] => varint(field * 8 + wire);
const ld = (field: number, bytes: number[]): number[] => [...key(field, 2), ...varint(bytes.length), ...bytes];
const str = (field: number, s: string): number[] => ld(field, [...Buffer.from(s)]);
const num = (field: number, n: number | bigint): number[] => [...key(field, 0), ...varint(n)];
const dbl = (field: number, x: number): number[] => [...key(field, 1), ...new Uint8Array(new Float64Array([x]).buffer)];
const delimited = (...messages: number[][]): Buffer => Buffer.from(messages.flatMap((m) => [...varint(m.length), ...m]));
const label = (name: string, value: string): number[] => ld(1, [...str(1, name), ...str(2, value)]);
const gaugeMetric = (value: number, ...labels: number[][]): number[] => ld(4, [...labels.flat(), ...ld(2, dbl(1, value))]);
const gaugeFamily = (name: string, ...metrics: number[][]): number[] => [...str(1, name), ...num(3, 1), ...metrics.flat()];

function throwsProto(body: Uint8Array, message: string, opts?: Parameters<typeof parseProtobufFamilies>[1]): void {
  assert.throws(
    () => parseProtobufFamilies(body, opts),
    (err: unknown) => {
      assert.ok(err instanceof ProtobufError, `not a ProtobufError: ${String(err)}`);
      assert.equal(err.message, message);
      return true;
    },
  );
}

// ---------------------------------------------------------------- the fixture push

/** Every type, labels out of order, an empty value, exemplars, timestamps, histograms with and without +Inf. */
const FIXTURE: PbObject[] = [
  {
    name: 'http_requests_total',
    help: 'Requests by code.\nSecond line with a \\ backslash.',
    type: 0,
    metric: [
      {
        label: [
          { name: 'path', value: '/api' },
          { name: 'code', value: '200' },
          { name: 'empty', value: '' },
        ],
        counter: { value: 1027, exemplar: { label: [{ name: 'trace_id', value: 'abc' }], value: 0.25, timestamp: { seconds: 1700000000, nanos: 123456789 } } },
        timestamp_ms: 1700000000123,
      },
      { label: [{ name: 'code', value: '500' }], counter: { value: 3 } },
    ],
  },
  { name: 'temperature', type: 1, metric: [{ label: [{ name: 'room', value: 'kitchen ✓' }], gauge: { value: -4.5 } }] },
  { name: 'legacy', help: '', type: 3, metric: [{ untyped: { value: 1e-7 } }] },
  {
    name: 'rpc_duration_seconds',
    type: 2,
    metric: [
      {
        label: [{ name: 'service', value: 'a' }, { name: 'zone', value: 'z1' }],
        summary: { sample_count: 100, sample_sum: 12.5, quantile: [{ quantile: 0.5, value: 0.1 }, { quantile: 0.99, value: 0.5 }, { quantile: 0.00001, value: 0 }] },
      },
    ],
  },
  {
    name: 'latency_seconds',
    help: 'Latency.',
    type: 4,
    metric: [
      {
        label: [{ name: 'handler', value: '/' }],
        histogram: {
          sample_count: 7,
          sample_sum: 3.5,
          bucket: [
            { upper_bound: 0.005, cumulative_count: 1 },
            { upper_bound: 1, cumulative_count: 4, exemplar: { label: [{ name: 'id', value: 'x' }], value: 0.7 } },
            { upper_bound: 1e6, cumulative_count: 6 },
          ],
        },
      },
      { label: [{ name: 'handler', value: '/x' }], histogram: { sample_count: 2, sample_sum: 1, bucket: [{ upper_bound: 0.5, cumulative_count: 1 }, { upper_bound: Infinity, cumulative_count: 2 }] } },
    ],
  },
  { name: 'queue_fill', type: 5, metric: [{ histogram: { sample_count: 3, sample_sum: -1, bucket: [{ upper_bound: 0, cumulative_count: 1 }] } }] },
];

const FIXTURE_FAMILIES: MetricFamily[] = [
  {
    name: 'http_requests_total',
    type: 'counter',
    help: 'Requests by code.\nSecond line with a \\ backslash.',
    metrics: [
      point({ __name__: 'http_requests_total', code: '200', path: '/api' }, 1027, 1700000000123, { labels: L({ trace_id: 'abc' }), value: 0.25, timestamp: 1700000000123 }),
      point({ __name__: 'http_requests_total', code: '500' }, 3),
    ],
  },
  { name: 'temperature', type: 'gauge', metrics: [point({ __name__: 'temperature', room: 'kitchen ✓' }, -4.5)] },
  { name: 'legacy', type: 'unknown', help: '', metrics: [point({ __name__: 'legacy' }, 1e-7)] },
  {
    name: 'rpc_duration_seconds',
    type: 'summary',
    metrics: [
      point({ __name__: 'rpc_duration_seconds', service: 'a', zone: 'z1', quantile: '0.5' }, 0.1),
      point({ __name__: 'rpc_duration_seconds', service: 'a', zone: 'z1', quantile: '0.99' }, 0.5),
      point({ __name__: 'rpc_duration_seconds', service: 'a', zone: 'z1', quantile: '1e-05' }, 0),
      point({ __name__: 'rpc_duration_seconds_sum', service: 'a', zone: 'z1' }, 12.5),
      point({ __name__: 'rpc_duration_seconds_count', service: 'a', zone: 'z1' }, 100),
    ],
  },
  {
    name: 'latency_seconds',
    type: 'histogram',
    help: 'Latency.',
    metrics: [
      point({ __name__: 'latency_seconds_bucket', handler: '/', le: '0.005' }, 1),
      point({ __name__: 'latency_seconds_bucket', handler: '/', le: '1' }, 4, undefined, { labels: L({ id: 'x' }), value: 0.7 }),
      point({ __name__: 'latency_seconds_bucket', handler: '/', le: '1e+06' }, 6),
      point({ __name__: 'latency_seconds_bucket', handler: '/', le: '+Inf' }, 7),
      point({ __name__: 'latency_seconds_sum', handler: '/' }, 3.5),
      point({ __name__: 'latency_seconds_count', handler: '/' }, 7),
      point({ __name__: 'latency_seconds_bucket', handler: '/x', le: '0.5' }, 1),
      point({ __name__: 'latency_seconds_bucket', handler: '/x', le: '+Inf' }, 2),
      point({ __name__: 'latency_seconds_sum', handler: '/x' }, 1),
      point({ __name__: 'latency_seconds_count', handler: '/x' }, 2),
    ],
  },
  {
    name: 'queue_fill',
    type: 'gaugehistogram',
    metrics: [
      point({ __name__: 'queue_fill_bucket', le: '0' }, 1),
      point({ __name__: 'queue_fill_bucket', le: '+Inf' }, 3),
      point({ __name__: 'queue_fill_gsum' }, -1),
      point({ __name__: 'queue_fill_gcount' }, 3),
    ],
  },
];

// ---------------------------------------------------------------- tests

test('bodies built by protobufjs parse to the families the text parser would give', () => {
  const families = parseProtobufFamilies(encode(FIXTURE));
  assert.deepEqual(plain(families), plain(FIXTURE_FAMILIES));
  // the same page, in both directions, as the text format has it
  const text = writeExposition(families, { format: 'prometheus' });
  assert.deepEqual(plain(parseFamilies(text, { format: 'prometheus' }).families), plain(FIXTURE_FAMILIES.map(withoutExemplars).map(asText)));
});

/** The text format has no exemplars, and shows a gauge histogram as a histogram. */
function withoutExemplars(f: MetricFamily): MetricFamily {
  return { ...f, metrics: f.metrics.map(({ exemplar: _, ...m }) => m) };
}
function asText(f: MetricFamily): MetricFamily {
  if (f.type !== 'gaugehistogram') return f;
  const rename = (m: MetricPoint): MetricPoint => {
    const n = m.labels.metricName;
    const to = n.endsWith('_gsum') ? n.replace(/_gsum$/, '_sum') : n.endsWith('_gcount') ? n.replace(/_gcount$/, '_count') : n;
    return { ...m, labels: new LabelsBuilder().reset(m.labels).set('__name__', to).build() };
  };
  return { ...f, type: 'histogram', metrics: f.metrics.map(rename) };
}

test('unknown fields of every wire type are skipped, in every message', () => {
  const extra = { x_string: 'future', x_fixed64: '18446744073709551615', x_fixed32: 7, x_varint: '300', x_message: { a: 'b', b: [-1, 2] }, x_packed: [-5, 5, 1e6] };
  const sprinkle = (o: unknown): unknown => {
    if (Array.isArray(o)) return o.map(sprinkle);
    if (o === null || typeof o !== 'object') return o;
    const out: Record<string, unknown> = { ...extra };
    for (const [k, v] of Object.entries(o)) out[k] = sprinkle(v);
    return out;
  };
  const body = encode(FIXTURE.map((f) => sprinkle(f) as PbObject), FUTURE_MF);
  assert.ok(body.length > encode(FIXTURE).length + 500);
  assert.deepEqual(plain(parseProtobufFamilies(body)), plain(FIXTURE_FAMILIES));
});

test('fields in any order: metrics before the family name and type, labels after values', () => {
  const metric = ld(4, [...ld(2, dbl(1, 2)), ...num(6, 5), ...label('b', '1'), ...label('a', '2')]);
  const body = delimited([...metric, ...str(2, 'help'), ...num(3, 1), ...str(1, 'late_name')]);
  assert.deepEqual(plain(parseProtobufFamilies(body)), [
    { name: 'late_name', type: 'gauge', help: 'help', metrics: [{ labels: 'late_name{a="2", b="1"}', value: '2', timestamp: 5 }] },
  ]);
  // a family with no metrics keeps its metadata, as the text format's `# TYPE` alone does
  assert.deepEqual(plain(parseProtobufFamilies(delimited(str(1, 'lonely')))), [{ name: 'lonely', type: 'counter', metrics: [] }]);
  assert.deepEqual(parseProtobufFamilies(Buffer.alloc(0)), []);
});

test('our writer: protobufjs decodes exactly the messages the body was made of', () => {
  // the fixture in canonical form: sorted labels, no empty values, +Inf buckets present
  const canonical = structuredClone(FIXTURE) as PbObject[];
  const m0 = (canonical[0].metric as PbObject[])[0];
  m0.label = [
    { name: 'code', value: '200' },
    { name: 'path', value: '/api' },
  ];
  // the model keeps exemplar timestamps in milliseconds
  ((m0.counter as PbObject).exemplar as PbObject).timestamp = { seconds: 1700000000, nanos: 123000000 };
  const h0 = ((canonical[4].metric as PbObject[])[0].histogram as PbObject).bucket as PbObject[];
  h0.push({ upper_bound: Infinity, cumulative_count: 7 });
  const g0 = ((canonical[5].metric as PbObject[])[0].histogram as PbObject).bucket as PbObject[];
  g0.push({ upper_bound: Infinity, cumulative_count: 3 });

  const ours = writeProtobufFamilies(parseProtobufFamilies(encode(canonical)));
  assert.deepEqual(decode(ours), decode(encode(canonical)));
  assert.deepEqual(plain(parseProtobufFamilies(ours)), plain(FIXTURE_FAMILIES));
});

test('round trip: random families of every protobuf type come back exactly from parse(write(x))', () => {
  const next = rng(20240517);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const VALUES = [0, -0, 1, -1.5, 1e308, 5e-324, Infinity, -Infinity, NaN, 2 ** 53, 0.1, 1234567.5];
  const BOUNDS = [0.005, 0.01, 0.1, 1, 2.5, 10, 1e6, 1e-7, 123456.789];
  const TEXTS = ['a', 'é', '🐢', ' ', '"', '\\', '\n', 'x'.repeat(200), '0', '\uFEFF', '\uFFFD'];
  const types: MetricType[] = ['counter', 'gauge', 'unknown', 'summary', 'histogram', 'gaugehistogram'];
  for (let round = 0; round < 150; round++) {
    const families: MetricFamily[] = [];
    const nf = 1 + Math.floor(next() * 6);
    for (let f = 0; f < nf; f++) {
      const type = pick(types);
      const name = `fam_${round}_${f}`;
      const fam: MetricFamily = { name, type, metrics: [] };
      if (next() < 0.5) fam.help = Array.from({ length: Math.floor(next() * 4) }, () => pick(TEXTS)).join('');
      const series = Math.floor(next() * 4);
      for (let s = 0; s < series; s++) {
        const labels: Record<string, string> = { id: String(s) };
        for (let k = 0; k < 3; k++) if (next() < 0.5) labels[pick(['Alpha', 'beta', '_under', 'z9', 'path'])] = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(TEXTS)).join('');
        const ts = next() < 0.3 ? pick([-1, 0, 1700000000123, -(2 ** 53 - 1), 2 ** 53 - 1]) : undefined;
        const p = (extra: Record<string, string>, value: number, exemplar?: Exemplar): MetricPoint => point({ ...labels, ...extra }, value, ts, exemplar);
        const ex = (): Exemplar | undefined =>
          next() < 0.3 ? { labels: L({ trace: pick(['a', 'é', '1']) }), value: pick(VALUES), ...(next() < 0.5 ? { timestamp: pick([-1500, 1700000000123]) } : {}) } : undefined;
        const count = pick([0, 5, 2 ** 53 + 2, 2 ** 64, 2.5]);
        if (type === 'counter' || type === 'gauge' || type === 'unknown') {
          fam.metrics.push(p({ __name__: name }, pick(VALUES), type === 'counter' ? ex() : undefined));
        } else if (type === 'summary') {
          for (const q of [0.5, 0.9, 0.99].slice(0, Math.floor(next() * 4))) fam.metrics.push(p({ __name__: name, quantile: formatGoFloat(q) }, pick(VALUES)));
          fam.metrics.push(p({ __name__: name + '_sum' }, pick(VALUES)), p({ __name__: name + '_count' }, Math.floor(count)));
        } else {
          const bounds = [...new Set(Array.from({ length: Math.floor(next() * 5) }, () => pick(BOUNDS)))].sort((a, b) => a - b);
          bounds.forEach((b, i) => fam.metrics.push(p({ __name__: name + '_bucket', le: formatGoFloat(b) }, i, ex())));
          fam.metrics.push(p({ __name__: name + '_bucket', le: '+Inf' }, count));
          const g = type === 'gaugehistogram';
          fam.metrics.push(p({ __name__: name + (g ? '_gsum' : '_sum') }, pick(VALUES)), p({ __name__: name + (g ? '_gcount' : '_count') }, count));
        }
      }
      families.push(fam);
    }
    const body = writeProtobufFamilies(families);
    assert.deepEqual(plain(parseProtobufFamilies(body)), plain(families), `round ${round}`);
    // and protobufjs reads what we wrote
    assert.equal(decode(body).length, families.length);
  }
});

test('64-bit: counts beyond 2^53 become the nearest double, int64 timestamps read exactly, negatives too', () => {
  const body = encode([
    {
      name: 'big',
      type: 2,
      metric: [{ summary: { sample_count: '9007199254740993', sample_sum: 0 }, timestamp_ms: '-1' }],
    },
    {
      name: 'bigger',
      type: 4,
      metric: [
        {
          label: [{ name: 'a', value: '1' }],
          histogram: { sample_count: '18446744073709551615', bucket: [{ upper_bound: 1, cumulative_count: '18446744073709549568' }] },
          timestamp_ms: '-1700000000123',
        },
        { label: [{ name: 'a', value: '2' }], histogram: { sample_count: '562949953421313' }, timestamp_ms: '9007199254740991' },
      ],
    },
  ]);
  const [big, bigger] = parseProtobufFamilies(body);
  // 2^53 + 1 has no double: ties go to even, 2^53
  assert.equal(big.metrics[1].value, 2 ** 53);
  assert.equal(big.metrics[1].timestamp, -1);
  assert.equal(bigger.metrics[0].value, 18446744073709549568);
  assert.equal(bigger.metrics[1].value, 2 ** 64);
  assert.equal(bigger.metrics[0].timestamp, -1700000000123);
  // 2^49 + 1: an eight-byte varint, still exact
  assert.equal(bigger.metrics[6].value, 562949953421313);
  assert.equal(bigger.metrics[6].timestamp, 2 ** 53 - 1);
});

test('the *_float counts override the integer ones when positive; native histograms are refused or cut to their classic buckets', () => {
  const [f] = parseProtobufFamilies(
    encode([
      {
        name: 'h',
        type: 4,
        metric: [
          {
            histogram: {
              sample_count: 0,
              sample_count_float: 2.5,
              sample_sum: 1,
              bucket: [{ upper_bound: 1, cumulative_count: 0, cumulative_count_float: 1.5 }],
              // a native histogram beside the classic one
              schema: 3,
              zero_threshold: 1e-128,
              positive_span: [{ offset: 0, length: 2 }],
              positive_delta: [1, -1],
            },
          },
        ],
      },
    ]),
  );
  assert.deepEqual(
    f.metrics.map((m) => `${m.labels} ${m.value}`),
    ['h_bucket{le="1"} 1.5', 'h_bucket{le="+Inf"} 2.5', 'h_sum{} 1', 'h_count{} 2.5'],
  );
  const nativeOnly = encode([{ name: 'native', type: 4, metric: [{ histogram: { sample_count: 1, sample_sum: 1, schema: 0, positive_span: [{ offset: 0, length: 0 }] } }] }]);
  throwsProto(nativeOnly, 'message 1 (family "native"), byte 26: metric 1: native histograms are not supported, and this histogram has no classic buckets');
});

test('Go float formatting of le and quantile values', () => {
  const cases: [number, string][] = [
    [0.005, '0.005'],
    [0.1, '0.1'],
    [1, '1'],
    [-1, '-1'],
    [0, '0'],
    [-0, '0'],
    [2.5, '2.5'],
    [100000, '100000'],
    [999999, '999999'],
    [123456.789, '123456.789'],
    [1e6, '1e+06'],
    [1234567.5, '1.2345675e+06'],
    [1e21, '1e+21'],
    [1e100, '1e+100'],
    [0.0001, '0.0001'],
    [0.00015, '0.00015'],
    [1e-5, '1e-05'],
    [-2.5e-7, '-2.5e-07'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ];
  for (const [v, s] of cases) assert.equal(formatGoFloat(v), s, `${v}`);
});

test('malformed bodies fail with the message, family, byte offset and field', () => {
  const ok = gaugeFamily('ok', gaugeMetric(1));
  // framing
  throwsProto(Buffer.from([0x80]), 'message 1, byte 0: the length prefix: truncated varint');
  throwsProto(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'message 1, byte 0: the length prefix: varint longer than 10 bytes');
  throwsProto(Buffer.from([0x05, 0x0a, 0x01]), 'message 1, byte 0: length prefix 5 runs past the end of the body (2 bytes left)');
  throwsProto(Buffer.concat([delimited(ok), Buffer.from([0x03, 0x0a])]), 'message 2, byte 20: length prefix 3 runs past the end of the body (1 bytes left)');
  throwsProto(delimited([...str(1, 'x'), 0x22, 0x09, 0x0a]), 'message 1 (family "x"), byte 5: MetricFamily.metric: length 9 runs past the end of its message (1 bytes left)');
  throwsProto(delimited([...str(1, 'x'), ...num(3, 1), ...ld(4, ld(2, [0x09, 1, 2, 3]))]), 'message 1 (family "x"), byte 11: metric 1: Gauge.value: truncated double (3 of 8 bytes)');
  throwsProto(delimited([...str(1, 'x'), 0x18]), 'message 1 (family "x"), byte 5: MetricFamily.type: truncated varint');
  // wire types
  throwsProto(delimited([...num(1, 5)]), 'message 1, byte 1: MetricFamily.name has wire type varint, expected length-delimited');
  throwsProto(delimited([...str(1, 'x'), ...str(3, 'gauge')]), 'message 1 (family "x"), byte 4: MetricFamily.type has wire type length-delimited, expected varint');
  throwsProto(delimited([...str(1, 'x'), ...num(3, 1), ...ld(4, num(2, 1))]), 'message 1 (family "x"), byte 8: metric 1: Metric.gauge has wire type varint, expected length-delimited');
  throwsProto(delimited([...str(1, 'x'), ...num(3, 1), ...ld(4, [...ld(2, num(1, 1))])]), 'message 1 (family "x"), byte 10: metric 1: Gauge.value has wire type varint, expected fixed64');
  throwsProto(delimited([...str(1, 'x'), ...ld(4, num(6, -1).slice(0, 5))]), 'message 1 (family "x"), byte 7: metric 1: Metric.timestamp_ms: truncated varint');
  throwsProto(delimited([...str(1, 'x'), 0x0e]), 'message 1 (family "x"), byte 4: MetricFamily.name has wire type invalid (6), expected length-delimited');
  throwsProto(delimited([...str(1, 'x'), 0x7e]), 'message 1 (family "x"), byte 4: field 15: invalid wire type 6');
  throwsProto(delimited([...str(1, 'x'), 0x00]), 'message 1 (family "x"), byte 4: field number 0 is not valid');
  throwsProto(delimited([...str(1, 'x'), 0x7c]), 'message 1 (family "x"), byte 4: field 15: end of a group that was not started');
  throwsProto(delimited([...str(1, 'x'), 0x7b, 0x08, 0x01]), 'message 1 (family "x"), byte 4: field 15: group without its end');
  // a well-formed group is an unknown field like any other
  assert.equal(parseProtobufFamilies(delimited([...str(1, 'x'), 0x7b, 0x08, 0x01, 0x13, 0x14, 0x7c])).length, 1);
  // strings and names
  throwsProto(delimited([...ld(1, [0x66, 0xff])]), 'message 1, byte 3: MetricFamily.name: not valid UTF-8');
  throwsProto(delimited(gaugeFamily('x', gaugeMetric(1, ld(1, [...str(1, 'a'), ...ld(2, [0xc3, 0x28])])))), 'message 1 (family "x"), byte 15: metric 1: LabelPair.value: not valid UTF-8');
  throwsProto(delimited(gaugeFamily('', gaugeMetric(1))), 'message 1, byte 1: the metric family has no name');
  throwsProto(delimited([...num(3, 1)]), 'message 1, byte 1: the metric family has no name');
  throwsProto(delimited(gaugeFamily('1x', gaugeMetric(1))), 'message 1, byte 1: metric name "1x" is not valid');
  throwsProto(delimited(gaugeFamily('my.metric', gaugeMetric(1))), 'message 1, byte 1: metric name "my.metric" is not valid');
  assert.equal(parseProtobufFamilies(delimited(gaugeFamily('my.metric', gaugeMetric(1, label('a.b', 'c')))), { utf8Names: true })[0].metrics[0].labels.toString(), '{"my.metric", "a.b"="c"}');
  throwsProto(delimited(ok, gaugeFamily('foo', gaugeMetric(1)), gaugeFamily('foo', gaugeMetric(2))), 'message 3 (family "foo"), byte 42: family "foo" appears again (first in message 2)');
  // names of one family's samples must not be another family's
  const histogram = [...str(1, 'h'), ...num(3, 4), ...ld(4, ld(7, num(1, 1)))];
  throwsProto(delimited(histogram, gaugeFamily('h_sum', gaugeMetric(1))), 'message 2 (family "h_sum"), byte 13: family "h_sum" collides with the histogram "h" of message 1: both would use the name "h_sum"');
  throwsProto(delimited(gaugeFamily('h_bucket', gaugeMetric(1)), histogram), 'message 2 (family "h"), byte 27: family "h" collides with the gauge "h_bucket" of message 1: both would use the name "h_bucket"');
  throwsProto(
    delimited([...str(1, 's'), ...num(3, 2)], [...str(1, 's_count'), ...num(3, 2)]),
    'message 2 (family "s_count"), byte 7: family "s_count" collides with the summary "s" of message 1: both would use the name "s_count"',
  );
  assert.equal(parseProtobufFamilies(delimited(gaugeFamily('h_bucket', gaugeMetric(1)), [...str(1, 'h'), ...num(3, 2)])).length, 2);
  // labels
  throwsProto(
    delimited(gaugeFamily('a', gaugeMetric(1)), gaugeFamily('b', gaugeMetric(1)), gaugeFamily('foo', gaugeMetric(1), gaugeMetric(1, label('1x', 'v')))),
    'message 3 (family "foo"), byte 61: metric 2: label name "1x" is not valid',
  );
  throwsProto(delimited(gaugeFamily('foo', gaugeMetric(1, label('', 'v')))), 'message 1 (family "foo"), byte 10: metric 1: label name "" is not valid');
  throwsProto(delimited(gaugeFamily('foo', gaugeMetric(1, label('__name__', 'bar')))), 'message 1 (family "foo"), byte 10: metric 1: label "__name__" must not be set in the labels: it is the family name');
  throwsProto(delimited(gaugeFamily('foo', gaugeMetric(1, label('__meta', 'bar')))), 'message 1 (family "foo"), byte 10: metric 1: label name "__meta" is reserved: names starting with "__" are for internal use');
  throwsProto(delimited(gaugeFamily('foo', gaugeMetric(1, label('b', '1'), label('a', '1'), label('b', '')))), 'message 1 (family "foo"), byte 26: metric 1: duplicate label name "b"');
  throwsProto(
    delimited([...str(1, 'h'), ...num(3, 4), ...ld(4, [...label('le', '1'), ...ld(7, num(1, 1))])]),
    'message 1 (family "h"), byte 8: metric 1: label "le" is reserved for the histogram\'s own samples',
  );
  throwsProto(
    delimited([...str(1, 's'), ...num(3, 2), ...ld(4, [...label('quantile', '1'), ...ld(4, num(1, 1))])]),
    'message 1 (family "s"), byte 8: metric 1: label "quantile" is reserved for the summary\'s own samples',
  );
  throwsProto(
    delimited(gaugeFamily('foo', gaugeMetric(1, label('a', '1')), gaugeMetric(2, label('b', '')), gaugeMetric(3, label('a', '1'), label('c', '')))),
    'message 1 (family "foo"), byte 49: metric 3: metric 3 has the same labels as metric 1: {a="1"}',
  );
  throwsProto(delimited(gaugeFamily('foo', gaugeMetric(1), gaugeMetric(2))), 'message 1 (family "foo"), byte 21: metric 2: metric 2 has the same labels as metric 1: {}');
  // exemplars
  const counterWithExemplar = (...exemplar: number[][]): Buffer => delimited([...str(1, 'c'), ...ld(4, ld(3, [...dbl(1, 1), ...ld(2, exemplar.flat())]))]);
  throwsProto(counterWithExemplar(label('1a', 'x')), 'message 1 (family "c"), byte 19: metric 1: Counter.exemplar: label name "1a" is not valid');
  throwsProto(counterWithExemplar(label('a', 'x'), label('a', 'y')), 'message 1 (family "c"), byte 27: metric 1: Counter.exemplar: duplicate label name "a"');
  throwsProto(counterWithExemplar(label('a', 'x'.repeat(200))), 'message 1 (family "c"), byte 23: metric 1: Counter.exemplar: exemplar labels have 201 characters, more than the 128 allowed');
  throwsProto(counterWithExemplar(ld(3, num(2, -1))), 'message 1 (family "c"), byte 21: metric 1: Timestamp.nanos: -1 is outside 0..999999999');
  // types
  throwsProto(delimited([...str(1, 'c'), ...ld(4, ld(2, dbl(1, 1)))]), 'message 1 (family "c"), byte 4: metric 1: the metric has no counter field, which a counter family requires');
  throwsProto(delimited([...str(1, 'c'), ...num(3, 9)]), 'message 1 (family "c"), byte 4: MetricFamily.type: unknown metric type 9');
  throwsProto(delimited([...str(1, 'c'), ...num(3, -1)]), 'message 1 (family "c"), byte 4: MetricFamily.type: unknown metric type -1');
  // timestamps
  throwsProto(delimited([...str(1, 'x'), ...num(3, 1), ...ld(4, [...ld(2, []), ...num(6, 2n ** 60n)])]), 'message 1 (family "x"), byte 10: metric 1: Metric.timestamp_ms: 1152921504606846976 is beyond ±2^53 milliseconds');
  // limits
  throwsProto(delimited(ok, ok), 'message 2, byte 20: more than 1 metric families in one body', { maxMessages: 1 });
  throwsProto(delimited(gaugeFamily('a', gaugeMetric(1, label('a', '1')), gaugeMetric(1, label('a', '2')))), 'message 1 (family "a"), byte 27: metric 2: more than 1 samples in one body', { maxSamples: 1 });
});

test('seeded random mutations and truncations of a valid body fail only with ProtobufError, and quickly; what parses renders', () => {
  const valid = encode(FIXTURE);
  const next = rng(7);
  const started = performance.now();
  let failures = 0;
  let parsed = 0;
  const tryBody = (body: Uint8Array): void => {
    let families: MetricFamily[];
    try {
      families = parseProtobufFamilies(body);
      parsed++;
    } catch (err) {
      if (!(err instanceof ProtobufError)) throw new Error(`not a ProtobufError for body ${Buffer.from(body).toString('hex')}: ${String(err)}`, { cause: err });
      assert.match(err.message, /^message \d+( \(family ".*"\))?, byte \d+: /s);
      assert.ok(err.offset >= 0 && err.offset <= body.length, `offset ${err.offset} outside the body of ${body.length}`);
      failures++;
      return;
    }
    // whatever is accepted makes a page the text parser accepts
    parseFamilies(writeExposition(families, { format: 'prometheus' }), { format: 'prometheus' });
  };
  for (let i = 0; i < 4000; i++) {
    const b = Buffer.from(valid);
    let body: Uint8Array = b;
    const edits = 1 + Math.floor(next() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * body.length);
      const r = next();
      if (r < 0.5) body[at] = Math.floor(next() * 256);
      else if (r < 0.65) body[at] ^= 1 << Math.floor(next() * 8);
      else if (r < 0.8) body = body.subarray(0, at);
      else if (r < 0.9) body = Buffer.concat([body.subarray(0, at), body.subarray(at + 1 + Math.floor(next() * 8))]);
      else body = Buffer.concat([body.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(next() * 6) }, () => Math.floor(next() * 256))), body.subarray(at)]);
    }
    tryBody(body);
  }
  for (let i = 0; i < 1000; i++) tryBody(Buffer.from(Array.from({ length: Math.floor(next() * 64) }, () => Math.floor(next() * 256))));
  for (let cut = 0; cut < valid.length; cut++) tryBody(valid.subarray(0, cut));
  assert.ok(failures > 1000 && parsed > 10, `${failures} failures, ${parsed} parsed`);
  assert.ok(performance.now() - started < 20_000, 'the fuzz run took too long');
});

// ---------------------------------------------------------------- the real Pushgateway

const PUSHGATEWAY = '/usr/bin/prometheus-pushgateway';

/** A push as client_golang makes it: families by name, metrics sorted by label values, no timestamps. */
const PUSH: PbObject[] = [
  {
    name: 'jobs_processed_total',
    help: 'Jobs processed.\nBy kind, with a \\ backslash.',
    type: 0,
    metric: [
      { label: [{ name: 'kind', value: 'a"quoted"' }], counter: { value: 1234567 } },
      { label: [{ name: 'kind', value: 'b\\n' }], counter: { value: 0.5 } },
    ],
  },
  { name: 'last_run_seconds', help: 'Duration of the last run.', type: 1, metric: [{ gauge: { value: 1e-5 } }] },
  {
    name: 'batch_size_bytes',
    help: 'Sizes.',
    type: 4,
    metric: [
      {
        label: [{ name: 'stage', value: 'load' }, { name: 'zone', value: 'eu' }],
        histogram: {
          sample_count: 12,
          sample_sum: 4200000.5,
          // no +Inf bucket: expfmt adds one
          bucket: [
            { upper_bound: 0.005, cumulative_count: 1 },
            { upper_bound: 100000, cumulative_count: 2 },
            { upper_bound: 1e6, cumulative_count: 5 },
            { upper_bound: 2.5e7, cumulative_count: 11 },
          ],
        },
      },
      {
        label: [{ name: 'stage', value: 'save' }, { name: 'zone', value: 'eu' }],
        histogram: { sample_count: 3, sample_sum: 1, bucket: [{ upper_bound: 0.1, cumulative_count: 2 }, { upper_bound: Infinity, cumulative_count: 3 }] },
      },
    ],
  },
  {
    name: 'request_latency_seconds',
    type: 2,
    metric: [
      {
        label: [{ name: 'route', value: '/x' }, { name: 'zzz', value: 'after quantile' }],
        summary: { sample_count: 40, sample_sum: 2.25, quantile: [{ quantile: 0.5, value: 0.05 }, { quantile: 0.999, value: 0.9 }, { quantile: 0.00001, value: 0.001 }] },
      },
    ],
  },
  { name: 'untyped_thing', type: 3, metric: [{ label: [{ name: 'instance', value: 'i-1' }], untyped: { value: -3 } }] },
];

test('the text page of a parsed push is what the real Pushgateway 1.5.1 exposes for it', async (t) => {
  if (!requirePeer(t, PUSHGATEWAY, 'prometheus-pushgateway')) return;
  const port = await freePort();
  const child = spawn(PUSHGATEWAY, [`--web.listen-address=127.0.0.1:${port}`, '--log.level=error'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  t.after(() => stopProcess(child));
  const base = `http://127.0.0.1:${port}`;
  for (let deadline = Date.now() + 10_000; ; ) {
    try {
      if ((await fetch(`${base}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the Pushgateway did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const body = encode(PUSH);
  const put = await fetch(`${base}/metrics/job/x`, { method: 'PUT', body, headers: { 'content-type': CONTENT_TYPE_PROTOBUF_DELIMITED } });
  assert.equal(put.status, 200, await put.text());
  const page = await (await fetch(`${base}/metrics`)).text();

  // Ours: the parsed push with the grouping label the Pushgateway adds. It also adds
  // `instance=""` where the push has no instance: an empty label is no label in the text
  // format, and our model drops it, so both sides are compared as parsed text below.
  const names = new Set(PUSH.map((f) => f.name as string));
  const grouped = parseProtobufFamilies(body).map((f) => ({
    ...f,
    metrics: f.metrics.map((m) => ({ ...m, labels: new LabelsBuilder().reset(m.labels).set('job', 'x').build() })),
  }));
  const ours = writeExposition(grouped, { format: 'prometheus' });

  // HELP and TYPE lines byte for byte (the Pushgateway orders families by name)
  const meta = (text: string): string[] => text.split('\n').filter((l) => /^# (HELP|TYPE) /.test(l) && names.has(l.split(' ')[2])).sort();
  assert.deepEqual(meta(ours), meta(page));
  assert.equal(meta(ours).length, 8); // five TYPE lines, three HELP lines

  // samples: the same series with the same label text (le, quantile) and values; Go writes
  // values with %g (1.234567e+06) and the extra label last, we write the shortest text and
  // sorted labels — the same numbers and sets, compared as such
  const samples = (text: string): string[] =>
    parseFamilies(text, { format: 'prometheus' })
      .families.filter((f) => names.has(f.name))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .flatMap((f) => f.metrics.map((m) => `${f.type} ${m.labels.toString()} ${m.value}`));
  const theirs = samples(page);
  assert.deepEqual(samples(ours), theirs);
  assert.equal(theirs.length, 2 + 1 + 7 + 4 + 5 + 1);
  // and the label values really are Go's spellings
  for (const le of ['le="0.005"', 'le="100000"', 'le="1e+06"', 'le="2.5e+07"', 'le="+Inf"', 'quantile="1e-05"', 'quantile="0.999"']) {
    assert.ok(page.includes(le), `${le} not on the Pushgateway's page`);
    assert.ok(ours.includes(le), `${le} not on our page`);
  }
});
