/**
 * The one rule for attaching a source's labels (model/attach-labels.ts), which the scrape
 * cache, the gateway's merge and remote write's external labels use: against a transcription
 * of Prometheus' scrape.go (mutateSampleLabels, resolveConflictingExposedLabels) on random
 * label sets built to clash — chained `exported_` names, both a name and its `exported_` form
 * attached — and on the edge cases by name.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachExportingClashes, attachMissing } from '../../src/model/attach-labels.js';
import { Labels, LabelsBuilder } from '../../src/model/labels.js';
import { rng } from '../helpers/seeded-random.js';

/** Prometheus' code, with a Map for its labels.Builder (Get of a missing name is ""). */
function prometheus(exposed: Record<string, string>, target: Record<string, string>, honor: boolean): Record<string, string> {
  const lb = new Map(Object.entries(exposed).filter(([, v]) => v !== ''));
  const get = (n: string) => lb.get(n) ?? '';
  const set = (n: string, v: string) => (v === '' ? lb.delete(n) : lb.set(n, v));
  // a target's labels: sorted, never an empty value
  const targetPairs = Object.entries(target)
    .filter(([, v]) => v !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (honor) {
    for (const [n, v] of targetPairs) if (!lb.has(n)) set(n, v);
  } else {
    const conflicting: [string, string][] = [];
    for (const [n, v] of targetPairs) {
      const existing = get(n);
      if (existing !== '') conflicting.push([n, existing]);
      set(n, v);
    }
    // slices.SortStableFunc by name length
    const sorted = conflicting.map((c, i) => [c, i] as const).sort(([a, i], [b, j]) => a[0].length - b[0].length || i - j);
    for (const [[n, v]] of sorted) {
      let newName = n;
      for (;;) {
        newName = 'exported_' + newName;
        if (get(newName) === '') {
          set(newName, v);
          break;
        }
      }
    }
  }
  return Object.fromEntries([...lb].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function ours(exposed: Record<string, string>, target: Record<string, string>, honor: boolean): Record<string, string> {
  const lb = new LabelsBuilder().reset(Labels.fromRecord(exposed));
  if (honor) attachMissing(lb, Labels.fromRecord(target));
  else attachExportingClashes(lb, Labels.fromRecord(target));
  return lb.build().toRecord();
}

test('attaching labels: the cases by name', () => {
  assert.deepEqual(ours({ __name__: 'm', job: 'e' }, { job: 't' }, false), { __name__: 'm', exported_job: 'e', job: 't' });
  assert.deepEqual(ours({ __name__: 'm', job: 'e' }, { job: 't' }, true), { __name__: 'm', job: 'e' }, 'honor_labels: the exposed label wins');
  assert.deepEqual(ours({ __name__: 'm' }, { job: 't' }, true), { __name__: 'm', job: 't' }, 'honor_labels: a missing label is added');
  // an exposed exported_job is kept: the rename takes the next free name
  assert.deepEqual(ours({ job: 'e', exported_job: 'x' }, { job: 't' }, false), { exported_exported_job: 'e', exported_job: 'x', job: 't' });
  // job and exported_job both attached and exposed: job (shorter) is renamed first, though exported_job sorts first
  assert.deepEqual(ours({ job: 'e1', exported_job: 'e2' }, { job: 't1', exported_job: 't2' }, false), {
    exported_exported_exported_job: 'e2',
    exported_exported_job: 'e1',
    exported_job: 't2',
    job: 't1',
  });
  // an attached label with an empty value is no label: it neither replaces nor renames
  assert.deepEqual(ours({ job: 'e' }, { job: '' }, false), { job: 'e' });
  assert.deepEqual(ours({ job: 'e' }, { job: '' }, true), { job: 'e' });
  // an exposed label with an empty value is no label either: nothing to rename
  assert.deepEqual(ours({ job: '' }, { job: 't' }, false), { job: 't' });
});

test('attaching labels: random clashing sets, as Prometheus attaches them', () => {
  const next = rng(17);
  const names = ['job', 'instance', 'a', 'zz', 'exported_job', 'exported_exported_job', 'exported_a', 'exported_zz', 'exported_instance'];
  const values = ['', 'v1', 'v2', 'v3'];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const set = (): Record<string, string> => {
    const r: Record<string, string> = {};
    for (let i = Math.floor(next() * 6); i > 0; i--) r[pick(names)] = pick(values);
    return r;
  };
  let renamed = 0;
  for (let round = 0; round < 2000; round++) {
    const exposed = { __name__: 'm', ...set() };
    const target = set();
    for (const honor of [false, true]) {
      const want = prometheus(exposed, target, honor);
      assert.deepEqual(ours(exposed, target, honor), want, `${JSON.stringify(exposed)} + ${JSON.stringify(target)}, honor_labels ${honor}`);
      if (Object.keys(want).some((n) => n.startsWith('exported_exported_') && !(n in exposed) && !(n in target))) renamed++;
    }
  }
  assert.ok(renamed > 50, `chained renames were exercised (${renamed})`);
});
