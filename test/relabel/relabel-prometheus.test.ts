/**
 * Every case of Prometheus' model/relabel/relabel_test.go (TestRelabel), from relabel-cases.ts;
 * then TestRelabelValidate's cases against our config schema, and the label sets of
 * BenchmarkRelabel whose results can be worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relabelConfigsSchema } from '../../src/config/relabel.js';
import { Labels } from '../../src/model/labels.js';
import { Relabeler } from '../../src/relabel/index.js';
import { PROMETHEUS_RELABEL_CASES as CASES } from '../helpers/relabel-cases.js';

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
