/**
 * vmagent's per-target counts and the "response" link of /targets, against a real scrape
 * manager scraping real HTTP targets: scrapes and failed scrapes as the loop counted them (in
 * the HTML and the text form, not in Prometheus' API), and /target_response fetching the target
 * on demand with the job's own request — its content, the 64 KiB bound with its note, markup
 * kept as text, a target not scraped yet, a target that fails, an id that names nothing.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { registerScrapePages, RESPONSE_SHOWN_BYTES } from '../../src/scrape/pages/index.js';
import { withPageServer } from '../helpers/page-server.js';
import { CHROMIUM, CHROMIUM_ARGS, requirePeer } from '../helpers/peers.js';
import { startScraping, startTarget, type TestTarget } from '../helpers/scrape-harness.js';

const HOSTILE = '# HELP x <script>window.pwned = 1</script> & "quotes"\nx 1\n';

/** One target scraped by job "app" with `basic_auth`, an hour apart: tests scrape by hand. */
async function scraped(t: TestContext, target: TestTarget) {
  t.after(() => target.close());
  const h = await startScraping(`
scrape_configs:
  - job_name: app
    scrape_interval: 1h
    scrape_timeout: 5s
    basic_auth: {username: u, password: secret}
    static_configs:
      - targets: ['${target.address}']
`);
  t.after(() => h.close());
  const [loop] = await h.loops('app');
  return { h, loop };
}

/** The page's server over `status`; `fn` gets its base URL and the first response link. */
async function withTargetsPage(status: Parameters<typeof registerScrapePages>[2], fn: (base: string, link: string) => Promise<void>): Promise<void> {
  await withPageServer(
    (server, pages) => registerScrapePages(server, pages, status),
    async (base) => {
      const page = await (await fetch(`${base}/targets`, { headers: { accept: 'text/html' } })).text();
      const link = /<a class="response" href="([^"]+)"/.exec(page)?.[1];
      assert.ok(link, 'each target links to its response');
      assert.match(link, /^\/target_response\?id=[0-9a-f]{16}$/);
      await fn(base, link);
    },
  );
}

test('scrapes and failed scrapes per target, as vmagent counts them: in the HTML and the text form, not in the API', async (t) => {
  let fail = false;
  const target = await startTarget((_req, res) => {
    res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('x 1\n');
  });
  const { h, loop } = await scraped(t, target);
  assert.deepEqual([h.manager.pools()[0].active[0].scrapesTotal, h.manager.pools()[0].active[0].scrapesFailed], [0, 0]);
  await loop.scrapeOnce();
  fail = true;
  await loop.scrapeOnce();
  await loop.scrapeOnce();
  fail = false;
  await loop.scrapeOnce();
  const s = h.manager.pools()[0].active[0];
  assert.deepEqual([s.scrapesTotal, s.scrapesFailed, s.health], [4, 2, 'up']);

  await withPageServer(
    (server, pages) => registerScrapePages(server, pages, h.manager),
    async (base) => {
      const text = await (await fetch(`${base}/targets?format=text`)).text();
      assert.match(text, /\tstate=up, endpoint=\S+, labels=\{[^}]*\}, scrapes_total=4, scrapes_failed=2, last_scrape=/);
      const page = await (await fetch(`${base}/targets`, { headers: { accept: 'text/html' } })).text();
      assert.match(page, /<td class="num">4<\/td><td class="num"><span class="bad">2<\/span><\/td>/);
      const api = (await (await fetch(`${base}/api/v1/targets`)).json()) as { data: { activeTargets: Record<string, unknown>[] } };
      assert.deepEqual(Object.keys(api.data.activeTargets[0]).sort(), [
        'discoveredLabels', 'globalUrl', 'health', 'labels', 'lastError', 'lastScrape', 'lastScrapeDuration',
        'scrapeInterval', 'scrapePool', 'scrapeTimeout', 'scrapeUrl',
      ], "Prometheus' shape, nothing added");
    },
  );
});

test('the response link fetches the target now with its scrape request: body as text, not before any scrape, nothing scraped or kept', async (t) => {
  const auth: (string | undefined)[] = [];
  const target = await startTarget((req, res) => {
    auth.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(HOSTILE);
  });
  const { h, loop } = await scraped(t, target);
  await withTargetsPage(h.manager, async (base, link) => {
    assert.equal(loop.scrapes, 0, 'the target has not been scraped yet');
    const res = await fetch(base + link);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-security-policy') ?? '', /sandbox/);
    assert.equal(await res.text(), HOSTILE, 'the body exactly as the target sent it, no note when whole');
    assert.deepEqual(auth, [`Basic ${Buffer.from('u:secret').toString('base64')}`], "sent as the job's scrapes are: its basic_auth");
    assert.equal(loop.scrapes, 0, 'fetching is not a scrape');
    assert.equal(h.sink.batches.length, 0, 'and writes no samples');
  });
});

test('the response is bounded: the first 64 KiB after decompression, then a note saying how much there was', async (t) => {
  const line = (i: number) => `series_with_a_long_name{index="${String(i).padStart(6, '0')}"} ${i}\n`;
  let body = '';
  for (let i = 0; body.length < 300_000; i++) body += line(i);
  const gz = gzipSync(body);
  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-encoding': 'gzip' });
    res.end(gz);
  });
  const { h } = await scraped(t, target);
  await withTargetsPage(h.manager, async (base, link) => {
    const got = Buffer.from(await (await fetch(base + link)).arrayBuffer());
    const note = `\n# Tributary: truncated at ${RESPONSE_SHOWN_BYTES} of ${body.length} bytes (after decompression)\n`;
    assert.ok(got.length < RESPONSE_SHOWN_BYTES + 200, `${got.length} bytes sent`);
    const shown = body.slice(0, RESPONSE_SHOWN_BYTES);
    // the cut falls inside a line: the note starts on a line of its own
    assert.equal(got.toString('utf8'), shown + (shown.endsWith('\n') ? '' : '\n') + note);
  });
});

test('the response of a target that fails says why; an id that names no running target is 404, a malformed one 400', async (t) => {
  const target = await startTarget((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('<b>overloaded</b>');
  });
  const { h } = await scraped(t, target);
  await withTargetsPage(h.manager, async (base, link) => {
    const res = await fetch(base + link);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.match(await res.text(), /503[\s\S]*<b>overloaded<\/b>/);
    const gone = await fetch(`${base}/target_response?id=0123456789abcdef`);
    assert.equal(gone.status, 404);
    assert.match(await gone.text(), /no running target has id 0123456789abcdef/);
    const bad = await fetch(`${base}/target_response?id=%3Cscript%3E`);
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type'), 'text/plain; charset=utf-8');
  });
});

test('in Chromium, the response link shows markup in the body as text and runs nothing', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  const target = await startTarget((_req, res) => {
    // a target that even claims HTML is shown as text
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<html><body><script>window.pwned = 1</script><h1>hello</h1></body></html>\n`);
  });
  const { h } = await scraped(t, target);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  await withTargetsPage(h.manager, async (base) => {
    const page = await browser.newPage();
    await page.goto(base + '/targets');
    await page.click('a.response');
    await page.waitForURL(/target_response/);
    assert.equal(await page.evaluate('typeof globalThis.pwned'), 'undefined', 'no script ran');
    assert.equal(await page.locator('h1').count(), 0, 'no markup rendered');
    assert.match(await page.locator('body').innerText(), /<script>window\.pwned = 1<\/script><h1>hello<\/h1>/);
  });
});
