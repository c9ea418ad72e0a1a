/**
 * Exposition parse and write throughput on a real node_exporter page, side by side with the
 * npm package parse-prometheus-text-format (the issue's reference).
 *
 * Contenders:
 * - "pull": the parser as the scrape pipeline drives it: every entry visited, series key,
 *   value and timestamp read, HELP text decoded (labels come from a per-series cache).
 * - "pull+labels": the same with every series' label set decoded and sorted (a cold cache).
 * - "families": the whole page into MetricFamily objects (what the gateway keeps).
 * - "write": MetricFamily objects back to text, both formats; "series cached" is the gateway's
 *   case, where unchanged series keep their rendered text from one page to the next.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { compare, type Contender, type Result } from '../../../bench/harness.js';
import { Entry, newExpositionParser, type ExpositionParser } from './parser.js';
import { parseFamilies } from './families.js';
import { SeriesTextCache, writeExposition } from './writer.js';

/**
 * Every entry of a page as the scrape pipeline visits it: series key, value and timestamp, HELP
 * text, and with `withLabels` every label set decoded (a cold series cache).
 */
export function visitPage(p: ExpositionParser, withLabels: boolean): number {
  let acc = 0;
  for (let e = p.next(); e !== Entry.End; e = p.next()) {
    if (e === Entry.Series) {
      acc += p.seriesKey().length + p.value + (p.timestamp ?? 0);
      if (withLabels) acc += p.labels().size;
    } else if (e === Entry.Help) acc += p.help().length;
  }
  return acc;
}

/** Prints a suite's results as throughput and cost per sample. */
export function report(results: readonly Result[], bytes: number, samples: number, ref?: number): void {
  for (const r of results) {
    const mbs = (bytes / r.nsPerRun) * 1e3;
    const perSample = r.nsPerRun / samples;
    const ratio = ref === undefined ? '' : `${(ref / r.nsPerRun).toFixed(2).padStart(6)}× reference`;
    console.log(`  ${r.name.padEnd(38)} ${mbs.toFixed(1).padStart(7)} MB/s ${perSample.toFixed(0).padStart(6)} ns/sample ${ratio}`);
  }
}

const require = createRequire(import.meta.url);
const referenceParse = require('parse-prometheus-text-format') as (text: string) => unknown[];

export function runExpositionBench(fixture: string): void {
  const text = readFileSync(fixture, 'utf8');
  const bytes = Buffer.byteLength(text);
  const families = parseFamilies(text, { format: 'prometheus' }).families;
  const samples = families.reduce((n, f) => n + f.metrics.length, 0);

  const pull = (withLabels: boolean) => () => visitPage(newExpositionParser(text, { format: 'prometheus' }), withLabels);
  const cache = new SeriesTextCache();
  const contenders: Contender[] = [
    { name: 'parse-prometheus-text-format', run: () => referenceParse(text) },
    { name: 'tributary pull (key, value, help)', run: pull(false) },
    { name: 'tributary pull + labels decoded', run: pull(true) },
    { name: 'tributary parse to families', run: () => parseFamilies(text, { format: 'prometheus' }) },
    { name: 'tributary write text 0.0.4', run: () => writeExposition(families, { format: 'prometheus' }) },
    { name: 'tributary write OpenMetrics', run: () => writeExposition(families, { format: 'openmetrics' }) },
    { name: 'tributary write text, series cached', run: () => writeExposition(families, { format: 'prometheus', cache }) },
  ];
  const results = compare(contenders);
  const ref = results[0].nsPerRun;
  console.log(`exposition: ${fixture.split('/').pop()} — ${(bytes / 1024).toFixed(1)} KiB, ${samples} samples, ${families.length} families (CPU time, best of 7 interleaved rounds)`);
  report(results, bytes, samples, ref);
}
