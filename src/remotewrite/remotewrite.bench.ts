/**
 * Remote-write cost per sample: 100 targets' worth of node_exporter series (the fixture page
 * twice per target, 101,400 series) as scrape batches, (1) encoded into WriteRequests of 2,000
 * samples of one of four shards and snappy-compressed, by both compression settings — the
 * first pass encodes each series, the next ones show the steady state — and (2) through the
 * whole RemoteWriteQueue (sharding, memory/disk queue, 4 senders, HTTP) into a receiver in this
 * process that only counts bytes; (3) remote write 2.0: the sender's conversion of queued 1.0
 * requests (decompress, read, intern, encode, compress) and the bytes it saves, and the
 * receiver's decoding of each version. Side by side with vmagent into a real VictoriaMetrics: `npm run bench:side-by-side`.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { compress, uncompress } from '../formats/snappy/index.js';
import { parseConfigText } from '../config/index.js';
import {
  CompressingWriteRequestWriter,
  SnappyWriteRequestWriter,
  WriteRequestWriter,
  parseV2Request,
  parseWriteRequest,
  type RequestEncoder,
} from '../formats/remotewrite/index.js';
import { silentLogger } from '../log/logger.js';
import { LabelsBuilder, type Labels } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import { SinkFanout } from '../pipeline/index.js';
import { startRemoteWrite } from './index.js';
import { MetadataIndex, V2Converter } from './protocol.js';
import { Registry } from '../selfmetrics/registry.js';
import { loadBenchSeries } from '../../bench/fixtures.js';
import { countingReceiver } from '../../bench/harness.js';

const TARGETS = 100;
const PER_REQUEST = 2_000;
const SHARDS = 4;

function targetBatches(): SampleBatch[] {
  const lb = new LabelsBuilder();
  const base = loadBenchSeries();
  const batches: SampleBatch[] = [];
  for (let t = 0; t < TARGETS; t++) {
    const b = new SampleBatch(base.length);
    const instance = `127.0.0.1:${19300 + t}`;
    for (let i = 0; i < base.length; i++) {
      const l: Labels = lb.reset(base[i]).set('instance', instance).build();
      b.append(l, i * 0.5, 1_700_000_000_000);
    }
    batches.push(b);
  }
  return batches;
}

function encodeRound(batches: SampleBatch[], round: number, w: RequestEncoder): { samples: number; bytes: number } {
  let samples = 0;
  let bytes = 0;
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      b.values[i] = round + i;
      b.timestamps[i] = 1_700_000_000_000 + round * 5_000;
    }
  }
  // as a queue's shard sees them: a quarter of each target's series (by hash), in page order
  for (let shard = 0; shard < SHARDS; shard++) {
    for (const b of batches) {
      for (let i = 0; i < b.length; i++) {
        if ((b.series[i].hash >>> 0) % SHARDS !== shard) continue;
        w.appendOne(b, i);
        if (w.samples >= PER_REQUEST) {
          samples += w.samples;
          bytes += w.finish().length;
          w.reset();
        }
      }
    }
  }
  return { samples, bytes };
}

async function queueRound(batches: SampleBatch[]): Promise<{ usPerSample: number; requests: number }> {
  const { server, url, requests, resetCount } = await countingReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-rwbench-'));
  const { config } = parseConfigText(`remote_write:\n  - url: ${url}\n`, 'bench.yml', {});
  const pipeline = new SinkFanout(() => {});
  const rw = await startRemoteWrite(config.remote_write, {
    pipeline,
    registry: new Registry(),
    logger: silentLogger,
    dataDir,
    externalLabels: config.global.external_labels,
    options: config.remote_write_options,
  });
  try {
    // warm: every series' labels encoded once
    for (const b of batches) pipeline.write('farm', b);
    await rw.queues[0].flush(60_000);
    resetCount();
    const cpu0 = process.cpuUsage();
    let samples = 0;
    for (let round = 1; round <= 5; round++) {
      for (const b of batches) {
        b.timestamps.fill(1_700_000_000_000 + round * 5_000);
        pipeline.write('farm', b);
        samples += b.length;
      }
      await rw.queues[0].flush(60_000);
    }
    const cpu = process.cpuUsage(cpu0);
    return { usPerSample: (cpu.user + cpu.system) / samples, requests: requests() };
  } finally {
    await rw.close();
    server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Our snappy against the reference (native) one, on the same requests: speed and size. */
function snappyRound(batches: SampleBatch[], w: WriteRequestWriter): void {
  const requests: Buffer[] = [];
  w.reset();
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      w.appendOne(b, i);
      if (w.samples >= PER_REQUEST) {
        requests.push(Buffer.from(w.bytes()));
        w.reset();
      }
    }
  }
  w.reset();
  const raw = requests.reduce((n, r) => n + r.length, 0);
  const time = (f: (r: Buffer) => Buffer): { mbps: number; bytes: number } => {
    let best = Infinity;
    let bytes = 0;
    for (let round = 0; round < 5; round++) {
      bytes = 0;
      const t0 = process.hrtime.bigint();
      for (const r of requests) bytes += f(r).length;
      best = Math.min(best, Number(process.hrtime.bigint() - t0));
    }
    return { mbps: (raw / best) * 1000, bytes };
  };
  const ours = time(compress);
  const ref = time((r) => compressSync(r, { copyOutputData: true }));
  console.log(
    `  snappy: tributary ${ours.mbps.toFixed(0)} MB/s, ${((100 * ours.bytes) / raw).toFixed(1)}% of input; ` +
      `reference (native) ${ref.mbps.toFixed(0)} MB/s, ${((100 * ref.bytes) / raw).toFixed(1)}%`,
  );
}

/** 2.0: converting queued 1.0 requests (what a 2.0 URL's sender does per request), sizes, and decoding. */
function v2Round(batches: SampleBatch[]): void {
  const w = new CompressingWriteRequestWriter(256 * 1024);
  const v1: Buffer[] = [];
  let samples = 0;
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      w.appendOne(b, i);
      if (w.samples >= PER_REQUEST) {
        samples += w.samples;
        v1.push(w.finish());
        w.reset();
      }
    }
  }
  const names = new Set(batches[0].series.slice(0, batches[0].length).map((l) => l.metricName));
  const meta = new MetadataIndex(() => [...names].map((family) => ({ family, type: 'gauge' as const, help: `Help of ${family}.` })));
  const best = (f: () => void): number => {
    let ns = Infinity;
    for (let round = 0; round < 5; round++) {
      const t0 = process.hrtime.bigint();
      f();
      ns = Math.min(ns, Number(process.hrtime.bigint() - t0));
    }
    return ns / samples;
  };
  let v2: Buffer[] = [];
  // one URL's converter: it meets the same series request after request
  const converter = new V2Converter(meta);
  const convert = best(() => (v2 = v1.map((r) => converter.convert(r).body)));
  const v1Bytes = v1.reduce((n, r) => n + r.length, 0);
  const v2Bytes = v2.reduce((n, r) => n + r.length, 0);
  const v1Raw = v1.map((r) => uncompress(r));
  const v2Raw = v2.map((r) => uncompress(r));
  const rawRatio = v2Raw.reduce((n, r) => n + r.length, 0) / v1Raw.reduce((n, r) => n + r.length, 0);
  const decode1 = best(() => v1Raw.forEach((r) => parseWriteRequest(r)));
  const decode2 = best(() => v2Raw.forEach((r) => parseV2Request(r)));
  console.log(
    `  2.0 sender: converting a queued 1.0 request ${convert.toFixed(0)} ns/sample (metadata attached); ` +
      `${(v2Bytes / samples).toFixed(2)} bytes/sample vs 1.0's ${(v1Bytes / samples).toFixed(2)} (snappy), ${(100 * rawRatio).toFixed(0)}% of 1.0 uncompressed`,
  );
  console.log(`  receiver decoding: 1.0 ${decode1.toFixed(0)} ns/sample, 2.0 ${decode2.toFixed(0)} ns/sample`);
}

export async function runRemoteWriteBench(): Promise<void> {
  const batches = targetBatches();
  const series = batches.reduce((n, b) => n + b.length, 0);
  console.log(`remote write: ${series.toLocaleString('en-US')} series (${TARGETS} targets), requests of ${PER_REQUEST.toLocaleString('en-US')} samples`);
  const encoders: [string, RequestEncoder][] = [
    ['compression small: encode, then snappy', new CompressingWriteRequestWriter(256 * 1024)],
    ['compression fast: snappy-direct', new SnappyWriteRequestWriter(256 * 1024)],
  ];
  for (const [name, enc] of encoders) {
    // the first round encodes every series; the best of the next ones is the steady state
    let first = 0;
    let steady = Infinity;
    let bytes = 0;
    for (let round = 0; round < 8; round++) {
      const t0 = process.hrtime.bigint();
      const r = encodeRound(batches, round, enc);
      const ns = Number(process.hrtime.bigint() - t0) / r.samples;
      if (round === 0) first = ns;
      else steady = Math.min(steady, ns);
      bytes = r.bytes / r.samples;
    }
    console.log(
      `  ${name.padEnd(40)} first ${first.toFixed(0).padStart(5)} ns/sample, steady ${steady.toFixed(0).padStart(4)} ns/sample, ${bytes.toFixed(2)} bytes/sample`,
    );
  }
  const w = new WriteRequestWriter(256 * 1024);
  snappyRound(batches, w);
  v2Round(batches);
  const q = await queueRound(batches);
  console.log(`  whole queue to a local receiver:          ${q.usPerSample.toFixed(2)} µs CPU/sample (process, receiver included), ${q.requests} requests`);
}
