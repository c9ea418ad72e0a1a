/**
 * The OTLP parser's parts on their own: Prometheus' OTLP translator naming rules (test vectors
 * of prometheus/otlptranslator's metric_namer_test.go and the collector's normalize_name_test.go),
 * label names, `le` formatting, exponential buckets, exact timestamps; and fuzzing of both
 * decoders (mutated bodies never throw anything but a decode error, never hang) and of the HTTP
 * handler (never a 500, the process stays up).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeOtlpJson,
  decodeOtlpProtobuf,
  expBucketBound,
  formatFloat,
  labelName,
  metricName,
  OtlpConverter,
  OtlpJsonError,
  WireError,
  type OtlpNameKind,
  type OtlpSink,
} from '../../src/formats/otlp/index.js';
import { benchRequest, encodeOtlpRequest } from '../../src/formats/otlp/otlp.bench.js';
import type { Labels } from '../../src/model/labels.js';
import { silentLogger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { tempDataDir } from '../helpers/fixtures.js';
import { DeltaSums } from '../../src/ingest/opentelemetry.js';

test('metric names as Prometheus OTLP translator makes them (UnderscoreEscapingWithSuffixes)', () => {
  const cases: [name: string, unit: string, kind: OtlpNameKind, want: string][] = [
    // prometheus/otlptranslator metric_namer_test.go, WithMetricSuffixes: true
    ['requests', '', 'counter', 'requests_total'],
    ['cpu_usage', '1', 'gauge', 'cpu_usage_ratio'],
    ['items', '1', 'counter', 'items_total'],
    ['response_time', 'ms', 'gauge', 'response_time_milliseconds'],
    ['memory_usage', 'By', 'gauge', 'memory_usage_bytes'],
    ['requests', '1/s', 'gauge', 'requests_per_second'],
    ['throughput', 'By/s', 'gauge', 'throughput_bytes_per_second'],
    ['custom_metric', 'custom_unit', 'gauge', 'custom_metric_custom_unit'],
    ['custom_metric', '{custom}', 'gauge', 'custom_metric'],
    ['custom_metric', 'By/{custom}', 'gauge', 'custom_metric_bytes'],
    ['requests_total', '', 'counter', 'requests_total'],
    ['cpu_usage_ratio', '1', 'gauge', 'cpu_usage_ratio'],
    ['response_time_seconds', 's', 'gauge', 'response_time_seconds'],
    ['metric__with__multiple__underscores', 'unit__multiple__underscores', 'gauge', 'metric_with_multiple_underscores_unit_multiple_underscores'],
    ['custom_metric', 'unit@with#special/chars', 'gauge', 'custom_metric_unit_with_special_per_chars'],
    ['@#$%', '', 'gauge', ''],
    ['request_duration', 's', 'histogram', 'request_duration_seconds'],
    ['request_size', 'By', 'exphistogram', 'request_size_bytes'],
    ['response_time', 'ms', 'summary', 'response_time_milliseconds'],
    ['active_connections', '', 'updown', 'active_connections'],
    ['uptime', 'd', 'gauge', 'uptime_days'],
    ['duration', 'h', 'gauge', 'duration_hours'],
    ['timeout', 'min', 'gauge', 'timeout_minutes'],
    ['latency', 'us', 'gauge', 'latency_microseconds'],
    ['precision_time', 'ns', 'gauge', 'precision_time_nanoseconds'],
    ['cache_size', 'KiBy', 'gauge', 'cache_size_kibibytes'],
    ['memory', 'MiBy', 'gauge', 'memory_mebibytes'],
    ['storage', 'GiBy', 'gauge', 'storage_gibibytes'],
    ['capacity', 'TiBy', 'gauge', 'capacity_tibibytes'],
    ['transfer', 'KBy', 'gauge', 'transfer_kilobytes'],
    ['download', 'MBy', 'gauge', 'download_megabytes'],
    ['backup', 'GBy', 'gauge', 'backup_gigabytes'],
    ['archive', 'TBy', 'gauge', 'archive_terabytes'],
    ['distance', 'm', 'gauge', 'distance_meters'],
    ['voltage', 'V', 'gauge', 'voltage_volts'],
    ['current', 'A', 'gauge', 'current_amperes'],
    ['energy', 'J', 'gauge', 'energy_joules'],
    ['power', 'W', 'gauge', 'power_watts'],
    ['weight', 'g', 'gauge', 'weight_grams'],
    ['temperature', 'Cel', 'gauge', 'temperature_celsius'],
    ['frequency', 'Hz', 'gauge', 'frequency_hertz'],
    ['cpu_usage', '%', 'gauge', 'cpu_usage_percent'],
    ['requests', '1/m', 'gauge', 'requests_per_minute'],
    ['events', '1/h', 'gauge', 'events_per_hour'],
    ['transactions', '1/d', 'gauge', 'transactions_per_day'],
    ['reports', '1/w', 'gauge', 'reports_per_week'],
    ['invoices', '1/mo', 'gauge', 'invoices_per_month'],
    ['renewals', '1/y', 'gauge', 'renewals_per_year'],
    ['custom', '1/custom_unit', 'gauge', 'custom_per_custom_unit'],
    ['metric', 'By/', 'gauge', 'metric_bytes'],
    ['metric', ' By / s ', 'gauge', 'metric_bytes_per_second'],
    ['metric', '/', 'gauge', 'metric'],
    ['http.request.duration', 'ms', 'histogram', 'http_request_duration_milliseconds'],
    ['http.requests', '1', 'counter', 'http_requests_total'],
    // the collector's normalize_name_test.go (where Prometheus' rules come from)
    ['system.filesystem.usage', 'By', 'gauge', 'system_filesystem_usage_bytes'],
    ['system.io', 'By', 'counter', 'system_io_bytes_total'],
    ['network_transmitted_bytes_total', 'By', 'counter', 'network_transmitted_bytes_total'],
    ['\t system.filesystem.usage       ', 'By', 'gauge', 'system_filesystem_usage_bytes'],
    ['system.network.dropped', '{packets}', 'gauge', 'system_network_dropped'],
    ['system.network.dropped', '{packets}', 'counter', 'system_network_dropped_total'],
    ['system.network.dropped', 'packets', 'gauge', 'system_network_dropped_packets'],
    ['system.network.packets.dropped', 'packets', 'gauge', 'system_network_packets_dropped'],
    ['system.network.packets', 'packets', 'gauge', 'system_network_packets'],
    ['hw.gpu.memory.utilization', '1', 'gauge', 'hw_gpu_memory_utilization_ratio'],
    ['hw.fan.speed_ratio', '1', 'gauge', 'hw_fan_speed_ratio'],
    ['objects', '1', 'counter', 'objects_total'],
    ['hw.cpu.speed_limit', 'Hz', 'gauge', 'hw_cpu_speed_limit_hertz'],
    ['broken.metric.speed', 'km/h', 'gauge', 'broken_metric_speed_km_per_hour'],
    ['astro.light.speed_limit', 'm/s', 'gauge', 'astro_light_speed_limit_meters_per_second'],
    ['broken.metric.success_ratio', '%', 'gauge', 'broken_metric_success_ratio_percent'],
    ['broken.metric.success_percent', '%', 'gauge', 'broken_metric_success_percent'],
    ['test.metric.no_unit', '', 'gauge', 'test_metric_no_unit'],
    ['test.metric.spaces', '   \t  ', 'gauge', 'test_metric_spaces'],
    ['unsupported.metric.temperature', '°F', 'gauge', 'unsupported_metric_temperature_F'],
    ['system.cpu.utilization', '1', 'gauge', 'system_cpu_utilization_ratio'],
    ['system.disk.operation_time', 's', 'counter', 'system_disk_operation_time_seconds_total'],
    ['system.cpu.load_average.15m', '1', 'gauge', 'system_cpu_load_average_15m_ratio'],
    ['mongodbatlas.process.asserts', '{assertions}/s', 'gauge', 'mongodbatlas_process_asserts_per_second'],
    ['mongodbatlas.process.oplog.rate', 'GiBy/h', 'gauge', 'mongodbatlas_process_oplog_rate_gibibytes_per_hour'],
    ['mongodbatlas.process.db.query_targeting.scanned_per_returned', '{scanned}/{returned}', 'gauge', 'mongodbatlas_process_db_query_targeting_scanned_per_returned'],
    ['nginx.connections_accepted', 'connections', 'counter', 'nginx_connections_accepted_total'],
    ['redis.latest_fork', 'us', 'gauge', 'redis_latest_fork_microseconds'],
    ['_3.14_digits', '', 'gauge', '_3_14_digits'],
    ['envoy__listener_http_downstream_cx_total', '', 'counter', 'envoy_listener_http_downstream_cx_total'],
    // a non-monotonic sum is stored as a gauge but named as the translator's NonMonotonicCounter: no _ratio
    ['queue.fill', '1', 'updown', 'queue_fill'],
  ];
  for (const [name, unit, kind, want] of cases) assert.equal(metricName(name, unit, kind, true), want, `${JSON.stringify(name)} ${JSON.stringify(unit)} ${kind}`);
});

test('metric names without suffixes (prometheus_naming: false): only invalid characters replaced', () => {
  const cases: [string, string][] = [
    ['simple_metric', 'simple_metric'],
    ['metric@with#special$chars', 'metric_with_special_chars'],
    ['123metric', '_123metric'],
    ['metric@@##$$name', 'metric_name'],
    ['@#$%', ''],
    ['', ''],
    ['system.io', 'system_io'],
    ['envoy__listener_http_downstream_cx_total', 'envoy__listener_http_downstream_cx_total'],
    [':foo::bar', ':foo::bar'],
  ];
  for (const [name, want] of cases) {
    assert.equal(metricName(name, 'By', 'counter', false), want, JSON.stringify(name));
    assert.equal(metricName(name, '1', 'gauge', false), want, JSON.stringify(name));
  }
});

test('label names from attribute keys (Prometheus 2.x/3.x default sanitization)', () => {
  const cases: [string, string][] = [
    // Prometheus' normalize_label_test.go (the 2.x/3.x default: runs of `_` kept)
    ['', ''],
    ['label:with:colons', 'label_with_colons'],
    ['LabelWithCapitalLetters', 'LabelWithCapitalLetters'],
    ['label!with&special$chars)', 'label_with_special_chars_'],
    ['label_with_foreign_characters_字符', 'label_with_foreign_characters___'],
    ['label.with.dots', 'label_with_dots'],
    ['123label', 'key_123label'],
    ['_label_starting_with_underscore', 'key_label_starting_with_underscore'],
    ['__label_starting_with_2underscores', '__label_starting_with_2underscores'],
    ['http.method', 'http_method'],
    ['123invalid', 'key_123invalid'],
    ['_private', 'key_private'],
    ['__reserved__', '__reserved__'],
    ['label-with-dash', 'label_with_dash'],
    ['a__b', 'a__b'],
    ['valid_label', 'valid_label'],
    ['ü', 'key_'],
    ['', ''],
  ];
  for (const [key, want] of cases) assert.equal(labelName(key), want, JSON.stringify(key));
});

test('le and quantile values as Go formats them (FormatFloat f -1); exponential bucket boundaries', () => {
  assert.deepEqual([0.1, 1, 2.5, 1e21, 1e-7, 123456789012, -0.5, Infinity, -Infinity, NaN].map(formatFloat), [
    '0.1',
    '1',
    '2.5',
    '1000000000000000000000',
    '0.0000001',
    '123456789012',
    '-0.5',
    '+Inf',
    '-Inf',
    'NaN',
  ]);
  // scale 0: base 2, bucket i covers (2^i, 2^(i+1)]
  assert.deepEqual([-2, -1, 0, 1, 2].map((i) => expBucketBound(0, i)), [0.5, 1, 2, 4, 8]);
  // scale 1: base √2
  assert.equal(expBucketBound(1, 1), 2);
  assert.ok(Math.abs(expBucketBound(1, 0) - Math.SQRT2) < 1e-15);
  // scale -1: base 4
  assert.deepEqual([0, 1].map((i) => expBucketBound(-1, i)), [4, 16]);
});

/** Collects what the converter makes, as text. */
class Rows implements OtlpSink {
  readonly now = 1_700_000_000_000;
  readonly out: string[] = [];
  readonly refused: string[] = [];
  sample(l: Labels, v: number, ts: number): void {
    this.out.push(`${l} ${v} ${ts}`);
  }
  stale(l: Labels, ts: number): void {
    this.out.push(`${l} stale ${ts}`);
  }
  invalid(_line: number, reason: string): void {
    this.refused.push(reason);
  }
}

test('exponential histogram with negative, zero and positive buckets: classic buckets from the most negative up', () => {
  const doc = {
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'temp.delta',
                unit: 'Cel',
                exponentialHistogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      // timestamps past 2^53 ns must come out exact
                      timeUnixNano: '1700000000123999999',
                      count: '9',
                      sum: 4.5,
                      scale: 0,
                      zeroCount: '2',
                      zeroThreshold: 0,
                      positive: { offset: 1, bucketCounts: ['1', '0', '3'] },
                      negative: { offset: 0, bucketCounts: ['2', '1'] },
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  };
  for (const proto of [false, true]) {
    const rows = new Rows();
    const conv = new OtlpConverter({ prometheusNaming: true, promoteScope: false });
    if (proto) decodeOtlpProtobuf(encodeOtlpRequest(doc), conv, rows);
    else decodeOtlpJson(Buffer.from(JSON.stringify(doc)), conv, rows);
    const ts = 1700000000123;
    assert.deepEqual(rows.out, [
      // negative bucket 1 holds [-4, -2), bucket 0 [-2, -1)
      `temp_delta_celsius_bucket{le="-2"} 1 ${ts}`,
      `temp_delta_celsius_bucket{le="-1"} 3 ${ts}`,
      `temp_delta_celsius_bucket{le="0"} 5 ${ts}`,
      // positive bucket 1 holds (2, 4], 2 (4, 8], 3 (8, 16]
      `temp_delta_celsius_bucket{le="4"} 6 ${ts}`,
      `temp_delta_celsius_bucket{le="8"} 6 ${ts}`,
      `temp_delta_celsius_bucket{le="16"} 9 ${ts}`,
      `temp_delta_celsius_bucket{le="+Inf"} 9 ${ts}`,
      `temp_delta_celsius_sum{} 4.5 ${ts}`,
      `temp_delta_celsius_count{} 9 ${ts}`,
    ], proto ? 'protobuf' : 'JSON');
  }
});

test('delta exponential histograms added up at the lowest scale seen: counts moved to the coarser buckets, never split', () => {
  const point = (scale: number, offset: number, counts: number[], zero: number) => ({
    timeUnixNano: '1700000000000000000',
    count: String(counts.reduce((a, b) => a + b, 0) + zero),
    sum: 10,
    scale,
    zeroCount: String(zero),
    positive: { offset, bucketCounts: counts.map(String) },
  });
  const req = (p: object) => ({
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'lat', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [p] } }] }] }],
  });
  const conv = new OtlpConverter({ prometheusNaming: true, promoteScope: false, delta: new DeltaSums() });
  const rows = new Rows();
  // scale 1: buckets 2 and 3 are (2, 2.83] and (2.83, 4]; then scale 0: bucket 2 is (4, 8]
  decodeOtlpProtobuf(encodeOtlpRequest(req(point(1, 2, [1, 2], 1))), conv, rows);
  rows.out.length = 0;
  decodeOtlpProtobuf(encodeOtlpRequest(req(point(0, 2, [5], 0))), conv, rows);
  const ts = 1700000000000;
  assert.deepEqual(rows.out, [
    `lat_bucket{le="0"} 1 ${ts}`,
    // scale 1's buckets 2 and 3 are scale 0's bucket 1, (2, 4]
    `lat_bucket{le="4"} 4 ${ts}`,
    `lat_bucket{le="8"} 9 ${ts}`,
    `lat_bucket{le="+Inf"} 9 ${ts}`,
    `lat_sum{} 20 ${ts}`,
    `lat_count{} 9 ${ts}`,
  ]);
});

test('an exponential histogram with more buckets than an SDK sends is halved in scale until it fits (bounded series per point)', () => {
  const counts = Array.from({ length: 1000 }, () => '1');
  const doc = {
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'wide',
                exponentialHistogram: {
                  aggregationTemporality: 2,
                  dataPoints: [{ timeUnixNano: '1700000000000000000', count: '1000', sum: 1, scale: 8, positive: { offset: -500, bucketCounts: counts } }],
                },
              },
            ],
          },
        ],
      },
    ],
  };
  const rows = new Rows();
  decodeOtlpProtobuf(encodeOtlpRequest(doc), new OtlpConverter({ prometheusNaming: true, promoteScope: false }), rows);
  const buckets = rows.out.filter((l) => l.startsWith('wide_bucket'));
  assert.ok(buckets.length <= 160 + 2, `${buckets.length} buckets`);
  assert.ok(buckets.length > 50, `${buckets.length} buckets: as many as fit, not fewer`);
  const values = buckets.map((l) => Number(l.split(' ')[1]));
  for (let i = 1; i < values.length; i++) assert.ok(values[i] >= values[i - 1]);
  assert.equal(values.at(-2), 1000, 'the last finite bucket holds every count');
  assert.equal(values.at(-1), 1000);
});

test('promote_resource_attributes: listed ones (or * for all) on every series, never over a point attribute; job/instance win over both', () => {
  const str = (k: string, v: string) => ({ key: k, value: { stringValue: v } });
  const doc = {
    resourceMetrics: [
      {
        resource: { attributes: [str('service.name', 'svc'), str('k8s.pod.name', 'p-1'), str('region', 'eu'), str('zone', 'a')] },
        scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ timeUnixNano: '1700000000000000000', asDouble: 1, attributes: [str('zone', 'b'), str('job', 'mine')] }] } }] }],
      },
    ],
  };
  const run = (promote: string[]) => {
    const rows = new Rows();
    decodeOtlpJson(Buffer.from(JSON.stringify(doc)), new OtlpConverter({ prometheusNaming: true, promoteScope: false, promoteResourceAttributes: promote }), rows);
    return rows.out[0];
  };
  assert.equal(run([]), 'm{job="svc", zone="b"} 1 1700000000000');
  assert.equal(run(['region']), 'm{job="svc", region="eu", zone="b"} 1 1700000000000');
  assert.equal(run(['*']), 'm{job="svc", k8s_pod_name="p-1", region="eu", zone="b"} 1 1700000000000');
});

/** Small deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

function mutate(src: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * b.length);
    const op = rand();
    if (op < 0.5) b[at] = Math.floor(rand() * 256);
    else if (op < 0.7) b[at] ^= 1 << Math.floor(rand() * 8);
    else if (op < 0.85) return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rand() * 16)))]);
    else return b.subarray(0, at);
  }
  return b;
}

test('fuzz: mutated protobuf and JSON bodies never throw anything but a decode error, never hang', () => {
  const now = '1700000000000000000';
  const docs = [benchRequest(now), JSON.parse(JSON.stringify(benchRequest(now)))];
  // a smaller request with every data type, so mutations reach each decoder branch often
  const small = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 's' } }, { key: 'k', value: { kvlistValue: { values: [{ key: 'a', value: { intValue: '1' } }] } } }] },
        scopeMetrics: [
          {
            scope: { name: 'x', version: '1', attributes: [{ key: 'a', value: { bytesValue: 'AQID' } }] },
            schemaUrl: 'u',
            metrics: [
              { name: 'g', unit: '1', gauge: { dataPoints: [{ timeUnixNano: now, asDouble: 1.5, attributes: [{ key: 'a', value: { arrayValue: { values: [{ boolValue: true }] } } }] }] } },
              { name: 's', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ timeUnixNano: now, asInt: '7' }] } },
              { name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: now, count: '3', sum: 1, bucketCounts: ['1', '2'], explicitBounds: [0.5] }] } },
              {
                name: 'e',
                exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: now, count: '3', scale: 3, zeroCount: '1', positive: { offset: -2, bucketCounts: ['1', '1'] }, negative: { offset: 1, bucketCounts: ['0'] } }] },
              },
              { name: 'q', summary: { dataPoints: [{ timeUnixNano: now, count: '3', sum: 1, quantileValues: [{ quantile: 0.5, value: 1 }] }] } },
            ],
          },
        ],
      },
    ],
  };
  const bodies = [encodeOtlpRequest(docs[0]), encodeOtlpRequest(small)];
  const jsonBodies = [Buffer.from(JSON.stringify(small))];
  const rand = rng(42);
  const conv = new OtlpConverter({ prometheusNaming: true, promoteScope: true, delta: new DeltaSums() });
  let decoded = 0;
  let failed = 0;
  const started = Date.now();
  for (let i = 0; i < 3000; i++) {
    const proto = i % 4 !== 3;
    // the large body now and then: most mutations go to the small one, which reaches every branch
    const src = proto ? bodies[i % 16 === 0 ? 0 : 1] : jsonBodies[0];
    const body = mutate(src, rand);
    const rows = new Rows();
    try {
      if (proto) decodeOtlpProtobuf(body, conv, rows);
      else decodeOtlpJson(body, conv, rows);
      decoded++;
    } catch (err) {
      if (!(err instanceof WireError || err instanceof OtlpJsonError)) throw new Error(`mutation ${i} threw ${(err as Error).stack}\nbody: ${body.toString('base64')}`);
      failed++;
    }
    for (const line of rows.out) assert.ok(!line.includes('undefined'), `mutation ${i}: ${line}`);
  }
  assert.ok(decoded > 100 && failed > 100, `both outcomes reached: ${decoded} decoded, ${failed} refused`);
  assert.ok(Date.now() - started < 60_000, 'no hang');
});

test('fuzz through HTTP: mutated bodies never get a 500, and the handler still answers after them', async (t) => {
  const dir = tempDataDir();
  const file = join(dir, 'tributary.yml');
  writeFileSync(file, `server: {listen: 127.0.0.1:0, data_dir: ${dir}}\ningest:\n  opentelemetry: {http: true, delta_temporality: cumulative}\n`);
  const rt = await startRuntime({ configFile: file, logger: silentLogger });
  t.after(() => rt.close(0));
  const url = `http://${rt.address}/opentelemetry/v1/metrics`;
  const good = encodeOtlpRequest(benchRequest(`${Date.now()}000000`));
  const rand = rng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 150; i++) {
    const json = i % 5 === 4;
    const body = json ? mutate(Buffer.from(JSON.stringify(benchRequest())), rand) : mutate(good, rand);
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf' }, body });
    await r.arrayBuffer();
    seen.add(r.status);
    assert.ok(r.status === 200 || r.status === 400, `mutation ${i}: ${r.status}`);
  }
  assert.ok(seen.has(200) && seen.has(400), `statuses: ${[...seen]}`);
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: good });
  assert.equal(r.status, 200);
});
