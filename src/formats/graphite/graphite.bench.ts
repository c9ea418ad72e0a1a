/**
 * The Graphite parser alone, rows per CPU-second: a 64 KiB-chunked stream of collectd-style
 * lines (10,000 rows over 1,000 series) through the line splitter, with the per-series cache
 * warm (a sender pushing the same series every interval — the usual case), cold (a new parser
 * each round: every name parsed into labels), and with tags (`name;k=v;k2=v2`).
 */

import { compare, CountingSink, pushLines, type Contender } from '../../../bench/harness.js';
import { GraphiteParser } from './parser.js';

const ROWS = 10_000;
const SERIES = 1_000;
const CHUNK = 64 * 1024;

function payload(tagged: boolean): Buffer[] {
  const ts = Math.floor(Date.now() / 1000);
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const s = i % SERIES;
    const host = `host${s % 50}`;
    const name = `collectd.${host}.cpu-${s % 8}.cpu-${['user', 'system', 'idle', 'wait'][s % 4]}${Math.floor(s / 400)}`;
    lines.push(tagged ? `cpu.usage;host=${host};cpu=${s % 8};state=s${Math.floor(s / 50)} ${(i * 0.37).toFixed(6)} ${ts}` : `${name} ${(i * 0.37).toFixed(6)} ${ts}`);
  }
  const all = Buffer.from(lines.join('\n') + '\n');
  const chunks: Buffer[] = [];
  for (let p = 0; p < all.length; p += CHUNK) chunks.push(all.subarray(p, p + CHUNK));
  return chunks;
}

function run(parser: GraphiteParser, chunks: Buffer[]): number {
  const sink = new CountingSink();
  pushLines(parser, chunks, sink);
  if (sink.rows !== ROWS) throw new Error(`read ${sink.rows} rows of ${ROWS}`);
  return sink.sum;
}

export function runGraphiteParserBench(): void {
  const plain = payload(false);
  const tagged = payload(true);
  const opts = { trimTimestampMs: 1000, sanitizeMetricName: false };
  const warm = new GraphiteParser(opts);
  const warmTagged = new GraphiteParser(opts);
  const contenders: Contender[] = [
    { name: 'dotted names, warm series cache', run: () => run(warm, plain) },
    { name: 'tagged names, warm series cache', run: () => run(warmTagged, tagged) },
    { name: 'dotted names, cold cache', run: () => run(new GraphiteParser(opts), plain) },
    { name: 'tagged names, cold cache', run: () => run(new GraphiteParser(opts), tagged) },
  ];
  const results = compare(contenders);
  const bytes = plain.reduce((n, c) => n + c.length, 0);
  console.log(`graphite-parser: ${ROWS} rows over ${SERIES} series, ${(bytes / 1024).toFixed(0)} KiB (CPU time, best of 7 interleaved rounds)`);
  for (const r of results) console.log(`  ${r.name.padEnd(36)} ${((ROWS / r.nsPerRun) * 1e9 / 1e6).toFixed(2)} M rows/s   ${(r.nsPerRun / ROWS).toFixed(0)} ns/row`);
}
