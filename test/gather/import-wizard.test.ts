/**
 * The wizard's Import tab as a person uses it: real Chromium (Playwright) on the wizard's page,
 * the real API and import jobs, a real VictoriaMetrics (2 days of retention) as the target.
 * A bundle inside the retention is uploaded through the file picker, analyzed, imported and
 * verified, and its connection shows up among the recent targets; a bundle older than the
 * retention, given by its path, is refused by the preflight with a suggested shift, imported
 * shifted, and found in VictoriaMetrics at the shifted times; JSON lines sent through a proxy
 * that answers 503 show the retries and the last error, are cancelled, and resume with the
 * credentials typed again. Screenshots go to test-output/gather-wizard/.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ImportJobs } from '../../src/gather/import-jobs.js';
import { ExportManager } from '../../src/gather/jobs.js';
import { ObfuscationSessions } from '../../src/gather/obfuscate.js';
import { startGatherServer, type GatherServer } from '../../src/gather/server.js';
import { openSource, validateSource } from '../../src/gather/source.js';
import { CHROMIUM, CHROMIUM_ARGS, PYTHON3, VICTORIA_METRICS, requirePeer } from '../helpers/peers.js';
import { freePort, stopProcess } from '../helpers/prometheus-peer.js';

const SHOTS = join(process.cwd(), 'test-output', 'gather-wizard');
const SERIES = 50;
const POINTS = 40;
const STEP_MS = 15_000;
const DAY_MS = 86_400_000;

interface Vm {
  readonly url: string;
  readonly dir: string;
  readonly child: ChildProcess;
  log(): string;
}

/** One VictoriaMetrics for the file (2 days of retention), started by the first test that needs it. */
let vmStarted: Promise<Vm> | undefined;
let browserStarted: Promise<Browser> | undefined;
const scratch = mkdtempSync(join(tmpdir(), 'gather-import-wizard-'));

after(async () => {
  if (browserStarted !== undefined) await (await browserStarted.catch(() => undefined))?.close();
  const vm = await vmStarted?.catch(() => undefined);
  if (vm !== undefined) {
    await stopProcess(vm.child);
    rmSync(vm.dir, { recursive: true, force: true });
  }
  rmSync(scratch, { recursive: true, force: true });
});

async function startVm(): Promise<Vm> {
  const dir = mkdtempSync(join(tmpdir(), 'gather-import-wizard-vm-'));
  const port = await freePort();
  const child = spawn(
    VICTORIA_METRICS,
    [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=2d', '-loggerLevel=ERROR', '-search.disableCache', '-search.latencyOffset=0s'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const keep = (c: Buffer): void => void (log = (log + c.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`victoria-metrics exited ${child.exitCode}: ${log}`);
    if (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`victoria-metrics not up: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, dir, child, log: () => log };
}

function vm(): Promise<Vm> {
  vmStarted ??= startVm();
  return vmStarted;
}

function browser(): Promise<Browser> {
  browserStarted ??= chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return browserStarted;
}

/** 50 series × 40 points 15 s apart from `startMs`, in VictoriaMetrics' export format. */
function jsonLines(name: string, startMs: number): string {
  const out: string[] = [];
  for (let i = 0; i < SERIES; i++) {
    const timestamps = Array.from({ length: POINTS }, (_, k) => startMs + k * STEP_MS);
    const values = timestamps.map((_, k) => i * 1000 + k);
    out.push(JSON.stringify({ metric: { __name__: name, i: String(i), job: 'import-wizard' }, values, timestamps }));
  }
  return out.join('\n') + '\n';
}

/** A bundle as gather writes it: metrics.jsonl and metadata.json in a ZIP. */
function makeBundle(file: string, name: string, startMs: number): string {
  const dir = mkdtempSync(join(scratch, 'bundle-'));
  writeFileSync(join(dir, 'metrics.jsonl'), jsonLines(name, startMs));
  const end = startMs + (POINTS - 1) * STEP_MS;
  writeFileSync(
    join(dir, 'metadata.json'),
    JSON.stringify({ tool: 'import-wizard test', timeRange: { start: new Date(startMs).toISOString(), end: new Date(end).toISOString() }, seriesCount: SERIES, samplesCount: SERIES * POINTS, obfuscated: false }, null, 2),
  );
  const zip = join(scratch, file);
  if (existsSync('/usr/bin/zip')) execFileSync('/usr/bin/zip', ['-q', '-j', zip, join(dir, 'metrics.jsonl'), join(dir, 'metadata.json')]);
  else
    execFileSync(PYTHON3, [
      '-c',
      'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n  for p, n in ((sys.argv[2], "metrics.jsonl"), (sys.argv[3], "metadata.json")): z.write(p, n)',
      zip,
      join(dir, 'metrics.jsonl'),
      join(dir, 'metadata.json'),
    ]);
  return zip;
}

/** A wizard server with its own data folder (imports, profiles). */
async function startWizard(label: string): Promise<{ server: GatherServer; imports: ImportJobs; dataDir: string; close(): Promise<void> }> {
  const root = mkdtempSync(join(scratch, `${label}-`));
  const sessions = new ObfuscationSessions();
  const jobs = new ExportManager({ stagingDir: join(root, 'staging'), outputDir: join(root, 'out'), openSource: (c) => openSource(c), sessions });
  await jobs.open();
  const imports = new ImportJobs(join(root, 'data'));
  const server = await startGatherServer({
    listen: '127.0.0.1:0',
    nextFreePort: false,
    outputDir: join(root, 'out'),
    jobs,
    sessions,
    openSource: (c) => openSource(c),
    validate: validateSource,
    imports,
  });
  return {
    server,
    imports,
    dataDir: join(root, 'data'),
    close: async () => {
      await server.close();
      await imports.close();
      await jobs.close();
    },
  };
}

async function query(url: string, q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  await fetch(`${url}/internal/force_flush`);
  const r = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: q, nocache: '1' })}`);
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
}

/** The number an instant query answers with one series (0 when it answers none). */
async function scalar(url: string, q: string): Promise<number> {
  const res = await query(url, q);
  return res.length === 0 ? 0 : Number(res[0].value[1]);
}

async function openPage(b: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await (await b.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // a refused request is logged by the browser as well; the tests make one on purpose
    if (m.type() === 'error' && !/^Failed to load resource: .* status of 400/.test(m.text())) errors.push(m.text());
  });
  await page.goto(url);
  return { page, errors };
}

test('the Import tab: a bundle uploaded from the browser is analyzed, imported into VictoriaMetrics and verified; its target becomes a recent one', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  mkdirSync(SHOTS, { recursive: true });
  const target = await vm();
  const startMs = Math.floor((Date.now() - DAY_MS) / 60_000) * 60_000;
  const bundle = makeBundle('recent.zip', 'imp_test', startMs);
  const wizard = await startWizard('recent');
  const b = await browser();
  const { page, errors } = await openPage(b, wizard.server.url);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  try {
    // the Export flow is where the page opens; the Import tab is one click away
    assert.equal(await page.getByRole('tab', { name: 'Export' }).getAttribute('aria-selected'), 'true');
    assert.ok(await page.getByLabel('Source URL').isVisible());
    await page.getByRole('tab', { name: 'Import' }).click();
    assert.equal(await page.getByRole('tab', { name: 'Import' }).getAttribute('aria-selected'), 'true');
    assert.ok(!(await page.getByLabel('Source URL').isVisible()), 'the Export steps are out of sight');
    assert.ok(!(await page.locator('#imp-recent').isVisible()), 'no recent target on a fresh data folder');

    // nothing chosen: said next to the fields
    await page.getByRole('button', { name: 'Analyze', exact: true }).click();
    await page.locator('#imp-url-error').filter({ hasText: 'Enter the URL of the target' }).waitFor();
    await page.locator('#imp-file-error').filter({ hasText: 'Choose the file to import.' }).waitFor();

    // the bundle, uploaded as soon as it is picked
    await page.getByLabel('Bundle (.zip) or JSON lines (.jsonl, .jsonl.gz)').setInputFiles(bundle);
    await page.locator('#imp-upload-state').filter({ hasText: /^Uploaded recent\.zip \(\d/ }).waitFor();
    assert.equal(await page.getByLabel('Upload progress').getAttribute('value'), '1');
    // a scheme the API refuses: its error sits next to the URL
    await page.getByLabel('Target URL', { exact: true }).fill('ftp://vm.example/');
    await page.getByRole('button', { name: 'Analyze', exact: true }).click();
    await page.locator('#imp-url-error').filter({ hasText: /scheme ftp is not supported/ }).waitFor();
    assert.equal(await page.getByLabel('Target URL', { exact: true }).getAttribute('aria-invalid'), 'true');

    await page.getByLabel('Target URL', { exact: true }).fill(target.url);
    await page.getByRole('button', { name: 'Analyze', exact: true }).click();
    await page.locator('#imp-preflight').waitFor();
    assert.equal(await page.locator('#imp-f-series').innerText(), '50');
    assert.equal(await page.locator('#imp-f-samples').innerText(), '2,000');
    assert.equal(await page.locator('#imp-f-lines').innerText(), '50');
    assert.equal(await page.locator('#imp-f-too-old').innerText(), '0');
    assert.equal(await page.locator('#imp-f-inside').innerText(), '2,000');
    assert.match(await page.locator('#imp-f-flavour').innerText(), /^VictoriaMetrics single node/);
    assert.match(await page.locator('#imp-f-retention').innerText(), /^2 d \(-retentionPeriod=2d\)$/);
    assert.match(await page.locator('#imp-f-input').innerText(), /^recent\.zip:metrics\.jsonl \(bundle, /);
    assert.match(await page.locator('#imp-f-metadata').innerText(), /tool: import-wizard test/);
    assert.match(await page.locator('#imp-f-target').innerText(), new RegExp(`^${target.url.replace(/[.]/g, '\\.')}/api/v1/import`));
    await page.locator('#imp-no-problem').waitFor();
    assert.ok(!(await page.locator('#imp-outside').isVisible()), 'no choice about samples outside when there are none');
    assert.ok(await page.getByLabel('Verify after the import (count what arrived with the target\'s query API)').isChecked(), 'verification on by default');
    await shot('import-01-preflight');

    await page.getByRole('button', { name: 'Start import' }).click();
    await page.locator('#imp-state').filter({ hasText: 'Import complete.' }).waitFor({ timeout: 60_000 });
    const verification = page.locator('#imp-verification');
    assert.match(await verification.innerText(), /^Verified: series 50 of 50, samples 2000 of 2000: complete$/);
    assert.equal(await verification.getAttribute('class'), 'success');
    assert.equal(await page.getByLabel('Import progress').getAttribute('aria-valuetext'), '100%');
    assert.match(await page.locator('#imp-samples').innerText(), /^2,000 of 2,000$/);
    assert.equal(await page.locator('#imp-series').innerText(), '50');
    assert.match(await page.locator('#imp-stage-times').innerText(), /Importing\s+[\d.]+ s[\s\S]*Verifying\s+[\d.]+ s[\s\S]*Total/);
    assert.ok(await page.getByRole('button', { name: 'Start import' }).isDisabled(), 'the same import is not offered twice');
    assert.ok(!(await page.getByRole('button', { name: 'Cancel import' }).isVisible()));
    await shot('import-02-completed');

    // VictoriaMetrics holds every series and sample
    assert.equal(await scalar(target.url, 'count(count_over_time(imp_test[2d]))'), SERIES);
    assert.equal(await scalar(target.url, 'sum(count_over_time(imp_test[2d]))'), SERIES * POINTS);

    // the target is a recent one now; a click fills the form again (without secrets)
    const recent = page.getByRole('button', { name: `Use ${target.url}` });
    await recent.waitFor();
    assert.match(await page.locator('#imp-recent').innerText(), /no auth/);
    await page.reload();
    await page.getByRole('tab', { name: 'Import' }).click();
    assert.equal(await page.getByLabel('Target URL', { exact: true }).inputValue(), '');
    await page.getByRole('button', { name: `Use ${target.url}` }).click();
    assert.equal(await page.getByLabel('Target URL', { exact: true }).inputValue(), target.url);
    assert.equal(await page.getByLabel('Target authentication').inputValue(), 'none');
    await shot('import-03-recent');
    assert.deepEqual(errors, [], 'no script error on the page');
  } finally {
    await page.context().close();
    await wizard.close();
  }
});

test('the Import tab: a bundle older than the retention, by its path, is imported shifted by the suggested offset', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  mkdirSync(SHOTS, { recursive: true });
  const target = await vm();
  const startMs = Math.floor((Date.now() - 5 * DAY_MS) / 60_000) * 60_000;
  const bundle = makeBundle('old.zip', 'imp_old', startMs);
  const wizard = await startWizard('old');
  const b = await browser();
  const { page, errors } = await openPage(b, new URL('/#import', wizard.server.url).href);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  try {
    // opened on the Import tab by its address
    assert.equal(await page.getByRole('tab', { name: 'Import' }).getAttribute('aria-selected'), 'true');
    await page.getByLabel('A file on the machine Tributary runs on').check();
    assert.ok(!(await page.getByLabel('Bundle (.zip) or JSON lines (.jsonl, .jsonl.gz)').isVisible()));
    await page.getByLabel('File path on this machine (where Tributary runs)').fill(join(scratch, 'missing.zip'));
    await page.getByLabel('Target URL', { exact: true }).fill(target.url);
    await page.getByRole('button', { name: 'Analyze', exact: true }).click();
    await page.locator('#imp-analyze-error').filter({ hasText: /^Could not analyze: .*missing\.zip: no such file/ }).waitFor();

    await page.getByLabel('File path on this machine (where Tributary runs)').fill(bundle);
    await page.getByRole('button', { name: 'Analyze', exact: true }).click();
    await page.locator('#imp-preflight').waitFor();
    assert.equal(await page.locator('#imp-f-series').innerText(), '50');
    assert.equal(await page.locator('#imp-f-samples').innerText(), '2,000');
    assert.equal(await page.locator('#imp-f-too-old').innerText(), '2,000');
    assert.equal(await page.locator('#imp-f-inside').innerText(), '0');
    // the problem, prominently, and the offset that fits
    const problems = page.locator('#imp-problem-list');
    assert.equal(await problems.getAttribute('role'), 'alert');
    assert.match(await problems.innerText(), /2000 of 2000 samples are older than the target's retention \(-retentionPeriod=2d/);
    const shiftText = await page.locator('#imp-f-shift').innerText();
    const m = /^(\+\d d(?: \d+ h)?(?: \d+ min)?) \(([\d,]+) s\)$/.exec(shiftText);
    assert.ok(m !== null, `suggested shift shown in days and hours: ${shiftText}`);
    const shiftSeconds = Number(m[2].replace(/,/g, ''));
    assert.equal(shiftSeconds % 60, 0);
    assert.ok(shiftSeconds > 4 * 86_400 && shiftSeconds <= 5 * 86_400, `${shiftSeconds} s`);
    assert.ok(await page.locator('#imp-outside').isVisible());
    assert.match(await page.locator('#imp-outside-shift-label').innerText(), new RegExp(`^Shift by the suggested offset, \\${m[1]} \\(`));
    await shot('import-04-outside');

    // no choice made: the import is not started
    await page.getByRole('button', { name: 'Start import' }).click();
    await page.locator('#imp-start-error').filter({ hasText: 'Choose what to do with the 2,000 samples outside what the target keeps.' }).waitFor();
    await page.getByLabel(/^Shift by the suggested offset/).check();
    await page.getByRole('button', { name: 'Start import' }).click();
    await page.locator('#imp-state').filter({ hasText: 'Import complete.' }).waitFor({ timeout: 60_000 });
    assert.match(await page.locator('#imp-verification').innerText(), /^Verified: series 50 of 50, samples 2000 of 2000: complete$/);
    await shot('import-05-shifted');

    // in VictoriaMetrics at the shifted times: within the last hours, each timestamp moved by the offset
    assert.equal(await scalar(target.url, 'count(count_over_time(imp_old[6h]))'), SERIES);
    assert.equal(await scalar(target.url, 'sum(count_over_time(imp_old[6h]))'), SERIES * POINTS);
    await fetch(`${target.url}/internal/force_flush`);
    const r = await fetch(`${target.url}/api/v1/export?${new URLSearchParams({ 'match[]': 'imp_old{i="7"}', start: String((startMs - DAY_MS) / 1000) })}`);
    const lines = (await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { values: number[]; timestamps: number[] });
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0].timestamps, Array.from({ length: POINTS }, (_, k) => startMs + k * STEP_MS + shiftSeconds * 1000));
    assert.deepEqual(lines[0].values, Array.from({ length: POINTS }, (_, k) => 7000 + k));
    assert.deepEqual(errors, [], 'no script error on the page');
  } finally {
    await page.context().close();
    await wizard.close();
  }
});

/** Forwards to `target`; while `failing`, answers every import request 503. Keeps the Authorization of the last import request. */
async function startFlakyProxy(target: string): Promise<{ url: string; failing: boolean; refused: number; lastAuth?: string; close(): Promise<void> }> {
  const state = {
    url: '',
    failing: true,
    refused: 0,
    lastAuth: undefined as string | undefined,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/import')) {
      state.lastAuth = req.headers.authorization;
      if (state.failing) {
        state.refused++;
        req.resume();
        req.on('end', () => {
          res.writeHead(503, { 'Content-Type': 'text/plain' });
          res.end('storage is busy, try later');
        });
        return;
      }
    }
    const up = httpRequest(target + (req.url ?? '/'), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => {
      res.writeHead(502);
      res.end(err.message);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

test('the Import tab: retries shown with the last error, cancelled, resumed with the credentials typed again; the recent target keeps no secret', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  if (!requirePeer(t, VICTORIA_METRICS, 'victoria-metrics')) return;
  mkdirSync(SHOTS, { recursive: true });
  const target = await vm();
  const proxy = await startFlakyProxy(target.url);
  const startMs = Math.floor((Date.now() - DAY_MS) / 60_000) * 60_000 + 30 * 60_000;
  const file = join(scratch, 'retry.jsonl');
  writeFileSync(file, jsonLines('imp_retry', startMs));
  const password = 'import-pw-5521';
  const wizard = await startWizard('retry');
  const b = await browser();
  const { page, errors } = await openPage(b, wizard.server.url);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  try {
    await page.getByRole('tab', { name: 'Import' }).click();
    await page.getByLabel('Bundle (.zip) or JSON lines (.jsonl, .jsonl.gz)').setInputFiles(file);
    await page.getByLabel('Target URL', { exact: true }).fill(proxy.url);
    await page.getByLabel('Target authentication').selectOption('basic');
    await page.getByLabel('Target username').fill('ops');
    await page.getByLabel('Target password').fill(password);
    await page.getByRole('button', { name: 'Analyze', exact: true }).click();
    await page.locator('#imp-preflight').waitFor();
    assert.match(await page.locator('#imp-f-input').innerText(), /^retry\.jsonl \(JSON lines, /);
    assert.equal(await page.locator('#imp-f-samples').innerText(), '2,000');

    await page.getByRole('button', { name: 'Start import' }).click();
    await page.locator('#imp-last-error').filter({ hasText: /503/ }).waitFor({ timeout: 20_000 });
    await page.locator('#imp-retries').filter({ hasText: /^[1-9]/ }).waitFor();
    assert.match(await page.locator('#imp-state').innerText(), /^Importing…/);
    assert.ok(await page.getByRole('button', { name: 'Cancel import' }).isVisible());
    await shot('import-06-retrying');

    await page.getByRole('button', { name: 'Cancel import' }).click();
    await page.locator('#imp-state').filter({ hasText: 'The import was canceled.' }).waitFor();
    assert.ok(!(await page.locator('#imp-last-error').isVisible()), 'no retrying once stopped');
    assert.ok(await page.getByRole('button', { name: 'Analyze', exact: true }).isEnabled());
    await shot('import-07-canceled');

    // the target is back; the resume sends the connection (and its password) again
    proxy.failing = false;
    proxy.lastAuth = undefined;
    await page.getByRole('button', { name: 'Resume import' }).click();
    await page.locator('#imp-state').filter({ hasText: 'Import complete.' }).waitFor({ timeout: 60_000 });
    assert.match(await page.locator('#imp-verification').innerText(), /^Verified: series 50 of 50, samples 2000 of 2000: complete$/);
    assert.equal(proxy.lastAuth, `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`);
    assert.ok(proxy.refused > 0);
    assert.equal(await scalar(target.url, 'sum(count_over_time(imp_retry[2d]))'), SERIES * POINTS, 'every sample once');

    // the recent target: user name kept, password not (neither on disk nor in the form)
    await page.getByRole('button', { name: `Use ${proxy.url}` }).waitFor();
    assert.match(await page.locator('#imp-recent').innerText(), /basic auth as ops/);
    assert.ok(!readFileSync(join(wizard.dataDir, 'import-profiles.json'), 'utf8').includes(password), 'no password in the profiles');
    await page.getByLabel('Target password').fill('');
    await page.getByLabel('Target authentication').selectOption('none');
    await page.getByLabel('Target URL', { exact: true }).fill('');
    await page.getByRole('button', { name: `Use ${proxy.url}` }).click();
    assert.equal(await page.getByLabel('Target URL', { exact: true }).inputValue(), proxy.url);
    assert.equal(await page.getByLabel('Target authentication').inputValue(), 'basic');
    assert.equal(await page.getByLabel('Target username').inputValue(), 'ops');
    assert.equal(await page.getByLabel('Target password').inputValue(), '');
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'imp-password', 'the password is asked for next');
    assert.equal(await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })'), '{}{}', 'nothing kept in the browser');
    assert.deepEqual(errors, [], 'no script error on the page');
  } finally {
    await page.context().close();
    await wizard.close();
    await proxy.close();
  }
});
