/**
 * OTLP/HTTP metrics from the real OpenTelemetry JS SDK (MeterProvider, PeriodicExportingMetricReader
 * with the OTLP HTTP exporters, JSON and protobuf) into Tributary's pipeline: the exact series
 * that arrive — names as Prometheus' OTLP translator makes them, resource attributes to
 * job/instance/target_info, histograms as buckets, exponential histograms as classic buckets,
 * delta temporality refused or added up — and the OTLP/HTTP answers.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { MeterProvider, PeriodicExportingMetricReader, AggregationType } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPMetricExporter as JsonExporter, AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { selfMetricValue } from '../helpers/scrape-harness.js';
import { encodeOtlpRequest, otlpType } from '../../src/formats/otlp/otlp.bench.js';
import { startIngest } from '../helpers/ingest-harness.js';

async function start(t: TestContext, otel = '{http: true}') {
  const { rt, sink } = await startIngest(t, `ingest:\n  opentelemetry: ${otel}\n`);
  return { rt, sink, base: `http://${rt.address}` };
}

const RESOURCE = {
  'service.name': 'checkout',
  'service.namespace': 'shop',
  'service.instance.id': 'pod-1',
  'deployment.environment': 'test',
};

function sdk(t: TestContext, base: string, proto: boolean, opts: { delta?: boolean; exponential?: string } = {}) {
  const url = `${base}/opentelemetry/v1/metrics`;
  const temporalityPreference = opts.delta ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE;
  const exporter = proto ? new ProtoExporter({ url, temporalityPreference }) : new JsonExporter({ url, temporalityPreference });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes(RESOURCE),
    readers: [reader],
    views: opts.exponential ? [{ instrumentName: opts.exponential, aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } } }] : [],
  });
  // shut down before Tributary closes (call `close` at the end of the test): the last export into
  // a closed port would be retried with backoff for seconds
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await provider.shutdown().catch(() => undefined);
  };
  t.after(close);
  return { meter: provider.getMeter('shop-meter', '1.2.3'), flush: () => reader.forceFlush(), close };
}

const JOB = 'job="shop/checkout"';
const INST = 'instance="pod-1"';

for (const proto of [false, true]) {
  const kind = proto ? 'protobuf' : 'JSON';
  test(`OTLP/HTTP ${kind} from the OpenTelemetry JS SDK: counters, up-down counters, histograms, gauges, resource attributes`, async (t) => {
    const { rt, sink, base } = await start(t);
    const { meter, flush, close } = sdk(t, base, proto);
    const requests = meter.createCounter('http.server.requests', { unit: '{request}' });
    requests.add(3, { 'http.method': 'GET', 'http.status_code': 200 });
    requests.add(1, { 'http.method': 'POST', 'http.status_code': 500 });
    meter.createCounter('process.cpu.time', { unit: 's' }).add(1.5);
    const queue = meter.createUpDownCounter('queue.depth', { unit: '{item}' });
    queue.add(5);
    queue.add(-2);
    const latency = meter.createHistogram('http.server.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.1, 0.5, 1] } });
    for (const v of [0.05, 0.3, 2]) latency.record(v, { route: '/cart' });
    meter.createObservableGauge('process.memory.usage', { unit: 'By' }).addCallback((r) => r.observe(1234, { 'memory.type': 'heap' }));
    meter.createObservableGauge('system.cpu.utilization', { unit: '1' }).addCallback((r) => r.observe(0.25));
    const before = Date.now();
    await flush();

    const got = sink.last((n) => n !== 'target_info');
    assert.deepEqual(got, {
      [`http_server_requests_total{http_method="GET", http_status_code="200", ${INST}, ${JOB}}`]: 3,
      [`http_server_requests_total{http_method="POST", http_status_code="500", ${INST}, ${JOB}}`]: 1,
      [`process_cpu_time_seconds_total{${INST}, ${JOB}}`]: 1.5,
      [`queue_depth{${INST}, ${JOB}}`]: 3,
      [`http_server_duration_seconds_bucket{${INST}, ${JOB}, le="0.1", route="/cart"}`]: 1,
      [`http_server_duration_seconds_bucket{${INST}, ${JOB}, le="0.5", route="/cart"}`]: 2,
      [`http_server_duration_seconds_bucket{${INST}, ${JOB}, le="1", route="/cart"}`]: 2,
      [`http_server_duration_seconds_bucket{${INST}, ${JOB}, le="+Inf", route="/cart"}`]: 3,
      [`http_server_duration_seconds_sum{${INST}, ${JOB}, route="/cart"}`]: 2.35,
      [`http_server_duration_seconds_count{${INST}, ${JOB}, route="/cart"}`]: 3,
      [`process_memory_usage_bytes{${INST}, ${JOB}, memory_type="heap"}`]: 1234,
      [`system_cpu_utilization_ratio{${INST}, ${JOB}}`]: 0.25,
    });
    // target_info: the resource's other attributes, value 1
    const info = sink.samples.filter((s) => s.labels.metricName === 'target_info');
    assert.equal(info.length, 1);
    const il = info[0].labels.toRecord();
    assert.equal(info[0].value, 1);
    assert.equal(il.job, 'shop/checkout');
    assert.equal(il.instance, 'pod-1');
    assert.equal(il.deployment_environment, 'test');
    assert.equal(il.service_name, undefined, 'identifying attributes are not repeated on target_info');
    for (const s of sink.samples) {
      assert.ok(s.timestampMs >= Math.floor(before / 1000) * 1000 - 1000 && s.timestampMs <= Date.now(), `timestamp of ${s.labels} is the export's`);
      assert.ok(Number.isInteger(s.timestampMs));
    }
    assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'opentelemetry', code: '200' }), 1);
    assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_total', { protocol: 'opentelemetry' }), sink.samples.length);

    // a second export: the same series are the same Labels objects (the per-series cache)
    const first = new Map(sink.samples.map((s) => [s.labels.toString(), s.labels]));
    sink.clear();
    requests.add(2, { 'http.method': 'GET', 'http.status_code': 200 });
    await flush();
    const again = sink.samples.find((s) => s.labels.toString().includes('http_method="GET"'))!;
    assert.equal(again.value, 5);
    assert.equal(again.labels, first.get(again.labels.toString()), 'a series sent again is the same Labels object');
    await close();
  });
}

test('OTLP exponential histogram from the SDK: classic cumulative buckets at the exponential boundaries, +Inf = count', async (t) => {
  const { sink, base } = await start(t);
  const { meter, flush, close } = sdk(t, base, true, { exponential: 'rpc.duration' });
  const h = meter.createHistogram('rpc.duration', { unit: 'ms' });
  const values = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89];
  for (const v of values) h.record(v);
  await flush();
  const buckets = sink.samples
    .filter((s) => s.labels.metricName === 'rpc_duration_milliseconds_bucket')
    .map((s) => ({ le: s.labels.get('le')!, n: s.value }));
  assert.ok(buckets.length > 3, `buckets: ${JSON.stringify(buckets)}`);
  assert.deepEqual(buckets.at(-1), { le: '+Inf', n: values.length });
  const finite = buckets.slice(0, -1).map((b) => ({ le: Number(b.le), n: b.n }));
  for (let i = 1; i < finite.length; i++) {
    assert.ok(finite[i].le > finite[i - 1].le, 'boundaries ascend');
    assert.ok(finite[i].n >= finite[i - 1].n, 'counts are cumulative');
  }
  // each bucket holds exactly the values at or below its boundary (values on a boundary of a power of two land in the lower bucket)
  for (const b of finite) {
    const want = values.filter((v) => v <= b.le * (1 + 1e-9)).length;
    assert.ok(Math.abs(b.n - want) <= 0, `le=${b.le}: ${b.n} values, expected ${want}`);
  }
  const sum = sink.samples.find((s) => s.labels.metricName === 'rpc_duration_milliseconds_sum')!;
  assert.equal(sum.value, values.reduce((a, b) => a + b, 0));
  assert.equal(sink.samples.find((s) => s.labels.metricName === 'rpc_duration_milliseconds_count')!.value, values.length);
  await close();
});

test('OTLP delta temporality: refused by default (counted as unsupported, said in partial_success), added up with delta_temporality: cumulative', async (t) => {
  {
    const { rt, sink, base } = await start(t);
    const { meter, flush, close } = sdk(t, base, false, { delta: true });
    meter.createCounter('jobs.done').add(3, { queue: 'a' });
    meter.createObservableGauge('temp', { unit: 'Cel' }).addCallback((r) => r.observe(21.5));
    await flush();
    assert.deepEqual(Object.keys(sink.last()).filter((k) => !k.startsWith('target_info')), ['temp_celsius{instance="pod-1", job="shop/checkout"}'], 'the gauge is kept, the delta counter refused');
    assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_rows_invalid_total', { protocol: 'opentelemetry', reason: 'unsupported' }), 1);
    // the answer, as a client sees it
    const body = JSON.stringify({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'd', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: '1', timeUnixNano: `${Date.now()}000000` }] } }] }] }],
    });
    const r = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    const answer = (await r.json()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    assert.equal(answer.partialSuccess.rejectedDataPoints, '1');
    assert.match(answer.partialSuccess.errorMessage, /metric "d": delta temporality is not supported/);
    await close();
  }
  {
    const { sink, base } = await start(t, '{http: true, delta_temporality: cumulative}');
    const { meter, flush, close } = sdk(t, base, true, { delta: true });
    const c = meter.createCounter('jobs.done');
    const h = meter.createHistogram('job.size', { unit: 'By', advice: { explicitBucketBoundaries: [10, 100] } });
    c.add(3, { queue: 'a' });
    h.record(5);
    await flush();
    c.add(4, { queue: 'a' });
    h.record(50);
    h.record(500);
    await flush();
    const totals = sink.samples.filter((s) => s.labels.metricName === 'jobs_done_total').map((s) => s.value);
    assert.deepEqual(totals, [3, 7]);
    const last = sink.last((n) => n.startsWith('job_size'));
    assert.deepEqual(last, {
      [`job_size_bytes_bucket{${INST}, ${JOB}, le="10"}`]: 1,
      [`job_size_bytes_bucket{${INST}, ${JOB}, le="100"}`]: 2,
      [`job_size_bytes_bucket{${INST}, ${JOB}, le="+Inf"}`]: 3,
      [`job_size_bytes_sum{${INST}, ${JOB}}`]: 555,
      [`job_size_bytes_count{${INST}, ${JOB}}`]: 3,
    });
    await close();
  }
});

test('OTLP with prometheus_naming: false keeps names as sent (sanitized); promote_scope_metadata and promote_resource_attributes add labels', async (t) => {
  const { sink, base } = await start(t, '{http: true, prometheus_naming: false, promote_scope_metadata: true, promote_resource_attributes: [deployment.environment]}');
  const { meter, flush, close } = sdk(t, base, false);
  meter.createCounter('http.server.requests', { unit: '{request}' }).add(2);
  meter.createObservableGauge('process.memory.usage', { unit: 'By' }).addCallback((r) => r.observe(7));
  await flush();
  assert.deepEqual(sink.last((n) => n !== 'target_info'), {
    [`http_server_requests{deployment_environment="test", ${INST}, ${JOB}, otel_scope_name="shop-meter", otel_scope_version="1.2.3"}`]: 2,
    [`process_memory_usage{deployment_environment="test", ${INST}, ${JOB}, otel_scope_name="shop-meter", otel_scope_version="1.2.3"}`]: 7,
  });
  await close();
});

/** One request in OTLP/JSON, also sent as protobuf (encoded by protobufjs) to check both decoders agree. */
function crafted(now: number) {
  const ns = `${now}123456`;
  const attr = (k: string, v: object) => ({ key: k, value: v });
  return {
    resourceMetrics: [
      {
        resource: { attributes: [attr('service.name', { stringValue: 'api' }), attr('host.name', { stringValue: 'h1' })] },
        scopeMetrics: [
          {
            scope: { name: 'lib' },
            metrics: [
              {
                name: 'rpc.latency',
                unit: 'ms',
                summary: {
                  dataPoints: [
                    {
                      attributes: [attr('1st', { intValue: '-7' }), attr('ok', { boolValue: true }), attr('ratio', { doubleValue: 0.5 }), attr('tags', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }] } })],
                      timeUnixNano: ns,
                      count: '10',
                      sum: 42.5,
                      quantileValues: [
                        { quantile: 0.5, value: 3 },
                        { quantile: 0.99, value: 9.5 },
                      ],
                    },
                  ],
                },
              },
              { name: 'queue.size', gauge: { dataPoints: [{ timeUnixNano: ns, asInt: '12', attributes: [attr('a.b', { stringValue: 'x' }), attr('a_b', { stringValue: 'y' })] }] } },
              { name: 'gone', unit: '1', gauge: { dataPoints: [{ timeUnixNano: ns, asDouble: 1, flags: 1 }] } },
              { name: 'weird name!', gauge: { dataPoints: [{ timeUnixNano: ns, asDouble: 'NaN' }] } },
            ],
          },
        ],
      },
    ],
  };
}

test('OTLP crafted requests: summary, attribute values, collisions, NO_RECORDED_VALUE as a staleness marker, the same from JSON and protobuf', async (t) => {
  const { sink, base } = await start(t);
  const now = Date.now() - 5000;
  const doc = crafted(now);
  const results: string[][] = [];
  for (const [type, body] of [
    ['application/json', Buffer.from(JSON.stringify(doc))],
    ['application/x-protobuf', encodeOtlpRequest(doc)],
  ] as const) {
    sink.clear();
    const r = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': type }, body });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('content-type'), type);
    const answer = Buffer.from(await r.arrayBuffer());
    if (type === 'application/json') assert.equal(answer.toString(), '{}');
    else assert.equal(answer.length, 0, 'an empty ExportMetricsServiceResponse');
    results.push(sink.samples.map((s) => `${s.labels} ${s.stale ? 'stale' : s.value} ${s.timestampMs}`));
  }
  assert.deepEqual(results[0], results[1], 'JSON and protobuf give the same samples');
  const attrs = 'key_1st="-7", ok="true"';
  const tail = 'ratio="0.5", tags="[\\"a\\",2]"';
  assert.deepEqual(results[0], [
    `rpc_latency_milliseconds{job="api", ${attrs}, quantile="0.5", ${tail}} 3 ${now}`,
    `rpc_latency_milliseconds{job="api", ${attrs}, quantile="0.99", ${tail}} 9.5 ${now}`,
    `rpc_latency_milliseconds_sum{job="api", ${attrs}, ${tail}} 42.5 ${now}`,
    `rpc_latency_milliseconds_count{job="api", ${attrs}, ${tail}} 10 ${now}`,
    `queue_size{a_b="x;y", job="api"} 12 ${now}`,
    `gone_ratio{job="api"} stale ${now}`,
    `weird_name{job="api"} NaN ${now}`,
    `target_info{host_name="h1", job="api"} 1 ${now}`,
  ]);
});

test('OTLP answers: 400 with a google.rpc.Status for an undecodable body (what came before kept), partial success in protobuf, 415, gzip, tenant path and extra_label, /opentelemetry/api/v1/push', async (t) => {
  const { rt, sink, base } = await start(t);
  const now = Date.now() - 5000;
  const good = encodeOtlpRequest(crafted(now));
  // the second metric's name field given an invalid wire type: the first metric (the summary) is already taken
  const broken = Buffer.from(good);
  const at = broken.indexOf(Buffer.from('queue.size')) - 2;
  assert.equal(broken[at], 0x0a);
  broken[at] = 0x0f;
  let r = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: broken });
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  const status = otlpType('Status').decode(Buffer.from(await r.arrayBuffer())) as unknown as { code: number; message: string };
  assert.equal(status.code, 3);
  assert.match(status.message, /^cannot decode the ExportMetricsServiceRequest: byte \d+: unsupported wire type 7 \(5 samples before it were taken\)$/);
  // the summary's four series, and target_info for the resource they came from
  assert.deepEqual(
    sink.samples.map((s) => s.labels.metricName),
    ['rpc_latency_milliseconds', 'rpc_latency_milliseconds', 'rpc_latency_milliseconds_sum', 'rpc_latency_milliseconds_count', 'target_info'],
  );

  r = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceMetrics": [' });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { message: string }).message, /not JSON/);

  r = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  assert.equal(r.status, 415);

  // partial success in protobuf: a delta sum refused
  const delta = encodeOtlpRequest({
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'd', sum: { aggregationTemporality: 1, dataPoints: [{ asInt: '1' }, { asInt: '2' }] } }] }] }],
  });
  r = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: delta });
  assert.equal(r.status, 200);
  const resp = otlpType('ExportMetricsServiceResponse').toObject(otlpType('ExportMetricsServiceResponse').decode(Buffer.from(await r.arrayBuffer())), { longs: String }) as {
    partialSuccess: { rejectedDataPoints: string; errorMessage: string };
  };
  assert.equal(resp.partialSuccess.rejectedDataPoints, '2');
  assert.match(resp.partialSuccess.errorMessage, /2 rows refused, 0 accepted/);

  // gzip, the tenant twin of the VictoriaMetrics path, extra_label
  sink.clear();
  r = await fetch(`${base}/insert/3:4/opentelemetry/api/v1/push?extra_label=dc=eu`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
    body: gzipSync(good),
  });
  assert.equal(r.status, 200);
  assert.equal(sink.samples.length, 8);
  for (const s of sink.samples) assert.deepEqual([s.labels.get('vm_account_id'), s.labels.get('vm_project_id'), s.labels.get('dc')], ['3', '4', 'eu']);

  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'opentelemetry', code: '400' }), 2);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'opentelemetry', code: '415' }), 1);
  assert.equal(selfMetricValue(rt.registry, 'tributary_ingest_requests_total', { protocol: 'opentelemetry', code: '200' }), 2);
});

test('OTLP/JSON of the wrong shape (a repeated field that is not an array) is a 400, not an empty success', async (t) => {
  const { base } = await start(t);
  for (const body of ['{"resourceMetrics":5}', '{"resourceMetrics":[{"scopeMetrics":{"metrics":[]}}]}']) {
    const r = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(r.status, 400, body);
    assert.match(await r.text(), /expected an array/);
  }
  const empty = await fetch(`${base}/opentelemetry/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(empty.status, 200, 'an empty request is still a valid one');
});
