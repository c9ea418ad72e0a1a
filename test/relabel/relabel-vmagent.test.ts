/**
 * vmagent's relabeling extensions (examples after docs.victoriametrics.com/relabeling and
 * lib/promrelabel), `if:` series selectors, Go template details, and the per-series cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relabelConfigsSchema } from '../../src/config/relabel.js';
import { Labels } from '../../src/model/labels.js';
import { CachedRelabeler, GoTemplate, Relabeler, SeriesSelector, type LabelsProcessor } from '../../src/relabel/index.js';
import { replaceAllGo } from '../../src/relabel/template.js';
import { compileRegex } from '../../src/config/regex.js';

function run(input: Record<string, string>, rules: Record<string, unknown>[]): Record<string, string> | undefined {
  return Relabeler.compile(relabelConfigsSchema.parse(rules)).process(Labels.fromRecord(input))?.toRecord();
}

test('replace_all replaces every match and writes the target', () => {
  const rules = [{ action: 'replace_all', source_labels: ['foo'], target_label: 'foo', regex: '-', replacement: '_' }];
  assert.deepEqual(run({ foo: 'a-b-c' }, rules), { foo: 'a_b_c' });
  // captures expand per match; the regex is not anchored
  assert.deepEqual(
    run({ path: '/api/v1/users' }, [{ action: 'replace_all', source_labels: ['path'], target_label: 'p', regex: '/([a-z])', replacement: '.$1' }]),
    { path: '/api/v1/users', p: '.api.v1.users' },
  );
});

test('labelmap_all renames every label with a match in its name', () => {
  assert.deepEqual(
    run({ 'foo-bar-baz': 'x', 'a.b': 'y', ok: 'z' }, [{ action: 'labelmap_all', regex: '[-.]', replacement: '_' }]),
    { foo_bar_baz: 'x', a_b: 'y', ok: 'z' },
  );
});

test('keep_if_equal and drop_if_equal compare all source labels', () => {
  const keep = [{ action: 'keep_if_equal', source_labels: ['instance', 'host'] }];
  assert.deepEqual(run({ instance: 'h1', host: 'h1' }, keep), { instance: 'h1', host: 'h1' });
  assert.equal(run({ instance: 'h1', host: 'h2' }, keep), undefined);
  const drop = [{ action: 'drop_if_equal', source_labels: ['a', 'b', 'c'] }];
  assert.equal(run({ a: '1', b: '1', c: '1' }, drop), undefined);
  assert.deepEqual(run({ a: '1', b: '1', c: '2' }, drop), { a: '1', b: '1', c: '2' });
});

test('keep_if_contains and drop_if_contains look for source values inside the target value', () => {
  const keep = [{ action: 'keep_if_contains', target_label: '__meta_consul_tags', source_labels: ['__meta_required_tag1', '__meta_required_tag2'] }];
  const tags = { __meta_consul_tags: ',prod,web,', __meta_required_tag1: 'prod', __meta_required_tag2: 'web' };
  assert.deepEqual(run(tags, keep), tags);
  assert.equal(run({ ...tags, __meta_required_tag2: 'db' }, keep), undefined);
  const drop = [{ action: 'drop_if_contains', target_label: '__meta_consul_tags', source_labels: ['__meta_required_tag1'] }];
  assert.equal(run(tags, drop), undefined);
  assert.deepEqual(run({ ...tags, __meta_required_tag1: 'dev' }, drop), { ...tags, __meta_required_tag1: 'dev' });
});

test('keep_metrics and drop_metrics match the metric name, regex lists joined', () => {
  const keep = [{ action: 'keep_metrics', regex: ['metric_a', 'metric_b'] }];
  assert.deepEqual(run({ __name__: 'metric_a', x: '1' }, keep), { __name__: 'metric_a', x: '1' });
  assert.equal(run({ __name__: 'metric_c' }, keep), undefined);
  const drop = [{ action: 'drop_metrics', regex: 'go_.*' }];
  assert.equal(run({ __name__: 'go_goroutines' }, drop), undefined);
  assert.deepEqual(run({ __name__: 'up' }, drop), { __name__: 'up' });
});

test('graphite: `*` captures one dot-free segment; $1, ${2} and $0 fill labels', () => {
  const rules = [{ action: 'graphite', match: '*.server.*.total', labels: { __name__: '${2}_total', job: '$1', orig: '$0' } }];
  assert.deepEqual(run({ __name__: 'app42.server.requests.total' }, rules), {
    __name__: 'requests_total',
    job: 'app42',
    orig: 'app42.server.requests.total',
  });
  // a segment with a dot does not fit `*`; the series passes unchanged
  assert.deepEqual(run({ __name__: 'a.b.server.requests.total' }, rules), { __name__: 'a.b.server.requests.total' });
  // a reference beyond the captures stays as written
  assert.deepEqual(run({ __name__: 'x.y' }, [{ action: 'graphite', match: '*.*', labels: { a: '$1-$7-${1}' } }]), {
    __name__: 'x.y',
    a: 'x-$7-x',
  });
});

test('if: applies a rule only to matching series; keep with a non-matching if drops', () => {
  const rules = [{ if: '{__name__=~"node_.*", job!="skip"}', target_label: 'team', replacement: 'infra' }];
  assert.deepEqual(run({ __name__: 'node_load1', job: 'n' }, rules), { __name__: 'node_load1', job: 'n', team: 'infra' });
  assert.deepEqual(run({ __name__: 'node_load1', job: 'skip' }, rules), { __name__: 'node_load1', job: 'skip' });
  assert.deepEqual(run({ __name__: 'up' }, rules), { __name__: 'up' });

  const keep = [{ action: 'keep', if: 'foo{bar="baz"}' }];
  assert.deepEqual(run({ __name__: 'foo', bar: 'baz' }, keep), { __name__: 'foo', bar: 'baz' });
  assert.equal(run({ __name__: 'foo', bar: 'qux' }, keep), undefined);
  const drop = [{ action: 'drop', if: 'foo' }];
  assert.equal(run({ __name__: 'foo' }, drop), undefined);
  assert.deepEqual(run({ __name__: 'bar' }, drop), { __name__: 'bar' });
});

test('if: a list of selectors matches when any does', () => {
  const rules = [{ action: 'drop', if: ['up', '{job="x", instance!~"a.*"}'] }];
  assert.equal(run({ __name__: 'up' }, rules), undefined);
  assert.equal(run({ __name__: 'm', job: 'x', instance: 'b:1' }, rules), undefined);
  assert.deepEqual(run({ __name__: 'm', job: 'x', instance: 'a:1' }, rules), { __name__: 'm', job: 'x', instance: 'a:1' });
});

test('selectors: operators, absent labels, quoting, escapes, or', () => {
  const get = (rec: Record<string, string>) => (n: string) => rec[n];
  const m = (sel: string, rec: Record<string, string>) => SeriesSelector.parse(sel).matches(get(rec));
  assert.ok(m('{a=""}', { b: '1' }));
  assert.ok(!m('{a!=""}', { b: '1' }));
  assert.ok(m(`{a='x"y', b=\`c\\d\`}`, { a: 'x"y', b: 'c\\d' }));
  assert.ok(m('{a="tab\\there"}', { a: 'tab\there' }));
  assert.ok(m('{a=~"(?i)FOO|bar"}', { a: 'foo' }));
  assert.ok(!m('{a=~"foo"}', { a: 'foobar' }), 'regex matchers are anchored');
  assert.ok(m('{a!~"x.*"}', { a: 'y' }));
  assert.ok(m('{"my.metric", "utf-8.label"="v"}', { __name__: 'my.metric', 'utf-8.label': 'v' }));
  assert.ok(m('up{a="1" or b="2"}', { __name__: 'up', b: '2' }));
  assert.ok(!m('up{a="1" or b="2"}', { __name__: 'down', b: '2' }));
  assert.ok(m('{}', { a: '1' }));
  for (const bad of ['', '{a="1"', '{a~"1"}', 'up}', '{a="1" b="2"}', '{a=~"("}']) {
    assert.throws(() => SeriesSelector.parse(bad), SyntaxError, bad);
  }
});

test('{{label}} templates in replacement are filled before $ expansion', () => {
  assert.deepEqual(run({ bar: 'x', baz: 'y' }, [{ target_label: 'foo', replacement: '{{bar}}-{{baz}}' }]), {
    bar: 'x',
    baz: 'y',
    foo: 'x-y',
  });
  assert.deepEqual(
    run({ __name__: 'm', instance: 'h:9100' }, [
      { source_labels: ['instance'], regex: '([^:]+):.*', target_label: 'id', replacement: '{{__name__}}@$1' },
    ]),
    { __name__: 'm', instance: 'h:9100', id: 'm@h' },
  );
});

test('Go template rules: $1x is the group named 1x, ${1}x is group 1 then x, $$ is a dollar', () => {
  const m = /^(?:(a)(?<n>b))$/u.exec('ab')!;
  assert.equal(GoTemplate.parse('$1x').expand(m), '');
  assert.equal(GoTemplate.parse('${1}x').expand(m), 'ax');
  assert.equal(GoTemplate.parse('$n-${n}-$2-$01-$$1-$').expand(m), 'b-b-b--$1-$');
  assert.equal(GoTemplate.parse('${1').expand(m), '${1');
  assert.equal(GoTemplate.parse('$0').expand(m), 'ab');
});

test('replaceAllGo skips an empty match right after a match, as Go does', () => {
  assert.equal(replaceAllGo(compileRegex('b*'), 'abc', GoTemplate.parse('-')), '-a-c-');
  assert.equal(replaceAllGo(compileRegex('x*'), 'ü😀', GoTemplate.parse('-')), '-ü-😀-');
});

test('lowercase and uppercase map code points one by one, as Go does', () => {
  const rules = [
    { source_labels: ['v'], action: 'uppercase', target_label: 'up' },
    { source_labels: ['v'], action: 'lowercase', target_label: 'low' },
  ];
  assert.deepEqual(run({ v: 'straße ΟΔΟΣ' }, rules), { v: 'straße ΟΔΟΣ', up: 'STRAßE ΟΔΟΣ', low: 'straße οδοσ' });
});

test('a series left without labels is dropped', () => {
  assert.equal(run({ a: '1' }, [{ action: 'labeldrop', regex: '.*' }]), undefined);
});

test('CachedRelabeler runs the rules once per series, by identity and by content', () => {
  let calls = 0;
  const inner = Relabeler.compile(relabelConfigsSchema.parse([{ source_labels: ['a'], regex: 'drop', action: 'drop' }, { target_label: 'x', replacement: '1' }]));
  const spy: LabelsProcessor = {
    process(labels) {
      calls++;
      return inner.process(labels);
    },
  };
  const cached = new CachedRelabeler(spy);
  const s = Labels.fromRecord({ a: 'keep' });
  const first = cached.process(s);
  assert.deepEqual(first?.toRecord(), { a: 'keep', x: '1' });
  assert.equal(cached.process(s), first);
  assert.equal(calls, 1, 'same object: identity hit');
  assert.equal(cached.process(Labels.fromRecord({ a: 'keep' })), first);
  assert.equal(calls, 1, 'equal set, other object: content hit');
  const dropped = Labels.fromRecord({ a: 'drop' });
  assert.equal(cached.process(dropped), undefined);
  assert.equal(cached.process(dropped), undefined);
  assert.equal(cached.process(Labels.fromRecord({ a: 'drop' })), undefined);
  assert.equal(calls, 2, 'drops are cached too');
});

test('CachedRelabeler keeps at most maxEntries content keys, dropping the oldest generation', () => {
  let calls = 0;
  const spy: LabelsProcessor = {
    process(labels) {
      calls++;
      return labels;
    },
  };
  const cached = new CachedRelabeler(spy, { maxEntries: 4, byIdentity: false });
  const series = (i: number) => Labels.fromRecord({ i: String(i) });
  for (let i = 0; i < 10; i++) cached.process(series(i));
  assert.ok(cached.size <= 4);
  assert.equal(calls, 10);
  cached.process(series(9)); // recent: still cached
  assert.equal(calls, 10);
  cached.process(series(0)); // long gone: run again
  assert.equal(calls, 11);
});
