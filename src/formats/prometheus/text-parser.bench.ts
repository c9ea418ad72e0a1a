/**
 * The text-format parser alone on the node_exporter page: as a scrape drives it (labels left
 * undecoded, found by series key), with every label set decoded (a cold series cache), leniently
 * (the gateway), and the same page with tabs between fields, which the fast pass leaves to the
 * exact parser — the price of a page off the common path. And a repeat page, every series line
 * where the last page had it, as a scrape reads one: its bytes decoded and parsed, each key
 * compared with the expected one (how scrapes read before known-lines.ts), against the known
 * lines read straight from the bytes.
 */

import { readFileSync } from 'node:fs';
import { compare, type Contender } from '../../../bench/harness.js';
import { report, visitPage } from './exposition.bench.js';
import { parseFamilies } from './families.js';
import { TextParser } from './text-parser.js';
import { Entry } from './lex.js';
import { KnownTextLines, type LineExpectation } from './known-lines.js';

/** The page's series keys in order, as a series cache would expect them. */
class Expected implements LineExpectation {
  at = 0;
  sum = 0;
  constructor(readonly keys: readonly string[]) {}
  expectedKey(): string | undefined {
    return this.keys[this.at];
  }
  onExpected(r: KnownTextLines): void {
    this.at++;
    this.sum += r.value;
  }
}

export function runTextParserBench(fixture: string): void {
  const text = readFileSync(fixture, 'utf8');
  const tabbed = text.replace(/^([^#\n][^ \n]*) /gm, '$1\t');
  const samples = parseFamilies(text, { format: 'prometheus' }).families.reduce((n, f) => n + f.metrics.length, 0);
  const bytes = Buffer.from(text, 'latin1');
  const keys: string[] = [];
  const p = new TextParser(text, { format: 'prometheus', lazyLabels: true });
  for (let e = p.next(); e !== Entry.End; e = p.next()) if (e === Entry.Series) keys.push(Buffer.from(p.seriesKey()).toString());
  const decodedAndParsed = () => {
    const q = new TextParser(bytes.toString('latin1'), { format: 'prometheus', lazyLabels: true });
    let at = 0;
    let sum = 0;
    for (let e = q.next(); e !== Entry.End; e = q.next()) if (e === Entry.Series && q.seriesKey() === keys[at++]) sum += q.value;
    return sum;
  };
  const known = new KnownTextLines();
  const fromBytes = () => {
    const x = new Expected(keys);
    if (known.read(bytes, 0, bytes.length, x) !== bytes.length) throw new Error('the page was not read whole');
    return x.sum;
  };
  const contenders: Contender[] = [
    { name: 'next(), labels by key (a scrape)', run: () => visitPage(new TextParser(text, { format: 'prometheus', lazyLabels: true }), false) },
    { name: 'next() + labels() (cold cache)', run: () => visitPage(new TextParser(text, { format: 'prometheus' }), true) },
    { name: 'lenient + labels() (the gateway)', run: () => visitPage(new TextParser(text, { format: 'prometheus', lenient: true }), true) },
    { name: 'tabs between fields (exact path)', run: () => visitPage(new TextParser(tabbed, { format: 'prometheus' }), true) },
    { name: 'repeat page: bytes decoded, parsed', run: decodedAndParsed },
    { name: 'repeat page: known lines from bytes', run: fromBytes },
  ];
  const results = compare(contenders);
  console.log(`text-parser: ${fixture.split('/').pop()} — ${(text.length / 1024).toFixed(1)} KiB, ${samples} samples (CPU time, best of 7 interleaved rounds)`);
  report(results, Buffer.byteLength(text), samples);
}
