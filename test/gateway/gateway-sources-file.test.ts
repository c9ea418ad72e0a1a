/** File gateway sources: changes picked up (in-place write and rename-replace), versions kept. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewaySourceSchema } from '../../src/config/gateway-sources.js';
import { createSource } from '../../src/gateway/sources/index.js';
import type { ScrapeContext, SourceSnapshot } from '../../src/gateway/source.js';
import { silentLogger } from '../../src/log/logger.js';
import { familiesOf } from '../../src/model/frame.js';

const ctx: ScrapeContext = { signal: new AbortController().signal, params: new URLSearchParams() };
const value = (s: SourceSnapshot, name: string): number | undefined =>
  familiesOf(s.frame).find((f) => f.name === name)?.metrics[0]?.value;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('file source: read, unchanged keeps version, write and rename-replace picked up, deletion means no data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-file-'));
  const path = join(dir, 'node.prom');
  writeFileSync(path, '# TYPE jobs gauge\njobs 1\n');
  const s = createSource(gatewaySourceSchema.parse({ name: 'tf', file: { path } }), silentLogger);
  try {
    assert.equal(s.kind, 'file');
    assert.equal(s.origin, path);
    const a = await s.snapshot(ctx);
    assert.equal(a.ok, true, a.error);
    assert.equal(value(a, 'jobs'), 1);

    const b = await s.snapshot(ctx);
    assert.equal(b.version, a.version);
    assert.equal(b.frame, a.frame);

    // Rewritten with the same bytes: re-read, but the version stays.
    writeFileSync(path, '# TYPE jobs gauge\njobs 1\n');
    await pause(50);
    assert.equal((await s.snapshot(ctx)).version, a.version);

    writeFileSync(path, '# TYPE jobs gauge\njobs 2\n');
    await pause(50);
    const c = await s.snapshot(ctx);
    assert.notEqual(c.version, a.version);
    assert.equal(value(c, 'jobs'), 2);

    // Atomic replace: write elsewhere, rename over the watched name.
    writeFileSync(join(dir, 'node.prom.tmp'), '# TYPE jobs gauge\njobs 3\n# EOF\n');
    renameSync(join(dir, 'node.prom.tmp'), path);
    await pause(50);
    const d = await s.snapshot(ctx);
    assert.equal(d.ok, true, d.error);
    assert.equal(value(d, 'jobs'), 3, 'OpenMetrics recognised by # EOF');
    assert.equal(d.droppedLines, 0);

    rmSync(path);
    const gone = await s.snapshot(ctx);
    assert.equal(gone.ok, false);
    assert.equal(gone.frame.layout.size, 0);
    assert.notEqual(gone.version, d.version);
    assert.match(gone.error ?? '', /does not exist/);

    writeFileSync(path, 'jobs 4\nnot a { line\n');
    const back = await s.snapshot(ctx);
    assert.equal(back.ok, true);
    assert.equal(value(back, 'jobs'), 4);
    assert.equal(back.droppedLines, 1);
    assert.match(back.error ?? '', /line 2/);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file source: a file missing from the start is an error, not a rejection', async () => {
  const s = createSource(
    gatewaySourceSchema.parse({ name: 'nofile', file: { path: '/nonexistent-dir/x.prom' } }),
    silentLogger,
  );
  const snap = await s.snapshot(ctx);
  assert.equal(snap.ok, false);
  assert.equal(snap.version, 0);
  await s.close();
});
