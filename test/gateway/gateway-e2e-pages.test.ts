/**
 * The gateway's pages end to end on real sockets: /apps in its three forms (JSON, text for curl,
 * HTML in real Chromium), pushed apps' TTL and refused pushes, several exposition paths with
 * their own access rule, a slow source under a path deadline, gzip and OpenMetrics negotiation.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { hashSync } from 'bcryptjs';
import { chromium } from 'playwright-core';
import type { Runtime } from '../../src/runtime/runtime.js';
import { CHROMIUM, CHROMIUM_ARGS as LAUNCH_ARGS, CURL, requirePeer } from '../helpers/peers.js';
import { appsReply, curl, get, pushedSeries, sendRaw, serveExporter, sleep, startTributary, staticExporter, timedGet, type AppJson, type RawReply } from '../helpers/gateway-harness.js';

// ------------------------------------------------------------------ helpers

function pushUrl(base: string, labels: [string, string][]): string {
  return base + '/metrics/' + labels.map(([k, v]) => `${k}/${encodeURIComponent(v)}`).join('/');
}

/** Raw bytes and headers, without any automatic decompression. */
function getRaw(url: string, headers: Record<string, string>): Promise<RawReply> {
  return sendRaw(url, 'GET', undefined, headers);
}

/** Series with the label, without the push-time series every HTTP group carries. */
function seriesWith(page: string, label: string, value: string): string[] {
  return pushedSeries(page).filter((l) => l.includes(`${label}=${JSON.stringify(value)}`));
}

/** Distinct `exporter_name` values on a page. */
function exporterNames(page: string): string[] {
  const names = new Set<string>();
  for (const m of page.matchAll(/exporter_name="([^"]*)"/g)) names.add(m[1]);
  return [...names].sort();
}

async function appsJson(base: string, how: 'query' | 'accept' = 'query'): Promise<AppJson[]> {
  const { reply: r, doc: body } = await appsReply(base, how);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.match(body.now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return body.apps;
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const PAGE_A = '# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 10\n# HELP temp_celsius Temperature.\n# TYPE temp_celsius gauge\ntemp_celsius 21.5\n';
const PAGE_B = '# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 20\n# HELP temp_celsius Temperature.\n# TYPE temp_celsius gauge\ntemp_celsius 19\n';

// ------------------------------------------------------------------ /apps

test('/apps: JSON (by ?format=json and by Accept) and plain text for curl list every source and pushed app', async (t) => {
  if (!requirePeer(t, CURL, 'curl')) return;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-e2e-apps-'));
  const exp = await staticExporter(PAGE_A);
  let runtime: Runtime | undefined;
  try {
    writeFileSync(join(dir, 'ok.prom'), 'textfile_ok 1\ntextfile_ok2{a="1"} 2\n');
    const started = Date.now();
    const tr = await startTributary(`
gateway:
  push: { default_ttl: 5m }
  sources:
    - name: exp
      http: { url: "${exp.url}" }
    - name: textfile
      file: { path: "${join(dir, 'ok.prom')}" }
    - name: missing
      file: { path: "${join(dir, 'missing.prom')}" }
`);
    runtime = tr.runtime;
    const base = tr.base;
    const push = await curl(['-X', 'PUT', '--data-binary', '@-', pushUrl(base, [['job', 'batch'], ['instance', 'x']])], 'batch_done 1\nbatch_records 7\nbatch_other 3\n');
    assert.equal(push.status, 200, push.body);
    // A scrape gets the pulled sources' state (they are fetched on scrape).
    assert.equal((await get(`${base}/metrics`)).status, 200);

    for (const how of ['query', 'accept'] as const) {
      const apps = await appsJson(base, how);
      assert.deepEqual(apps.map((a) => a.key ?? a.name), ['exp', 'textfile', 'missing', 'instance="x",job="batch"'], how);
      for (const a of apps) {
        assert.equal(typeof a.origin, 'string');
        assert.ok(a.origin.length > 0, `${a.name}: origin`);
        assert.equal(typeof a.ttlSeconds, 'number');
        assert.equal(typeof a.series, 'number');
      }
      const [e, f, m, p] = apps;
      assert.equal(e.kind, 'http');
      assert.equal(e.origin, exp.url);
      assert.equal(e.series, 2);
      assert.equal(e.ttlSeconds, 0);
      assert.match(e.lastUpdate ?? '', ISO_UTC);
      assert.ok(Date.parse(e.lastUpdate!) >= started - 1000 && Date.parse(e.lastUpdate!) <= Date.now() + 1000);
      assert.equal(e.lastError, undefined);

      assert.equal(f.kind, 'file');
      assert.equal(f.origin, join(dir, 'ok.prom'));
      assert.equal(f.series, 2);
      assert.match(f.lastUpdate ?? '', ISO_UTC);

      assert.equal(m.kind, 'file');
      assert.equal(m.series, 0);
      assert.equal(m.lastUpdate, null, 'never had data');
      assert.match(m.lastError ?? '', /does not exist/);

      assert.equal(p.name, 'batch');
      assert.equal(p.kind, 'push');
      assert.equal(p.protocol, 'pushgateway');
      assert.match(p.origin, /^HTTP push from 127\.0\.0\.1:\d+$/);
      assert.equal(p.ttlSeconds, 300);
      assert.equal(p.series, 3);
      assert.match(p.lastUpdate ?? '', ISO_UTC);
      assert.equal(p.lastError, undefined);
    }

    // curl with no Accept preference gets the text table.
    const text = await curl([`${base}/apps`]);
    assert.equal(text.status, 200);
    const lines = text.body.trimEnd().split('\n');
    assert.match(lines[0], /^Current time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.match(lines[1], /^NAME\s+KIND\s+ORIGIN\s+LAST UPDATE \(UTC\)\s+TTL\s+SERIES\s+LAST ERROR$/);
    const rows = lines.slice(2);
    assert.equal(rows.length, 4, text.body);
    const col = (header: string) => lines[1].indexOf(header);
    const cells = (row: string) => ({
      name: row.slice(0, col('KIND')).trim(),
      kind: row.slice(col('KIND'), col('ORIGIN')).trim(),
      ttl: row.slice(col('TTL'), col('SERIES')).trim(),
      series: row.slice(col('SERIES'), col('LAST ERROR')).trim(),
      error: row.slice(col('LAST ERROR')).trim(),
    });
    assert.deepEqual(cells(rows[0]), { name: 'exp', kind: 'http', ttl: 'none', series: '2', error: '' });
    assert.deepEqual(cells(rows[1]), { name: 'textfile', kind: 'file', ttl: 'none', series: '2', error: '' });
    assert.equal(cells(rows[2]).name, 'missing');
    assert.match(cells(rows[2]).error, /does not exist/);
    assert.deepEqual(cells(rows[3]), { name: 'instance="x",job="batch"', kind: 'push/pushgateway', ttl: '5m', series: '3', error: '' });
    assert.match(rows[0], / \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC /);
  } finally {
    await runtime?.close(1_000);
    await exp.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('/apps in Chromium: the table, a hostile app name shown as text, and "Apps" in the navigation', async (t) => {
  if (!requirePeer(t, CHROMIUM, 'chromium')) return;
  if (!requirePeer(t, CURL, 'curl')) return;
  const exp = await staticExporter(PAGE_A);
  let runtime: Runtime | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    const tr = await startTributary(`
gateway:
  sources:
    - name: exp
      http: { url: "${exp.url}" }
`);
    runtime = tr.runtime;
    const base = tr.base;
    const hostile = '<script>x</script>';
    const hostileLabel = '"><img src=x onerror=alert(1)>';
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const r = await curl(['--data-binary', '@-', `${base}/metrics/job@base64/${b64(hostile)}/note@base64/${b64(hostileLabel)}`], 'pushed_value 42\n');
    assert.equal(r.status, 200, r.body);
    await get(`${base}/metrics`);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    const response = await page.goto(`${base}/apps`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-type'] ?? '', /^text\/html/);
    assert.match(await page.title(), /Apps/);

    const headers = await page.locator('table.data thead th').allInnerTexts();
    assert.deepEqual(headers, ['Name', 'Kind', 'Origin', 'Last update', 'TTL', 'Series', 'Last error']);
    const rows = page.locator('table.data tbody tr');
    assert.equal(await rows.count(), 2);
    const first = await rows.nth(0).locator('td').allInnerTexts();
    assert.equal(first[0], 'exp');
    assert.equal(first[1], 'http');
    assert.equal(first[2], exp.url);
    assert.match(first[3], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.equal(first[5], '2');
    // The hostile key is shown as the text it is, and nothing of it became markup.
    const second = await rows.nth(1).locator('td').allInnerTexts();
    assert.equal(second[0], `job=${JSON.stringify(hostile)},note=${JSON.stringify(hostileLabel)}`);
    assert.equal(second[1], 'push (pushgateway)');
    assert.equal(second[5], '1');
    assert.equal(await page.locator('table script').count(), 0, 'no <script> element in the table');
    assert.equal(await page.locator('table img').count(), 0, 'no <img> element in the table');
    assert.equal(await page.locator('script').count(), 0, 'the page has no script at all');
    await sleep(200);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(consoleErrors, []);

    // The navigation lists Apps, marked as the current page, and the link works from the index.
    const navApps = page.locator('nav a', { hasText: 'Apps' });
    assert.equal(await navApps.count(), 1);
    assert.equal(await navApps.getAttribute('href'), '/apps');
    assert.equal(await navApps.getAttribute('aria-current'), 'page');
    await page.goto(`${base}/`);
    await page.click('nav a[href="/apps"]');
    await page.waitForURL(`${base}/apps`);
    assert.equal(await page.locator('table.data tbody tr').count(), 2);
    // The JSON link on the page gives the same apps.
    await page.click('a[href="/apps?format=json"]');
    const json = JSON.parse(await page.locator('body').innerText()) as { apps: AppJson[] };
    assert.deepEqual(json.apps.map((a) => a.name), ['exp', hostile]);
  } finally {
    await browser?.close();
    await runtime?.close(1_000);
    await exp.close();
  }
});

// ------------------------------------------------------------------ pushed apps

test('TTL: a push with X-Tributary-TTL: 1s is gone from /metrics and /apps after ~2 s', async (t) => {
  if (!requirePeer(t, CURL, 'curl')) return;
  let runtime: Runtime | undefined;
  try {
    const tr = await startTributary('gateway:\n  push: { default_ttl: 0 }\n');
    runtime = tr.runtime;
    const base = tr.base;
    let r = await curl(['-H', 'X-Tributary-TTL: 1s', '--data-binary', '@-', pushUrl(base, [['job', 'shortlived']])], 'short_value 1\n');
    assert.equal(r.status, 200, r.body);
    r = await curl(['--data-binary', '@-', pushUrl(base, [['job', 'keeper']])], 'keeper_value 2\n');
    assert.equal(r.status, 200, r.body);

    let page = (await get(`${base}/metrics`)).body;
    const short = seriesWith(page, 'exporter_name', 'shortlived');
    assert.equal(short.length, 1, page);
    assert.match(short[0], /^short_value\{.*\bjob="shortlived".*\} 1$/);
    let apps = await appsJson(base);
    assert.deepEqual(apps.map((a) => [a.name, a.ttlSeconds]), [['keeper', 0], ['shortlived', 1]]);

    await sleep(2_000);
    page = (await get(`${base}/metrics`)).body;
    assert.deepEqual(seriesWith(page, 'exporter_name', 'shortlived'), [], 'expired app not served');
    assert.doesNotMatch(page, /shortlived/, 'no health series either');
    const keeper = seriesWith(page, 'exporter_name', 'keeper');
    assert.equal(keeper.length, 1, page);
    assert.match(keeper[0], /^keeper_value\{.*\bjob="keeper".*\} 2$/);
    apps = await appsJson(base);
    assert.deepEqual(apps.map((a) => a.name), ['keeper']);
    const text = await curl([`${base}/apps`]);
    assert.doesNotMatch(text.body, /shortlived/);
  } finally {
    await runtime?.close(1_000);
  }
});

test('a malformed push: 400 with line and column, previous payload still served, /apps shows the error', async (t) => {
  if (!requirePeer(t, CURL, 'curl')) return;
  let runtime: Runtime | undefined;
  try {
    const tr = await startTributary('gateway: {}\n');
    runtime = tr.runtime;
    const base = tr.base;
    const url = pushUrl(base, [['job', 'j'], ['instance', 'i1']]);
    let r = await curl(['-X', 'PUT', '--data-binary', '@-', url], '# TYPE good gauge\ngood 1\n');
    assert.equal(r.status, 200, r.body);
    r = await curl(['-X', 'PUT', '--data-binary', '@-', url], 'fine 2\nbroken{a="1" 3\n');
    assert.equal(r.status, 400);
    assert.match(r.body, /line 2, column \d+/);

    const page = (await get(`${base}/metrics`)).body;
    const held = seriesWith(page, 'exporter_name', 'j');
    assert.equal(held.length, 1, page);
    assert.match(held[0], /^good\{.*\binstance="i1".*\} 1$/);
    assert.match(held[0], /\bjob="j"/);
    assert.doesNotMatch(page, /^fine/m, 'nothing of the refused push is served');

    const apps = await appsJson(base);
    assert.equal(apps.length, 1);
    assert.equal(apps[0].series, 1);
    assert.match(apps[0].lastError ?? '', /line 2, column \d+/);
    const text = await curl([`${base}/apps`]);
    assert.match(text.body, /line 2, column \d+/);
    // The push error counter saw it.
    assert.match(page, /tributary_gateway_push_errors_total\{[^}]*reason="parse"[^}]*\} 1/);
  } finally {
    await runtime?.close(1_000);
  }
});

test('pushed series carry their grouping labels once (no exported_job / exported_instance copies)', async (t) => {
  if (!requirePeer(t, CURL, 'curl')) return;
  let runtime: Runtime | undefined;
  try {
    const tr = await startTributary('gateway: {}\n');
    runtime = tr.runtime;
    const base = tr.base;
    // A pushed label that the grouping key overrides, as the Pushgateway documents it.
    const r = await curl(['-X', 'PUT', '--data-binary', '@-', pushUrl(base, [['job', 'batch'], ['instance', 'x']])], '# TYPE batch_records gauge\nbatch_records{instance="pushed",kind="a"} 7\n');
    assert.equal(r.status, 200, r.body);
    const text = (await get(`${base}/metrics`)).body;
    assert.deepEqual(seriesWith(text, 'exporter_name', 'batch'), ['batch_records{exporter_name="batch",instance="x",job="batch",kind="a"} 7']);
    const om = (await get(`${base}/metrics`, { Accept: 'application/openmetrics-text;version=1.0.0' })).body;
    assert.deepEqual(seriesWith(om, 'exporter_name', 'batch'), ['batch_records{exporter_name="batch",instance="x",job="batch",kind="a"} 7']);
  } finally {
    await runtime?.close(1_000);
  }
});

// ------------------------------------------------------------------ paths

test('several exposition paths: /team-a behind basic auth serves only source a; /metrics serves all', async (t) => {
  if (!requirePeer(t, CURL, 'curl')) return;
  const a = await staticExporter(PAGE_A);
  const b = await staticExporter(PAGE_B);
  let runtime: Runtime | undefined;
  try {
    const hash = hashSync('secret', 4);
    const tr = await startTributary(`
gateway:
  sources:
    - name: a
      http: { url: "${a.url}" }
    - name: b
      http: { url: "${b.url}" }
  paths:
    - path: /metrics
    - path: /team-a
      sources: [a]
      pushed_apps: false
      self_metrics: false
      access:
        basic_auth_users:
          alice: "${hash}"
`);
    runtime = tr.runtime;
    const base = tr.base;
    assert.equal((await curl(['--data-binary', '@-', pushUrl(base, [['job', 'pusher']])], 'pushed_thing 5\n')).status, 200);

    // Without credentials, and with wrong ones: 401 and a challenge.
    let r = await get(`${base}/team-a`);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="[^"]+"/);
    assert.doesNotMatch(r.body, /temp_celsius/);
    const wrong = await curl(['-u', 'alice:nope', `${base}/team-a`]);
    assert.equal(wrong.status, 401);
    const mallory = await curl(['-u', 'mallory:secret', `${base}/team-a`]);
    assert.equal(mallory.status, 401);

    // With them: source a only, no pushed apps, no self metrics.
    const ok = await curl(['-u', 'alice:secret', `${base}/team-a`]);
    assert.equal(ok.status, 200);
    assert.deepEqual(exporterNames(ok.body), ['a']);
    assert.match(ok.body, /^http_requests_total\{code="200",exporter_name="a"\} 10$/m);
    assert.match(ok.body, /^temp_celsius\{exporter_name="a"\} 21\.5$/m);
    assert.doesNotMatch(ok.body, /pushed_thing|tributary_|process_/);
    assert.equal(ok.body.match(/^# TYPE /gm)?.length, 2);

    // /metrics stays open and has everything.
    const all = await get(`${base}/metrics`);
    assert.equal(all.status, 200);
    assert.deepEqual(exporterNames(all.body), ['a', 'b', 'pusher', 'tributary']);
    assert.match(all.body, /^http_requests_total\{code="200",exporter_name="b"\} 20$/m);
    assert.match(all.body, /^pushed_thing\{[^}]*\bexporter_name="pusher"[^}]*\} 5$/m);
    // one HELP/TYPE for the family both sources have
    assert.equal(all.body.match(/^# TYPE http_requests_total /gm)?.length, 1);
    assert.equal(all.body.match(/^# HELP http_requests_total /gm)?.length, 1);
  } finally {
    await runtime?.close(1_000);
    await a.close();
    await b.close();
  }
});

test('a slow source never fails the scrape: the page comes within the path timeout with the others and slow is down', async () => {
  const fast = await staticExporter(PAGE_A);
  const timers = new Set<NodeJS.Timeout>();
  const slow = await serveExporter((_req, res) => {
    const t = setTimeout(() => res.end('slow_metric 1\n'), 8_000);
    timers.add(t);
    res.on('close', () => clearTimeout(t));
  });
  let runtime: Runtime | undefined;
  try {
    const tr = await startTributary(`
gateway:
  sources:
    - name: fast
      http: { url: "${fast.url}" }
    - name: slow
      http: { url: "${slow.url}", timeout: 30s }
  paths:
    - path: /metrics
      timeout: 1s
`);
    runtime = tr.runtime;
    const base = tr.base;
    for (let i = 0; i < 2; i++) {
      const { reply: r, took } = await timedGet(`${base}/metrics`);
      assert.equal(r.status, 200);
      assert.ok(took < 1_000 + 1_500, `scrape ${i} took ${Math.round(took)} ms with a 1s path timeout`);
      assert.ok(took >= 900, `scrape ${i} waited for the slow source up to the deadline (${Math.round(took)} ms)`);
      assert.match(r.body, /^temp_celsius\{exporter_name="fast"\} 21\.5$/m);
      assert.doesNotMatch(r.body, /slow_metric/);
      assert.match(r.body, /^tributary_source_up\{exporter_name="tributary",kind="http",source="slow"\} 0$/m);
      assert.match(r.body, /^tributary_source_up\{exporter_name="tributary",kind="http",source="fast"\} 1$/m);
    }
    const apps = await appsJson(base);
    const s = apps.find((x) => x.name === 'slow');
    assert.ok(s?.lastError, 'the slow source has an error on /apps');
    assert.equal(s.series, 0);
  } finally {
    for (const t of timers) clearTimeout(t);
    await runtime?.close(1_000);
    await fast.close();
    await slow.close();
  }
});

// ------------------------------------------------------------------ encodings and formats

test('gzip: Accept-Encoding: gzip gives a gzip body that decodes to the same page', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-e2e-gzip-'));
  let runtime: Runtime | undefined;
  try {
    // Deterministic path: a file source only, no self metrics, no pushed apps.
    const lines = ['# HELP big_gauge A gauge with many series.', '# TYPE big_gauge gauge'];
    for (let i = 0; i < 500; i++) lines.push(`big_gauge{i="${i}"} ${i * 1.5}`);
    writeFileSync(join(dir, 'big.prom'), lines.join('\n') + '\n');
    const tr = await startTributary(`
gateway:
  sources:
    - name: big
      file: { path: "${join(dir, 'big.prom')}" }
  paths:
    - path: /metrics
    - path: /static
      sources: [big]
      pushed_apps: false
      self_metrics: false
`);
    runtime = tr.runtime;
    const base = tr.base;
    const plain = await getRaw(`${base}/static`, {});
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    const zipped = await getRaw(`${base}/static`, { 'Accept-Encoding': 'gzip' });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.match(String(zipped.headers.vary), /Accept-Encoding/);
    assert.deepEqual([zipped.body[0], zipped.body[1]], [0x1f, 0x8b], 'gzip magic');
    assert.ok(zipped.body.length < plain.body.length, 'compressed');
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
    const decoded = gunzipSync(zipped.body).toString('utf8');
    assert.equal(decoded, plain.body.toString('utf8'));
    assert.equal(decoded.split('\n').filter((l) => l.startsWith('big_gauge{')).length, 500);
    // gzip;q=0 is a refusal
    const refused = await getRaw(`${base}/static`, { 'Accept-Encoding': 'gzip;q=0' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.equal(refused.body.toString('utf8'), plain.body.toString('utf8'));
    // The full /metrics page also decodes (its self metrics change between scrapes; compare shapes).
    const full = await getRaw(`${base}/metrics`, { 'Accept-Encoding': 'gzip' });
    assert.equal(full.headers['content-encoding'], 'gzip');
    const fullText = gunzipSync(full.body).toString('utf8');
    assert.match(fullText, /^big_gauge\{exporter_name="big",i="499"\} 748\.5$/m);
    assert.match(fullText, /^tributary_source_up\{exporter_name="tributary",kind="file",source="big"\} 1$/m);
  } finally {
    await runtime?.close(1_000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OpenMetrics: Accept gives an OpenMetrics page ending in # EOF with one TYPE line per family', async (t) => {
  if (!requirePeer(t, CURL, 'curl')) return;
  const a = await staticExporter(PAGE_A);
  const b = await staticExporter(PAGE_B);
  let runtime: Runtime | undefined;
  try {
    const tr = await startTributary(`
gateway:
  sources:
    - name: a
      http: { url: "${a.url}" }
    - name: b
      http: { url: "${b.url}" }
`);
    runtime = tr.runtime;
    const base = tr.base;
    assert.equal((await curl(['--data-binary', '@-', pushUrl(base, [['job', 'p']])], '# TYPE temp_celsius gauge\ntemp_celsius 5\n')).status, 200);

    const om = await get(`${base}/metrics`, { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' });
    assert.equal(om.status, 200);
    assert.match(om.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok(om.body.endsWith('# EOF\n'), 'ends with # EOF');
    assert.equal(om.body.match(/^# EOF$/gm)?.length, 1, 'one # EOF');
    const types = [...om.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]);
    assert.ok(types.length > 5);
    assert.equal(new Set(types).size, types.length, `a TYPE line repeated: ${types.filter((n, i) => types.indexOf(n) !== i).join(', ')}`);
    // Every sample belongs to the family announced last (families are not split apart).
    let current = '';
    for (const line of om.body.split('\n')) {
      const m = /^# TYPE (\S+) /.exec(line);
      if (m) {
        current = m[1];
        continue;
      }
      if (line === '' || line.startsWith('#')) continue;
      const name = /^[^{ ]+/.exec(line)![0];
      assert.ok(name === current || name.startsWith(current + '_'), `sample ${line} under family ${current}`);
    }
    // the shared families, once, with three contributors for temp_celsius
    assert.equal(om.body.match(/^# TYPE temp_celsius gauge$/gm)?.length, 1);
    assert.match(om.body, /^# TYPE http_requests counter$/m);
    assert.match(om.body, /^http_requests_total\{code="200",exporter_name="a"\} 10$/m);
    assert.match(om.body, /^http_requests_total\{code="200",exporter_name="b"\} 20$/m);
    assert.match(om.body, /^temp_celsius\{[^}]*\bexporter_name="p"[^}]*\} 5$/m);

    // The text format from the same gateway: no # EOF, one TYPE per family too.
    const text = await get(`${base}/metrics`, { Accept: 'text/plain;version=0.0.4' });
    assert.match(text.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.doesNotMatch(text.body, /# EOF/);
    const textTypes = [...text.body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    assert.equal(new Set(textTypes).size, textTypes.length);
  } finally {
    await runtime?.close(1_000);
    await a.close();
    await b.close();
  }
});
