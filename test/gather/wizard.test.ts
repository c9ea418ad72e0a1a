/**
 * The gather wizard as a person uses it: real Chromium (Playwright) on the wizard's page, the
 * real API, the real source (source.ts) against a real VictoriaMetrics filled with the known
 * dataset, and the real export jobs writing a real bundle. Every step is driven by role and
 * label with the mouse (clicks and ticks; text only where there is text to type), checked for
 * what it shows, and photographed into test-output/gather-wizard/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { ExportManager } from '../../src/gather/jobs.js';
import { ObfuscationSessions } from '../../src/gather/obfuscate.js';
import { startGatherServer } from '../../src/gather/server.js';
import { openSource, validateSource } from '../../src/gather/source.js';
import type { ConnectionConfig } from '../../src/gather/types.js';
import { Logger } from '../../src/log/logger.js';
import { gatherPeersMissing, makeDataset, startVictoriaMetrics, type RunningPeer } from '../helpers/gather-peers.js';
import { CHROMIUM, CHROMIUM_ARGS, requirePeer } from '../helpers/peers.js';
import { ApiFakeSource, okValidate } from './api-fakes.js';
import { unzipBundle } from './unzip.js';

const SHOTS = join(process.cwd(), 'test-output', 'gather-wizard');

test('the wizard, end to end in Chromium: connect, discover, choose, preview, obfuscate, export, download', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  const missing = gatherPeersMissing();
  if (missing !== undefined) return t.skip(missing);
  mkdirSync(SHOTS, { recursive: true });
  const dataset = makeDataset({ hours: 2 });
  const vm: RunningPeer = await startVictoriaMetrics(dataset);
  const root = mkdtempSync(join(tmpdir(), 'gather-wizard-'));
  const logs: string[] = [];
  const log = new Logger('debug', 'logfmt', { write: (l) => void logs.push(l) });
  const sessions = new ObfuscationSessions();
  const jobs = new ExportManager({ stagingDir: join(root, 'staging'), outputDir: join(root, 'out'), openSource: (c) => openSource(c), sessions, log });
  await jobs.open();
  const server = await startGatherServer({
    listen: '127.0.0.1:0',
    nextFreePort: false,
    outputDir: join(root, 'out'),
    jobs,
    sessions,
    openSource: (c) => openSource(c),
    validate: validateSource,
    log,
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  try {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // a refused request is logged by the browser as well; the test makes one on purpose
      if (m.type() === 'error' && !/^Failed to load resource: .* status of 400/.test(m.text())) pageErrors.push(m.text());
    });
    await page.goto(server.url);
    assert.equal(await page.title(), 'Gather · Tributary');

    // 1. connect: first a URL that does not answer — every attempt and a hint, in words
    await page.getByLabel('Source URL').fill('http://127.0.0.1:9/');
    await page.getByRole('button', { name: 'Test connection' }).click();
    const problem = page.locator('#validate-problem');
    await problem.waitFor();
    assert.match(await problem.innerText(), /Could not connect/);
    assert.ok((await problem.locator('tbody tr').count()) >= 1, 'the attempts are listed');
    assert.ok(await page.getByRole('button', { name: 'Next: discover' }).isDisabled(), 'no way on without a working connection');
    await shot(page, '01-connect-failed');
    // then a scheme the API refuses: the error sits next to the field
    await page.getByLabel('Source URL').fill('ftp://vm.example/');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.locator('#url-error').filter({ hasText: /scheme ftp is not supported/ }).waitFor();
    assert.equal(await page.getByLabel('Source URL').getAttribute('aria-invalid'), 'true');
    // the real one
    await page.getByLabel('Source URL').fill(vm.url);
    await page.getByRole('button', { name: 'Test connection' }).click();
    const ok = page.locator('#validate-ok');
    await ok.waitFor();
    assert.match(await ok.innerText(), /Connected: VictoriaMetrics single node (v?\d+\.\d+|\(version unknown\))/);
    assert.match(await ok.innerText(), new RegExp(`API base: ${vm.url.replace(/[.]/g, '\\.')}`));
    await shot(page, '01-connect');

    // 2. discover over the last 6 hours
    await page.getByRole('button', { name: 'Next: discover' }).click();
    assert.ok(!(await page.getByLabel('From (UTC)').isVisible()), 'the custom range is shown only when chosen');
    assert.ok(!(await page.getByLabel('Selector or query').isVisible()), 'the selector field is shown only in selector mode');
    await page.getByLabel('Last 6 hours').check();
    await page.getByRole('button', { name: 'Discover', exact: true }).click();
    const summary = page.locator('#discover-summary');
    await summary.waitFor();
    const componentsTable = await page.locator('#components-table').innerText();
    for (const c of ['vmstorage', 'vmselect', 'vmagent', 'unknown']) assert.match(componentsTable, new RegExp(`\\b${c}\\b`), `component ${c} listed`);
    assert.match(await summary.innerText(), new RegExp(`${dataset.jobs.length} job\\(s\\) and about ${dataset.series.length.toLocaleString('en-US')} series`));
    await shot(page, '02-discover');

    // 3. choose: everything but the vmagent job; a custom batch window of 15 minutes
    await page.getByRole('button', { name: 'Next: choose' }).click();
    for (const j of dataset.jobs) assert.ok(await page.getByLabel(`Job ${j.job}`, { exact: true }).isChecked(), `job ${j.job} ticked by default`);
    await page.getByLabel('Job vmagent-k8s', { exact: true }).uncheck();
    assert.ok(!(await page.getByLabel('Component vmagent', { exact: true }).isChecked()), 'its component follows');
    await page.getByLabel('Custom', { exact: true }).check();
    await page.getByLabel('Batch window (seconds, 30 – 86400)').fill('900');
    await shot(page, '03-choose');
    const chosen = dataset.jobs.filter((j) => j.job !== 'vmagent-k8s');

    // 4. preview: obfuscated by default, no original host or job in sight
    await page.getByRole('button', { name: 'Next: preview' }).click();
    const preview = page.locator('#preview-result table.preview');
    await preview.waitFor();
    const previewText = await page.locator('#preview-result').innerText();
    assert.match(previewText, /Obfuscated/);
    assert.match(previewText, /instance=777\.777\.\d+\.\d+:\d+/);
    assert.match(previewText, /job=[a-z]+-job-\d+/);
    for (const h of dataset.hosts) assert.ok(!previewText.includes(h), `host ${h} not shown`);
    const previewJobs = (await previewRows(page, '#preview-result')).flatMap((r) => r.labels.filter((l) => l.startsWith('job=')).map((l) => l.slice(4)));
    assert.ok(previewJobs.length > 0);
    for (const j of dataset.jobs) assert.ok(!previewJobs.includes(j.job), `job ${j.job} not shown`);
    await shot(page, '04-preview');

    // 5. obfuscate: the preview's label names listed; datacenter and pod chosen; the preview follows
    await page.getByRole('button', { name: 'Next: obfuscate' }).click();
    await page.locator('#obf-preview table.preview').waitFor();
    await page.getByLabel('Obfuscate datacenter', { exact: true }).check();
    await page.getByLabel('Obfuscate pod', { exact: true }).check();
    await page.getByRole('button', { name: 'Apply and refresh preview' }).click();
    await page.locator('#obf-busy').waitFor({ state: 'hidden' });
    await page.locator('#obf-preview').filter({ hasText: /datacenter=datacenter-\d+/ }).waitFor();
    const obfText = await page.locator('#obf-preview').innerText();
    for (const [label, values] of Object.entries(dataset.labels)) {
      for (const v of values) assert.ok(!obfText.includes(`${label}=${v}`), `${label}=${v} not shown`);
    }
    // what the preview shows, to find in the bundle
    const shown = await previewRows(page, '#obf-preview');
    assert.ok(shown.length > 0);
    await shot(page, '05-obfuscate');

    // 6. export
    await page.getByRole('button', { name: 'Next: export' }).click();
    const facts = await page.locator('#export-summary').innerText();
    assert.match(facts, /Selection\s+3 job\(s\)/);
    assert.match(facts, /Batch window\s+900 s/);
    assert.match(facts, /Obfuscation\s+instance, job, datacenter, pod/);
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.locator('#export-state').filter({ hasText: /Export complete\./ }).waitFor({ timeout: 120_000 });
    const batches = await page.locator('#export-batches').innerText();
    const m = /^(\d+) \/ (\d+)$/.exec(batches);
    assert.ok(m !== null && m[1] === m[2] && Number(m[2]) >= 8, `batches ${batches}`);
    assert.equal(await page.getByLabel('Export progress').getAttribute('aria-valuetext'), '100%');
    assert.match(await page.locator('#export-avg').innerText(), /\d s$/);
    await shot(page, '06-export');

    // 7. download: the file's SHA-256 is the one shown
    await page.getByRole('button', { name: 'Next: download' }).click();
    const sha = (await page.locator('#download-sha256').innerText()).trim();
    assert.match(sha, /^[0-9a-f]{64}$/);
    await shot(page, '07-download');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /^Download / }).click()]);
    const saved = join(root, 'downloaded.zip');
    await download.saveAs(saved);
    assert.equal(createHash('sha256').update(readFileSync(saved)).digest('hex'), sha);

    const bundle = unzipBundle(saved);
    const lines = bundle.metrics.split('\n').filter(Boolean);
    const metrics = lines.map((l) => (JSON.parse(l.replace(/"values":\[[^\]]*\]/, '"values":[]')) as { metric: Record<string, string> }).metric);
    const seriesKeys = new Set(metrics.map((x) => JSON.stringify(Object.entries(x).sort())));
    assert.equal(seriesKeys.size, chosen.reduce((n, j) => n + j.series, 0), 'every series of the chosen jobs, once');
    for (const h of dataset.hosts) assert.ok(!bundle.metrics.includes(h), `host ${h} not in the bundle`);
    for (const j of dataset.jobs) assert.ok(!bundle.metrics.includes(`"${j.job}"`), `job ${j.job} not in the bundle`);
    for (const [label, values] of Object.entries(dataset.labels)) for (const v of values) assert.ok(!bundle.metrics.includes(`"${v}"`), `${label} value ${v} not in the bundle`);
    // the same stand-ins in the preview and the bundle
    const bundleSets = new Set(metrics.map((x) => [x.__name__, ...Object.entries(x).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}=${v}`).sort()].join('|')));
    for (const row of shown) assert.ok(bundleSets.has([row.name, ...row.labels.sort()].join('|')), `previewed ${row.name}{${row.labels.join(',')}} is in the bundle as shown`);
    assert.equal(bundle.metadata.obfuscated, true);
    assert.deepEqual(pageErrors, [], 'no script error on the page');
  } finally {
    await browser.close();
    await server.close();
    await jobs.close();
    await vm.stop();
  }
});

/** The preview table's rows: metric name and `name=value` chips. */
function previewRows(page: Page, container: string): Promise<{ name: string; labels: string[] }[]> {
  return page.locator(`${container} tbody tr`).evaluateAll((rows) =>
    rows.map((r) => {
      const cells = r.querySelectorAll('td');
      const labels = [...cells[1].querySelectorAll('.chip')].map((c) => c.textContent ?? '');
      return { name: cells[0].textContent ?? '', labels };
    }),
  );
}

test('the wizard shows an export at work (progress, time left), cancels it, resumes it, and after a restart asks for the credentials again', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  mkdirSync(SHOTS, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'gather-wizard-resume-'));
  const dirs = { stagingDir: join(root, 'staging'), outputDir: join(root, 'out') };
  const password = 'wizard-pw-7731';
  const connections: ConnectionConfig[] = [];
  const openFake = async (c: ConnectionConfig) => {
    connections.push(c);
    return new ApiFakeSource({ delayMs: 250 });
  };
  const start = async () => {
    const sessions = new ObfuscationSessions();
    const jobs = new ExportManager({ ...dirs, openSource: openFake, sessions });
    await jobs.open();
    const server = await startGatherServer({ listen: '127.0.0.1:0', nextFreePort: false, outputDir: dirs.outputDir, jobs, sessions, openSource: openFake, validate: okValidate });
    return { jobs, server, close: async () => (await server.close(), await jobs.close()) };
  };
  let running = await start();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  try {
    const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    await page.goto(running.server.url);
    const connect = async () => {
      await page.getByLabel('Source URL').fill('http://vm.example:8428');
      await page.getByLabel('Authentication').selectOption('basic');
      await page.getByLabel('Username').fill('ops');
      await page.getByLabel('Password').fill(password);
    };
    await connect();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.locator('#validate-ok').waitFor();
    await page.getByRole('button', { name: 'Next: discover' }).click();
    await page.getByLabel('Custom range').check();
    await page.getByLabel('From (UTC)').fill('2026-01-01T00:00');
    await page.getByLabel('To (UTC)').fill('2026-01-01T00:10');
    await page.getByRole('button', { name: 'Discover', exact: true }).click();
    await page.locator('#components-table').waitFor();
    await page.getByRole('button', { name: 'Next: choose' }).click();
    await page.getByLabel('Custom', { exact: true }).check();
    await page.getByLabel('Batch window (seconds, 30 – 86400)').fill('30');
    await page.getByRole('button', { name: 'Next: preview' }).click();
    await page.locator('#preview-result table.preview').waitFor();
    await page.getByRole('button', { name: 'Next: obfuscate' }).click();
    await page.getByRole('button', { name: 'Next: export' }).click();
    await page.getByRole('button', { name: 'Start export' }).click();

    // at work: the bar moves, batches, samples, time left and the current range are shown
    await page.locator('#export-eta').filter({ hasText: /^about \d/ }).waitFor();
    assert.match(await page.locator('#export-state').innerText(), /^Exporting… \d+%$/);
    assert.match(await page.locator('#export-batches').innerText(), /^\d+ \/ 20$/);
    assert.match(await page.locator('#export-range').innerText(), /^2026-01-01 00:\d\d:\d\d UTC → 2026-01-01 00:\d\d:\d\d UTC$/);
    assert.ok(Number(await page.getByLabel('Export progress').getAttribute('value')) > 0);
    await shot(page, '06-export-running');

    await page.getByRole('button', { name: 'Cancel export' }).click();
    await page.locator('#export-state').filter({ hasText: 'The export was canceled.' }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Resume export' }).isVisible());
    await shot(page, '06-export-canceled');
    await page.getByRole('button', { name: 'Resume export' }).click();
    await page.locator('#export-state').filter({ hasText: /^Exporting…/ }).waitFor();

    // Tributary restarts mid-export: the page is opened again on the new server
    await new Promise((r) => setTimeout(r, 600));
    await running.close();
    running = await start();
    await page.goto(running.server.url);
    await page.getByRole('button', { name: '6. Export' }).click();
    const unfinished = page.locator('#unfinished');
    await unfinished.filter({ hasText: /interrupted, \d+ of 20 batches \(needs the connection again\)/ }).waitFor();
    const resume = unfinished.getByRole('button', { name: /^Resume export [0-9a-f]{16}$/ });
    await resume.click();
    await page.locator('#export-error').filter({ hasText: /give the connection again \(step 1: Connect\)/ }).waitFor();
    await shot(page, '06-export-needs-credentials');
    await page.getByRole('button', { name: '1. Connect' }).click();
    await connect();
    await page.getByRole('button', { name: '6. Export' }).click();
    await resume.click();
    await page.locator('#export-state').filter({ hasText: 'Export complete.' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#export-batches').innerText(), '20 / 20');
    assert.equal(await page.locator('#export-samples').innerText(), '140', 'every sample once across cancel, resume and restart');
    assert.deepEqual(connections.at(-1)?.auth, { type: 'basic', username: 'ops', password }, 'the resume ran with the credentials given again');
    await page.getByRole('button', { name: 'Next: download' }).click();
    const sha = (await page.locator('#download-sha256').innerText()).trim();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /^Download / }).click()]);
    const saved = join(root, 'resumed.zip');
    await download.saveAs(saved);
    assert.equal(createHash('sha256').update(readFileSync(saved)).digest('hex'), sha);
    assert.equal(unzipBundle(saved).metrics.split('\n').filter(Boolean).length > 0, true);
  } finally {
    await browser.close();
    await running.close();
  }
});

test('the wizard with a series selector and obfuscation turned off: the preview and the bundle hold the series as they are, less the dropped label', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  mkdirSync(SHOTS, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'gather-wizard-selector-'));
  const openFake = async () => new ApiFakeSource();
  const sessions = new ObfuscationSessions();
  const jobs = new ExportManager({ stagingDir: join(root, 'staging'), outputDir: join(root, 'out'), openSource: openFake, sessions });
  await jobs.open();
  const server = await startGatherServer({ listen: '127.0.0.1:0', nextFreePort: false, outputDir: join(root, 'out'), jobs, sessions, openSource: openFake, validate: okValidate });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    await page.goto(server.url);
    await page.getByLabel('Source URL').fill('http://vm.example:8428');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByRole('button', { name: 'Next: discover' }).click();
    await page.getByLabel('Custom range').check();
    await page.getByLabel('From (UTC)').fill('2026-01-01T00:00');
    await page.getByLabel('To (UTC)').fill('2026-01-01T00:05');
    await page.getByLabel('Series selector').check();
    await page.getByLabel('Selector or query').fill('{job="node"}');
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.locator('#discover-summary').filter({ hasText: 'Valid: matches about 1 series in the range.' }).waitFor();
    await page.screenshot({ path: join(SHOTS, '02-discover-selector.png'), fullPage: true });
    await page.getByRole('button', { name: 'Next: choose' }).click();
    assert.equal(await page.locator('#choose-list').innerText(), 'Series selector: {job="node"}');
    await page.getByRole('button', { name: 'Next: preview' }).click();
    await page.locator('#preview-result').filter({ hasText: /^Obfuscated 1 series shown\./ }).waitFor();
    await page.getByRole('button', { name: 'Next: obfuscate' }).click();
    await page.getByLabel('Obfuscate identifying labels').uncheck();
    assert.ok(await page.getByLabel('Obfuscate datacenter', { exact: true }).isDisabled(), 'labels cannot be obfuscated with obfuscation off');
    await page.getByLabel('Drop datacenter', { exact: true }).check();
    // the preview follows by itself
    await page.locator('#obf-preview').filter({ hasText: /^Not obfuscated 1 series shown\./ }).waitFor();
    await page.locator('#obf-preview').filter({ hasNotText: 'datacenter=' }).waitFor();
    const shown = await page.locator('#obf-preview tbody').innerText();
    assert.match(shown, /instance=db-1\.corp\.example:9100/);
    assert.match(shown, /job=node/);
    await page.getByRole('button', { name: 'Next: export' }).click();
    assert.match(await page.locator('#export-summary').innerText(), /Obfuscation\s+off\s+Dropped labels\s+datacenter/);
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.locator('#export-state').filter({ hasText: 'Export complete.' }).waitFor();
    await page.getByRole('button', { name: 'Next: download' }).click();
    assert.equal(await page.locator('#download-obfuscated').innerText(), 'no');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /^Download / }).click()]);
    const saved = join(root, 'plain.zip');
    await download.saveAs(saved);
    const bundle = unzipBundle(saved);
    const lines = bundle.metrics.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { metric: Record<string, string>; values: number[] });
    // one line per 30 s batch (the automatic window of a 5-minute range), all of the one series
    assert.deepEqual([...new Set(lines.map((l) => JSON.stringify(l.metric)))], [JSON.stringify({ __name__: 'node_load1', instance: 'db-1.corp.example:9100', job: 'node' })]);
    assert.equal(lines.reduce((n, l) => n + l.values.length, 0), 10);
    assert.equal(bundle.metadata.obfuscated, false);
  } finally {
    await browser.close();
    await server.close();
    await jobs.close();
  }
});
