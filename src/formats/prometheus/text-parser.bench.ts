/**
 * The text-format parser alone on the node_exporter page: as a scrape drives it (labels left
 * undecoded, found by series key), with every label set decoded (a cold series cache), leniently
 * (the gateway), and the same page with tabs between fields, which the fast pass leaves to the
 * exact parser — the price of a page off the common path.
 */

import { readFileSync } from 'node:fs';
import { compare, type Contender } from '../../../bench/harness.js';
import { report, visitPage } from './exposition.bench.js';
import { parseFamilies } from './families.js';
import { TextParser } from './text-parser.js';

export function runTextParserBench(fixture: string): void {
  const text = readFileSync(fixture, 'utf8');
  const tabbed = text.replace(/^([^#\n][^ \n]*) /gm, '$1\t');
  const samples = parseFamilies(text, { format: 'prometheus' }).families.reduce((n, f) => n + f.metrics.length, 0);
  const contenders: Contender[] = [
    { name: 'next(), labels by key (a scrape)', run: () => visitPage(new TextParser(text, { format: 'prometheus', lazyLabels: true }), false) },
    { name: 'next() + labels() (cold cache)', run: () => visitPage(new TextParser(text, { format: 'prometheus' }), true) },
    { name: 'lenient + labels() (the gateway)', run: () => visitPage(new TextParser(text, { format: 'prometheus', lenient: true }), true) },
    { name: 'tabs between fields (exact path)', run: () => visitPage(new TextParser(tabbed, { format: 'prometheus' }), true) },
  ];
  const results = compare(contenders);
  console.log(`text-parser: ${fixture.split('/').pop()} — ${(text.length / 1024).toFixed(1)} KiB, ${samples} samples (CPU time, best of 7 interleaved rounds)`);
  report(results, Buffer.byteLength(text), samples);
}
