import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExportManager, withJobMatcher } from '../../src/gather/jobs.js';
import { ObfuscationSessions } from '../../src/gather/obfuscate.js';
import { planBatches, batchWindowProblem, autoBatchWindow, growWindow, GROW_BATCH_SAMPLES } from '../../src/gather/plan.js';
import type { ExportRequest, ExportStatus, ObfuscationConfig } from '../../src/gather/types.js';
import { FAKE_BASE_MS, FakeSource, type FakeOptions } from './jobs-fake-source.js';
import { seriesOf, unzipBundle } from './unzip.js';

const OFF: ObfuscationConfig = { enabled: false, instance: false, job: false, labels: [], drop: [] };
const ON: ObfuscationConfig = { enabled: true, instance: true, job: true, labels: ['team'], drop: ['dc'] };
const PASSWORD = 'hunter2-very-secret';

function request(over: Partial<ExportRequest> = {}): ExportRequest {
  return {
    connection: { url: 'http://fake', auth: { type: 'basic', username: 'u', password: PASSWORD } },
    selection: { selectors: ['{__name__=~"metric_.*"}'] },
    startMs: FAKE_BASE_MS,
    endMs: FAKE_BASE_MS + 5 * 60_000,
    batchWindowMs: 60_000,
    obfuscation: OFF,
    ...over,
  };
}

function dirs() {
  const root = mkdtempSync(join(tmpdir(), 'gather-jobs-'));
  return { stagingDir: join(root, 'staging'), outputDir: join(root, 'out') };
}

async function manager(fake: FakeSource, extra: Partial<ConstructorParameters<typeof ExportManager>[0]> = {}, d = dirs()) {
  const m = new ExportManager({ ...d, openSource: async () => fake, retryDelaysMs: [10, 10, 10], ...extra });
  await m.open();
  return m;
}

function until(m: ExportManager, id: string, pred: (s: ExportStatus) => boolean): Promise<ExportStatus> {
  return new Promise((resolve) => {
    const now = m.status(id);
    if (now && pred(now)) return resolve(now);
    const off = m.onChange((s) => {
      if (s.id === id && pred(s)) {
        off();
        resolve(s);
      }
    });
  });
}
const finished = (s: ExportStatus) => s.state === 'completed' || s.state === 'failed' || s.state === 'canceled' || s.state === 'interrupted';

test('plan: auto windows by range, custom within 30s-24h, aligned [start,end) batches', () => {
  assert.equal(autoBatchWindow(15 * 60_000), 30_000);
  assert.equal(autoBatchWindow(15 * 60_000 + 1), 60_000);
  assert.equal(autoBatchWindow(6 * 3600_000), 60_000);
  assert.equal(autoBatchWindow(6 * 3600_000 + 1), 300_000);
  assert.equal(batchWindowProblem(29_999), 'batch window 29999ms: must be between 30s and 24h');
  assert.equal(batchWindowProblem(25 * 3600_000), 'batch window 25h: must be between 30s and 24h');
  assert.equal(batchWindowProblem(30_000), undefined);
  assert.deepEqual(planBatches(45_000, 130_000, 60_000), [
    { startMs: 45_000, endMs: 60_000 },
    { startMs: 60_000, endMs: 120_000 },
    { startMs: 120_000, endMs: 130_000 },
  ]);
  assert.throws(() => planBatches(10, 10), /must be after start/);
  assert.equal(withJobMatcher('up', 'a'), 'up{job="a"}');
  assert.equal(withJobMatcher('up{x="1"} ', 'a"b'), 'up{x="1",job="a\\"b"}');
  assert.equal(withJobMatcher('{}', ''), '{job=""}');
  assert.equal(withJobMatcher('m{a="{x}"}', 'j'), 'm{a="{x}",job="j"}');
});

test('an export runs its batches in order into a bundle holding every series and value', async () => {
  const fake = new FakeSource();
  const m = await manager(fake);
  const seen: ExportStatus[] = [];
  m.onChange((s) => seen.push(s));
  const st = m.start(request());
  assert.equal(st.batchesTotal, 5);
  const done = await until(m, st.id, finished);
  assert.equal(done.state, 'completed', done.error);
  assert.equal(done.progress, 1);
  assert.deepEqual(
    fake.requests.map((r) => r.startMs - FAKE_BASE_MS),
    [0, 60_000, 120_000, 180_000, 240_000],
  );
  const r = done.result;
  assert.ok(r);
  const z = unzipBundle(r.path);
  assert.deepEqual(seriesOf(z.metrics), seriesOf(fake.expected(request().startMs, request().endMs).join('\n')));
  assert.equal(r.series, fake.series.length);
  assert.equal(r.samples, fake.series.length * 30);
  assert.equal(z.metadata.samplesCount, r.samples);
  assert.deepEqual(z.metadata.jobs, ['job-0', 'job-1', 'job-2']);
  // progress went up with each batch, with an average batch time and an ETA
  const running = seen.filter((s) => s.state === 'running' && s.batchesDone > 0);
  assert.ok(running.length >= 4);
  assert.ok(running.every((s) => s.etaSeconds !== undefined && s.currentRange !== undefined));
  assert.ok(existsSync(r.path));
  assert.deepEqual(readdirSync(join(dirname(r.path), '..', 'staging')), [], 'staging removed');
  await m.close();
});

function dirname(p: string) {
  return p.slice(0, p.lastIndexOf('/'));
}

test('plan: an automatic window grows by the projected samples of a whole batch, in powers of two, up to 24 h', () => {
  // a 1 min probe of 40k samples: 128× (5.1 M) fits 16 M, 256× (10.2 M) too but its bytes do not
  assert.deepEqual(growWindow(60_000, 0.3, 40_000, 2_400_000), { windowMs: 128 * 60_000, settled: true });
  // few samples: the step is bounded (a sparse probe says little), and it may grow again
  assert.deepEqual(growWindow(30_000, 0.1, 10, 1_000), { windowMs: 256 * 30_000, settled: false });
  assert.equal(growWindow(60_000, 6, 10, 1_000), undefined, 'slow: stays');
  assert.equal(growWindow(60_000, 0.1, GROW_BATCH_SAMPLES, 1_000), undefined, 'large enough: stays');
  assert.deepEqual(growWindow(12 * 3600_000, 0.1, 10, 1_000), { windowMs: 24 * 3600_000, settled: true }, 'at most 24 h');
  assert.equal(growWindow(24 * 3600_000, 0.1, 10, 1_000), undefined);
});

test('an automatic window starts at vmgather\'s and grows: few requests, every series and value, progress by range', async () => {
  const fake = new FakeSource();
  const m = await manager(fake);
  const seen: ExportStatus[] = [];
  m.onChange((s) => seen.push(s));
  const req = request({ batchWindowMs: undefined, endMs: FAKE_BASE_MS + 3 * 3600_000 });
  const st = m.start(req);
  assert.equal(st.batchesTotal, 180, 'planned at 1 min first');
  const done = await until(m, st.id, finished);
  assert.equal(done.state, 'completed', done.error);
  // the 1 min probe, then wide windows (aligned to their multiples: the first one clipped)
  assert.equal(fake.requests[0].endMs - fake.requests[0].startMs, 60_000);
  assert.ok(fake.requests.length <= 4, `${fake.requests.length} requests`);
  assert.equal(done.batchesTotal, fake.requests.length);
  for (let i = 1; i < fake.requests.length; i++) assert.equal(fake.requests[i].startMs, fake.requests[i - 1].endMs, 'contiguous');
  assert.equal(fake.requests.at(-1)?.endMs, req.endMs);
  const z = unzipBundle((done.result as { path: string }).path);
  assert.deepEqual(seriesOf(z.metrics), seriesOf(fake.expected(req.startMs, req.endMs).join('\n')));
  const running = seen.filter((s) => s.state === 'running' && s.batchesDone > 0);
  for (let i = 1; i < running.length; i++) assert.ok(running[i].progress >= running[i - 1].progress);
  assert.ok(running.every((s) => s.etaSeconds !== undefined));
  await m.close();
});

test('an automatic window that grew into a timeout is split and stays at the parts\' length', async () => {
  const fake = new FakeSource({ timeoutRangeMs: 20 * 60_000 });
  const m = await manager(fake);
  const req = request({ batchWindowMs: undefined, endMs: FAKE_BASE_MS + 3 * 3600_000 });
  const st = m.start(req);
  const done = await until(m, st.id, finished);
  assert.equal(done.state, 'completed', done.error);
  const z = unzipBundle((done.result as { path: string }).path);
  assert.deepEqual(seriesOf(z.metrics), seriesOf(fake.expected(req.startMs, req.endMs).join('\n')));
  // after the first refusals, no request asks for more than the source answered
  const refused = fake.requests.filter((r) => r.endMs - r.startMs > 20 * 60_000).length;
  assert.ok(refused >= 1 && refused <= 4, `${refused} refused requests`);
  const last = fake.requests.findLastIndex((r) => r.endMs - r.startMs > 20 * 60_000);
  assert.ok(fake.requests.length - last > 3, 'went on at the smaller window');
  await m.close();
});

test('batches refused for too many series or timing out are split by time, then by job', async () => {
  for (const o of [{ maxRangeMs: 20_000 }, { timeoutRangeMs: 15_000 }, { needJob: true }] as FakeOptions[]) {
    const fake = new FakeSource(o);
    const m = await manager(fake);
    const st = m.start(request({ endMs: FAKE_BASE_MS + 2 * 60_000 }));
    const done = await until(m, st.id, finished);
    assert.equal(done.state, 'completed', `${JSON.stringify(o)}: ${done.error}`);
    assert.ok(done.batchesTotal > 2, 'more batches after the split');
    const z = unzipBundle((done.result as { path: string }).path);
    assert.deepEqual(seriesOf(z.metrics), seriesOf(fake.expected(FAKE_BASE_MS, FAKE_BASE_MS + 2 * 60_000).join('\n')), JSON.stringify(o));
    if (o.needJob) assert.ok(fake.requests.some((r) => 'selectors' in r.selection && r.selection.selectors[0].includes('job="job-1"')));
    await m.close();
  }
});

test('a query that cannot be split further fails with the error in words; other errors are retried first', async () => {
  const fake = new FakeSource({ needJob: true });
  const m = await manager(fake);
  const st = m.start(request({ selection: { query: 'sum(x)', stepMs: 15_000 }, endMs: FAKE_BASE_MS + 60_000 }));
  const done = await until(m, st.id, finished);
  assert.equal(done.state, 'failed');
  assert.match(done.error ?? '', /^batch 2026-01-01T00:00:0\d.000Z–.*too many series without a job \(fake\)$/);
  const flaky = new FakeSource({ failFirst: 2 });
  const m2 = await manager(flaky);
  const d2 = await until(m2, m2.start(request()).id, finished);
  assert.equal(d2.state, 'completed', 'two network errors were retried');
  const down = new FakeSource({ failFirst: 100 });
  const m3 = await manager(down);
  const d3 = await until(m3, m3.start(request()).id, finished);
  assert.equal(d3.state, 'failed');
  assert.match(d3.error ?? '', /connection refused \(fake\)/);
  assert.equal(down.requests.filter((r) => r.startMs === FAKE_BASE_MS).length, 4, 'one try and three retries of the first batch');
  await Promise.all([m.close(), m2.close(), m3.close()]);
});

test('at most 3 exports run at once; the others wait as pending', async () => {
  const fake = new FakeSource({ delayMs: 30 });
  const m = await manager(fake);
  const ids = Array.from({ length: 5 }, () => m.start(request({ endMs: FAKE_BASE_MS + 2 * 60_000 })).id);
  let maxRunning = 0;
  m.onChange(() => (maxRunning = Math.max(maxRunning, m.list().filter((s) => s.state === 'running').length)));
  const states = m.list().map((s) => s.state);
  assert.equal(states.filter((s) => s === 'running').length, 3);
  assert.equal(states.filter((s) => s === 'pending').length, 2);
  const all = await Promise.all(ids.map((id) => until(m, id, finished)));
  assert.ok(all.every((s) => s.state === 'completed'));
  assert.equal(maxRunning, 3);
  await m.close();
});

test('cancel stops at once (canceled, resumable); resume goes on to the same content as an uninterrupted export', async () => {
  const ref = new FakeSource();
  const mRef = await manager(ref);
  const refDone = await until(mRef, mRef.start(request({ obfuscation: ON })).id, finished);
  const refLines = unzipBundle((refDone.result as { path: string }).path).metrics;

  const fake = new FakeSource({ hangAfter: 2 });
  const m = await manager(fake);
  const st = m.start(request({ obfuscation: ON }));
  await until(m, st.id, (s) => s.batchesDone === 2 && s.state === 'running');
  await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  m.cancel(st.id);
  const canceled = await until(m, st.id, finished);
  assert.ok(Date.now() - t0 < 1000, 'the hanging request was aborted');
  assert.equal(canceled.state, 'canceled');
  assert.equal(canceled.batchesDone, 2);
  fake.o.hangAfter = undefined;
  m.resume(st.id);
  const done = await until(m, st.id, (s) => s.state === 'completed' || s.state === 'failed');
  assert.equal(done.state, 'completed', done.error);
  assert.equal(unzipBundle((done.result as { path: string }).path).metrics, refLines, 'identical metrics.jsonl');
  assert.equal(done.result?.series, refDone.result?.series);
  assert.equal(done.result?.samples, refDone.result?.samples);
  await Promise.all([m.close(), mRef.close()]);
});

test('after a restart a job is interrupted, needs its credentials, and resumes to identical content; no secret on disk, no plaintext staged', async () => {
  const ref = new FakeSource();
  const mRef = await manager(ref);
  const refDone = await until(mRef, mRef.start(request({ obfuscation: ON })).id, finished);
  const refText = unzipBundle((refDone.result as { path: string }).path).metrics;

  const d = dirs();
  const fake = new FakeSource({ hangAfter: 3 });
  const m1 = await manager(fake, {}, d);
  const st = m1.start(request({ obfuscation: ON }));
  await until(m1, st.id, (s) => s.batchesDone === 3);
  await new Promise((r) => setTimeout(r, 20));
  // what a kill leaves: state.json and the partial file of the last completed batch (m1 is abandoned, not closed)
  const stagingFiles = readdirSync(join(d.stagingDir, st.id)).sort();
  assert.deepEqual(stagingFiles, ['metrics.partial.jsonl', 'state.json']);
  const stateText = readFileSync(join(d.stagingDir, st.id, 'state.json'), 'utf8');
  assert.ok(!stateText.includes(PASSWORD), 'no password in state.json');
  const partial = readFileSync(join(d.stagingDir, st.id, 'metrics.partial.jsonl'), 'utf8');
  for (const s of fake.series) for (const v of [s.job, s.instance, s.instance.split(':')[0], s.team, s.dc]) assert.ok(!partial.includes(`"${v}"`), `${v} staged in plaintext`);

  // a kill leaves the bundle that was being written as a temporary file: a restart removes it
  assert.equal(readdirSync(d.outputDir).filter((f) => f.includes('.tmp-')).length, 1);
  const fresh = new FakeSource();
  const m2 = await manager(fresh, {}, d);
  assert.deepEqual(readdirSync(d.outputDir), []);
  const found = m2.status(st.id);
  assert.equal(found?.state, 'interrupted');
  assert.equal(found?.needsCredentials, true);
  assert.equal(found?.batchesDone, 3);
  assert.throws(() => m2.resume(st.id), /credentials were not kept/);
  m2.resume(st.id, request().connection);
  const done = await until(m2, st.id, (s) => s.state === 'completed' || s.state === 'failed');
  assert.equal(done.state, 'completed', done.error);
  assert.deepEqual(
    fresh.requests.map((r) => r.startMs - FAKE_BASE_MS),
    [180_000, 240_000],
    'only the batches not done',
  );
  assert.equal(unzipBundle((done.result as { path: string }).path).metrics, refText, 'identical metrics.jsonl');
  assert.equal(done.result?.series, refDone.result?.series, 'series counted again from the staged lines');
  assert.equal(done.result?.samples, refDone.result?.samples);
  fake.o.hangAfter = undefined;
  await Promise.all([m1.close(), m2.close(), mRef.close()]);
});

test('a preview session\'s map is continued by the export; an unknown session is refused; finished jobs are forgotten', async () => {
  const sessions = new ObfuscationSessions();
  const { id: sid, obfuscator } = sessions.open(ON);
  // the preview met job-2 and one host first
  const pre = obfuscator.metric({ job: 'job-2', instance: 'host-2-1.corp.example:9101' });
  const fake = new FakeSource();
  const m = await manager(fake, { sessions, keepFinishedMs: 50 });
  assert.throws(() => m.start(request({ obfuscation: ON, obfuscationSession: 'nope' })), /unknown or expired/);
  const done = await until(m, m.start(request({ obfuscation: ON, obfuscationSession: sid })).id, finished);
  const text = unzipBundle((done.result as { path: string }).path).metrics;
  const jobs = text.split('\n').filter(Boolean).map((l) => JSON.parse(l).metric as Record<string, string>);
  assert.ok(jobs.some((x) => x.job === pre.job && x.instance === pre.instance), 'the preview\'s stand-ins');
  assert.equal(pre.job, 'unknown-job-1');
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(m.status(done.id), undefined, 'forgotten');
  assert.ok(existsSync((done.result as { path: string }).path), 'the bundle stays');
  await m.close();
});

test('a full staging disk fails the export in words, with no crash and no bundle left; on a roomier disk it resumes to the same content', async (t) => {
  if (process.getuid?.() !== 0 && !process.env.CI) return t.skip('mounting a tmpfs needs root (the tests run as root in CI)');
  // batches of more than one 1 MiB buffer: a write fails while the batch goes on
  const big = { jobs: 30, instancesPerJob: 20, metricsPerInstance: 10 };
  const ref = new FakeSource(big);
  const mRef = await manager(ref);
  const refDone = await until(mRef, mRef.start(request()).id, finished);
  assert.equal(refDone.state, 'completed', refDone.error);
  const refText = unzipBundle((refDone.result as { path: string }).path).metrics;
  assert.ok(refText.length > 1 << 20, 'the export is larger than the disk');

  const root = mkdtempSync(join(tmpdir(), 'gather-fulldisk-'));
  const small = join(root, 'small');
  mkdirSync(small);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', small], { encoding: 'utf8' });
  assert.equal(m.status, 0, `mount a tmpfs: ${m.stderr}`);
  t.after(() => {
    if (spawnSync('umount', [small]).status !== 0) spawnSync('umount', ['-l', small]);
  });
  const d = { stagingDir: join(small, 'staging'), outputDir: join(root, 'out') };
  const m1 = await manager(new FakeSource(big), {}, d);
  const st = m1.start(request());
  const failed = await until(m1, st.id, finished);
  assert.equal(failed.state, 'failed');
  assert.match(failed.error ?? '', /staging file .*metrics\.partial\.jsonl: ENOSPC: no space left on device/);
  assert.deepEqual(readdirSync(d.outputDir), [], 'no bundle, no temporary file');
  await m1.close();

  // the staging folder moved to a disk with room: the export goes on from its last completed batch
  const roomy = join(root, 'roomy');
  cpSync(d.stagingDir, roomy, { recursive: true });
  const fresh = new FakeSource(big);
  const m2 = await manager(fresh, {}, { stagingDir: roomy, outputDir: d.outputDir });
  m2.resume(st.id, request().connection);
  const done = await until(m2, st.id, (s) => s.state === 'completed' || s.state === 'failed');
  assert.equal(done.state, 'completed', done.error);
  assert.deepEqual(seriesOf(unzipBundle((done.result as { path: string }).path).metrics), seriesOf(refText));
  await Promise.all([m2.close(), mRef.close()]);
});
