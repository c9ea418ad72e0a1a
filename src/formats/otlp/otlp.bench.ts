/**
 * Decoding OTLP metrics requests: the hand-written protobuf decoder plus the conversion to
 * Prometheus series (into a sink that only counts) against protobufjs' decode alone — the usual
 * way to read protobuf in Node, which does not even convert — and the JSON path. Also holds the
 * OTLP metrics schema for protobufjs and an encoder from OTLP/JSON objects, which the tests use
 * as an independent writer of protobuf bodies.
 *
 * The body: one resource (a service with a dozen attributes), 40 counters and 20 gauges of 25
 * attribute sets each, 8 histograms of 25 sets with 11 bounds — about 1,700 data points.
 */

import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { compare, CountingSink, type Contender } from '../../../bench/harness.js';
import { decodeOtlpJson, decodeOtlpProtobuf, OtlpConverter } from './index.js';

/** opentelemetry-proto's metrics/v1, common/v1, resource/v1 and the metrics service request, as protobufjs reads them. */
export const OTLP_METRICS_PROTO = `
syntax = "proto3";
package otlp;
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
message Status { int32 code = 1; string message = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; ExponentialHistogram exponential_histogram = 10; Summary summary = 11; }
  repeated KeyValue metadata = 12;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; }
message ExponentialHistogram { repeated ExponentialHistogramDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; }
message Summary { repeated SummaryDataPoint data_points = 1; }
enum AggregationTemporality { AGGREGATION_TEMPORALITY_UNSPECIFIED = 0; AGGREGATION_TEMPORALITY_DELTA = 1; AGGREGATION_TEMPORALITY_CUMULATIVE = 2; }
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  repeated Exemplar exemplars = 5; uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3; fixed64 count = 4;
  optional double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7; repeated Exemplar exemplars = 8;
  uint32 flags = 10; optional double min = 11; optional double max = 12;
}
message ExponentialHistogramDataPoint {
  repeated KeyValue attributes = 1; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3; fixed64 count = 4;
  optional double sum = 5; sint32 scale = 6; fixed64 zero_count = 7; Buckets positive = 8; Buckets negative = 9; uint32 flags = 10;
  repeated Exemplar exemplars = 11; optional double min = 12; optional double max = 13; double zero_threshold = 14;
  message Buckets { sint32 offset = 1; repeated uint64 bucket_counts = 2; }
}
message SummaryDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3; fixed64 count = 4; double sum = 5;
  repeated ValueAtQuantile quantile_values = 6; uint32 flags = 8;
  message ValueAtQuantile { double quantile = 1; double value = 2; }
}
message Exemplar {
  repeated KeyValue filtered_attributes = 7; fixed64 time_unix_nano = 2;
  oneof value { double as_double = 3; sfixed64 as_int = 6; }
  bytes span_id = 4; bytes trace_id = 5;
}
`;

let root: protobuf.Root | undefined;

/** A message type of the OTLP schema above (e.g. `ExportMetricsServiceRequest`). */
export function otlpType(name: string): protobuf.Type {
  root ??= protobuf.parse(OTLP_METRICS_PROTO).root;
  return root.lookupType(`otlp.${name}`);
}

/** An OTLP/JSON request object (camelCase, int64 as strings, enums as numbers) as a protobuf body. */
export function encodeOtlpRequest(json: unknown): Buffer {
  const T = otlpType('ExportMetricsServiceRequest');
  return Buffer.from(T.encode(T.fromObject(json as Record<string, unknown>)).finish());
}

const str = (k: string, v: string) => ({ key: k, value: { stringValue: v } });

/** The benchmark's request as OTLP/JSON. */
export function benchRequest(timeNs = '1700000000000000000'): object {
  const attrs = (i: number) => [str('http.method', i % 2 ? 'GET' : 'POST'), str('http.route', `/api/v1/item/${i}`), str('http.status_code', String(200 + (i % 5)))];
  const sets = Array.from({ length: 25 }, (_, i) => attrs(i));
  const metrics: object[] = [];
  for (let m = 0; m < 40; m++) {
    metrics.push({
      name: `app.requests.${m}`,
      unit: '{request}',
      sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: sets.map((a, i) => ({ attributes: a, startTimeUnixNano: '1690000000000000000', timeUnixNano: timeNs, asInt: String(1000 + i * m) })) },
    });
  }
  for (let m = 0; m < 20; m++) {
    metrics.push({ name: `app.memory.${m}`, unit: 'By', gauge: { dataPoints: sets.map((a, i) => ({ attributes: a, timeUnixNano: timeNs, asDouble: 1e6 + i * 0.5 })) } });
  }
  const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  for (let m = 0; m < 8; m++) {
    metrics.push({
      name: `http.server.duration.${m}`,
      unit: 's',
      histogram: {
        aggregationTemporality: 2,
        dataPoints: sets.map((a, i) => ({
          attributes: a,
          timeUnixNano: timeNs,
          count: String(12 * (i + 1)),
          sum: 3.5 * i,
          explicitBounds: bounds,
          bucketCounts: [...bounds, 0].map((_, k) => String(i + 1)),
        })),
      },
    });
  }
  const resource = {
    attributes: [
      str('service.name', 'checkout'),
      str('service.namespace', 'shop'),
      str('service.instance.id', 'pod-7f9c'),
      str('host.name', 'node-12'),
      str('k8s.pod.name', 'checkout-7f9c'),
      str('k8s.namespace.name', 'prod'),
      str('telemetry.sdk.language', 'nodejs'),
      str('telemetry.sdk.name', 'opentelemetry'),
      str('telemetry.sdk.version', '2.0.0'),
      str('cloud.region', 'eu-west-1'),
      str('deployment.environment', 'prod'),
    ],
  };
  return { resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 'bench', version: '1.0' }, metrics }] }] };
}

export function runOtlpBench(): void {
  const doc = benchRequest();
  const body = encodeOtlpRequest(doc);
  const jsonBody = Buffer.from(JSON.stringify(doc));
  const T = otlpType('ExportMetricsServiceRequest');
  const conv = new OtlpConverter({ prometheusNaming: true, promoteScope: false });
  const sink = new CountingSink(1700000000000);
  decodeOtlpProtobuf(body, conv, sink);
  const jsink = new CountingSink(1700000000000);
  decodeOtlpJson(jsonBody, new OtlpConverter({ prometheusNaming: true, promoteScope: false }), jsink);
  assert.equal(sink.invalidRows, 0);
  assert.equal(jsink.rows, sink.rows);
  assert.equal(jsink.sum, sink.sum);
  const points = 40 * 25 + 20 * 25 + 8 * 25;
  const samples = sink.rows;
  const jconv = new OtlpConverter({ prometheusNaming: true, promoteScope: false });
  const contenders: Contender[] = [
    { name: 'protobufjs decode (no conversion)', run: () => T.decode(body) },
    { name: 'tributary protobuf decode + convert', run: () => decodeOtlpProtobuf(body, conv, sink) },
    { name: 'tributary JSON parse + convert', run: () => decodeOtlpJson(jsonBody, jconv, sink) },
  ];
  const results = compare(contenders);
  const ref = results[0].nsPerRun;
  console.log(`otlp-parser: ${(body.length / 1024).toFixed(1)} KiB protobuf (${(jsonBody.length / 1024).toFixed(1)} KiB JSON), ${points} data points, ${samples} samples (CPU time, best of 7 interleaved rounds)`);
  for (const r of results) {
    const pps = (points / r.nsPerRun) * 1e9;
    console.log(`  ${r.name.padEnd(38)} ${(pps / 1e6).toFixed(2).padStart(6)} M points/s ${((samples / r.nsPerRun) * 1e3).toFixed(2).padStart(6)} M samples/s ${(ref / r.nsPerRun).toFixed(2).padStart(6)}× protobufjs`);
  }
}
