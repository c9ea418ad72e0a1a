/**
 * The web pages as a person sees them: real Chromium driven by Playwright against a real
 * Tributary (or a server with the pages under test) on a real socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startRuntime } from '../src/runtime/runtime.js';
import { silentLogger } from '../src/log/logger.js';
import { Labels } from '../src/model/labels.js';
import { registerRelabelDebugPages } from '../src/relabel/debugger/index.js';
import { registerScrapePages } from '../src/scrape/pages/index.js';
import type { ActiveTargetStatus, ScrapePoolStatus } from '../src/scrape/status.js';
import type { HttpServer } from '../src/server/index.js';
import type { PageRegistry } from '../src/ui/index.js';
import { withPageServer } from './page-server.js';
import { CHROMIUM, CHROMIUM_ARGS as LAUNCH_ARGS, requirePeer } from './peers.js';
import { tempDataDir } from './fixtures.js';


test('the index page shows what runs and links to every page; the links work', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  const runtime = await startRuntime({ listen: '127.0.0.1:0', logger: silentLogger, dataDir: tempDataDir() });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  try {
    const page = await browser.newPage();
    const base = `http://${runtime.address}`;
    const response = await page.goto(base + '/');
    assert.equal(response?.status(), 200);
    assert.match(await page.title(), /Tributary/);
    const text = await page.locator('body').innerText();
    assert.match(text, /embedded defaults/, 'no config file: the page says so');
    assert.ok(text.includes(runtime.address), 'the listen address is shown');
    assert.match(text, /\d+\.\d+\.\d+/, 'the version is shown');
    // every endpoint is linked, and following the link reaches a live page
    const hrefs = await page.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const path of ['/metrics', '/health', '/ready']) assert.ok(hrefs.includes(path), `link to ${path}`);
    await page.click('a[href="/metrics"]');
    await page.waitForURL(base + '/metrics');
    assert.match(await page.locator('body').innerText(), /process_resident_memory_bytes\{exporter_name="tributary"\} \d+/);
    if (process.env.TRIBUTARY_SCREENSHOT) {
      await page.goto(base + '/');
      await page.screenshot({ path: process.env.TRIBUTARY_SCREENSHOT, fullPage: true });
    }
  } finally {
    await browser.close();
    await runtime.close();
  }
});

function scrapeTarget(host: string, health: 'up' | 'down', lastError = ''): ActiveTargetStatus {
  return {
    scrapePool: 'node',
    scrapeUrl: `http://${host}/metrics`,
    discoveredLabels: Labels.fromRecord({ __address__: host, job: 'node' }),
    labels: Labels.fromRecord({ instance: host, job: 'node' }),
    health,
    lastError,
    lastScrapeMs: Date.now() - 2_000,
    lastScrapeDurationSeconds: 0.02,
    lastSamples: 10,
    lastSamplesScraped: 10,
    scrapeIntervalMs: 15_000,
    scrapeTimeoutMs: 10_000,
  };
}

test('targets filter by state; the relabel debugger runs what is typed and shows each step', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  const pools: ScrapePoolStatus[] = [
    {
      name: 'node',
      relabelConfigs: [],
      active: [scrapeTarget('10.0.0.1:9100', 'up'), scrapeTarget('10.0.0.2:9100', 'down', 'connection refused')],
      dropped: [],
      droppedCount: 0,
    },
  ];
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  const register = (server: HttpServer, pages: PageRegistry) => {
    registerScrapePages(server, pages, { pools: () => pools });
    registerRelabelDebugPages(server, pages);
  };
  await withPageServer(register, async (base) => {
    const page = await browser.newPage();
    await page.goto(base + '/targets');
    assert.equal(await page.locator('tr.target').count(), 2);
    assert.match(await page.locator('section[data-job="node"] h2').innerText(), /node \(1\/2 up\)/);
    await page.locator('nav[aria-label="Filter by state"] a', { hasText: 'down' }).click();
    await page.waitForURL(/state=down/);
    assert.equal(await page.locator('tr.target').count(), 1);
    assert.match(await page.locator('tr.target').innerText(), /10\.0\.0\.2:9100[\s\S]*down[\s\S]*connection refused/);

    await page.locator('nav[aria-label="Pages"] a', { hasText: 'Relabel debugger' }).click();
    await page.waitForURL(base + '/relabel-debug');
    const labels = '{__address__="10.0.0.1:9100", __meta_team="infra", env="prod"}';
    const rules = [
      '- action: labelmap',
      '  regex: __meta_(.+)',
      '- source_labels: [env]',
      '  regex: prod',
      '  target_label: env',
      '  replacement: production',
      '- action: labeldrop',
      '  regex: __meta_.*',
      '',
    ].join('\n');
    await page.fill('#labels', labels);
    await page.fill('#rules', rules);
    await page.click('form.debugger button[type="submit"]');
    await page.waitForURL(/[?&]labels=/);
    const steps = page.locator('table.steps tbody tr');
    assert.equal(await steps.count(), 3);
    assert.equal(await steps.nth(0).locator('.chip.added').innerText(), 'team="infra"');
    assert.equal(await steps.nth(1).locator('td:nth-child(4) .chip.changed').innerText(), 'env="production"');
    assert.equal(await steps.nth(1).locator('td:nth-child(3) .chip.changed').innerText(), 'env="prod"');
    assert.equal(await steps.nth(2).locator('td:nth-child(3) .chip.removed').innerText(), '__meta_team="infra"');
    assert.match(await page.locator('.verdict').innerText(), /Kept/);
    assert.deepEqual(
      await page.locator('.result .chip').allInnerTexts(),
      ['__address__="10.0.0.1:9100"', 'env="production"', 'team="infra"'],
    );
    assert.equal(await page.inputValue('#labels'), labels, 'the form keeps what was typed');
    assert.equal(await page.inputValue('#rules'), rules);

    // hostile input stays text; a rule error is shown with its place
    await page.fill('#labels', '{a="</textarea><script>window.pwned = 1</script>"}');
    await page.fill('#rules', '- action: keep\n  regexp: x\n');
    await page.click('form.debugger button[type="submit"]');
    await page.waitForURL(/regexp/);
    assert.equal(await page.evaluate('typeof globalThis.pwned'), 'undefined', 'no script ran');
    assert.equal(await page.inputValue('#labels'), '{a="</textarea><script>window.pwned = 1</script>"}');
    assert.match(await page.locator('.problem').innerText(), /rules:2:3: \[0\]\.regexp: unknown key "regexp"/);
  }).finally(() => browser.close());
});
