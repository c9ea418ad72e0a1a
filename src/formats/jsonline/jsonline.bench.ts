/**
 * The import parsers alone, in rows (samples) per CPU-second: JSON lines as a client pushes them
 * again and again (series known, in the same order: a byte compare per line), the same series in
 * another order each time (a cache lookup per line), the same lines to a cold parser (every
 * series decoded), an export-shaped body (few series, many samples a line), and JSON.parse of the
 * same lines as the floor a JSON-based reader could not go under; the CSV and Prometheus-text
 * import parsers on the same samples.
 */

import { compare, CountingSink, pushLines, type Contender } from '../../../bench/harness.js';
import { Labels } from '../../model/labels.js';
import { CsvParser, parseCsvFormat } from '../csv/parser.js';
import { PrometheusImportCache, PrometheusImportLines } from '../prometheus-import/parser.js';
import { type LineFormat } from '../rows/index.js';
import { JsonLineParser } from './parser.js';
import { jsonLine } from './writer.js';

function run(format: LineFormat, body: Buffer): number {
  const out = new CountingSink(1_700_000_000_000);
  // as a request arrives: 64 KiB chunks
  pushLines(format, body, out, 1 << 24);
  if (format instanceof PrometheusImportLines) format.flush(out);
  if (out.invalidRows > 0) throw new Error('benchmark input refused');
  return out.rows;
}

function series(i: number): Labels {
  return Labels.fromRecord({ __name__: `node_metric_${i % 50}_total`, instance: `host-${i % 40}.example.com:9100`, job: 'node', mode: ['user', 'system', 'idle'][i % 3], cpu: String(i % 8) });
}

export function runJsonLineBench(): void {
  const ts = 1_700_000_000_000;
  // a push: 2000 series, one sample a line (what an agent or a gather bundle sends each interval)
  const push: string[] = [];
  const csv: string[] = [];
  const prom: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const v = (i * 1.37) % 1000;
    const l = series(i);
    push.push(jsonLine(l, [v], [ts]));
    csv.push(`${l.get('__name__')},${l.get('instance')},${l.get('mode')},${l.get('cpu')},${v},${ts}`);
    prom.push(`${l.get('__name__')}{cpu="${l.get('cpu')}",instance="${l.get('instance')}",job="node",mode="${l.get('mode')}"} ${v} ${ts}`);
  }
  const pushBody = Buffer.from(push.join('\n') + '\n');
  // the same series in another order each time: the guess by line number always wrong, the cache hit
  const shuffled = (k: number) => Buffer.from(push.map((_, i) => push[(i * k) % push.length]).join('\n') + '\n');
  const [shufA, shufB] = [shuffled(7), shuffled(13)];
  const reordered = new JsonLineParser();
  // an export: 200 series of 100 samples each
  const exp: string[] = [];
  for (let i = 0; i < 200; i++) {
    const values = Array.from({ length: 100 }, (_, k) => Math.round((i * 100 + k) * 13.7) / 10);
    exp.push(jsonLine(series(i), values, values.map((_, k) => ts + k * 15_000)));
  }
  const exportBody = Buffer.from(exp.join('\n') + '\n');
  const csvBody = Buffer.from(csv.join('\n') + '\n');
  const promBody = Buffer.from(prom.join('\n') + '\n');
  const warm = new JsonLineParser();
  const csvParser = new CsvParser(parseCsvFormat('1:label:name,2:label:instance,3:label:mode,4:label:cpu,5:metric:m,6:time:unix_ms'));
  const promSeries = new PrometheusImportCache();
  const contenders: [Contender, number, number][] = [
    [{ name: 'jsonline push, series known', run: () => run(warm, pushBody) }, pushBody.length, 2000],
    [{ name: 'jsonline push, known, another order', run: () => run(reordered, shufA) + run(reordered, shufB) }, pushBody.length * 2, 4000],
    [{ name: 'jsonline push, cold parser', run: () => run(new JsonLineParser(), pushBody) }, pushBody.length, 2000],
    [{ name: 'jsonline export (100 samples a line)', run: () => run(warm, exportBody) }, exportBody.length, 20000],
    [{ name: 'JSON.parse of the push lines (floor)', run: () => pushBody.toString().split('\n').map((l) => (l === '' ? null : JSON.parse(l))) }, pushBody.length, 2000],
    [{ name: 'csv, series known', run: () => run(csvParser, csvBody) }, csvBody.length, 2000],
    [{ name: 'prometheus text, series known', run: () => run(new PrometheusImportLines(promSeries, 0), promBody) }, promBody.length, 2000],
  ];
  const results = compare(contenders.map((c) => c[0]));
  console.log('import-parser: rows per CPU-second (best of 7 interleaved rounds)');
  results.forEach((r, i) => {
    const [, bytes, rows] = contenders[i];
    const rps = (rows / r.nsPerRun) * 1e9;
    console.log(`  ${r.name.padEnd(40)} ${(rps / 1e6).toFixed(2).padStart(6)} M rows/s ${((bytes / r.nsPerRun) * 1e3).toFixed(1).padStart(7)} MB/s ${(r.nsPerRun / rows).toFixed(0).padStart(6)} ns/row`);
  });
}
