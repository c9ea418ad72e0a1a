/**
 * Decoding a protobuf push (delimited MetricFamily messages, as client_golang sends them) into
 * MetricFamily objects: the hand-written parser against protobufjs — the usual way to read
 * protobuf in Node — followed by the conversion to the same model objects (sorted labels with
 * `__name__`, Go-formatted `le`/`quantile`, the +Inf bucket), so both produce the same result.
 *
 * The body: the node_exporter fixture page (counters, gauges, untyped, a summary) plus request
 * histograms of a typical service — about 1,000 series in all.
 */

import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { compare, type Contender } from '../../../bench/harness.js';
import { NODE_EXPORTER_PAGE } from '../../../bench/fixtures.js';
import { parseFamilies } from '../prometheus/families.js';
import { formatGoFloat, parseProtobufFamilies, writeProtobufFamilies } from './index.js';
import { Labels, METRIC_NAME } from '../../model/labels.js';
import type { MetricFamily, MetricPoint, MetricType } from '../../model/family.js';


/** The messages of client_model's metrics.proto that the body uses. */
const METRICS_PROTO = `
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter { optional double value = 1; }
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary { optional uint64 sample_count = 1; optional double sample_sum = 2; repeated Quantile quantile = 3; }
message Untyped { optional double value = 1; }
message Histogram { optional uint64 sample_count = 1; optional double sample_sum = 2; repeated Bucket bucket = 3; }
message Bucket { optional uint64 cumulative_count = 1; optional double upper_bound = 2; }
message Metric {
  repeated LabelPair label = 1; optional Gauge gauge = 2; optional Counter counter = 3; optional Summary summary = 4;
  optional Untyped untyped = 5; optional Histogram histogram = 7; optional int64 timestamp_ms = 6;
}
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; }
`;

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The fixture's families plus four histogram families of eight label sets each (exported for profiling). */
export function benchFamilies(fixture: string): MetricFamily[] {
  const families = parseFamilies(readFileSync(fixture, 'utf8'), { format: 'prometheus' }).families;
  for (const name of ['http_request_duration_seconds', 'http_response_size_bytes', 'grpc_server_handling_seconds', 'db_query_duration_seconds']) {
    const metrics: MetricPoint[] = [];
    for (const handler of ['/', '/api/v1/query', '/api/v1/series', '/metrics']) {
      for (const code of ['200', '500']) {
        const base = { code, handler, instance: 'app-1:8080', job: 'app' };
        let count = 0;
        for (const le of BOUNDS) {
          count += Math.floor(le * 100);
          metrics.push({ labels: Labels.fromRecord({ ...base, __name__: name + '_bucket', le: formatGoFloat(le) }), value: count });
        }
        metrics.push({ labels: Labels.fromRecord({ ...base, __name__: name + '_bucket', le: '+Inf' }), value: count + 3 });
        metrics.push({ labels: Labels.fromRecord({ ...base, __name__: name + '_sum' }), value: count * 0.37 });
        metrics.push({ labels: Labels.fromRecord({ ...base, __name__: name + '_count' }), value: count + 3 });
      }
    }
    families.push({ name, type: 'histogram', help: `${name} by handler and code.`, metrics });
  }
  return families;
}

const TYPES: readonly MetricType[] = ['counter', 'gauge', 'summary', 'unknown', 'histogram', 'gaugehistogram'];

interface PbLabel {
  name: string;
  value: string;
}
interface PbMetric {
  label: PbLabel[];
  gauge?: { value: number };
  counter?: { value: number };
  untyped?: { value: number };
  summary?: { sample_count: number | Long; sample_sum: number; quantile: { quantile: number; value: number }[] };
  histogram?: { sample_count: number | Long; sample_sum: number; bucket: { cumulative_count: number | Long; upper_bound: number }[] };
  timestamp_ms?: number | Long;
}
interface PbFamily {
  name: string;
  help: string;
  type: number;
  metric: PbMetric[];
}
interface Long {
  toNumber(): number;
}
const num = (v: number | Long): number => (typeof v === 'number' ? v : v.toNumber());

/** protobufjs' decoded messages into the model, as the parser makes them. */
function convert(f: PbFamily): MetricFamily {
  const type = TYPES[f.type];
  const family: MetricFamily = { name: f.name, type, metrics: [] };
  if (f.help !== '') family.help = f.help;
  for (const m of f.metric) {
    const base = m.label.filter((l) => l.value !== '').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const ts = m.timestamp_ms === undefined ? undefined : num(m.timestamp_ms);
    const push = (name: string, value: number, extra?: string, extraValue?: string): void => {
      const kv: string[] = [];
      let named = false;
      let added = extra === undefined;
      for (const l of base) {
        if (!named && l.name > METRIC_NAME) {
          kv.push(METRIC_NAME, name);
          named = true;
        }
        if (!added && l.name > extra!) {
          kv.push(extra!, extraValue!);
          added = true;
        }
        kv.push(l.name, l.value);
      }
      if (!named) kv.push(METRIC_NAME, name);
      if (!added) kv.push(extra!, extraValue!);
      family.metrics.push(ts === undefined ? { labels: Labels.fromSortedFlat(kv), value } : { labels: Labels.fromSortedFlat(kv), value, timestamp: ts });
    };
    if (type === 'summary') {
      const s = m.summary!;
      for (const q of s.quantile) push(f.name, q.value, 'quantile', formatGoFloat(q.quantile));
      push(f.name + '_sum', s.sample_sum);
      push(f.name + '_count', num(s.sample_count));
    } else if (type === 'histogram') {
      const h = m.histogram!;
      let inf = false;
      for (const b of h.bucket) {
        if (b.upper_bound === Infinity) inf = true;
        push(f.name + '_bucket', num(b.cumulative_count), 'le', formatGoFloat(b.upper_bound));
      }
      if (!inf) push(f.name + '_bucket', num(h.sample_count), 'le', '+Inf');
      push(f.name + '_sum', h.sample_sum);
      push(f.name + '_count', num(h.sample_count));
    } else {
      push(f.name, (m.counter ?? m.gauge ?? m.untyped)!.value);
    }
  }
  return family;
}

export function runProtobufBench(fixture: string = NODE_EXPORTER_PAGE): void {
  const body = writeProtobufFamilies(benchFamilies(fixture));
  const MF = protobuf.parse(METRICS_PROTO, { keepCase: true }).root.lookupType('io.prometheus.client.MetricFamily');

  const viaProtobufjs = (): MetricFamily[] => {
    const reader = protobuf.Reader.create(body);
    const out: MetricFamily[] = [];
    while (reader.pos < reader.len) out.push(convert(MF.decodeDelimited(reader) as unknown as PbFamily));
    return out;
  };
  const ours = parseProtobufFamilies(body);
  // the contest is fair only if both make the same families
  const text = (fs: MetricFamily[]) => fs.map((f) => [f.name, f.type, f.help, f.metrics.map((m) => `${m.labels.toString()} ${m.value}`)]);
  assert.deepEqual(text(viaProtobufjs()), text(ours));
  const series = ours.reduce((n, f) => n + f.metrics.length, 0);

  const contenders: Contender[] = [
    { name: 'protobufjs decode + conversion', run: viaProtobufjs },
    { name: 'tributary parseProtobufFamilies', run: () => parseProtobufFamilies(body) },
  ];
  const results = compare(contenders);
  const ref = results[0].nsPerRun;
  console.log(`protobuf: ${(body.length / 1024).toFixed(1)} KiB body, ${ours.length} families, ${series} series (CPU time, best of 7 interleaved rounds)`);
  for (const r of results) {
    const mbs = (body.length / r.nsPerRun) * 1e3;
    console.log(`  ${r.name.padEnd(38)} ${mbs.toFixed(1).padStart(7)} MB/s ${(r.nsPerRun / series).toFixed(0).padStart(6)} ns/series ${(ref / r.nsPerRun).toFixed(2).padStart(6)}× protobufjs`);
  }
}

