/**
 * The per-target series cache on its own: lines that churn (the cache forgets lines and
 * renumbers the rest: continuing lines keep their series object and get no marker, vanished
 * ones get one marker), duplicates, lines dropped by relabeling, honored timestamps (no
 * marker), and the target's labels attached by the shared rule.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Entry, newExpositionParser } from '../../src/formats/prometheus/parser.js';
import { Labels, type LabelsBuilder } from '../../src/model/labels.js';
import { SeriesCache, type SeriesRules } from '../../src/scrape/series-cache.js';

const RULES: SeriesRules = { honorLabels: false, relabeler: undefined, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0 };

function scrape(cache: SeriesCache, page: string, ok = true) {
  const written: Labels[] = [];
  let nulls = 0;
  cache.begin();
  const p = newExpositionParser(page, { format: 'prometheus', lazyLabels: true });
  for (let e = p.next(); e !== Entry.End; e = p.next()) {
    if (e !== Entry.Series) continue;
    const l = cache.lookup(p);
    if (l === null) nulls++;
    if (!l) continue;
    if (p.timestamp !== undefined) cache.markTimestamped();
    written.push(l);
  }
  const stale: string[] = [];
  cache.finish(ok, false, (l) => stale.push(l.get('i') ?? l.toString()));
  return { written, stale: stale.sort(), nulls };
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `m{i="${from + k}"} ${k}\n`).join('');

test('series cache: churning lines are forgotten; continuing ones keep their series and get no marker', () => {
  const cache = new SeriesCache(Labels.fromRecord({ job: 'j' }), RULES);
  const held = new Map<string, Labels>();
  for (let s = 0; s < 12; s++) {
    // 200 lines a page, 100 of them new each scrape
    const { written, stale } = scrape(cache, lines(s * 100, s * 100 + 200));
    assert.deepEqual(
      written.map((l) => l.get('i')),
      Array.from({ length: 200 }, (_, k) => String(s * 100 + k)),
    );
    for (const l of written) {
      const i = l.get('i')!;
      if (held.has(i)) assert.equal(held.get(i), l, `scrape ${s}: line ${i} keeps its series object`);
      held.set(i, l);
      assert.equal(l.get('job'), 'j');
    }
    const vanished = s === 0 ? [] : Array.from({ length: 100 }, (_, k) => String((s - 1) * 100 + k)).sort();
    assert.deepEqual(stale, vanished, `scrape ${s}: a marker for each line gone`);
    assert.ok(cache.size <= 400, `scrape ${s}: the cache holds ${cache.size} lines`);
  }
  // after a failed scrape, everything of the last good one is marked once
  assert.equal(scrape(cache, '', false).stale.length, 200);
  assert.equal(scrape(cache, '', false).stale.length, 0);
});

test('series cache: duplicates, dropped lines, honored timestamps, exported_ target labels', () => {
  const relabeler = { processBuilder: (lb: LabelsBuilder) => lb.get('drop') === undefined };
  const cache = new SeriesCache(Labels.fromRecord({ job: 'j', instance: 'h:1' }), { ...RULES, relabeler });
  const page = 'a{job="x"} 1\na{job="x"} 2\nb{drop="1"} 3\nc 4 1700000000000\nd 5\n';
  const first = scrape(cache, page);
  assert.deepEqual(
    first.written.map((l) => l.toString()),
    ['a{exported_job="x", instance="h:1", job="j"}', 'c{instance="h:1", job="j"}', 'd{instance="h:1", job="j"}'],
  );
  assert.equal(first.nulls, 1, 'the repeated line is a duplicate');
  assert.equal(cache.firstDuplicate, 'a{job="x"}');
  // c had a timestamp: no marker when it goes; d gets one; the dropped line never does
  const second = scrape(cache, 'a{job="x"} 1\n');
  assert.deepEqual(second.stale, ['d{instance="h:1", job="j"}']);
  assert.equal(second.written[0], first.written[0], 'the same series object');
});

test('series cache: a target of more lines than two-byte ids hold finds every line again, in any order', () => {
  const cache = new SeriesCache(Labels.fromRecord({ job: 'j', instance: 'h:1' }), RULES);
  const n = 70_000;
  const first = scrape(cache, lines(0, n));
  assert.equal(first.written.length, n);
  assert.equal(cache.added, n);
  // reversed: nothing is where the last page had it, so every line is found through the index
  const reversed = Array.from({ length: n }, (_, k) => `m{i="${n - 1 - k}"} ${k}\n`).join('');
  const again = scrape(cache, reversed);
  assert.equal(cache.added, 0, 'no line was taken for new');
  assert.equal(again.stale.length, 0);
  assert.equal(again.written[0], first.written[n - 1], 'the same series object');
  assert.equal(again.written[n - 1].packedTransient(), first.written[0].key);
  assert.equal(again.written[n - 1].get('instance'), 'h:1');
});

test('series cache: a label metric relabeling derives from the target joins the shared ones after the first scrape', () => {
  const portOf = { processBuilder: (lb: LabelsBuilder) => (lb.set('port', 'p' + lb.get('instance')!.split(':')[1]), true) };
  const page = lines(0, 50) + 'other_metric 1\n';
  const caches = ['h:1', 'h:2'].map((instance) => new SeriesCache(Labels.fromRecord({ job: 'j', instance }), { ...RULES, relabeler: portOf }));
  const first = caches.map((c) => scrape(c, page));
  const second = caches.map((c) => scrape(c, page));
  for (let k = 0; k < 2; k++) {
    assert.equal(second[k].written.length, 51);
    second[k].written.forEach((l, i) => {
      assert.equal(l, first[k].written[i], 'the same series objects, packed again in place');
      assert.equal(l.get('port'), `p${k + 1}`);
      assert.equal(l.get('instance'), `h:${k + 1}`);
      const flat = Labels.fromPairs(l.kvTransient.reduce<[string, string][]>((out, v, j, kv) => (j % 2 ? out : [...out, [v, kv[j + 1]]]), []));
      assert.equal(l.packedTransient(), flat.key);
      assert.equal(l.hash, flat.hash);
    });
  }
  // packed around {instance, job, port}: each series' own part is the same string on both targets
  const own = (l: Labels) => (l as unknown as { encoded: string }).encoded;
  for (let i = 0; i < 51; i++) assert.equal(own(second[0].written[i]), own(second[1].written[i]));
  assert.notEqual(second[0].written[0].packedTransient(), second[1].written[0].packedTransient());
});
