/**
 * Every case of Prometheus' model/relabel/relabel_test.go (TestRelabel), as data: input labels,
 * rules (in config form; our config schema fills Prometheus' defaults — separator `;`, regex
 * `(.*)`, replacement `$1`, action replace — as that test does), and the expected output or drop.
 * Then TestRelabelValidate's cases against our config schema, and the label sets of
 * BenchmarkRelabel whose results can be worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relabelConfigsSchema } from '../src/config/relabel.js';
import { Labels } from '../src/model/labels.js';
import { Relabeler } from '../src/relabel/index.js';

interface Case {
  name: string;
  input: Record<string, string>;
  rules: Record<string, unknown>[];
  /** Undefined: dropped. */
  output?: Record<string, string>;
}

const CASES: Case[] = [
  {
    name: 'replace with ${1} twice',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'f(.*)', target_label: 'd', separator: ';', replacement: 'ch${1}-ch${1}', action: 'replace' }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: 'choo-choo' },
  },
  {
    name: 'two sources, chained replaces',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    rules: [
      { source_labels: ['a', 'b'], regex: 'f(.*);(.*)r', target_label: 'a', separator: ';', replacement: 'b${1}${2}m', action: 'replace' },
      { source_labels: ['c', 'a'], regex: '(b).*b(.*)ba(.*)', target_label: 'd', separator: ';', replacement: '$1$2$2$3', action: 'replace' },
    ],
    output: { a: 'boobam', b: 'bar', c: 'baz', d: 'boooom' },
  },
  {
    name: 'drop stops before a later replace',
    input: { a: 'foo' },
    rules: [
      { source_labels: ['a'], regex: '.*o.*', action: 'drop' },
      { source_labels: ['a'], regex: 'f(.*)', target_label: 'd', separator: ';', replacement: 'ch$1-ch$1', action: 'replace' },
    ],
  },
  {
    name: 'drop on match',
    input: { a: 'foo', b: 'bar' },
    rules: [{ source_labels: ['a'], regex: '.*o.*', action: 'drop' }],
  },
  {
    name: 'capture in the middle',
    input: { a: 'abc' },
    rules: [{ source_labels: ['a'], regex: '.*(b).*', target_label: 'd', separator: ';', replacement: '$1', action: 'replace' }],
    output: { a: 'abc', d: 'b' },
  },
  {
    name: 'drop without match keeps',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'no-match', action: 'drop' }],
    output: { a: 'foo' },
  },
  {
    name: 'drop regex is anchored (f|o does not match foo)',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'f|o', action: 'drop' }],
    output: { a: 'foo' },
  },
  {
    name: 'keep without match drops',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'no-match', action: 'keep' }],
  },
  {
    name: 'keep on match',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'f.*', action: 'keep' }],
    output: { a: 'foo' },
  },
  {
    name: 'no replacement without a match',
    input: { a: 'boo' },
    rules: [{ source_labels: ['a'], regex: 'f', target_label: 'b', replacement: 'bar', action: 'replace' }],
    output: { a: 'boo' },
  },
  {
    name: 'blank replacement deletes the label',
    input: { a: 'foo', f: 'baz' },
    rules: [{ source_labels: ['a'], regex: '(f).*', target_label: '$1', replacement: '$2', action: 'replace' }],
    output: { a: 'foo' },
  },
  {
    name: 'hashmod',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['c'], target_label: 'd', separator: ';', action: 'hashmod', modulus: 1000 }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: '976' },
  },
  {
    name: 'hashmod of a value with a newline',
    input: { a: 'foo\nbar' },
    rules: [{ source_labels: ['a'], target_label: 'b', separator: ';', action: 'hashmod', modulus: 1000 }],
    output: { a: 'foo\nbar', b: '734' },
  },
  {
    name: 'labelmap with a prefix',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    rules: [{ regex: '(b.*)', replacement: 'bar_${1}', action: 'labelmap' }],
    output: { a: 'foo', b1: 'bar', b2: 'baz', bar_b1: 'bar', bar_b2: 'baz' },
  },
  {
    name: 'labelmap of __meta_ labels',
    input: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc' },
    rules: [{ regex: '__meta_(my.*)', replacement: '${1}', action: 'labelmap' }],
    output: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc', my_bar: 'aaa', my_baz: 'bbb' },
  },
  {
    name: 'target label from a capture (valid case)',
    input: { a: 'some-name-value' },
    rules: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${2}', target_label: '${1}' }],
    output: { a: 'some-name-value', name: 'value' },
  },
  {
    name: 'replacement expanding to "" (unknown group)',
    input: { a: 'some-name-value' },
    rules: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${3}', target_label: '${1}' }],
    output: { a: 'some-name-value' },
  },
  {
    name: 'target labels expanding to "" leave the set unchanged',
    input: { a: 'some-name-0' },
    rules: [
      { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
      { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
      { source_labels: ['a'], regex: 'some-([^-]+)(-[^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
    ],
    output: { a: 'some-name-0' },
  },
  {
    name: 'real-life tags',
    input: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar' },
    rules: [
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)path:(/[^,]+).*', action: 'replace', replacement: '${1}', target_label: '__metrics_path__' },
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)job:([^,]+).*', action: 'replace', replacement: '${1}', target_label: 'job' },
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', action: 'replace', replacement: '${2}', target_label: '${1}' },
    ],
    output: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar', __metrics_path__: '/secret', job: 'some-job', foo: 'bar' },
  },
  {
    name: 'prometheus/prometheus#12283: labeldrop, replace, keep',
    input: { __meta_kubernetes_pod_container_port_name: 'foo', __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091' },
    rules: [
      { regex: '^__meta_kubernetes_pod_container_port_name$', action: 'labeldrop' },
      { source_labels: ['__meta_kubernetes_pod_annotation_XXX_metrics_port'], regex: '(.+)', action: 'replace', replacement: 'metrics', target_label: '__meta_kubernetes_pod_container_port_name' },
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: '^metrics$', action: 'keep' },
    ],
    output: { __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091', __meta_kubernetes_pod_container_port_name: 'metrics' },
  },
  {
    name: 'labelkeep',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    rules: [{ regex: '(b.*)', action: 'labelkeep' }],
    output: { b1: 'bar', b2: 'baz' },
  },
  {
    name: 'labeldrop',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    rules: [{ regex: '(b.*)', action: 'labeldrop' }],
    output: { a: 'foo' },
  },
  {
    name: 'uppercase and lowercase',
    input: { foo: 'bAr123Foo' },
    rules: [
      { source_labels: ['foo'], action: 'uppercase', target_label: 'foo_uppercase' },
      { source_labels: ['foo'], action: 'lowercase', target_label: 'foo_lowercase' },
    ],
    output: { foo: 'bAr123Foo', foo_lowercase: 'bar123foo', foo_uppercase: 'BAR123FOO' },
  },
  {
    name: 'keepequal with an equal target keeps',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port1' }],
    output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
  },
  {
    name: 'dropequal with an equal target drops',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port1' }],
  },
  {
    name: 'dropequal with a different target keeps',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port2' }],
    output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
  },
  {
    name: 'keepequal with a different target drops',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port2' }],
  },
  {
    name: '. matches a newline (regexes are (?s))',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'd', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', d: 'match' },
  },
  {
    name: 'UTF-8 source label',
    input: { 'utf-8.label': 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['utf-8.label'], regex: 'line1.*line2', target_label: 'd', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { 'utf-8.label': 'line1\nline2', b: 'bar', c: 'baz', d: 'match' },
  },
  {
    name: 'UTF-8 target label',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'utf-8.label', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', 'utf-8.label': 'match' },
  },
  {
    name: 'UTF-8 target label with ${1}',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'utf-8.label${1}', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', 'utf-8.label': 'match' },
  },
  {
    name: 'named groups: ${1}, $1, ${second}, $second',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [
      { source_labels: ['a'], regex: '(line1).*(?<second>line2)', target_label: 'label1_${1}', separator: ';', replacement: 'val_${second}', action: 'replace' },
      { source_labels: ['a'], regex: '(line1).*(?<second>line2)', target_label: 'label2_$1', separator: ';', replacement: 'val_$second', action: 'replace' },
    ],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', label1_line1: 'val_line2', label2_line1: 'val_line2' },
  },
  {
    name: '__type__ from the name',
    input: { __name__: 'http_requests_total' },
    rules: [{ source_labels: ['__name__'], regex: '.*_total$', target_label: '__type__', replacement: 'counter', action: 'replace' }],
    output: { __name__: 'http_requests_total', __type__: 'counter' },
  },
  {
    name: '__unit__ from the name',
    input: { __name__: 'disk_usage_bytes' },
    rules: [{ source_labels: ['__name__'], regex: '.*_bytes$', target_label: '__unit__', replacement: 'bytes', action: 'replace' }],
    output: { __name__: 'disk_usage_bytes', __unit__: 'bytes' },
  },
];

function run(input: Record<string, string>, rules: Record<string, unknown>[]): Record<string, string> | undefined {
  const relabeler = Relabeler.compile(relabelConfigsSchema.parse(rules));
  return relabeler.process(Labels.fromRecord(input))?.toRecord();
}

for (const [i, c] of CASES.entries()) {
  test(`Prometheus TestRelabel #${i + 1}: ${c.name}`, () => {
    assert.deepEqual(run(c.input, c.rules), c.output);
  });
}

test('all 34 TestRelabel cases are ported', () => {
  assert.equal(CASES.length, 34);
});

test('an unchanged series comes back as the same object', () => {
  const input = Labels.fromRecord({ a: 'foo' });
  const r = Relabeler.compile(relabelConfigsSchema.parse([{ source_labels: ['a'], regex: 'no-match', action: 'drop' }]));
  assert.equal(r.process(input), input);
});

// TestRelabelValidate: the checks live in our config schema (src/config/relabel.ts).
const accepts = (rule: Record<string, unknown>) => relabelConfigsSchema.safeParse([rule]).success;

test('Prometheus TestRelabelValidate: replace and lowercase need target_label', () => {
  assert.equal(accepts({ action: 'replace' }), false);
  assert.equal(accepts({ action: 'lowercase' }), false);
});

test('Prometheus TestRelabelValidate: templated target labels are valid under UTF-8 names', () => {
  assert.ok(accepts({ action: 'lowercase', replacement: '$1', target_label: '${3}' }));
  for (const target of ['${3}', '0${3}', '-${3}']) {
    assert.ok(accepts({ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: target }));
  }
  assert.ok(accepts({ regex: '__meta_kubernetes_pod_label_(strimzi_io_.+)', action: 'labelmap', replacement: '$1' }));
  assert.ok(accepts({ regex: '__meta_(.+)', action: 'labelmap', replacement: '${1}' }));
});

test('Prometheus TestRelabelValidate: an action left out means replace; an empty one is an error', () => {
  // In Go only a struct literal can carry an empty action; from YAML it is left out or written.
  assert.equal(relabelConfigsSchema.parse([{ source_labels: ['a'], target_label: 'b' }])[0].action, 'replace');
  assert.equal(accepts({ action: '', source_labels: ['a'], target_label: 'b' }), false);
});

// Not ported: the cases of TestRelabelValidate and TestTargetLabelLegacyValidity that check the
// legacy name-validation scheme; Tributary validates names as Prometheus 3 does by default (UTF-8).

test('Prometheus BenchmarkRelabel "example" rules give the result worked out by hand', () => {
  const out = run({ __meta_dns_name: 'example-some-x.com', abc: 'def', job: 'foo' }, [
    { source_labels: ['job', '__meta_dns_name'], regex: '(.*)some-[regex]', target_label: 'job', replacement: 'foo-${1}' },
    { source_labels: ['abc'], target_label: 'cde' },
    { replacement: 'static', target_label: 'abc' },
    { replacement: 'static', target_label: 'abc' },
  ]);
  assert.deepEqual(out, { __meta_dns_name: 'example-some-x.com', abc: 'static', cde: 'def', job: 'foo' });
});

test('Prometheus BenchmarkRelabel "static label pair" rules give the result worked out by hand', () => {
  const input: Record<string, string> = { job: 'foo' };
  for (let i = 1; i <= 8; i++) input[`abcdefg0${i}`] = `hijklmn${i}`;
  const out = run(input, [
    { replacement: 'wwwwww', target_label: 'wwwwww' },
    { replacement: 'yyyyyyyyyyyy', target_label: 'xxxxxxxxx' },
    { replacement: 'xxxxxxxxx', target_label: 'yyyyyyyyyyyy' },
    { source_labels: ['something'], target_label: 'with_source_labels', replacement: 'value' },
    // ${0} is the whole (empty) match: an empty target name leaves the set alone ...
    { replacement: 'dropped', target_label: '${0}' },
    // ... and an empty value deletes `dropped`, which is absent anyway.
    { replacement: '${0}', target_label: 'dropped' },
  ]);
  assert.deepEqual(out, { ...input, wwwwww: 'wwwwww', xxxxxxxxx: 'yyyyyyyyyyyy', yyyyyyyyyyyy: 'xxxxxxxxx', with_source_labels: 'value' });
});
