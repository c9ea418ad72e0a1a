/**
 * The OpenTSDB parsers alone, rows per CPU-second: telnet `put` lines (10,000 rows over 1,000
 * series, as collectd's write_tsdb sends them) through the line splitter, and `/api/put` JSON
 * arrays of the same rows; each with the per-series cache warm (the usual case) and cold.
 */

import { compare, CountingSink, pushLines, type Contender } from '../../../bench/harness.js';
import { OpenTsdbJsonParser } from './json.js';
import { OpenTsdbTelnetParser } from './parser.js';

const ROWS = 10_000;
const SERIES = 1_000;
const CHUNK = 64 * 1024;

function rows(): { metric: string; tags: Record<string, string>; value: number }[] {
  const out = [];
  for (let i = 0; i < ROWS; i++) {
    const s = i % SERIES;
    out.push({
      metric: `cpu.${['user', 'system', 'idle', 'wait'][s % 4]}`,
      tags: { host: `host${s % 50}`, cpu: String(s % 8), type: `t${Math.floor(s / 200)}` },
      value: Number((i * 0.37).toFixed(6)),
    });
  }
  return out;
}

function telnetRun(parser: OpenTsdbTelnetParser, chunks: Buffer[]): number {
  const sink = new CountingSink();
  pushLines(parser, chunks, sink);
  if (sink.rows !== ROWS) throw new Error(`read ${sink.rows} rows of ${ROWS}`);
  return sink.sum;
}

function jsonRun(parser: OpenTsdbJsonParser, body: Buffer): number {
  const sink = new CountingSink();
  const err = parser.parse(body, sink);
  if (err !== undefined || sink.rows !== ROWS) throw new Error(`read ${sink.rows} rows of ${ROWS}: ${err}`);
  return sink.sum;
}

export function runOpenTsdbParserBench(): void {
  const ts = Math.floor(Date.now() / 1000);
  const rs = rows();
  const text = Buffer.from(rs.map((r) => `put ${r.metric} ${ts} ${r.value} ${Object.entries(r.tags).map(([k, v]) => `${k}=${v}`).join(' ')}`).join('\n') + '\n');
  const chunks: Buffer[] = [];
  for (let p = 0; p < text.length; p += CHUNK) chunks.push(text.subarray(p, p + CHUNK));
  const json = Buffer.from(JSON.stringify(rs.map((r) => ({ metric: r.metric, timestamp: ts, value: r.value, tags: r.tags }))));
  const warmTelnet = new OpenTsdbTelnetParser({ trimTimestampMs: 1000 });
  const warmJson = new OpenTsdbJsonParser({ trimTimestampMs: 1 });
  const contenders: Contender[] = [
    { name: 'telnet put, warm series cache', run: () => telnetRun(warmTelnet, chunks) },
    { name: 'telnet put, cold cache', run: () => telnetRun(new OpenTsdbTelnetParser({ trimTimestampMs: 1000 }), chunks) },
    { name: '/api/put JSON, warm series cache', run: () => jsonRun(warmJson, json) },
    { name: '/api/put JSON, cold cache', run: () => jsonRun(new OpenTsdbJsonParser({ trimTimestampMs: 1 }), json) },
    { name: 'JSON.parse alone (for scale)', run: () => (JSON.parse(json.toString('utf8')) as unknown[]).length },
  ];
  const results = compare(contenders);
  console.log(`opentsdb-parser: ${ROWS} rows over ${SERIES} series; telnet ${(text.length / 1024).toFixed(0)} KiB, JSON ${(json.length / 1024).toFixed(0)} KiB (CPU time, best of 7 interleaved rounds)`);
  for (const r of results) console.log(`  ${r.name.padEnd(36)} ${((ROWS / r.nsPerRun) * 1e9 / 1e6).toFixed(2)} M rows/s   ${(r.nsPerRun / ROWS).toFixed(0)} ns/row`);
}
