/**
 * The web pages as a person sees them: real Chromium driven by Playwright against a real
 * Tributary (or a server with the pages under test) on a real socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startRuntime } from '../../src/runtime/runtime.js';
import { silentLogger } from '../../src/log/logger.js';
import { Labels } from '../../src/model/labels.js';
import { registerRelabelDebugPages } from '../../src/relabel/debugger/index.js';
import { registerScrapePages } from '../../src/scrape/pages/index.js';
import type { ActiveTargetStatus, ScrapePoolStatus } from '../../src/scrape/status.js';
import type { HttpServer } from '../../src/server/index.js';
import type { PageRegistry } from '../../src/ui/index.js';
import { withPageServer } from '../helpers/page-server.js';
import { CHROMIUM, CHROMIUM_ARGS as LAUNCH_ARGS, requirePeer } from '../helpers/peers.js';
import { tempDataDir } from '../helpers/fixtures.js';


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
    scrapesTotal: 7,
    scrapesFailed: health === 'down' ? 7 : 0,
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
      otherMembers: [],
      discoveryProblems: [],
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

/** The page's own globals, for code run in the browser (the tests compile without the DOM library). */
declare const document: {
  createRange(): { selectNodeContents(node: unknown): void; getClientRects(): ArrayLike<{ top: number }> & Iterable<{ top: number }> };
  documentElement: { scrollWidth: number; clientWidth: number };
};

/** Jobs whose natural column widths differ a lot: many labels, a long value, a long URL, a long error. */
function layoutPools(): ScrapePoolStatus[] {
  const long = 'v'.repeat(30) + '-' + 'x'.repeat(360);
  const many = (host: string, extra: Record<string, string> = {}) =>
    Labels.fromRecord({
      instance: host,
      job: 'node',
      env: 'production',
      region: 'eu-west-1',
      team: 'infrastructure and platform',
      rack: 'r42-b',
      kubernetes_pod_name: 'node-exporter-7d9f8b6c4-x2x9q',
      ...extra,
    });
  return [
    {
      name: 'node',
      relabelConfigs: [],
      active: [
        { ...scrapeTarget('10.0.0.1:9100', 'up'), labels: many('10.0.0.1:9100') },
        { ...scrapeTarget('10.0.0.2:9100', 'down', 'Get "http://10.0.0.2:9100/metrics": dial tcp 10.0.0.2:9100: connect: connection refused'), labels: many('10.0.0.2:9100', { note: long }), discoveredLabels: Labels.fromRecord({ __address__: '10.0.0.2:9100', __meta_note: long }) },
        { ...scrapeTarget('10.0.0.3:9100', 'up'), labels: many('10.0.0.3:9100', { description: 'a value with spaces, commas, and = signs in it' }) },
      ],
      dropped: [],
      droppedCount: 0,
      otherMembers: [],
      discoveryProblems: [],
    },
    {
      name: 'api',
      relabelConfigs: [],
      active: [{ ...scrapeTarget('api-1:8080', 'up'), scrapePool: 'api', labels: Labels.fromRecord({ instance: 'api-1:8080', job: 'api' }) }],
      dropped: [],
      droppedCount: 0,
      otherMembers: [],
      discoveryProblems: [],
    },
    {
      name: 'kubernetes-service-endpoints-with-a-rather-long-job-name',
      relabelConfigs: [],
      active: [
        {
          ...scrapeTarget('very-long-service-name.monitoring.svc.cluster.local:8443', 'up'),
          scrapePool: 'kubernetes-service-endpoints-with-a-rather-long-job-name',
          scrapeUrl: 'https://very-long-service-name.monitoring.svc.cluster.local:8443/federate/metrics?match%5B%5D=%7Bjob%3D%22x%22%7D',
        },
      ],
      dropped: [],
      droppedCount: 0,
      otherMembers: [],
      discoveryProblems: [],
    },
  ];
}

test('targets page: full width, the same columns in every job, chips never split, no page overflow when narrow', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  const pools = layoutPools();
  const shots = process.env.TRIBUTARY_SCREENSHOT_DIR;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  // a source that can fetch targets, so each row has its response link as in the agent
  const source = { pools: () => pools, fetchTargetResponse: () => Promise.resolve(undefined) };
  await withPageServer((server, pages) => registerScrapePages(server, pages, source), async (base) => {
    for (const width of [1400, 800]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.goto(base + '/targets');
      if (shots) await page.screenshot({ path: `${shots}/targets-${width}.png`, fullPage: true });
      assert.equal(await page.locator('table.targets').count(), 3);
      assert.equal(await page.locator('a.response').count(), 5);
      // header cells hold their text: no column is too narrow for its name
      const cramped = await page.locator('table.targets th').evaluateAll((ths) => ths.filter((th) => th.scrollWidth > th.clientWidth).map((th) => th.textContent));
      assert.deepEqual(cramped, [], `${width}px: headers wider than their column`);

      // every job's header cells start at the same x: one set of column widths for the page
      const columns = await page.locator('table.targets').evaluateAll((tables) =>
        tables.map((table) => [...table.querySelectorAll('thead th')].map((c) => Math.round(c.getBoundingClientRect().x))),
      );
      for (const [i, xs] of columns.entries()) assert.deepEqual(xs, columns[0], `${width}px: job ${i}'s columns line up with the first job's`);

      // a chip is one box on one line: its text's line boxes all share one top
      const split = await page.locator('.chip').evaluateAll((chips) =>
        chips
          .filter((chip) => {
            const range = document.createRange();
            range.selectNodeContents(chip);
            const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
            return chip.getClientRects().length !== 1 || tops.size !== 1;
          })
          .map((chip) => chip.textContent),
      );
      assert.deepEqual(split, [], `${width}px: chips split across lines`);
      // a value too long for the cell is cut, the whole of it in the title
      const note = page.locator('.chip', { hasText: 'note="vvv' });
      assert.match((await note.getAttribute('title')) ?? '', /^note="v{30}-x{360}"$/);
      assert.ok(await note.evaluate((el) => el.scrollWidth > el.clientWidth), 'the long chip is cut');

      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${width}px: the page scrolls sideways by ${overflow}px`);
      // chips that do not wrap must not widen the other pages' auto-layout tables past the window either
      await page.goto(base + '/service-discovery');
      const sdOverflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(sdOverflow <= 0, `${width}px: /service-discovery scrolls sideways by ${sdOverflow}px`);
      await page.goto(base + '/targets');
      // a down target's error: in its column where the table fits, under the endpoint where the
      // column starts off screen
      const inline = page.locator('td.endpoint .narrow-only', { hasText: 'connection refused' });
      if (width === 800) {
        const box = await inline.boundingBox();
        assert.ok(box !== null && box.x + box.width <= width, `800px: the error is on screen (${JSON.stringify(box)})`);
      } else {
        assert.equal(await inline.isVisible(), false, '1400px: the error shows in its own column only');
      }
      if (width === 1400) {
        const widths = await page.locator('table.targets').evaluateAll((ts) => ts.map((el) => el.getBoundingClientRect().width));
        for (const w of widths) assert.ok(w >= 0.95 * width, `a job's table is ${w}px wide in a ${width}px window`);
      }
      await page.close();
    }
  }).finally(() => browser.close());
});
