/**
 * The per-series cache of every push parser, hit path: 10,000 series looked up by their raw
 * bytes as they lie in a received chunk — Graphite names (about 40 bytes), JSON-lines `metric`
 * objects (about 90) and remote write's label fields (about 100) — through `KeyedLabels` (a string
 * of the bytes, then a Map) and `BytesKeyedLabels` (the bytes in place, as one range and as a pair
 * of ranges — OpenTSDB's metric and tags — split in the middle).
 */

import { compare, type Contender } from '../../bench/harness.js';
import { BytesKeyedLabels, KeyedLabels } from './keyed-labels.js';

const SERIES = 10_000;

const SHAPES: Record<string, (i: number) => string> = {
  'graphite name': (i) => `bench.host-${i % 100}.region-${i % 4}.metric_${Math.floor(i / 100)}`,
  'JSON metric object': (i) => `{"__name__":"bench_metric_${Math.floor(i / 100)}","job":"bench","instance":"host-${i % 100}:9100","region":"region-${i % 4}"}`,
  'remote-write labels': (i) =>
    `\n\x10\n\b__name__\x12\x04bench_metric_${Math.floor(i / 100)}\n\x1b\n\binstance\x12\x0fhost-${i % 100}:9100\n\x0c\n\x03job\x12\x05bench\n\x12\n\x06region\x12\x08region-${i % 4}`,
};

export function runKeyedLabelsBench(): void {
  console.log(`keyed-labels: ${SERIES} series, every one a hit (CPU time, best of 7 interleaved rounds)`);
  for (const [shape, keyOf] of Object.entries(SHAPES)) {
    // the keys inside one buffer with the rest of their lines around them, as a chunk holds them
    let text = '';
    const starts: number[] = [];
    const ends: number[] = [];
    for (let i = 0; i < SERIES; i++) {
      starts.push(text.length);
      text += keyOf(i);
      ends.push(text.length);
      text += ' 123.456 1700000000\n';
    }
    const buf = Buffer.from(text, 'latin1');
    const byString = new KeyedLabels<number>();
    const byBytes = new BytesKeyedLabels<number>();
    const byPair = new BytesKeyedLabels<number>();
    const mids = starts.map((s, i) => s + ((ends[i] - s) >> 1));
    for (let i = 0; i < SERIES; i++) {
      byPair.setPair(buf, starts[i], mids[i], mids[i] + 1, ends[i], i);
      byString.set(buf.toString('latin1', starts[i], ends[i]), i);
      byBytes.set(buf, starts[i], ends[i], i);
    }
    const contenders: Contender[] = [
      {
        name: 'KeyedLabels (string key)',
        run: () => {
          let n = 0;
          for (let i = 0; i < SERIES; i++) n += byString.get(buf.toString('latin1', starts[i], ends[i]))!;
          return n;
        },
      },
      {
        name: 'BytesKeyedLabels (bytes in place)',
        run: () => {
          let n = 0;
          for (let i = 0; i < SERIES; i++) n += byBytes.get(buf, starts[i], ends[i])!;
          return n;
        },
      },
      {
        name: 'BytesKeyedLabels (pair of ranges)',
        run: () => {
          let n = 0;
          for (let i = 0; i < SERIES; i++) n += byPair.getPair(buf, starts[i], mids[i], mids[i] + 1, ends[i])!;
          return n;
        },
      },
    ];
    const avg = Math.round(ends.reduce((n, e, i) => n + e - starts[i], 0) / SERIES);
    console.log(`  ${shape} (${avg} bytes)`);
    for (const r of compare(contenders)) console.log(`    ${r.name.padEnd(36)} ${(r.nsPerRun / SERIES).toFixed(0).padStart(6)} ns/lookup`);
  }
}
