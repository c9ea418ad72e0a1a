/**
 * vmagent's scrape_config extensions, so a `-promscrape.config` file loads and means the same:
 * what loads, what is refused and what warns; URL targets (after vmagent's GetScrapeURL cases);
 * headers, compression, keep-alive, stale markers, the series limiter, the relabel debug modes
 * and proxy authentication against real HTTP servers; the scrape phase from scrape_offset and
 * scrape_align_interval by the scrapes' timestamps; and, where vmagent 1.79 knows the key, the
 * same file run by vmagent 1.79.5 next to Tributary on the same targets.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, parseConfigText } from '../../src/config/index.js';
import { parseVmagentBytes } from '../../src/config/scrape.js';
import { Relabeler } from '../../src/relabel/index.js';
import { scrapePhase, splitAddress, targetsFromGroup, type ScrapeTarget } from '../../src/scrape/target.js';
import { runCli } from '../helpers/cli-process.js';
import { requirePeer, VMAGENT } from '../helpers/peers.js';
import { startProxy } from '../helpers/proxy-server.js';
import { receiver } from '../helpers/remotewrite-harness.js';
import { scrapeConfigs, startScraping, startTarget, waitFor, type TestTarget } from '../helpers/scrape-harness.js';

const execFile = promisify(execFileCb);

const HOUR = 'global:\n  scrape_interval: 1h\n  scrape_timeout: 10s\n';

function issues(text: string): { path: string; message: string; line: number }[] {
  try {
    parseConfigText(text, 'test.yml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => ({ path: i.path, message: i.message, line: i.line }));
  }
  assert.fail('expected the config to be refused');
}

test("vmagent's scrape_config keys load, with vmagent's meaning", () => {
  const { config, warnings } = parseConfigText(
    `scrape_configs:
  - job_name: vm
    stream_parse: true
    scrape_align_interval: 1m
    scrape_offset: 5s
    disable_compression: true
    disable_keepalive: true
    series_limit: 1000
    headers:
      - "TenantID: abc"
      - "My-Auth:  TopSecret "
    max_scrape_size: 16MB
    no_stale_markers: true
    proxy_url: http://127.0.0.1:3128
    proxy_basic_auth: {username: u, password: p}
    proxy_tls_config: {insecure_skip_verify: true}
    static_configs: [{targets: ["http://host:9100/metrics?a=b"]}]
`,
    'test.yml',
    {},
  );
  const c = config.scrape_configs[0];
  assert.equal(c.stream_parse, true);
  assert.equal(c.scrape_align_interval, 60_000);
  assert.equal(c.scrape_offset, 5_000);
  assert.equal(c.enable_compression, false, 'disable_compression is enable_compression: false');
  assert.equal(c.disable_keepalive, true);
  assert.equal(c.series_limit, 1000);
  assert.deepEqual(c.override_headers, { tenantid: 'abc', 'my-auth': 'TopSecret' });
  assert.equal(c.body_size_limit, 16_000_000, "vmagent's MB is 10^6 bytes");
  assert.equal(c.no_stale_markers, true);
  assert.deepEqual(warnings, [], 'every key here is implemented');
});

test('vmagent keys: contradictions and bad values are precise errors', () => {
  const job = (extra: string) => `scrape_configs:\n  - job_name: a\n${extra}`;
  let got = issues(job('    enable_compression: true\n    disable_compression: true\n'));
  assert.equal(got.length, 1);
  assert.equal(got[0].path, 'scrape_configs[0].disable_compression');
  assert.match(got[0].message, /contradicts enable_compression/);
  // the same meaning twice is not a contradiction
  parseConfigText(job('    enable_compression: false\n    disable_compression: true\n'), 't.yml', {});

  got = issues(job('    body_size_limit: 1MB\n    max_scrape_size: 1MB\n'));
  assert.equal(got[0].path, 'scrape_configs[0].max_scrape_size');
  assert.match(got[0].message, /same setting/);
  // equal byte counts are fine: 1MiB in both spellings
  parseConfigText(job('    body_size_limit: 1MB\n    max_scrape_size: 1MiB\n'), 't.yml', {});

  got = issues(job('    max_scrape_size: lots\n'));
  assert.equal(got[0].path, 'scrape_configs[0].max_scrape_size');
  got = issues(job('    headers: ["no colon here"]\n'));
  assert.equal(got[0].path, 'scrape_configs[0].headers[0]');
  assert.equal(got[0].line, 3);
  got = issues(job('    headers: ["Content-Length: 5"]\n'));
  assert.match(got[0].message, /framing/);
  got = issues(job('    proxy_url: http://p:1\n    headers: ["Proxy-Authorization: Basic eA=="]\n'));
  assert.match(got[0].message, /use proxy_authorization/);
  got = issues(job('    headers: ["Accept-Encoding: br"]\n'));
  assert.match(got[0].message, /decodes only gzip/);
  got = issues(job('    headers: ["X-A: 1"]\n    http_headers: {x-a: {values: ["2"]}}\n'));
  assert.match(got[0].message, /also set in http_headers/);
  got = issues(job('    proxy_url: http://p:1\n    proxy_bearer_token: a\n    proxy_basic_auth: {username: u}\n'));
  assert.match(got[0].message, /at most one of/);
  got = issues(job('    series_limit: -1\n'));
  assert.equal(got[0].path, 'scrape_configs[0].series_limit');
});

test('vmagent keys Tributary does not act on, or acts on differently, warn at load', () => {
  const { warnings } = parseConfigText(
    `scrape_configs:
  - job_name: a
    relabel_debug: true
    metric_relabel_debug: true
    proxy_bearer_token: x
    proxy_oauth2: {client_id: a, token_url: "http://t"}
`,
    'test.yml',
    {},
  );
  const byKey = new Map(warnings.map((w) => [w.path, w.message]));
  assert.match(byKey.get('scrape_configs[0].relabel_debug') ?? '', /logged and the target is dropped/);
  assert.match(byKey.get('scrape_configs[0].metric_relabel_debug') ?? '', /logged and the series is dropped/);
  assert.match(byKey.get('scrape_configs[0].proxy_bearer_token') ?? '', /no effect without proxy_url/);
  assert.match(byKey.get('scrape_configs[0].proxy_oauth2') ?? '', /no effect without proxy_url/);
  const withProxy = parseConfigText('scrape_configs:\n  - job_name: a\n    proxy_url: http://p:1\n    proxy_oauth2: {client_id: a}\n', 't.yml', {});
  assert.match(withProxy.warnings[0]?.message ?? '', /not supported yet/);
});

test("max_scrape_size in vmagent's units (flagutil.Bytes)", () => {
  assert.equal(parseVmagentBytes('16MB'), 16_000_000);
  assert.equal(parseVmagentBytes('16MiB'), 16 * 1024 * 1024);
  assert.equal(parseVmagentBytes('1.5KB'), 1500);
  assert.equal(parseVmagentBytes('1024'), 1024);
  assert.equal(parseVmagentBytes(2048), 2048);
  assert.throws(() => parseVmagentBytes('16 parsecs'));
});

/** The target a static target string becomes in a job with these extra keys. */
function targetOf(address: string, extra = '', labels: Record<string, string> = {}): ScrapeTarget {
  const [cfg] = scrapeConfigs(`${HOUR}scrape_configs:\n  - job_name: j\n${extra}    static_configs: [{targets: ["x:1"]}]\n`);
  const [r] = targetsFromGroup({ source: 't', targets: [{ __address__: address, ...labels }], labels: {} }, cfg, Relabeler.compile(cfg.relabel_configs));
  assert.equal(r.kind, 'target', JSON.stringify(r));
  return (r as { target: ScrapeTarget }).target;
}

test("URL targets: scheme, host:port, path and query from the address, as vmagent's GetScrapeURL", () => {
  // [address, extra labels, scrape URL, instance] after vmagent's lib/promrelabel/scrape_url_test.go
  const cases: [string, Record<string, string>, string, string][] = [
    ['foo:1234', {}, 'http://foo:1234/metrics', 'foo:1234'],
    ['foo/bar/baz?abc=de', {}, 'http://foo/bar/baz?abc=de', 'foo:80'],
    ['foo:784/bar/baz?abc=de', {}, 'http://foo:784/bar/baz?abc=de', 'foo:784'],
    ['foo:784/bar/baz?abc=de', { __param_xx: 'yy' }, 'http://foo:784/bar/baz?abc=de&xx=yy', 'foo:784'],
    ['foo:784/bar/baz?abc=de', { __param_xx: 'yy', __scheme__: 'https' }, 'https://foo:784/bar/baz?abc=de&xx=yy', 'foo:784'],
    ['http://foo/bar/baz?abc=de', { __param_xx: 'yy' }, 'http://foo/bar/baz?abc=de&xx=yy', 'foo:80'],
    ['https://foo/bar/baz?abc=de', { __param_xx: 'yy' }, 'https://foo/bar/baz?abc=de&xx=yy', 'foo:443'],
    ['http://foo', {}, 'http://foo/metrics', 'foo:80'],
    ['https://foo', {}, 'https://foo/metrics', 'foo:443'],
    ['https://foo:443', {}, 'https://foo/metrics', 'foo:443'],
    ['http://[::1]:9100/m', {}, 'http://[::1]:9100/m', '[::1]:9100'],
    ['https://127.0.0.1:9443/x', { __scheme__: 'http', __metrics_path__: '/ignored' }, 'https://127.0.0.1:9443/x', '127.0.0.1:9443'],
  ];
  for (const [address, labels, url, instance] of cases) {
    const t = targetOf(address, '', labels);
    // WHATWG URLs drop a scheme's default port; the request goes to the same place
    assert.equal(t.url.href, url, address);
    assert.equal(t.labels.get('instance'), instance, address);
  }
  // a plain host:port keeps Prometheus 3's rule: no port added
  assert.equal(targetOf('foo').labels.get('instance'), 'foo');
  assert.deepEqual(splitAddress('a:1'), { host: 'a:1', instance: 'a:1' });
  // relabeling sees the URL as written in __address__, and may rewrite it
  const t = targetOf('http://a:1/x', '    relabel_configs:\n      - {source_labels: [__address__], target_label: url}\n');
  assert.equal(t.labels.get('url'), 'http://a:1/x');
});

test('__series_limit__ overrides series_limit per target, as in vmagent', () => {
  assert.equal(targetOf('a:1', '    series_limit: 5\n').seriesLimit, 5);
  assert.equal(targetOf('a:1', '    series_limit: 5\n', { __series_limit__: '7' }).seriesLimit, 7);
  assert.equal(targetOf('a:1', '', { __series_limit__: '7' }).seriesLimit, 7);
  const [cfg] = scrapeConfigs(`${HOUR}scrape_configs:\n  - job_name: j\n    static_configs: [{targets: ["x:1"]}]\n`);
  const [r] = targetsFromGroup({ source: 't', targets: [{ __address__: 'a:1', __series_limit__: 'many' }], labels: {} }, cfg, Relabeler.compile([]));
  assert.equal(r.kind, 'error');
});

test("scrape_offset and scrape_align_interval set the phase from the wall clock, as vmagent's scrapeWork.run", () => {
  const base = targetOf('a:1', '    scrape_interval: 10s\n');
  const at = (t: Partial<ScrapeTarget>, now: number) => scrapePhase({ ...base, ...t } as ScrapeTarget, now);
  // no keys: the hashed phase
  assert.equal(at({}, 123_456), base.hash % 10_000);
  // offset: that far into every multiple of the interval, whenever the loop starts
  for (const now of [0, 1_234, 9_999, 1_700_000_003_210]) assert.equal(at({ offsetMs: 3_000 }, now), 3_000);
  // alignment of 1m with a 10s interval: the scrapes fall on multiples of 10s (and so on the minute)
  assert.equal(at({ alignMs: 60_000 }, 1_700_000_003_210), 0);
  // an offset overrides the alignment (vmagent aligns to the interval then)
  assert.equal(at({ alignMs: 60_000, offsetMs: 2_500 }, 1_700_000_003_210), 2_500);
  // an offset longer than the interval wraps, as vmagent's modulo does
  assert.equal(at({ offsetMs: 12_000 }, 5), 2_000);
});

/** A target that records each request's headers and the connection it came on. */
async function recordingTarget(t: TestContext, page: string): Promise<TestTarget & { seen: { headers: IncomingHttpHeaders; rawHeaders: string[]; url: string; socket: Socket }[] }> {
  const seen: { headers: IncomingHttpHeaders; rawHeaders: string[]; url: string; socket: Socket }[] = [];
  const target = await startTarget((req, res) => {
    seen.push({ headers: req.headers, rawHeaders: req.rawHeaders, url: req.url ?? '', socket: req.socket });
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(page);
  });
  t.after(() => target.close());
  return Object.assign(target, { seen });
}

async function oneJob(t: TestContext, address: string, extra: string) {
  const h = await startScraping(`${HOUR}scrape_configs:\n  - job_name: app\n${extra}    static_configs: [{targets: ['${address}']}]\n`);
  t.after(() => h.close());
  const loops = await h.loops('app');
  return { h, loops };
}

test("vmagent's headers may set Authorization, User-Agent, Host and the rest, and are sent in place of Tributary's own", async (t) => {
  // vmagent 1.79.5 sends each of these lines as given (seen on the wire)
  const lines = ['Authorization: Bearer abc', 'User-Agent: custom-ua', 'Host: example.test', 'Accept: text/x',
    'X-Prometheus-Scrape-Timeout-Seconds: 42', 'Accept-Encoding: identity', 'Content-Type: x/y'];
  const yaml = `scrape_configs:\n  - job_name: app\n    headers: ${JSON.stringify(lines)}\n    static_configs: [{targets: ['h:1']}]\n`;
  const { warnings } = parseConfigText(yaml, 't.yml', {});
  assert.deepEqual(warnings, []);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-headers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'scrape.yml'), yaml);
  const checked = await runCli(['check-config', join(dir, 'scrape.yml')]);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);

  const target = await recordingTarget(t, 'a 1\n');
  // over the plain-http pool, and over undici (through a proxy, in absolute form)
  const proxy = await startProxy(t);
  for (const extra of ['', `    proxy_url: ${proxy.url}\n`]) {
    const { loops } = await oneJob(t, target.address, `    headers: ${JSON.stringify(lines)}\n${extra}`);
    await loops[0].scrapeOnce();
    assert.equal(loops[0].lastError, '', extra);
    const h = target.seen.at(-1)!.headers;
    assert.equal(h.authorization, 'Bearer abc', extra);
    assert.equal(h['user-agent'], 'custom-ua', extra);
    assert.equal(h.host, 'example.test', extra);
    assert.equal(h.accept, 'text/x', extra);
    assert.equal(h['x-prometheus-scrape-timeout-seconds'], '42', extra);
    assert.equal(h['accept-encoding'], 'identity', extra);
    assert.equal(h['content-type'], 'x/y', extra);
    assert.equal(target.seen.at(-1)!.rawHeaders.filter((n, i) => i % 2 === 0 && /^(host|user-agent|authorization)$/i.test(n)).length, 3, `each header once: ${extra}`);
  }
  assert.equal(proxy.requests.length, 1);
  assert.equal(proxy.requestHeaders[0].host, 'example.test');
});

test("headers' Authorization beside basic_auth: basic_auth's is sent, as vmagent does, and the config warns", async (t) => {
  const job = (auth: string) => `scrape_configs:\n  - job_name: app\n    headers: ["Authorization: Bearer fromheaders"]\n${auth}    static_configs: [{targets: ['h:1']}]\n`;
  for (const [auth, key] of [['    basic_auth: {username: u, password: p}\n', 'basic_auth'], ['    bearer_token: b\n', 'authorization']] as const) {
    const { warnings } = parseConfigText(job(auth), 't.yml', {});
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0].message, new RegExp(`Authorization line is not sent: ${key} sets`));
  }
  const target = await recordingTarget(t, 'a 1\n');
  const { loops } = await oneJob(t, target.address, '    headers: ["Authorization: Bearer fromheaders"]\n    basic_auth: {username: u, password: p}\n');
  await loops[0].scrapeOnce();
  assert.equal(target.seen.at(-1)!.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
});

test('headers, disable_compression and disable_keepalive change the scrape request as in vmagent', async (t) => {
  const target = await recordingTarget(t, 'a 1\n');
  const { loops } = await oneJob(t, target.address, '    headers: ["TenantID: abc", "X-Two: 2"]\n    disable_compression: true\n    disable_keepalive: true\n');
  await loops[0].scrapeOnce();
  await loops[0].scrapeOnce();
  assert.equal(target.seen.length, 2);
  for (const s of target.seen) {
    assert.equal(s.headers['tenantid'], 'abc');
    assert.equal(s.headers['x-two'], '2');
    assert.equal(s.headers['accept-encoding'], 'identity');
    assert.equal(s.headers['connection'], 'close');
  }
  assert.notEqual(target.seen[0].socket, target.seen[1].socket, 'a new connection for each scrape');

  // without them: gzip asked for, and the connection kept for the next scrape
  const plain = await recordingTarget(t, 'a 1\n');
  const other = await startScraping(`${HOUR}scrape_configs:\n  - job_name: p\n    static_configs: [{targets: ['${plain.address}']}]\n`);
  t.after(() => other.close());
  const [loop] = await other.loops('p');
  await loop.scrapeOnce();
  await loop.scrapeOnce();
  assert.equal(plain.seen[0].headers['accept-encoding'], 'gzip');
  assert.equal(plain.seen[0].socket, plain.seen[1].socket);
});

test('URL targets are scraped at their path and query; instance is their host:port', async (t) => {
  const target = await recordingTarget(t, 'a 1\n');
  const { h, loops } = await oneJob(t, `http://${target.address}/custom/metrics?x=y`, '    params: {z: ["1"]}\n');
  await loops[0].scrapeOnce();
  assert.equal(target.seen[0].url, '/custom/metrics?x=y&z=1');
  const up = h.sink.last().find((s) => s.series.startsWith('up{'));
  assert.equal(up?.series, `up{instance="${target.address}", job="app"}`);
  assert.equal(up?.value, 1);
});

test('no_stale_markers: a vanished series and a removed target get no staleness markers', async (t) => {
  let page = 'a 1\nb 2\n';
  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(page);
  });
  t.after(() => target.close());
  for (const [extra, wantStale] of [['    no_stale_markers: true\n', false], ['', true]] as const) {
    page = 'a 1\nb 2\n';
    const { h, loops } = await oneJob(t, target.address, extra);
    await loops[0].scrapeOnce();
    page = 'a 1\n';
    await loops[0].scrapeOnce();
    const stale = h.sink.last().filter((s) => s.stale).map((s) => s.series);
    assert.deepEqual(stale, wantStale ? [`b{instance="${target.address}", job="app"}`] : [], extra);
    h.sink.clear();
    await loops[0].stop(true);
    assert.equal(h.sink.batches.flatMap((b) => b.samples).some((s) => s.stale), wantStale);
  }
});

test('series_limit: samples of series past the limit are dropped and counted in the auto series', async (t) => {
  let page = 's1 1\ns2 2\ns3 3\ns4 4\ns5 5\n';
  const target = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(page);
  });
  t.after(() => target.close());
  const { h, loops } = await oneJob(t, target.address, '    series_limit: 3\n');
  await loops[0].scrapeOnce();
  const got = new Map(h.sink.last().map((s) => [s.series.replace(/\{.*/, ''), s.value]));
  assert.deepEqual(['s1', 's2', 's3'].map((n) => got.get(n)), [1, 2, 3]);
  assert.ok(!got.has('s4') && !got.has('s5'), 'series past the limit are not written');
  assert.equal(got.get('scrape_series_limit_samples_dropped'), 2);
  assert.equal(got.get('scrape_series_limit'), 3);
  assert.equal(got.get('scrape_series_current'), 3);
  assert.equal(got.get('scrape_samples_scraped'), 5);
  assert.ok(h.logLines.some((l) => l.includes('series_limit reached')), 'logged');
  // a known series keeps being accepted after others go away; a new one still is not
  page = 's1 1\ns6 6\n';
  await loops[0].scrapeOnce();
  const next = new Map(h.sink.last().filter((s) => !s.stale).map((s) => [s.series.replace(/\{.*/, ''), s.value]));
  assert.equal(next.get('s1'), 1);
  assert.ok(!next.has('s6'));
  assert.equal(next.get('scrape_series_limit_samples_dropped'), 1);
  // the series that went away get markers only if they were ever written (vmagent #3660)
  const stale = h.sink.last().filter((s) => s.stale).map((s) => s.series.replace(/\{.*/, '')).sort();
  assert.deepEqual(stale, ['s2', 's3']);
  // when the target goes away, likewise: s1 ends, the refused s6 was never there
  h.sink.clear();
  await loops[0].stop(true);
  const ended = h.sink.last().map((s) => s.series.replace(/\{.*/, ''));
  assert.ok(ended.includes('s1') && !ended.includes('s6'), ended.join());
});

test('relabel_debug and metric_relabel_debug log the relabeling and drop, as vmagent 1.79 does', async (t) => {
  const target = await recordingTarget(t, 'a{x="1"} 1\n');
  const rules = '      - {target_label: team, replacement: blue}\n';
  const h = await startScraping(
    `${HOUR}scrape_configs:
  - job_name: tdebug
    relabel_debug: true
    relabel_configs:
${rules}    static_configs: [{targets: ['${target.address}']}]
  - job_name: mdebug
    metric_relabel_debug: true
    metric_relabel_configs:
${rules}    static_configs: [{targets: ['${target.address}']}]
`,
  );
  t.after(() => h.close());
  assert.equal((await h.loops('tdebug')).length, 0, 'the target is dropped');
  assert.ok(h.logLines.some((l) => l.includes('relabel_debug') && l.includes('team=\\"blue\\"')), h.logLines.join('\n'));
  const [loop] = await h.loops('mdebug');
  await loop.scrapeOnce();
  await loop.scrapeOnce();
  const series = h.sink.last().map((s) => s.series);
  assert.ok(!series.some((s) => s.startsWith('a{')), 'the series is dropped');
  assert.ok(series.some((s) => s.startsWith('up{')), 'the auto series are written');
  const logged = h.logLines.filter((l) => l.includes('metric_relabel_debug'));
  assert.equal(logged.length, 1, 'each series is logged once, not every scrape');
  assert.match(logged[0], /team=\\"blue\\"/);
});

test('proxy_basic_auth, proxy_bearer_token(_file) and proxy_tls_config reach the proxy, not the target', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-proxy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'p.key'), '-out', join(dir, 'p.pem'), '-days', '2', '-subj', '/CN=proxy', '-addext', 'subjectAltName=IP:127.0.0.1']);
  writeFileSync(join(dir, 'token'), 'from-file\n');
  const target = await recordingTarget(t, 'a 1\n');
  const plain = await startProxy(t);
  const secure = await startProxy(t, { key: readFileSync(join(dir, 'p.key')), cert: readFileSync(join(dir, 'p.pem')) });

  const cases: [string, string, string | undefined][] = [
    [plain.url, '    proxy_basic_auth: {username: u, password: p}\n', `Basic ${Buffer.from('u:p').toString('base64')}`],
    [plain.url, `    proxy_bearer_token_file: ${join(dir, 'token')}\n`, 'Bearer from-file'],
    [plain.url, '    proxy_authorization: {type: Token, credentials: c}\n', 'Token c'],
    [secure.url, `    proxy_bearer_token: tok\n    proxy_tls_config: {ca_file: ${join(dir, 'p.pem')}}\n`, 'Bearer tok'],
  ];
  for (const [proxy, extra, want] of cases) {
    const seen = proxy === plain.url ? plain.auth : secure.auth;
    const before = seen.length;
    const { h, loops } = await oneJob(t, target.address, `    proxy_url: ${proxy}\n${extra}`);
    await loops[0].scrapeOnce();
    assert.equal(loops[0].lastError, '', extra);
    assert.equal(h.sink.last().find((s) => s.series.startsWith('a{'))?.value, 1, extra);
    assert.equal(seen.length, before + 1, `the proxy carried the scrape: ${extra}`);
    assert.equal(seen.at(-1), want, extra);
    assert.equal(target.seen.at(-1)?.headers['proxy-authorization'], undefined, 'not sent on to the target');
  }
  // the HTTPS proxy's certificate is checked against proxy_tls_config, not tls_config
  const { loops } = await oneJob(t, target.address, `    proxy_url: ${secure.url}\n`);
  await loops[0].scrapeOnce();
  assert.notEqual(loops[0].lastError, '');
});

/** A free port on 127.0.0.1 for vmagent's own HTTP listener. */
async function freePort(): Promise<number> {
  const s = createHttpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const INTERVAL = 2_000;
const OFFSET = 700;

/**
 * How late `ts` is after `phase` within the interval. Timers fire late on a busy machine, never
 * early; a few ms early stands for clock rounding and counts as on time.
 */
function lateness(ts: number, phase: number): number {
  const d = (((ts - phase) % INTERVAL) + INTERVAL) % INTERVAL;
  return d > INTERVAL - 50 ? 0 : d;
}

test('side by side with vmagent 1.79.5 on the same file and targets: same series, same requests, same phase', async (t) => {
  if (!requirePeer(t, VMAGENT, 'victoria-metrics')) return;
  const page = '# TYPE s gauge\ns{k="1"} 1\ns{k="2"} 2\ns{k="3"} 3\ns{k="4"} 4\ns{k="5"} 5\n';
  const limited = await recordingTarget(t, page);
  const aligned = await recordingTarget(t, 'b_total 7\n');
  const proxy = await startProxy(t);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-vmagent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Keys vmagent 1.79 knows (max_scrape_size, no_stale_markers and URL targets came later, and
  // stream_parse may not be combined with series_limit there): vmagent's documented examples.
  const yaml = `global:
  scrape_interval: 2s
  scrape_timeout: 1s
scrape_configs:
  - job_name: limited
    scrape_offset: ${OFFSET}ms
    headers:
      - "TenantID: abc"
    disable_compression: true
    disable_keepalive: true
    series_limit: 3
    static_configs: [{targets: ['${limited.address}'], labels: {env: prod}}]
  - job_name: aligned
    stream_parse: true
    scrape_align_interval: 2s
    proxy_url: ${proxy.url}
    proxy_basic_auth: {username: u, password: p}
    static_configs: [{targets: ['${aligned.address}']}]
`;
  const file = join(dir, 'scrape.yml');
  writeFileSync(file, yaml);
  const { warnings } = parseConfigText(yaml, file, {});
  assert.deepEqual(warnings, []);

  const recv = await receiver(() => ({ status: 204 }));
  t.after(() => recv.close());
  const vm = spawn(VMAGENT, [
    `-promscrape.config=${file}`,
    `-remoteWrite.url=${recv.url}`,
    `-remoteWrite.tmpDataPath=${join(dir, 'vmq')}`,
    '-remoteWrite.flushInterval=200ms',
    `-httpListenAddr=127.0.0.1:${await freePort()}`,
    '-loggerLevel=ERROR',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let vmErr = '';
  vm.stderr.on('data', (b: Buffer) => (vmErr += b.toString()));
  t.after(() => void vm.kill('SIGKILL'));

  const h = await startScraping(yaml);
  t.after(() => h.close());

  const isVm = (s: { headers: IncomingHttpHeaders }) => !String(s.headers['user-agent'] ?? '').startsWith('Tributary');
  // three scrapes of each job by each agent
  await waitFor('three scrapes by each agent', () => {
    for (const tg of [limited, aligned]) {
      const vms = tg.seen.filter(isVm).length;
      if (vms < 3 || tg.seen.length - vms < 3) return false;
    }
    return recv.got.length > 0;
  }, 15_000).catch((err: Error) => assert.fail(`${err.message}; vmagent said: ${vmErr}`));
  await new Promise((r) => setTimeout(r, 600)); // vmagent's last flush

  // What each agent sent, as series notation → sample timestamps
  const vmSeries = new Map<string, number[]>();
  for (const r of recv.got) for (const s of r.body.timeseries) {
    const key = s.labels.toString();
    vmSeries.set(key, [...(vmSeries.get(key) ?? []), ...s.samples.filter((x) => !x.stale).map((x) => x.timestampMs)]);
  }
  const ourSeries = new Map<string, number[]>();
  for (const b of h.sink.batches) for (const s of b.samples) if (!s.stale) ourSeries.set(s.series, [...(ourSeries.get(s.series) ?? []), s.ts]);

  // The page's series: the limiter let the same three through in both
  const pageSeries = (m: Map<string, number[]>) => [...m.keys()].filter((k) => /^(s|b_total)\{/.test(k)).sort();
  assert.deepEqual(pageSeries(ourSeries), pageSeries(vmSeries));
  assert.deepEqual(pageSeries(ourSeries), [
    `b_total{instance="${aligned.address}", job="aligned"}`,
    `s{env="prod", instance="${limited.address}", job="limited", k="1"}`,
    `s{env="prod", instance="${limited.address}", job="limited", k="2"}`,
    `s{env="prod", instance="${limited.address}", job="limited", k="3"}`,
  ]);
  // every per-target series vmagent 1.79 writes for these jobs that Tributary documents as its own
  const autoNames = (m: Map<string, number[]>) => new Set([...m.keys()].map((k) => k.replace(/\{.*/, '')));
  const ours = autoNames(ourSeries);
  for (const name of ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']) {
    assert.ok(autoNames(vmSeries).has(name) && ours.has(name), name);
  }
  if (autoNames(vmSeries).has('scrape_series_limit_samples_dropped')) assert.ok(ours.has('scrape_series_limit_samples_dropped'));

  // The requests: the header, no gzip, a connection per scrape, both through the proxy with its credentials
  for (const agent of [isVm, (s: { headers: IncomingHttpHeaders }) => !isVm(s)]) {
    const reqs = limited.seen.filter(agent);
    assert.ok(reqs.every((r) => r.headers['tenantid'] === 'abc'));
    assert.ok(reqs.every((r) => !String(r.headers['accept-encoding'] ?? '').includes('gzip')), JSON.stringify(reqs.map((r) => r.headers['accept-encoding'])));
    assert.equal(new Set(reqs.map((r) => r.socket)).size, reqs.length, 'one connection per scrape');
  }
  const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
  assert.ok(proxy.auth.length >= 2 && proxy.auth.every((a) => a === basic), JSON.stringify(proxy.auth));

  // The phase: scrape_offset puts both agents' scrapes 700 ms into every 2 s; scrape_align_interval on the 2 s
  const upTimes = (m: Map<string, number[]>, job: string) => [...m].find(([k]) => k.startsWith('up{') && k.includes(`job="${job}"`))?.[1] ?? [];
  for (const [who, m] of [['vmagent', vmSeries], ['Tributary', ourSeries]] as const) {
    const off = upTimes(m, 'limited');
    const al = upTimes(m, 'aligned');
    assert.ok(off.length >= 2 && al.length >= 2, who);
    // on time at least once, and never far off: a hashed phase would be anywhere in the 2 s
    for (const [times, phase] of [[off, OFFSET], [al, 0]] as const) {
      const late = times.map((ts) => lateness(ts, phase));
      const shown = times.map((ts) => ts % INTERVAL).join(', ');
      assert.ok(Math.min(...late) <= 150 && Math.max(...late) <= 600, `${who}: scrapes at ${shown} ms into the interval, want ${phase}`);
    }
  }
});

test('check-config: a vmagent file passes, with the warnings that say what Tributary does differently', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-vmcheck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'vmagent.yml');
  writeFileSync(
    file,
    `scrape_configs:
  - job_name: node
    stream_parse: true
    scrape_align_interval: 1m
    series_limit: 1000
    relabel_debug: true
    proxy_url: http://127.0.0.1:3128
    proxy_oauth2: {client_id: a, token_url: "http://t"}
    static_configs: [{targets: ["http://127.0.0.1:9100/metrics"]}]
`,
  );
  const r = await runCli(['check-config', file]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const out = r.stdout + r.stderr;
  assert.match(out, /vmagent\.yml:6:\d+: scrape_configs\[0\]\.relabel_debug: vmagent's debug mode/);
  assert.match(out, /scrape_configs\[0\]\.proxy_oauth2: OAuth 2\.0 toward the proxy is not supported yet/);
  assert.doesNotMatch(out, /stream_parse|series_limit|scrape_align_interval/);
});

test('max_scrape_size limits the body as body_size_limit does', async (t) => {
  const target = await recordingTarget(t, `big ${'1'.repeat(300)}\n`);
  const { h, loops } = await oneJob(t, target.address, '    max_scrape_size: 100\n');
  await loops[0].scrapeOnce();
  assert.match(loops[0].lastError, /exceeds body_size_limit \(100 bytes\)/);
  assert.equal(h.sink.last().find((s) => s.series.startsWith('up{'))?.value, 0);
});
