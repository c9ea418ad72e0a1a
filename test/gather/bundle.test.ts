import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { VERSION } from '../../src/common/version.js';
import { bundleFileName, writeBundle, type BundleInfo } from '../../src/gather/bundle.js';
import { requirePeer } from '../helpers/peers.js';
import { UNZIP, unzipBundle } from './unzip.js';

const INFO: BundleInfo = {
  id: '0123456789abcdef',
  createdAt: new Date(Date.UTC(2026, 2, 4, 5, 6, 7)),
  startMs: Date.UTC(2026, 2, 4, 0, 0, 0),
  endMs: Date.UTC(2026, 2, 4, 1, 0, 0),
  components: ['vmstorage'],
  jobs: ['vmstorage-job-1', 'unknown-job-1'],
  series: 2,
  samples: 5,
  obfuscated: true,
  obfuscation: { instance: true, job: true, labels: ['team'], drop: ['dc'] },
  selection: { selectors: ['{job=~".+"}'] },
  sourceFlavour: 'victoriametrics-single',
  sourceVersion: 'v1.2.3',
};

test('the bundle unzips (system unzip) to the staged lines, metadata and README; its SHA-256 is of the file', async (t) => {
  if (!requirePeer(t, UNZIP, 'unzip')) return;
  const dir = mkdtempSync(join(tmpdir(), 'gather-bundle-'));
  const staged = join(dir, 'staged.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(`{"metric":{"__name__":"m","i":"${i}"},"values":[${i},+Inf],"timestamps":[1,2]}\n`);
  writeFileSync(staged, lines.join(''));
  const out = join(dir, 'out');
  await import('node:fs/promises').then((f) => f.mkdir(out));
  const r = await writeBundle(staged, out, INFO);
  assert.equal(r.path, join(out, 'tributary-gather_0123456789abcdef_20260304_050607.zip'));
  assert.deepEqual(readdirSync(out), ['tributary-gather_0123456789abcdef_20260304_050607.zip'], 'no temporary file left');
  const bytes = readFileSync(r.path);
  assert.equal(r.bytes, bytes.length);
  assert.equal(r.sha256, createHash('sha256').update(bytes).digest('hex'));
  const z = unzipBundle(r.path);
  assert.deepEqual(z.files, ['README.txt', 'metadata.json', 'metrics.jsonl']);
  assert.equal(z.metrics, lines.join(''));
  assert.ok(bytes.length < z.metrics.length / 3, 'compressed');
  assert.equal(z.metadata.exportId, INFO.id);
  assert.deepEqual(z.metadata.jobs, INFO.jobs);
  assert.equal(z.metadata.seriesCount, 2);
  assert.equal(z.metadata.samplesCount, 5);
  assert.equal(z.metadata.obfuscated, true);
  assert.equal(z.metadata.toolVersion, VERSION);
  assert.deepEqual(z.metadata.timeRange, { start: '2026-03-04T00:00:00.000Z', end: '2026-03-04T01:00:00.000Z', startMs: INFO.startMs, endMs: INFO.endMs });
  assert.match(z.readme, /Obfuscation: ON/);
  assert.match(z.readme, /Series: +2/);
  assert.match(z.readme, /api\/v1\/import/);
  assert.match(z.readme, /Dropped labels: dc/);
});

test('a failed write leaves no bundle and no temporary file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gather-bundle-'));
  await assert.rejects(writeBundle(join(dir, 'missing.jsonl'), dir, INFO), /ENOENT/);
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(bundleFileName('x', new Date(Date.UTC(2026, 11, 31, 23, 59, 58))), 'tributary-gather_x_20261231_235958.zip');
});
