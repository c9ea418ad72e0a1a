/** Merging sources into one page: labels, conflicts, duplicates, order, caching — and promtool. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseFamilies } from '../../src/formats/prometheus/families.js';
import { PageMerger, addLabelsExportingClashes, type Contribution } from '../../src/gateway/merge.js';
import { EMPTY_SNAPSHOT, nextVersion } from '../../src/gateway/source.js';
import { Labels } from '../../src/model/labels.js';
import { frameFromFamilies } from '../../src/model/frame.js';
import { PROMTOOL, requirePeer } from '../helpers/peers.js';

function contribution(id: string, page: string, opts: { label?: string | null; static?: Record<string, string>; version?: number } = {}): Contribution {
  const label = opts.label === undefined ? id : opts.label;
  return {
    id,
    staticLabels: opts.static ?? {},
    ...(label === null ? {} : { sourceLabel: { name: 'exporter_name', value: label } }),
    snapshot: { ...EMPTY_SNAPSHOT, ok: true, version: opts.version ?? nextVersion(), frame: frameFromFamilies(parseFamilies(page, { format: 'prometheus', lenient: true }).families) },
  };
}

const TEXT = { format: 'prometheus', utf8Names: false } as const;

/** The merged page as text, for assertions. */
function render(merger: PageMerger, contributions: Contribution[], opts: { format: 'prometheus' | 'openmetrics'; utf8Names: boolean }) {
  const { page, stats } = merger.render(contributions, opts);
  return { page: page.toString('utf8'), stats };
}

test('same-name families from two sources become one family with one HELP/TYPE and a source label on every series', () => {
  const a = contribution('a', '# HELP up_total Requests.\n# TYPE up_total counter\nup_total{code="200"} 1\n');
  const b = contribution('b', '# HELP up_total Requests.\n# TYPE up_total counter\nup_total{code="500"} 2\nother 3\n');
  const { page, stats } = render(new PageMerger(), [a, b], TEXT);
  assert.equal(
    page,
    '# TYPE other untyped\nother{exporter_name="b"} 3\n' +
      '# HELP up_total Requests.\n# TYPE up_total counter\nup_total{code="200",exporter_name="a"} 1\nup_total{code="500",exporter_name="b"} 2\n',
  );
  assert.equal(stats.series, 3);
  assert.equal((page.match(/# TYPE up_total/g) ?? []).length, 1);
});

test('TYPE conflict: the first source decides, the other family is left out and reported; HELP conflict: first wins', () => {
  const a = contribution('a', '# HELP m First.\n# TYPE m gauge\nm 1\n');
  const b = contribution('b', '# HELP m Second.\n# TYPE m counter\nm 2\n');
  const c = contribution('c', '# HELP m Third.\n# TYPE m gauge\nm 3\n');
  const { page, stats } = render(new PageMerger(), [a, b, c], TEXT);
  assert.equal(page, '# HELP m First.\n# TYPE m gauge\nm{exporter_name="a"} 1\nm{exporter_name="c"} 3\n');
  assert.deepEqual([...stats.typeConflicts.keys()], ['b']);
  assert.match(stats.typeConflicts.get('b')![0], /m is counter here but gauge/);
  // b's family was already left out for its TYPE; c's HELP differs from a's
  assert.deepEqual([...stats.helpConflicts.keys()], ['c']);
  assert.match(stats.helpConflicts.get('c')![0], /m has another HELP than in a/);
});

test('a backend label colliding with the source or a static label is kept as exported_<name>', () => {
  const a = contribution('a', 'm{exporter_name="inner",team="x",exported_team="y"} 1\n', { static: { team: 'ops' } });
  const { page } = render(new PageMerger(), [a], TEXT);
  assert.equal(page, '# TYPE m untyped\nm{exported_exported_team="x",exported_exporter_name="inner",exported_team="y",exporter_name="a",team="ops"} 1\n');
  assert.deepEqual(addLabelsExportingClashes(Labels.fromRecord({ __name__: 'x', job: 'j' }), Labels.fromRecord({ job: 'k' })).toRecord(), {
    __name__: 'x',
    exported_job: 'j',
    job: 'k',
  });
});

test('exported_ renaming as a scrape does it: shorter names first, and an empty static label is no label', () => {
  // team is renamed before exported_team (Prometheus sorts the clashes by length): each takes the next free name
  const both = contribution('a', 'm{team="x",exported_team="y"} 1\n', { static: { team: 'ops', exported_team: 'ext' }, label: null });
  assert.equal(render(new PageMerger(), [both], TEXT).page, '# TYPE m untyped\nm{exported_exported_exported_team="y",exported_exported_team="x",exported_team="ext",team="ops"} 1\n');
  // a static label with an empty value neither replaces the backend's label nor renames it
  const blank = contribution('b', 'm{team="x"} 1\n', { static: { team: '' }, label: null });
  assert.equal(render(new PageMerger(), [blank], TEXT).page, '# TYPE m untyped\nm{team="x"} 1\n');
});

test('series identical after labelling are exposed once (first source kept) and counted', () => {
  const a = contribution('a', 'm{x="1"} 1\nm{x="2"} 2\n', { label: null });
  const b = contribution('b', 'm{x="1"} 10\n', { label: null });
  const dup = contribution('dup', 'n 1\nn 2\n');
  const { page, stats } = render(new PageMerger(), [a, b, dup], TEXT);
  assert.match(page, /^m\{x="1"\} 1$/m);
  assert.doesNotMatch(page, /^m\{x="1"\} 10$/m);
  assert.equal((page.match(/^n\{/gm) ?? []).length, 1, 'a page repeating a series exposes it once');
  assert.equal(stats.duplicateSeries, 2);
});

test('output is sorted and deterministic whatever order the pages list series in', () => {
  const one = render(new PageMerger(), [contribution('a', 'z 1\nm{k="b"} 1\nm{k="a"} 2\n', { version: 1_000_001 })], TEXT).page;
  const two = render(new PageMerger(), [contribution('a', 'm{k="a"} 2\nz 1\nm{k="b"} 1\n', { version: 1_000_002 })], TEXT).page;
  assert.equal(one, two);
  assert.ok(one.indexOf('# TYPE m') < one.indexOf('# TYPE z'));
});

test('a frame that keeps its layout has only its values written anew; the same frame is copied as it was', () => {
  const merger = new PageMerger();
  const first = frameFromFamilies(parseFamilies('# TYPE m gauge\nm{k="a"} 1\nm{k="b"} 2\n', { format: 'prometheus' }).families);
  const a: Contribution = { id: 'a', staticLabels: {}, sourceLabel: { name: 'exporter_name', value: 'a' }, snapshot: { ...EMPTY_SNAPSHOT, ok: true, version: nextVersion(), frame: first } };
  assert.equal(render(merger, [a], TEXT).page, '# TYPE m gauge\nm{exporter_name="a",k="a"} 1\nm{exporter_name="a",k="b"} 2\n');
  const second = frameFromFamilies(parseFamilies('# TYPE m gauge\nm{k="a"} 98\nm{k="b"} 99\n', { format: 'prometheus' }).families, first.layout);
  assert.equal(second.layout, first.layout, 'same series: same layout');
  const b: Contribution = { ...a, snapshot: { ...a.snapshot, version: nextVersion(), frame: second } };
  const page = '# TYPE m gauge\nm{exporter_name="a",k="a"} 98\nm{exporter_name="a",k="b"} 99\n';
  assert.equal(render(merger, [b], TEXT).page, page);
  // Rendered again (copied from the last page), and after the other format was rendered in between.
  assert.equal(render(merger, [b], TEXT).page, page);
  render(merger, [b], { format: 'openmetrics', utf8Names: false });
  assert.equal(render(merger, [b], TEXT).page, page);
  const back: Contribution = { ...a, snapshot: { ...a.snapshot, version: nextVersion() } };
  assert.match(render(merger, [back], TEXT).page, /k="b"\} 2\n$/);
});

test('OpenMetrics page: one family per name, counter naming, # EOF', () => {
  const a = contribution('a', '# TYPE req_total counter\nreq_total 1\n');
  const b = contribution('b', '# TYPE req_total counter\nreq_total 2\n');
  const { page } = render(new PageMerger(), [a, b], { format: 'openmetrics', utf8Names: false });
  assert.equal(page, '# TYPE req counter\nreq_total{exporter_name="a"} 1\nreq_total{exporter_name="b"} 2\n# EOF\n');
  const reparsed = parseFamilies(page, { format: 'openmetrics' });
  assert.equal(reparsed.families.length, 1);
});

test('promtool accepts a page merged from sources that repeat each other\'s families', (t) => {
  if (!requirePeer(t, PROMTOOL, 'prometheus')) return;
  const page = (i: number) => `# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code="200"} ${i}\n# HELP temp_celsius Temperature.\n# TYPE temp_celsius gauge\ntemp_celsius ${i}\n`;
  const { page: merged } = render(new PageMerger(), [1, 2, 3].map((i) => contribution('src' + i, page(i))), TEXT);
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: merged, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('within a family, each label set stands together, buckets by numeric le and quantiles by number; a family with nothing to show is left out', () => {
  const page =
    '# TYPE h histogram\n' +
    'h_bucket{a="2",le="10"} 2\nh_bucket{a="1",le="100"} 3\nh_bucket{a="1",le="20"} 2\nh_bucket{a="2",le="+Inf"} 2\nh_bucket{a="1",le="+Inf"} 4\n' +
    'h_sum{a="1"} 9\nh_count{a="2"} 2\nh_sum{a="2"} 5\nh_count{a="1"} 4\nh_bucket{a="2",le="5"} 1\nh_bucket{a="1",le="1e1"} 1\n' +
    '# TYPE s summary\ns{quantile="0.99"} 3\ns{quantile="0.5"} 1\ns_sum 10\ns_count 4\n' +
    '# TYPE c counter\n# HELP c Only created.\n';
  const { page: text } = render(new PageMerger(), [contribution('a', page, { label: null })], TEXT);
  assert.equal(
    text,
    '# TYPE h histogram\n' +
      'h_bucket{a="1",le="1e1"} 1\nh_bucket{a="1",le="20"} 2\nh_bucket{a="1",le="100"} 3\nh_bucket{a="1",le="+Inf"} 4\nh_sum{a="1"} 9\nh_count{a="1"} 4\n' +
      'h_bucket{a="2",le="5"} 1\nh_bucket{a="2",le="10"} 2\nh_bucket{a="2",le="+Inf"} 2\nh_sum{a="2"} 5\nh_count{a="2"} 2\n' +
      '# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.99"} 3\ns_sum 10\ns_count 4\n',
  );
  // An OpenMetrics counter with only its _created sample has nothing to show in the text format.
  const created = contribution('b', '# TYPE x counter\nx_created 1700000000\n# EOF\n', { label: null });
  (created.snapshot as { frame: unknown }).frame = frameFromFamilies(parseFamilies('# TYPE x counter\n# HELP x X.\nx_created 1700000000\n# EOF\n', { format: 'openmetrics' }).families);
  assert.equal(render(new PageMerger(), [created], TEXT).page, '');
  assert.match(render(new PageMerger(), [created], { format: 'openmetrics', utf8Names: false }).page, /^# TYPE x counter\n# HELP x X\.\nx_created\{?\}? 1700000000\n# EOF\n$/);
});
