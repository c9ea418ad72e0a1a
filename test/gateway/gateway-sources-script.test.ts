/**
 * Script gateway sources with real processes: shared on-scrape runs, killing abandoned and
 * overdue runs, exit errors, output limits, and the periodic mode's last-good page.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewaySourceSchema } from '../../src/config/gateway-sources.js';
import { createSource, ScriptSource } from '../../src/gateway/sources/index.js';
import type { GatewaySource, ScrapeContext, SourceSnapshot } from '../../src/gateway/source.js';
import { silentLogger } from '../../src/log/logger.js';
import { familiesOf } from '../../src/model/frame.js';

const ctx = (signal: AbortSignal = new AbortController().signal): ScrapeContext => ({
  signal,
  params: new URLSearchParams(),
});
const value = (s: SourceSnapshot, name: string): number | undefined =>
  familiesOf(s.frame).find((f) => f.name === name)?.metrics[0]?.value;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function script(name: string, body: string, opts: Record<string, unknown> = {}): GatewaySource {
  return createSource(
    gatewaySourceSchema.parse({ name, script: { command: 'sh', args: ['-c', body], ...opts } }),
    silentLogger,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await pause(20);
  }
  return cond();
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'trib-script-'));
}

test('on-scrape: five concurrent scrapes share one run and all get its page', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const s = script('co', `echo run >> "$RUNS"; sleep 0.3; echo 'jobs 7'`, { env: { RUNS: runs } });
  try {
    const snaps = await Promise.all([1, 2, 3, 4, 5].map(() => s.snapshot(ctx())));
    assert.equal(readFileSync(runs, 'utf8').split('\n').filter(Boolean).length, 1);
    for (const snap of snaps) {
      assert.equal(snap.ok, true, snap.error);
      assert.equal(value(snap, 'jobs'), 7);
      assert.equal(snap.version, snaps[0].version);
    }
    // A later scrape runs it again; same output, same version.
    const again = await s.snapshot(ctx());
    assert.equal(readFileSync(runs, 'utf8').split('\n').filter(Boolean).length, 2);
    assert.equal(again.version, snaps[0].version);
    assert.equal(again.frame, snaps[0].frame);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on-scrape: the run is killed once every waiting scrape has gone', async () => {
  const dir = tempDir();
  const pidFile = join(dir, 'pid');
  // The shell's child (sleep) must die too: the process group is killed.
  const s = script('ab', `sleep 30 & echo $! > "$PIDF.tmp"; mv "$PIDF.tmp" "$PIDF"; wait`, {
    env: { PIDF: pidFile },
    timeout: '60s',
  });
  try {
    const c1 = new AbortController();
    const c2 = new AbortController();
    const p1 = s.snapshot(ctx(c1.signal));
    const p2 = s.snapshot(ctx(c2.signal));
    assert.ok(await waitFor(() => existsSync(pidFile), 3000), 'script started');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(alive(pid));
    c1.abort();
    await pause(200);
    assert.ok(alive(pid), 'one scrape still waits: the run goes on');
    c2.abort();
    const [s1, s2] = await Promise.all([p1, p2]);
    assert.equal(s1.ok, false);
    assert.match(s2.error ?? '', /scrape aborted/);
    assert.ok(await waitFor(() => !alive(pid), 3000), 'process group killed');
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on-scrape: timeout kills the run; SIGTERM ignored ⇒ SIGKILL', async () => {
  const dir = tempDir();
  const pidFile = join(dir, 'pid');
  const s = createSource(
    gatewaySourceSchema.parse({
      name: 'to',
      script: {
        command: 'sh',
        args: ['-c', `trap '' TERM; echo $$ > "$PIDF.tmp"; mv "$PIDF.tmp" "$PIDF"; while true; do sleep 0.05; done`],
        env: { PIDF: pidFile },
        timeout: '300ms',
      },
    }),
    silentLogger,
  );
  try {
    const started = Date.now();
    const snap = await s.snapshot(ctx());
    assert.ok(Date.now() - started < 1500);
    assert.equal(snap.ok, false);
    assert.match(snap.error ?? '', /timed out after 0\.3s/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(await waitFor(() => !alive(pid), 5000), 'killed after the grace period');
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on-scrape: non-zero exit reports code and last stderr line; output limit; missing command', async () => {
  const failing = script('ex', `echo 'jobs 1'; echo first >&2; echo 'last words' >&2; exit 3`);
  const snap = await failing.snapshot(ctx());
  assert.equal(snap.ok, false);
  assert.equal(snap.frame.layout.size, 0);
  assert.equal(snap.error, 'sh exited with code 3: last words');
  await failing.close();

  const big = script('big', `yes 'jobs 1' | head -c 100000`, { max_output_bytes: '10KiB' });
  const bs = await big.snapshot(ctx());
  assert.equal(bs.ok, false);
  assert.match(bs.error ?? '', /exceeds max_output_bytes \(10240 bytes\)/);
  await big.close();

  const missing = createSource(
    gatewaySourceSchema.parse({ name: 'nocmd', script: { command: '/nonexistent/exporter' } }),
    silentLogger,
  );
  const ms = await missing.snapshot(ctx());
  assert.equal(ms.ok, false);
  assert.match(ms.error ?? '', /^cannot run \/nonexistent\/exporter: .*ENOENT/);
  await missing.close();
});

test('periodic: first result awaited, last good served on failure, failures counted', async () => {
  const dir = tempDir();
  const mode = join(dir, 'mode');
  writeFileSync(mode, 'good');
  const s = script(
    'per',
    `sleep 0.2; if [ "$(cat "$MODE")" = good ]; then echo 'jobs 5'; else echo broken >&2; exit 1; fi`,
    { env: { MODE: mode }, mode: 'periodic', interval: '300ms', timeout: '2s' },
  ) as ScriptSource;
  try {
    // Scraped before the first run finished: waits for it.
    const first = await s.snapshot(ctx());
    assert.equal(first.ok, true, first.error);
    assert.equal(value(first, 'jobs'), 5);
    assert.equal(s.failures, 0);

    writeFileSync(mode, 'bad');
    assert.ok(await waitFor(() => s.failures >= 1, 3000));
    const stale = await s.snapshot(ctx());
    assert.equal(stale.ok, false);
    assert.equal(stale.error, 'sh exited with code 1: broken');
    assert.equal(stale.version, first.version);
    assert.equal(value(stale, 'jobs'), 5);
    assert.ok(stale.lastSuccessMs > 0);

    writeFileSync(mode, 'good');
    await pause(700);
    const back = await s.snapshot(ctx());
    assert.equal(back.ok, true);
    assert.equal(back.version, first.version, 'same output as before: same version');
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('periodic: a scrape before the first result waits at most the timeout', async () => {
  const s = script('slow', `sleep 3; echo 'jobs 1'`, { mode: 'periodic', interval: '10s', timeout: '300ms' });
  const started = Date.now();
  const snap = await s.snapshot(ctx());
  assert.ok(Date.now() - started < 2000);
  assert.equal(snap.ok, false);
  await s.close();
});
