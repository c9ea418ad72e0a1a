/** Pushed apps survive a restart: saved at an interval and at shutdown, read back at start. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../helpers/cli-process.js';
import { pushedSeries, put, sleep, startTributary } from '../helpers/gateway-harness.js';

/** Pushed series on the page, push-time series and Tributary's own left out. */
async function pushed(base: string): Promise<string[]> {
  const page = await (await fetch(base + '/metrics')).text();
  return pushedSeries(page)
    .filter((l) => !l.includes('exporter_name="tributary"'))
    .sort();
}

async function pushTime(base: string, job: string): Promise<number> {
  const page = await (await fetch(base + '/metrics')).text();
  const line = page.split('\n').find((l) => l.startsWith('push_time_seconds{') && l.includes(`job="${job}"`));
  assert.ok(line, page);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

function sendJson(address: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const i = address.lastIndexOf(':');
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) }, () => s.end(JSON.stringify(body)));
    s.on('error', reject);
    s.on('close', () => resolve());
    s.resume();
  });
}

test('HTTP groups and socket apps are back after a restart, with their push times; expired ones are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-persist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const yaml = `gateway:
  push:
    default_ttl: 0
    listeners: [{tcp: "127.0.0.1:0", format: json, ttl: 0}]
`;
  let tr = await startTributary(yaml, { dataDir: dir });
  try {
    assert.equal((await put(tr.base + '/metrics/job/batch/instance/a', '# TYPE done_total counter\n# HELP done_total Jobs done.\ndone_total{kind="x"} 3\n')).status, 200);
    assert.equal((await put(tr.base + '/metrics/job/short', 'short_lived 1\n', { 'X-Tributary-TTL': '1s' })).status, 200);
    // A refused push (timestamp) sets the group's failure time: that is kept too.
    assert.equal((await put(tr.base + '/metrics/job/batch/instance/a', 'late 1 1700000000000\n')).status, 400);
    await sendJson(tr.runtime.gateway.listeners[0], { sockapp: 'sock_value{a="b"} 7\n' });
    await sleep(50);
    assert.deepEqual(await pushed(tr.base), [
      'done_total{exporter_name="batch",instance="a",job="batch",kind="x"} 3',
      'short_lived{exporter_name="short",instance="",job="short"} 1',
      'sock_value{a="b",exporter_name="sockapp"} 7',
    ]);
  } finally {
    await tr.runtime.close(1000);
  }
  const pushedAt = tr.runtime.gateway.store.get('instance="a",job="batch"')!;
  await sleep(1100); // the 1 s TTL of "short" passes while the process is down
  const logs: string[] = [];
  tr = await startTributary(yaml, { dataDir: dir, logs });
  try {
    assert.deepEqual(await pushed(tr.base), [
      'done_total{exporter_name="batch",instance="a",job="batch",kind="x"} 3',
      'sock_value{a="b",exporter_name="sockapp"} 7',
    ]);
    const back = tr.runtime.gateway.store.get('instance="a",job="batch"')!;
    assert.equal(back.pushTimeMs, pushedAt.pushTimeMs);
    assert.equal(back.failureTimeMs, pushedAt.failureTimeMs);
    assert.ok(back.failureTimeMs > back.pushTimeMs);
    assert.equal(await pushTime(tr.base, 'batch'), pushedAt.pushTimeMs / 1000);
    assert.equal(back.families[0].help, 'Jobs done.');
    assert.equal(tr.runtime.gateway.store.get('sockapp')?.protocol, 'json');
    assert.ok(logs.some((l) => l.includes('pushed apps restored') && l.includes('count=2')), logs.join('\n'));
    // A deleted group stays deleted after the next restart.
    assert.equal((await fetch(tr.base + '/metrics/job/batch/instance/a', { method: 'DELETE' })).status, 202);
  } finally {
    await tr.runtime.close(1000);
  }
  tr = await startTributary(yaml, { dataDir: dir });
  try {
    assert.deepEqual(await pushed(tr.base), ['sock_value{a="b",exporter_name="sockapp"} 7']);
  } finally {
    await tr.runtime.close(1000);
  }
});

test('kill -9 loses at most persistence_interval of pushes; a damaged file is set aside, not fatal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-persist-kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'tributary.yml');
  writeFileSync(config, 'gateway:\n  push: {default_ttl: 0, persistence_interval: 200ms}\n');
  const data = join(dir, 'data');
  const agent = await startAgent(['--config', config, '--data-dir', data]);
  const base = `http://${agent.address}`;
  assert.equal((await put(base + '/metrics/job/kept', 'kept_value 42\n')).status, 200);
  await sleep(600);
  agent.child.kill('SIGKILL');
  await once(agent.child, 'exit');
  const apps = join(data, 'gateway', 'apps');
  writeFileSync(join(apps, 'ffffffffffffffffffffffffffffffff.json'), '{"v":1,"key":'); // torn by hand
  const again = await startAgent(['--config', config, '--data-dir', data]);
  try {
    assert.deepEqual(await pushed(`http://${again.address}`), ['kept_value{exporter_name="kept",instance="",job="kept"} 42']);
    assert.ok(readdirSync(apps).includes('ffffffffffffffffffffffffffffffff.json.bad'));
    assert.match(again.output(), /a saved pushed app cannot be read; it is moved aside/);
    const metrics = await (await fetch(`http://${again.address}/metrics`)).text();
    assert.match(metrics, /tributary_gateway_persistence_errors_total\{[^}]*op="load"[^}]*\} 1/);
    // A second process on the same data directory is refused at start.
    await assert.rejects(startAgent(['--config', config, '--data-dir', data]), /in use by another process/);
  } finally {
    again.child.kill('SIGTERM');
    await once(again.child, 'exit');
  }
});

test('a full disk: pushes are still taken and served, the failure is logged once and counted, saving resumes when space returns', async (t) => {
  const mnt = mkdtempSync(join(tmpdir(), 'tributary-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  } catch (err) {
    rmSync(mnt, { recursive: true, force: true });
    if (process.env.CI === 'true') throw err;
    t.skip(`cannot mount a small tmpfs here (${(err as Error).message.split('\n')[0]}); CI runs as root`);
    return;
  }
  t.after(() => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  mkdirSync(join(mnt, 'data'));
  const filler = join(mnt, 'filler');
  const logs: string[] = [];
  const tr = await startTributary('gateway:\n  push: {default_ttl: 0, persistence_interval: 100ms}\n', { dataDir: join(mnt, 'data'), logs });
  try {
    // Leave no room for the group's file.
    try {
      writeFileSync(filler, Buffer.alloc(64 * 1024));
    } catch {
      // ENOSPC once full: what was written stays and fills the disk
    }
    const body = Array.from({ length: 200 }, (_, i) => `big{i="${i}"} ${i}`).join('\n') + '\n';
    assert.equal((await put(tr.base + '/metrics/job/big', body)).status, 200, 'the push is taken though it cannot be saved yet');
    await sleep(400);
    assert.equal((await pushed(tr.base)).length, 200, 'and served');
    const metrics = await (await fetch(tr.base + '/metrics')).text();
    const failures = Number(/tributary_gateway_persistence_errors_total\{[^}]*op="save"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.ok(failures >= 1, metrics);
    assert.equal(logs.filter((l) => l.includes('cannot save pushed apps')).length, 1, 'logged once per episode');
    rmSync(filler);
    await sleep(400);
    assert.ok(logs.some((l) => l.includes('pushed apps are saved again')), logs.join('\n'));
    assert.ok(readdirSync(join(mnt, 'data', 'gateway', 'apps')).some((f) => f.endsWith('.json')));
  } finally {
    await tr.runtime.close(1000);
  }
});
