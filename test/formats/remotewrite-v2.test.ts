/**
 * Remote write 2.0: the writer checked by an independent decoder (protobufjs, from the .proto
 * text of io.prometheus.write.v2), the sender's headers, metadata and answers (written counts,
 * fallback to 1.0 on 415 and on a 1.0 receiver's empty 2xx), the receiver's answers, and a
 * round trip Tributary (2.0) → Tributary's receiver → remote write 1.0, compared series by series.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { compressSync, uncompressSync } from 'snappy';
import { CompressingWriteRequestWriter, parseV2Request, parseWriteRequest, V2RequestWriter, type DecodedWriteRequest, type MetricMetadata } from '../../src/formats/remotewrite/index.js';
import { parseConfigText } from '../../src/config/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch, STALE_NAN_BITS } from '../../src/model/samples.js';
import { MetadataIndex, toV2, V2Converter } from '../../src/remotewrite/protocol.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { tempDataDir } from '../helpers/fixtures.js';
import { capturingLogger, receiver, startQueues } from '../helpers/remotewrite-harness.js';
import { selfMetricValue, startTarget, waitFor } from '../helpers/scrape-harness.js';

/** The 2.0 message as the spec's types.proto defines it (rc.3), without the Go-only options. */
const V2_PROTO = `
syntax = "proto3";
package io.prometheus.write.v2;
message Request { reserved 1 to 3; repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
message TimeSeries {
  repeated uint32 labels_refs = 1; repeated Sample samples = 2; repeated Histogram histograms = 3;
  repeated Exemplar exemplars = 4; Metadata metadata = 5; int64 created_timestamp = 6;
}
message Exemplar { repeated uint32 labels_refs = 1; double value = 2; int64 timestamp = 3; }
message Sample { double value = 1; int64 timestamp = 2; }
message Metadata {
  enum MetricType { METRIC_TYPE_UNSPECIFIED = 0; METRIC_TYPE_COUNTER = 1; METRIC_TYPE_GAUGE = 2; METRIC_TYPE_HISTOGRAM = 3;
    METRIC_TYPE_GAUGEHISTOGRAM = 4; METRIC_TYPE_SUMMARY = 5; METRIC_TYPE_INFO = 6; METRIC_TYPE_STATESET = 7; }
  MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4;
}
message Histogram { oneof count { uint64 count_int = 1; double count_float = 2; } double sum = 3; sint32 schema = 4; int64 timestamp = 15; }
`;
const Request = protobuf.parse(V2_PROTO).root.lookupType('io.prometheus.write.v2.Request');

interface PbRequest {
  symbols: string[];
  timeseries: { labelsRefs: number[]; samples: { value: number; timestamp: { toNumber(): number } | number }[]; metadata?: { type: number; helpRef: number; unitRef: number }; createdTimestamp?: unknown }[];
}
const num = (t: { toNumber(): number } | number) => (typeof t === 'number' ? t : t.toNumber());

/** A queued 1.0 request of these samples (one series per entry, the order given). */
function v1Block(samples: [Record<string, string>, number | 'stale', number][]): Buffer {
  const b = new SampleBatch(samples.length);
  for (const [l, v, ts] of samples) {
    if (v === 'stale') b.appendStale(Labels.fromRecord(l), ts);
    else b.append(Labels.fromRecord(l), v, ts);
  }
  const w = new CompressingWriteRequestWriter(1024);
  w.append(b);
  return w.finish();
}

test('the 2.0 writer, read by protobufjs from the .proto: symbols[0] = "", label refs, samples grouped by series, metadata refs', () => {
  const block = v1Block([
    [{ __name__: 'http_requests_total', code: '200' }, 5, 1000],
    [{ __name__: 'temp_celsius' }, -1.5, 1000],
    [{ __name__: 'http_requests_total', code: '200' }, 7, 2000],
    [{ __name__: 'http_requests_total', code: '500' }, 'stale', -5],
  ]);
  const meta = new MetadataIndex(() => [
    { family: 'http_requests', type: 'counter', help: 'Requests.' },
    { family: 'temp_celsius', type: 'gauge', help: 'Temperature.', unit: 'celsius' },
  ]);
  const { body, samples } = toV2(block, meta);
  assert.equal(samples, 4);
  const raw = uncompressSync(body) as Buffer;
  const pb = Request.toObject(Request.decode(raw), { defaults: true }) as PbRequest;
  assert.equal(pb.symbols[0], '');
  assert.equal(new Set(pb.symbols).size, pb.symbols.length, 'each string once');
  const labelsOf = (refs: number[]) => Object.fromEntries(Array.from({ length: refs.length / 2 }, (_, i) => [pb.symbols[refs[2 * i]], pb.symbols[refs[2 * i + 1]]]));
  const series = pb.timeseries.map((s) => ({
    labels: labelsOf(s.labelsRefs),
    samples: s.samples.map((x) => [x.value, num(x.timestamp)]),
    type: s.metadata?.type,
    help: pb.symbols[s.metadata?.helpRef ?? 0],
    unit: pb.symbols[s.metadata?.unitRef ?? 0],
  }));
  assert.deepEqual(series, [
    { labels: { __name__: 'http_requests_total', code: '200' }, samples: [[5, 1000], [7, 2000]], type: 1, help: 'Requests.', unit: '' },
    { labels: { __name__: 'temp_celsius' }, samples: [[-1.5, 1000]], type: 2, help: 'Temperature.', unit: 'celsius' },
    { labels: { __name__: 'http_requests_total', code: '500' }, samples: [[NaN, -5]], type: 1, help: 'Requests.', unit: '' },
  ]);
  // the marker's bits, which protobufjs's double cannot show
  const ours = parseV2Request(raw);
  assert.equal(ours[2].samples[0].stale, true);
  const at = raw.indexOf(Buffer.from([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]));
  assert.ok(at > 0 && new DataView(raw.buffer, raw.byteOffset + at, 8).getBigUint64(0, true) === STALE_NAN_BITS);
});

test('the 2.0 parser reads what protobufjs encodes; bad references and a 1.0 body are precise errors', () => {
  const msg = Request.fromObject({
    symbols: ['', '__name__', 'up', 'job', 'node', 'Help text.'],
    timeseries: [
      { labelsRefs: [1, 2, 3, 4], samples: [{ value: 1, timestamp: 1700000000000 }], metadata: { type: 2, helpRef: 5 }, createdTimestamp: 1600000000000 },
    ],
  });
  const got = parseV2Request(Request.encode(msg).finish());
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].labels.toRecord(), { __name__: 'up', job: 'node' });
  assert.deepEqual(got[0].samples, [{ value: 1, timestampMs: 1700000000000, stale: false }]);
  assert.deepEqual(got[0].metadata, { type: 'gauge', help: 'Help text.' });
  assert.equal(got[0].createdTimestampMs, 1600000000000);
  const bad = Request.encode(Request.fromObject({ symbols: ['', 'a'], timeseries: [{ labelsRefs: [1, 9] }] })).finish();
  assert.throws(() => parseV2Request(bad), /symbol reference 9 is beyond the 2 symbols/);
  const odd = Request.encode(Request.fromObject({ symbols: ['', 'a'], timeseries: [{ labelsRefs: [1] }] })).finish();
  assert.throws(() => parseV2Request(odd), /not a multiple of 2/);
  assert.throws(() => parseV2Request(uncompressSync(v1Block([[{ __name__: 'x' }, 1, 1]])) as Buffer), /reserved.*1\.0 WriteRequest/);
  const w = new V2RequestWriter();
  assert.equal(w.finish().length, 2, 'an empty request is only symbols[0]');
});

function v2Receiver(answer: (req: IncomingMessage, n: number) => { status: number; headers?: Record<string, string> }) {
  const got: { headers: IncomingMessage['headers']; raw: Buffer }[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answer(req, ++n);
      if (a.status < 300) got.push({ headers: req.headers, raw: uncompressSync(Buffer.concat(chunks)) as Buffer });
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.status >= 400 ? `refused with ${a.status}` : '');
    });
  });
  return new Promise<{ url: string; got: typeof got; close(): Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`,
        got,
        close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
      }),
    ),
  );
}

const isV2 = (req: IncomingMessage) => String(req.headers['content-type']).includes('proto=io.prometheus.write.v2.Request');

function batchOf(n: number, from = 0): SampleBatch {
  const b = new SampleBatch(n);
  for (let i = from; i < from + n; i++) b.append(Labels.fromRecord({ __name__: 'm', i: String(i % 5) }), i, 1_700_000_000_000 + i);
  return b;
}

test('2.0 sender: the spec headers, samples grouped, the written count read (fewer written: counted)', async (t) => {
  const r = await v2Receiver((req, n) => ({ status: 204, headers: { 'x-prometheus-remote-write-samples-written': n === 1 ? '8' : String(10) } }));
  t.after(() => r.close());
  const { rw, pipeline, registry } = await startQueues(
    t,
    `remote_write:\n  - url: ${r.url}\n    protobuf_message: io.prometheus.write.v2.Request\n    queue_config: {senders: 1}\n`,
  );
  pipeline.write('job', batchOf(10));
  await rw.close();
  assert.equal(r.got.length, 1);
  const h = r.got[0].headers;
  assert.equal(h['content-type'], 'application/x-protobuf;proto=io.prometheus.write.v2.Request');
  assert.equal(h['x-prometheus-remote-write-version'], '2.0.0');
  assert.equal(h['content-encoding'], 'snappy');
  const series = parseV2Request(r.got[0].raw);
  assert.equal(series.length, 5, 'five series of two samples each');
  assert.deepEqual(series[0].samples.map((s) => s.value), [0, 5]);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_dropped_total', { url: r.url, reason: 'not_written' }), 2);
  assert.equal(selfMetricValue(registry, 'tributary_remotewrite_samples_sent_total', { url: r.url }), 8);
});

for (const [name, refuse] of [
  ['415 Unsupported Media Type', { status: 415 }],
  ['a 1.0 receiver that answers 204 without the written header', { status: 204 }],
  ['400 to 2.0 while 1.0 is accepted', { status: 400 }],
] as const) {
  test(`fallback on ${name}: every sample delivered as 1.0, logged once, the URL stays on 1.0`, async (t) => {
    let v2Requests = 0;
    const r = await v2Receiver((req) => (isV2(req) ? (v2Requests++, refuse) : { status: 204 }));
    t.after(() => r.close());
    const { logger, lines } = capturingLogger();
    const { rw, pipeline } = await startQueues(
      t,
      `remote_write:\n  - url: ${r.url}\n    protobuf_message: io.prometheus.write.v2.Request\n    queue_config: {senders: 1, max_samples_per_send: 10}\n`,
      undefined,
      logger,
    );
    for (let round = 0; round < 3; round++) {
      pipeline.write('job', batchOf(30, round * 30));
      await new Promise((res) => setTimeout(res, 50));
    }
    await rw.close();
    const v1 = r.got.filter((g) => !isV2({ headers: g.headers } as IncomingMessage)).map((g) => parseWriteRequest(g.raw));
    const values = v1.flatMap((x: DecodedWriteRequest) => x.timeseries.map((s) => s.samples[0].value));
    assert.deepEqual(values, Array.from({ length: 90 }, (_, i) => i), 'all samples, in order, as 1.0');
    assert.equal(v2Requests, 1, 'one 2.0 attempt, then 1.0');
    assert.equal(lines.filter((l) => String(l.msg).startsWith('the receiver does not take remote write 2.0')).length, 1);
  });
}

test('receiver: 415 for other messages and encodings, precise 400s, 413 over the limit, native histograms refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rwrecv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 't.yml');
  writeFileSync(file, `remote_write_options:\n  receiver: {enabled: true, max_body_bytes: 4KiB}\n`);
  const rt = await startRuntime({ configFile: file, listen: '127.0.0.1:0', logger: silentLogger, dataDir: tempDataDir() });
  t.after(() => rt.close());
  const url = `http://${rt.address}/api/v1/write`;
  const post = async (body: Uint8Array, headers: Record<string, string>) => {
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-encoding': 'snappy', ...headers } });
    return { status: res.status, text: (await res.text()).trim(), headers: res.headers };
  };
  const v2 = 'application/x-protobuf;proto=io.prometheus.write.v2.Request';
  const one = compressSync(Request.encode(Request.fromObject({ symbols: ['', '__name__', 'up'], timeseries: [{ labelsRefs: [1, 2], samples: [{ value: 1, timestamp: 5 }] }] })).finish());
  const ok = await post(one, { 'content-type': v2 });
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('x-prometheus-remote-write-samples-written'), '1');
  assert.equal(ok.headers.get('x-prometheus-remote-write-histograms-written'), '0');
  assert.equal((await post(one, { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v3.Request' })).status, 415);
  assert.equal((await post(one, { 'content-type': 'application/json' })).status, 415);
  assert.equal((await post(one, { 'content-type': v2, 'content-encoding': 'gzip' })).status, 415);
  const bad = await post(compressSync(Buffer.from([0x2a, 0x04, 0x0a, 0x02, 0x01, 0x07])), { 'content-type': v2 });
  assert.deepEqual([bad.status, bad.text], [400, 'io.prometheus.write.v2.Request: byte 2: symbol reference 1 is beyond the 0 symbols of the request']);
  const notSnappy = await post(Buffer.from([0x05, 0xff]), { 'content-type': 'application/x-protobuf' });
  assert.equal(notSnappy.status, 400);
  assert.match(notSnappy.text, /^snappy: /);
  assert.equal((await post(Buffer.alloc(5000), { 'content-type': v2 })).status, 413);
  assert.equal((await post(compressSync(Buffer.alloc(5000)), { 'content-type': v2 })).status, 413, 'decompressed size bounded too');
  const withHistogram = compressSync(
    Request.encode(
      Request.fromObject({ symbols: ['', '__name__', 'h', 'f'], timeseries: [{ labelsRefs: [1, 2], histograms: [{ countInt: 3, sum: 1, timestamp: 5 }] }, { labelsRefs: [1, 3], samples: [{ value: 2, timestamp: 5 }] }] }),
    ).finish(),
  );
  const h = await post(withHistogram, { 'content-type': v2 });
  assert.equal(h.status, 400);
  assert.match(h.text, /1 native histogram samples not written.*1 float samples written/);
  assert.equal(h.headers.get('x-prometheus-remote-write-samples-written'), '1');
});

test('round trip: Tributary sends 2.0 to a second Tributary, which sends 1.0 on; series by series the same as a direct 1.0 copy', { timeout: 60_000 }, async (t) => {
  let n = 0;
  const target = await startTarget((_req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    // a series that comes and goes: its staleness markers travel too
    res.end(`# HELP rt_requests_total Requests.\n# TYPE rt_requests_total counter\nrt_requests_total{code="200"} ${n}\nrt_value ${n * 0.1}\n${n % 3 === 0 ? '' : `rt_flappy ${n}\n`}`);
  });
  t.after(() => target.close());
  const direct = await receiver(() => ({ status: 204 }));
  const final = await receiver(() => ({ status: 204 }));
  t.after(() => direct.close());
  t.after(() => final.close());
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bFile = join(dir, 'b.yml');
  writeFileSync(bFile, `remote_write_options:\n  receiver: {enabled: true}\nremote_write:\n  - url: ${final.url}\n    metadata_config: {send: false}\n    queue_config: {batch_send_deadline: 200ms}\n`);
  const b = await startRuntime({ configFile: bFile, listen: '127.0.0.1:0', logger: silentLogger, dataDir: tempDataDir() });
  t.after(() => b.close());
  const aFile = join(dir, 'a.yml');
  writeFileSync(
    aFile,
    `global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: rt
    static_configs: [{targets: ['${target.address}']}]
remote_write:
  - url: http://${b.address}/api/v1/write
    protobuf_message: io.prometheus.write.v2.Request
    queue_config: {batch_send_deadline: 200ms}
  - url: ${direct.url}
    metadata_config: {send: false}
    queue_config: {batch_send_deadline: 200ms}
`,
  );
  const a = await startRuntime({ configFile: aFile, listen: '127.0.0.1:0', logger: silentLogger, dataDir: tempDataDir() });
  await waitFor('a dozen scrapes', () => n >= 12, 20_000);
  await a.close();
  await b.close();
  assert.ok(selfMetricValue(b.registry, 'tributary_remote_write_received_samples_total', { version: '2.0' }) > 0, 'B received 2.0');
  assert.equal(selfMetricValue(b.registry, 'tributary_remote_write_received_samples_total', { version: '1.0' }) ?? 0, 0, 'and no 1.0');
  const bySeries = (got: typeof direct.got) => {
    const m = new Map<string, string[]>();
    for (const r of got) for (const s of r.body.timeseries) for (const x of s.samples) {
      const k = s.labels.toString();
      m.set(k, [...(m.get(k) ?? []), `${x.timestampMs}:${x.stale ? 'stale' : x.value}`]);
    }
    return m;
  };
  const want = bySeries(direct.got);
  const got = bySeries(final.got);
  assert.ok(want.size >= 6, `the direct copy has the scraped series (${[...want.keys()]})`);
  const flappy = [...want].find(([k]) => k.startsWith('rt_flappy{'))?.[1] ?? [];
  assert.ok(flappy.some((x) => x.endsWith('stale')), `staleness markers included (${flappy})`);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, v] of want) assert.deepEqual(got.get(k), v, k);
});

test('one URL\'s converter, request after request: each request has its own symbols, series met again keep their samples and gain metadata learnt since', () => {
  let families: MetricMetadata[] = [{ family: 'a', type: 'counter', help: 'A.' }];
  let now = 0;
  const c = new V2Converter(new MetadataIndex(() => families, () => now));
  const read = (body: Buffer) => {
    const raw = uncompressSync(body) as Buffer;
    const pb = Request.toObject(Request.decode(raw), { defaults: true }) as PbRequest;
    assert.equal(new Set(pb.symbols).size, pb.symbols.length, 'each string once');
    const series = pb.timeseries.map((s) => ({
      labels: s.labelsRefs.map((r) => pb.symbols[r]).join(' '),
      samples: s.samples.map((x) => [x.value, num(x.timestamp)]),
      meta: s.metadata ? [s.metadata.type, pb.symbols[s.metadata.helpRef], pb.symbols[s.metadata.unitRef]] : undefined,
    }));
    return { symbols: pb.symbols, series, stale: parseV2Request(raw).map((s) => s.samples.map((x) => x.stale)) };
  };
  const r1 = v1Block([
    [{ __name__: 'a_total', x: '1' }, 1, 1000],
    [{ __name__: 'b', v: 'café' }, 2, 1000],
    [{ __name__: 'a_total', x: '1' }, 3, 2000],
  ]);
  assert.deepEqual(read(c.convert(r1).body), {
    symbols: ['', '__name__', 'a_total', 'x', '1', 'A.', 'b', 'v', 'café'],
    series: [
      { labels: '__name__ a_total x 1', samples: [[1, 1000], [3, 2000]], meta: [1, 'A.', ''] },
      { labels: '__name__ b v café', samples: [[2, 1000]], meta: undefined },
    ],
    stale: [[false, false], [false]],
  });
  // b's family becomes known; the index notices at its next refresh, in the middle of request 2
  families = [...families, { family: 'b', type: 'gauge', help: 'Bé.', unit: 'bytes' }];
  now = 10_000;
  const r2 = v1Block([
    [{ __name__: 'b', v: 'café' }, 'stale', 3000],
    [{ __name__: 'c' }, -0, -5],
    [{ __name__: 'b', v: 'café' }, 4, 4000],
  ]);
  const got2 = read(c.convert(r2).body);
  assert.deepEqual(got2, {
    symbols: ['', '__name__', 'b', 'v', 'café', 'c', 'Bé.', 'bytes'],
    series: [
      { labels: '__name__ b v café', samples: [[NaN, 3000], [4, 4000]], meta: [2, 'Bé.', 'bytes'] },
      { labels: '__name__ c', samples: [[-0, -5]], meta: undefined },
    ],
    stale: [[true, false], [false]],
  });
  // request 1 again: what a converter that never saw anything makes of it
  const fresh = toV2(r1, new MetadataIndex(() => families, () => now)).body;
  assert.ok(c.convert(r1).body.equals(fresh));
  assert.deepEqual(read(fresh).series[1].meta, [2, 'Bé.', 'bytes']);
});

test('interop as the spec intends: a 2.0 body read as 1.0 is an empty request (fields 1 to 3 are reserved), which is why a 1.0 receiver answers 2xx', () => {
  const { body } = toV2(v1Block([[{ __name__: 'up', job: 'x' }, 1, 1000]]), undefined);
  const asV1 = parseWriteRequest(uncompressSync(body) as Buffer);
  assert.deepEqual([asV1.timeseries.length, asV1.metadata.length], [0, 0]);
});

test('protobuf_message: io.prometheus.write.v2.Request loads without the old "1.0 is sent" warning; receiver settings load', () => {
  const { config, warnings } = parseConfigText(
    `remote_write_options:\n  receiver: {enabled: true, max_body_bytes: 1MiB}\nremote_write:\n  - url: http://x/api/v1/write\n    protobuf_message: io.prometheus.write.v2.Request\n`,
    'v2.yml',
  );
  assert.deepEqual(warnings.filter((w) => w.path.includes('protobuf_message')), []);
  assert.equal(config.remote_write[0].protobuf_message, 'io.prometheus.write.v2.Request');
  assert.deepEqual(config.remote_write_options.receiver, { enabled: true, max_body_bytes: 1024 * 1024 });
  assert.throws(() => parseConfigText(`remote_write:\n  - url: http://x/\n    protobuf_message: io.prometheus.write.v3.Request\n`, 'v3.yml'), /protobuf_message/);
});
