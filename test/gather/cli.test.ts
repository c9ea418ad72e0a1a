/**
 * `tributary gather` one-shot, as a user runs it, against a real VictoriaMetrics and a real
 * Prometheus filled with the same known dataset: every series and value in the bundle, nothing
 * original left with obfuscation on, and a run SIGKILLed mid-export resumed to the same bundle.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI } from '../helpers/cli-process.js';
import { datasetSlice, gatherPeersMissing, parseExportLines, startGatherPeers, type GatherPeers } from '../helpers/gather-peers.js';
import { unzipBundle } from './unzip.js';

let peers: GatherPeers | undefined;
let missing: string | undefined;

before(async () => {
  missing = gatherPeersMissing();
  if (missing === undefined) peers = await startGatherPeers();
});
after(async () => {
  await peers?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function gather(args: string[], onStderr?: (all: string, kill: () => void) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'gather', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, () => child.kill('SIGKILL'));
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function range(p: GatherPeers): string[] {
  return ['--from', String(p.dataset.startMs / 1000), '--to', new Date(p.dataset.endMs).toISOString()];
}

for (const which of ['vm', 'prom'] as const) {
  test(`${which}: the bundle holds every series and value of the dataset, its SHA-256 printed`, async (t) => {
    if (missing) return t.skip(missing);
    const p = peers as GatherPeers;
    const dir = mkdtempSync(join(tmpdir(), 'gather-cli-'));
    const out = join(dir, 'bundle.zip');
    const r = await gather(['--url', p[which].url, ...range(p), '-o', out, '--data-dir', join(dir, 'data')]);
    assert.equal(r.code, 0, r.stderr);
    const [path, sha] = r.stdout.split('\n');
    assert.equal(path, out);
    assert.equal(sha, `sha256 ${createHash('sha256').update(readFileSync(out)).digest('hex')}`);
    assert.match(r.stderr, /^batch 1\/\d+ done: /m, 'a plain line per batch when not on a terminal');
    const z = unzipBundle(out);
    const got = parseExportLines(z.metrics);
    const want = datasetSlice(p.dataset, p.dataset.startMs, p.dataset.endMs);
    assert.equal(got.length, want.length, 'series');
    assert.deepEqual(got, want);
    assert.equal(z.metadata.seriesCount, want.length);
    assert.equal(z.metadata.samplesCount, p.dataset.samples);
    assert.equal(z.metadata.obfuscated, false);
  });
}

function originals(p: GatherPeers): string[] {
  const d = p.dataset;
  return [...d.hosts, ...d.jobs.flatMap((j) => [j.job, ...j.instances]), ...d.labels.datacenter];
}

for (const which of ['vm', 'prom'] as const) {
  test(`${which}: with obfuscation on, no original host, instance, job or chosen label value is anywhere in metrics.jsonl`, async (t) => {
  if (missing) return t.skip(missing);
  const p = peers as GatherPeers;
  const dir = mkdtempSync(join(tmpdir(), 'gather-cli-'));
  const out = join(dir, 'b.zip');
  const r = await gather(['--url', p[which].url, ...range(p), '--obfuscate', 'instance,job', '--obfuscate', 'datacenter', '--drop', 'pod', '-o', out, '--data-dir', join(dir, 'data')]);
  assert.equal(r.code, 0, r.stderr);
  const z = unzipBundle(out);
  for (const v of originals(p)) assert.ok(!z.metrics.includes(`"${v}"`), `${v} is in the bundle`);
  // whole values only: a job may be called after its component (vmselect), whose name the
  // metadata lists and the stand-ins carry (vmselect-job-1)
  const meta = JSON.stringify({ ...z.metadata, components: [] });
  const readmeWords = new Set(z.readme.split('\n').filter((l) => !l.startsWith('Components:')).join(' ').split(/[\s,]+/));
  for (const v of originals(p)) {
    assert.ok(!meta.includes(`"${v}"`), `${v} is in metadata.json`);
    assert.ok(!readmeWords.has(v), `${v} is in README.txt`);
  }
  assert.ok(!z.metrics.includes('"pod"'), 'pod dropped');
  const got = parseExportLines(z.metrics);
  assert.equal(got.length, p.dataset.series.length, 'as many series: the map is one to one');
  assert.equal(z.metadata.samplesCount, p.dataset.samples);
  const jobs = z.metadata.jobs as string[];
  if (which === 'vm') {
    // discovery named the components: node (no vm_app_version) is unknown, never its name
    assert.deepEqual([...jobs].sort(), ['unknown-job-1', 'vmagent-job-1', 'vmselect-job-1', 'vmstorage-job-1']);
    assert.deepEqual(z.metadata.components, ['unknown', 'vmagent', 'vmselect', 'vmstorage']);
  } else {
    // Prometheus has no components: every job is unknown-job-<n>, never its name
    assert.deepEqual([...jobs].sort(), ['unknown-job-1', 'unknown-job-2', 'unknown-job-3', 'unknown-job-4']);
  }
  assert.ok(got.every((s) => /^777\.777\.\d+\.\d+:\d+$/.test(s.metric.instance)));
  assert.ok(got.every((s) => /^datacenter-\d$/.test(s.metric.datacenter)));
});
}

test('vm: selectors naming original values stay out of an obfuscated bundle', async (t) => {
  if (missing) return t.skip(missing);
  const p = peers as GatherPeers;
  const dir = mkdtempSync(join(tmpdir(), 'gather-cli-'));
  const out = join(dir, 'b.zip');
  const job = p.dataset.jobs[0];
  const r = await gather(['--url', p.vm.url, ...range(p), '--match', `{job="${job.job}",instance="${job.instances[0]}"}`, '--obfuscate', 'instance,job', '-o', out, '--data-dir', join(dir, 'data')]);
  assert.equal(r.code, 0, r.stderr);
  const z = unzipBundle(out);
  assert.ok(parseExportLines(z.metrics).length > 0);
  const all = z.metrics + JSON.stringify(z.metadata) + z.readme;
  for (const v of [job.job, job.instances[0]]) assert.ok(!all.includes(v), `${v} is in the bundle`);
  assert.deepEqual(z.metadata.selection, { mode: 'selectors', count: 1, withheld: 'the selectors are not included: obfuscation is on' });
});

test('vm: a run SIGKILLed mid-export and resumed with --resume gives the bundle an uninterrupted run gives', async (t) => {
  if (missing) return t.skip(missing);
  const p = peers as GatherPeers;
  const dir = mkdtempSync(join(tmpdir(), 'gather-cli-'));
  const common = ['--url', p.vm.url, ...range(p), '--obfuscate', 'instance,job,datacenter', '--batch-window', '30s'];
  const whole = await gather([...common, '-o', join(dir, 'whole.zip'), '--data-dir', join(dir, 'd1')]);
  assert.equal(whole.code, 0, whole.stderr);
  let killedAt = '';
  const killed = await gather([...common, '-o', join(dir, 'resumed.zip'), '--data-dir', join(dir, 'd2')], (all, kill) => {
    const m = /^batch (\d+)\/\d+ done/m.exec(all.split('\n').slice(-2).join('\n'));
    if (m && Number(m[1]) >= 40 && killedAt === '') {
      killedAt = m[1];
      kill();
    }
  });
  assert.equal(killed.code, null, 'killed');
  assert.ok(killedAt !== '');
  const id = /^export ([0-9a-f]{16})$/m.exec(killed.stderr)?.[1];
  assert.match(killed.stderr, new RegExp(`^if it is interrupted, resume it with: tributary gather --resume ${id} --data-dir `, 'm'), 'the resume command is said before a kill can cut it off');
  assert.ok(id, killed.stderr);
  const resumed = await gather(['--resume', id, '-o', join(dir, 'resumed.zip'), '--data-dir', join(dir, 'd2')]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const first = /^batch (\d+)\//m.exec(resumed.stderr)?.[1];
  assert.ok(Number(first) > Number(killedAt) - 1, `resumed from batch ${first}, killed after ${killedAt}`);
  // the same lines, stand-ins included: the map is numbered from the source's label values, not
  // from the order series happen to arrive in, so two exports of the same data agree
  const lines = (zip: string) => unzipBundle(join(dir, zip)).metrics.split('\n').filter(Boolean).sort();
  const resumedLines = lines('resumed.zip');
  assert.ok(resumedLines.length > 100);
  assert.deepEqual(resumedLines, lines('whole.zip'));
  const a = unzipBundle(join(dir, 'resumed.zip')).metadata;
  const b = unzipBundle(join(dir, 'whole.zip')).metadata;
  assert.equal(a.seriesCount, b.seriesCount);
  assert.equal(a.samplesCount, b.samplesCount);
});

test('usage errors exit 2 with the problem in words', async () => {
  const r1 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'yesterday', '--to', 'now']);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /--from "yesterday": expected RFC3339/);
  const r2 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'now-1h', '--to', 'now', '--batch-window', '10s']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--batch-window 10s: must be between 30s and 24h/);
  const r3 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'now-1h', '--to', 'now', '--obfuscate', 'a-b']);
  assert.match(r3.stderr, /label "a-b": not a label name/);
  const r4 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'now-1h', '--to', 'now', '-o', join(tmpdir(), 'x.zip'), '--data-dir', mkdtempSync(join(tmpdir(), 'g-'))]);
  assert.equal(r4.code, 1, 'an unreachable source is a failure, not a usage error');
  assert.match(r4.stderr, /tributary gather: /);
  const r5 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'now-1h', '--to', 'now', '--match', '{job=']);
  assert.equal(r5.code, 2, 'a selector that cannot be one is refused before anything is asked of the source');
  assert.match(r5.stderr, /--match: "\{job=" is not a series selector/);
  const dir = mkdtempSync(join(tmpdir(), 'g-'));
  writeFileSync(join(dir, 'there.zip'), 'a bundle of someone else');
  const r6 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'now-1h', '--to', 'now', '-o', join(dir, 'there.zip')]);
  assert.equal(r6.code, 2);
  assert.match(r6.stderr, /there\.zip: the file exists/);
  assert.equal(readFileSync(join(dir, 'there.zip'), 'utf8'), 'a bundle of someone else');
  // /proc takes no files, not even root's
  const r7 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'now-1h', '--to', 'now', '-o', '/proc/b.zip', '--data-dir', join(dir, 'data')]);
  assert.equal(r7.code, 1);
  assert.match(r7.stderr, /cannot write bundles in \/proc: .*E[A-Z]+/);
  const r8 = await gather(['--url', 'http://127.0.0.1:1', '--from', '1796612460000', '--to', '1796623260000', '-o', join(dir, 'ms.zip')]);
  assert.equal(r8.code, 2, 'milliseconds read as seconds would be a range in the year 58902, exported empty');
  assert.match(r8.stderr, /--from 1796612460000: more than a year ahead as Unix seconds \(milliseconds\?/);
  // (not under /proc: node's recursive mkdir never returns there)
  const r9 = await gather(['--url', 'http://127.0.0.1:1', '--from', 'now-1h', '--to', 'now', '-o', join(dir, 'b.zip'), '--data-dir', join(dir, 'there.zip', 'data')]);
  assert.equal(r9.code, 1);
  assert.match(r9.stderr, /cannot write the staging files \(--data-dir\) in .*there\.zip\/data\/gather-staging: not a folder \(ENOTDIR\)/);
});

test('without --url the wizard starts on 127.0.0.1 (8080 or the next free port), prints its URL, and stops on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gather-wizard-'));
  const child = spawn(process.execPath, [CLI, 'gather', '--no-browser', '--data-dir', join(dir, 'data'), '--output-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL in: ${out}`)), 15_000);
    child.stdout.on('data', () => {
      const m = /wizard: (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        assert.ok(Number(m[2]) >= 8080, 'the default port or one after it');
        resolve(m[1]);
      }
    });
  });
  const health = await fetch(`${url}api/health`);
  assert.equal(health.status, 200);
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, out);
  assert.match(out, /running exports are interrupted \(resumable\)/);
});
