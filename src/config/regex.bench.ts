/**
 * Relabeling regexes, native RegExp (exact translations) against re2js (the fallback engine),
 * per label value: `test` as keep/drop/labeldrop use it and `exec` as replace/labelmap do, over
 * the metric names of the node_exporter fixture and `host:port` values, anchored as relabeling
 * compiles them. The figure per 1M values is what one scrape of a million series would cost.
 */

import { readFileSync } from 'node:fs';
import { compare, type Contender } from '../../bench/harness.js';
import { NODE_EXPORTER_PAGE } from '../../bench/fixtures.js';
import { compileAnchoredRegex } from './regex.js';

/** Typical relabel regexes: a keep/drop alternation, prefix captures, a port strip, (?i), (.*). */
export const PATTERNS = [
  'go_gc_.*|promhttp_.*',
  'node_(.+)',
  '(\\w+?)_.*',
  '([^:]+)(?::\\d+)?',
  '(?i)NODE_CPU.*',
  '(.*)',
];

function values(): string[] {
  const page = readFileSync(NODE_EXPORTER_PAGE, 'utf8');
  const names = new Set<string>();
  for (const line of page.split('\n')) {
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (m) names.add(m[0]);
  }
  const out = [...names];
  for (let i = 0; i < 64; i++) out.push(`10.0.${i}.${i * 3}:9100`, `host-${i}.example.org`);
  return out;
}

export function runRegexBench(): void {
  const vals = values();
  const contenders: Contender[] = [];
  for (const p of PATTERNS) {
    const native = compileAnchoredRegex(p);
    const re2 = compileAnchoredRegex(p, { engine: 're2js' });
    if (native.engine !== 'native') throw new Error(`${p} is expected to run natively`);
    for (const [engine, re] of [['native', native], ['re2js', re2]] as const) {
      contenders.push({
        name: `${p} test ${engine}`,
        run: () => {
          let n = 0;
          for (const v of vals) if (re.test(v)) n++;
          return n;
        },
      });
      contenders.push({
        name: `${p} exec ${engine}`,
        run: () => {
          let n = 0;
          for (const v of vals) if (re.exec(v) !== null) n++;
          return n;
        },
      });
    }
  }
  const results = compare(contenders, 3, 200);
  console.log(`regex: ${vals.length} label values per run; ms per 1M values (CPU), native vs re2js`);
  for (let i = 0; i < results.length; i += 4) {
    const [tn, en, tr, er] = results.slice(i, i + 4).map((r) => (r.nsPerRun / vals.length) * 1e6 / 1e6);
    const name = results[i].name.replace(/ test native$/, '');
    console.log(
      `  ${name.padEnd(22)} test ${tn.toFixed(0).padStart(5)} vs ${tr.toFixed(0).padStart(6)} ms (${(tr / tn).toFixed(1)}x)` +
        `   exec ${en.toFixed(0).padStart(5)} vs ${er.toFixed(0).padStart(6)} ms (${(er / en).toFixed(1)}x)`,
    );
  }
}
