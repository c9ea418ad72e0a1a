/**
 * DataDog bodies into samples, per CPU-second: what a DataDog agent sends every flush — a
 * thousand series of a few hundred hosts' checks, ten tags each, one point per series (the
 * agent's shape) and the same with ten points per series (a client batching) — as v1 JSON, v2
 * JSON and the agent's v2 protobuf, through the parser into a sink that only counts. The series
 * repeat between rounds as they do between flushes, so the per-series cache is warm; `JSON.parse
 * alone` is the floor the JSON readers stand on.
 */

import { compare, type Contender } from '../../../bench/harness.js';
import type { RowSink } from '../rows/index.js';
import { DatadogParser } from './parser.js';
import { encodeMetricPayload, MetricPayloadReader, type PayloadSeries } from './proto.js';

const SERIES = 1000;
const T = 1_700_000_000;

function series(pointsPer: number): PayloadSeries[] {
  const out: PayloadSeries[] = [];
  for (let i = 0; i < SERIES; i++) {
    const host = `host-${i % 200}`;
    out.push({
      metric: ['system.cpu.user', 'system.load.1', 'system.mem.used', 'system.disk.in_use', 'system.net.bytes_rcvd'][i % 5],
      tags: [`env:prod`, `region:eu-west-${i % 3}`, `availability-zone:eu-west-1${'abc'[i % 3]}`, `service:svc-${i % 37}`, `team:core`, `version:1.2.${i % 11}`, `device:sd${'abcd'[i % 4]}`, `kube_namespace:ns-${i % 9}`, `pod_name:pod-${i}`, `image_tag:v${i % 5}`],
      resources: [{ type: 'host', name: host }],
      points: Array.from({ length: pointsPer }, (_, j) => ({ timestamp: T + j * 10, value: i * 1.5 + j })),
      type: 3,
    });
  }
  return out;
}

function v1Body(s: PayloadSeries[]): Buffer {
  return Buffer.from(
    JSON.stringify({ series: s.map((x) => ({ metric: x.metric, host: x.resources![0].name, tags: x.tags, type: 'gauge', interval: 10, points: x.points.map((p) => [p.timestamp, p.value]) })) }),
  );
}

function v2Body(s: PayloadSeries[]): Buffer {
  return Buffer.from(JSON.stringify({ series: s.map((x) => ({ metric: x.metric, type: 3, tags: x.tags, resources: x.resources, points: x.points })) }));
}

export function runDatadogBench(): void {
  const parser = new DatadogParser({ sanitizeMetricName: false });
  const reader = new MetricPayloadReader(parser);
  let count = 0;
  const sink: RowSink = {
    now: T * 1000,
    sample() {
      count++;
    },
    invalid(_line, reason) {
      throw new Error(reason);
    },
  };
  for (const pointsPer of [1, 10]) {
    const s = series(pointsPer);
    const v1 = v1Body(s);
    const v2 = v2Body(s);
    const pb = encodeMetricPayload(s);
    const points = SERIES * pointsPer;
    const contenders: Contender[] = [
      { name: 'JSON.parse alone (v1 body)', run: () => JSON.parse(v1.toString('utf8')) as unknown },
      { name: 'v1 JSON', run: () => parser.v1(v1, sink) },
      { name: 'v2 JSON', run: () => parser.v2(v2, sink) },
      { name: 'v2 protobuf (agent)', run: () => reader.read(pb, sink) },
    ];
    const sizes: Record<string, number> = { 'JSON.parse alone (v1 body)': v1.length, 'v1 JSON': v1.length, 'v2 JSON': v2.length, 'v2 protobuf (agent)': pb.length };
    count = 0;
    const results = compare(contenders, 5, 300);
    console.log(`datadog-parser: ${SERIES} series × ${pointsPer} point${pointsPer === 1 ? '' : 's'}, 10 tags each (CPU time, best of 5 interleaved rounds)`);
    for (const r of results) {
      const perSec = (points / r.nsPerRun) * 1e9;
      const mbs = (sizes[r.name] / r.nsPerRun) * 1e3;
      console.log(`  ${r.name.padEnd(28)} ${(perSec / 1e6).toFixed(2).padStart(6)} M points/s ${mbs.toFixed(1).padStart(7)} MB/s ${(r.nsPerRun / points).toFixed(0).padStart(6)} ns/point`);
    }
  }
  if (count === 0) throw new Error('no samples');
}
