/**
 * The OpenMetrics parser alone on the node_exporter page written as OpenMetrics (UNIT-less
 * families, `# EOF`): as a scrape drives it (labels found by series key), with every label set
 * decoded (a cold series cache), and with an exemplar on every counter sample, which the fast
 * pass leaves to the exact parser and which builds an exemplar object per line.
 */

import { readFileSync } from 'node:fs';
import { compare, type Contender } from '../../../bench/harness.js';
import { report, visitPage } from './exposition.bench.js';
import { parseFamilies } from './families.js';
import { OpenMetricsParser } from './openmetrics-parser.js';
import { writeExposition } from './writer.js';

export function runOpenMetricsParserBench(fixture: string): void {
  const families = parseFamilies(readFileSync(fixture, 'utf8'), { format: 'prometheus' }).families;
  const page = writeExposition(families, { format: 'openmetrics' });
  const withExemplars = page.replace(/^([^#\n]*_total(?:\{[^\n]*\})? \S+)$/gm, '$1 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 1 1700000000.123');
  const samples = families.reduce((n, f) => n + f.metrics.length, 0);
  const contenders: Contender[] = [
    { name: 'next(), labels by key (a scrape)', run: () => visitPage(new OpenMetricsParser(page, { format: 'openmetrics', lazyLabels: true }), false) },
    { name: 'next() + labels() (cold cache)', run: () => visitPage(new OpenMetricsParser(page, { format: 'openmetrics' }), true) },
    { name: 'exemplars on counters (exact path)', run: () => visitPage(new OpenMetricsParser(withExemplars, { format: 'openmetrics' }), true) },
  ];
  const results = compare(contenders);
  const exemplars = withExemplars.split('# {').length - 1;
  console.log(`openmetrics-parser: ${fixture.split('/').pop()} as OpenMetrics — ${(page.length / 1024).toFixed(1)} KiB, ${samples} samples, ${exemplars} exemplars in the last case (CPU time, best of 7 interleaved rounds)`);
  report(results, Buffer.byteLength(page), samples);
}
