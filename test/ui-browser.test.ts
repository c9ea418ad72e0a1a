/**
 * The web pages as a person sees them: real Chromium driven by Playwright against a real
 * Tributary on a real socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startRuntime } from '../src/runtime/runtime.js';
import { silentLogger } from '../src/log/logger.js';
import { CHROMIUM, CHROMIUM_ARGS as LAUNCH_ARGS, requirePeer } from './peers.js';


test('the index page shows what runs and links to every page; the links work', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  const runtime = await startRuntime({ listen: '127.0.0.1:0', logger: silentLogger });
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
