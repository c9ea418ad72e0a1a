/**
 * Remote write in, parsing only (after snappy): a Prometheus-shaped 1.0 request — 2,000 series
 * of six labels, one sample each, as Prometheus sends with its default `max_samples_per_send` —
 * read by the in-place receiver with its per-series cache warm (the steady state: the same
 * series every interval), with it cold (every series new), and by the tree parser followed by
 * interning by `Labels.key`, which is what the standalone receiver did before.
 */

import assert from 'node:assert/strict';
import { compare, CountingSink } from '../../../bench/harness.js';
import { Labels } from '../../model/labels.js';
import { SampleBatch } from '../../model/samples.js';
import { parseWriteRequest } from './parser.js';
import { WriteRequestReceiver } from './receive.js';
import { WriteRequestWriter } from './writer.js';

const SERIES = 2000;

function body(): Buffer {
  const b = new SampleBatch(SERIES);
  const now = 1_700_000_000_000;
  for (let i = 0; i < SERIES; i++) {
    const labels = Labels.fromRecord({
      __name__: `node_metric_${i % 40}_total`,
      instance: `host-${i % 50}.example.com:9100`,
      job: 'node',
      device: `dev${i % 7}`,
      mode: ['user', 'system', 'idle', 'iowait'][i % 4],
      cpu: String(i % 16),
    });
    b.append(labels, i * 1.25, now + (i % 3));
  }
  const w = new WriteRequestWriter(1 << 20);
  w.append(b);
  return Buffer.from(w.bytes());
}

export function runRemoteWriteReceiveBench(): void {
  const raw = body();
  const warm = new WriteRequestReceiver();
  const out = new CountingSink();
  warm.v1(raw, out);
  assert.equal(out.rows, SERIES);
  const interned = new Map<string, Labels>();
  const contenders = [
    { name: 'receiver, per-series cache warm', run: () => warm.v1(raw, out) },
    { name: 'receiver, cache cold (every series new)', run: () => new WriteRequestReceiver().v1(raw, out) },
    {
      name: 'tree parser + intern by Labels.key (before)',
      run: () => {
        const req = parseWriteRequest(raw);
        let n = 0;
        for (const s of req.timeseries) {
          let l = interned.get(s.labels.key);
          if (l === undefined) interned.set(s.labels.key, (l = s.labels));
          n += s.samples.length;
        }
        return n;
      },
    },
  ];
  const results = compare(contenders);
  const ref = results[2].nsPerRun;
  console.log(`remotewrite-receive: ${(raw.length / 1024).toFixed(1)} KiB WriteRequest, ${SERIES} series × 1 sample (CPU time, best of 7 interleaved rounds)`);
  for (const r of results) {
    const perSample = r.nsPerRun / SERIES;
    console.log(`  ${r.name.padEnd(44)} ${perSample.toFixed(0).padStart(6)} ns/sample ${(1e9 / perSample / 1e6).toFixed(2).padStart(6)} M samples/CPU-s ${(ref / r.nsPerRun).toFixed(2).padStart(6)}× before`);
  }
}
