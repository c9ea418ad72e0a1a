/**
 * HTTP gateway sources against real node:http / node:https exporters on port 0: values,
 * errors, authentication, forwarded parameters, gzip, limits, TLS and version stability.
 */

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { gatewaySourceSchema, type GatewaySourceInput } from '../../src/config/gateway-sources.js';
import { createSource, HttpSource } from '../../src/gateway/sources/index.js';
import type { GatewaySource, ScrapeContext, SourceSnapshot } from '../../src/gateway/source.js';
import { silentLogger } from '../../src/log/logger.js';
import { familiesOf } from '../../src/model/frame.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const PAGE = '# TYPE up gauge\nup 1\n# TYPE requests_total counter\nrequests_total{code="200"} 42\n';

function ctx(params = '', signal: AbortSignal = new AbortController().signal): ScrapeContext {
  return { signal, params: new URLSearchParams(params) };
}

function value(s: SourceSnapshot, family: string): number | undefined {
  return familiesOf(s.frame).find((f) => f.name === family)?.metrics[0]?.value;
}

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const c of open.reverse()) await c.close();
});

async function serve(handler: Handler): Promise<{ url: string; server: Server; connections: () => number }> {
  const server = createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push({ close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, connections: () => connections };
}

function source(http: Record<string, unknown> & { url: string }, name = 'exp'): GatewaySource {
  const input: GatewaySourceInput = { name, http };
  const s = createSource(gatewaySourceSchema.parse(input), silentLogger);
  open.push(s);
  return s;
}

test('on-scrape: values, OpenMetrics by Content-Type, Accept header, keep-alive reuse', async () => {
  let accept = '';
  const srv = await serve((req, res) => {
    accept = req.headers.accept ?? '';
    res.setHeader('content-type', 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    res.end('# TYPE temp gauge\ntemp{room="a"} 21.5\n# EOF\n');
  });
  const s = source({ url: `${srv.url}/metrics` });
  const snap = await s.snapshot(ctx());
  assert.equal(snap.ok, true, snap.error);
  assert.equal(value(snap, 'temp'), 21.5);
  assert.equal(snap.droppedLines, 0, snap.error);
  assert.ok(snap.version > 0);
  assert.ok(snap.lastSuccessMs > 0);
  assert.match(accept, /^application\/openmetrics-text;version=1\.0\.0/);
  assert.match(accept, /text\/plain;version=0\.0\.4/);
  // Scrapes are seconds apart in life; a pause lets undici see the connection free again
  // (back to back, its pool may open a second one before the first is released).
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    await s.snapshot(ctx());
  }
  assert.equal(srv.connections(), 1, 'one keep-alive connection for all scrapes');
});

test('on-scrape: unchanged body keeps the version and families; changed body gets a new one', async () => {
  let body = PAGE;
  const srv = await serve((_req, res) => res.end(body));
  const s = source({ url: srv.url });
  const a = await s.snapshot(ctx());
  const b = await s.snapshot(ctx());
  assert.equal(b.version, a.version);
  assert.equal(b.frame, a.frame, 'not re-parsed');
  body = PAGE.replace('42', '43');
  const c = await s.snapshot(ctx());
  assert.notEqual(c.version, a.version);
  assert.equal(value(c, 'requests_total'), 43);
});

test('lenient parsing: bad lines dropped and counted, first error reported, still ok', async () => {
  const srv = await serve((_req, res) => res.end('up 1\nthis is { not valid\nother 2\n'));
  const snap = await source({ url: srv.url }).snapshot(ctx());
  assert.equal(snap.ok, true);
  assert.equal(snap.droppedLines, 1);
  assert.match(snap.error ?? '', /line 2/);
  assert.equal(value(snap, 'other'), 2);
});

test('timeout: error for the slow source, the other source unaffected', async () => {
  const slow = await serve((_req, res) => setTimeout(() => res.end(PAGE), 2000));
  const fast = await serve((_req, res) => res.end(PAGE));
  const a = source({ url: slow.url, timeout: '200ms' }, 'slow');
  const b = source({ url: fast.url }, 'fast');
  const started = Date.now();
  const [sa, sb] = await Promise.all([a.snapshot(ctx()), b.snapshot(ctx())]);
  assert.ok(Date.now() - started < 1500, 'did not wait for the slow exporter');
  assert.equal(sa.ok, false);
  assert.equal(sa.frame.layout.size, 0);
  assert.match(sa.error ?? '', /^timeout after 0\.2s fetching http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(sb.ok, true);
  assert.equal(value(sb, 'up'), 1);
});

test('on-scrape: the scrape signal bounds the fetch', async () => {
  const slow = await serve((_req, res) => setTimeout(() => res.end(PAGE), 2000));
  const s = source({ url: slow.url });
  const started = Date.now();
  // Held here until the end: a timeout signal reachable only through AbortSignal.any() may be
  // collected before it fires (nodejs/node#57736), and the scrape would wait for the server.
  const scrapeSignal = AbortSignal.timeout(150);
  const snap = await s.snapshot(ctx('', scrapeSignal));
  assert.ok(Date.now() - started < 1500);
  assert.equal(snap.ok, false);
  assert.match(snap.error ?? '', /scrape aborted/);
  assert.ok(scrapeSignal.aborted);
});

test('non-2xx: error names status, URL and a body excerpt; on-scrape shows no data', async () => {
  let fail = false;
  const srv = await serve((_req, res) => {
    if (!fail) return res.end(PAGE);
    res.statusCode = 500;
    res.end('database exploded\n' + 'x'.repeat(1000));
  });
  const s = source({ url: `${srv.url}/metrics` });
  const good = await s.snapshot(ctx());
  fail = true;
  const bad = await s.snapshot(ctx());
  assert.equal(bad.ok, false);
  assert.equal(bad.frame.layout.size, 0);
  assert.notEqual(bad.version, good.version);
  assert.ok(bad.error?.startsWith(`HTTP 500 from ${srv.url}/metrics: database exploded x`), bad.error);
  assert.ok(bad.error!.length <= `HTTP 500 from ${srv.url}/metrics: `.length + 200);
  assert.equal(bad.lastSuccessMs, good.lastSuccessMs);
  const again = await s.snapshot(ctx());
  assert.equal(again.version, bad.version, 'repeated failures keep the empty version');
});

test('basic auth and bearer reach the server; custom headers too; secrets from files', async () => {
  const seen: { auth?: string; custom?: string | string[] }[] = [];
  const srv = await serve((req, res) => {
    seen.push({ auth: req.headers.authorization, custom: req.headers['x-tenant'] });
    res.end(PAGE);
  });
  const dir = mkdtempSync(join(tmpdir(), 'trib-http-'));
  try {
    const tokenFile = join(dir, 'token');
    execFileSync('sh', ['-c', `printf 'filetoken\\n' > ${tokenFile}`]);
    await source({ url: srv.url, basic_auth: { username: 'alice', password: 's3cret' } }, 'b').snapshot(ctx());
    await source({ url: srv.url, authorization: { credentials: 'tok123' } }, 'c').snapshot(ctx());
    await source({ url: srv.url, bearer_token_file: tokenFile }, 'd').snapshot(ctx());
    await source({ url: srv.url, http_headers: { 'X-Tenant': { values: ['t1'] } } }, 'e').snapshot(ctx());
    assert.equal(seen[0].auth, 'Basic ' + Buffer.from('alice:s3cret').toString('base64'));
    assert.equal(seen[1].auth, 'Bearer tok123');
    assert.equal(seen[2].auth, 'Bearer filetoken');
    assert.equal(seen[3].custom, 't1');
    const missing = await source({ url: srv.url, bearer_token_file: join(dir, 'nope') }, 'f').snapshot(ctx());
    assert.equal(missing.ok, false);
    assert.match(missing.error ?? '', /cannot read authorization\.credentials_file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forward_params appends the scrape query to the URL; off by default', async () => {
  const urls: string[] = [];
  const srv = await serve((req, res) => {
    urls.push(req.url ?? '');
    res.end(PAGE);
  });
  await source({ url: `${srv.url}/m?fixed=1`, forward_params: true }, 'fw').snapshot(ctx('module=if_mib&target=a%20b'));
  await source({ url: `${srv.url}/m` }, 'nofw').snapshot(ctx('module=x'));
  assert.equal(urls[0], '/m?fixed=1&module=if_mib&target=a+b');
  assert.equal(urls[1], '/m');
});

test('gzip: asked for and decoded', async () => {
  let acceptEncoding = '';
  const srv = await serve((req, res) => {
    acceptEncoding = String(req.headers['accept-encoding']);
    res.setHeader('content-encoding', 'gzip');
    res.end(gzipSync(PAGE));
  });
  const snap = await source({ url: srv.url }).snapshot(ctx());
  assert.equal(acceptEncoding, 'gzip');
  assert.equal(snap.ok, true, snap.error);
  assert.equal(value(snap, 'requests_total'), 42);
});

test('max_body_bytes: larger bodies are an error, plain, chunked and gzipped', async () => {
  const big = '# TYPE a gauge\n' + 'a{i="x"} 1\n'.repeat(2000); // ~22 KB
  const srv = await serve((req, res) => {
    if (req.url === '/chunked') {
      res.write(big.slice(0, 10000));
      res.end(big.slice(10000));
    } else if (req.url === '/gzip') {
      res.setHeader('content-encoding', 'gzip');
      res.end(gzipSync(big)); // small on the wire, large decoded
    } else res.end(big);
  });
  for (const path of ['/', '/chunked', '/gzip']) {
    const snap = await source({ url: srv.url + path, max_body_bytes: '16KiB' }, `lim${path}`).snapshot(ctx());
    assert.equal(snap.ok, false, path);
    assert.match(snap.error ?? '', /exceeds max_body_bytes \(16384 bytes\)/);
  }
  const ok = await source({ url: srv.url, max_body_bytes: '64KiB' }, 'roomy').snapshot(ctx());
  assert.equal(ok.ok, true);
});

test('connection refused: precise error, never a rejection', async () => {
  const srv = await serve((_req, res) => res.end(PAGE));
  const url = srv.url;
  await new Promise<void>((r) => { srv.server.closeAllConnections(); srv.server.close(() => r()); });
  const snap = await source({ url }).snapshot(ctx());
  assert.equal(snap.ok, false);
  assert.match(snap.error ?? '', /^fetching http:\/\/127\.0\.0\.1:\d+\/: .*ECONNREFUSED/);
});

test('two URLs on one host are separate sources', async () => {
  const srv = await serve((req, res) => res.end(req.url === '/a' ? 'a_metric 1\n' : 'b_metric 2\n'));
  const [a, b] = await Promise.all([
    source({ url: `${srv.url}/a` }, 'a').snapshot(ctx()),
    source({ url: `${srv.url}/b` }, 'b').snapshot(ctx()),
  ]);
  assert.equal(value(a, 'a_metric'), 1);
  assert.equal(value(b, 'b_metric'), 2);
  assert.equal(a.frame.layout.families.length, 1);
  assert.equal(b.frame.layout.families.length, 1);
});

test('poll mode: first poll at start, cached between polls, last good served on failure', async () => {
  let hits = 0;
  let fail = false;
  const srv = await serve((_req, res) => {
    hits++;
    setTimeout(() => {
      if (fail) {
        res.statusCode = 503;
        res.end('busy');
      } else res.end(PAGE);
    }, 100);
  });
  const s = source({ url: srv.url, mode: 'poll', interval: '300ms', timeout: '2s' }) as HttpSource;
  // The scrape arrives before the first poll finished: it waits for it.
  const first = await s.snapshot(ctx());
  assert.equal(first.ok, true, first.error);
  assert.equal(hits, 1);
  const cached = await s.snapshot(ctx());
  assert.equal(hits, 1, 'served from cache');
  assert.equal(cached, first);
  fail = true;
  await new Promise((r) => setTimeout(r, 500));
  const stale = await s.snapshot(ctx());
  assert.equal(stale.ok, false);
  assert.equal(stale.version, first.version);
  assert.equal(stale.frame, first.frame);
  assert.match(stale.error ?? '', /^HTTP 503 from .*: busy$/);
  assert.ok(s.failures >= 1);
  fail = false;
  await new Promise((r) => setTimeout(r, 500));
  const back = await s.snapshot(ctx());
  assert.equal(back.ok, true);
  assert.equal(back.version, first.version, 'same bytes as before: same version');
});

test('poll mode: a scrape before the first result waits at most the timeout', async () => {
  const srv = await serve((_req, res) => setTimeout(() => res.end(PAGE), 3000));
  const s = source({ url: srv.url, mode: 'poll', interval: '10s', timeout: '300ms' });
  const started = Date.now();
  const snap = await s.snapshot(ctx());
  assert.ok(Date.now() - started < 2000);
  assert.equal(snap.ok, false);
});

let tlsDir = '';
before(() => {
  tlsDir = mkdtempSync(join(tmpdir(), 'trib-tls-'));
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-keyout', join(tlsDir, 'key.pem'), '-out', join(tlsDir, 'cert.pem'),
      '-subj', '/CN=exporter.test',
      '-addext', 'subjectAltName=DNS:exporter.test,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
});
after(() => rmSync(tlsDir, { recursive: true, force: true }));

test('https: verified with ca_file, with server_name, or skipped with insecure_skip_verify; refused otherwise', async () => {
  const server = createHttpsServer(
    { key: readFileSync(join(tlsDir, 'key.pem')), cert: readFileSync(join(tlsDir, 'cert.pem')) },
    (_req, res) => res.end(PAGE),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push({ close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

  const withCa = await source({ url, tls_config: { ca_file: join(tlsDir, 'cert.pem') } }, 'ca').snapshot(ctx());
  assert.equal(withCa.ok, true, withCa.error);
  assert.equal(value(withCa, 'up'), 1);

  const named = await source(
    { url, tls_config: { ca_file: join(tlsDir, 'cert.pem'), server_name: 'exporter.test' } },
    'sni',
  ).snapshot(ctx());
  assert.equal(named.ok, true, named.error);

  const wrongName = await source(
    { url, tls_config: { ca_file: join(tlsDir, 'cert.pem'), server_name: 'other.test' } },
    'badsni',
  ).snapshot(ctx());
  assert.equal(wrongName.ok, false);

  const insecure = await source({ url, tls_config: { insecure_skip_verify: true } }, 'insecure').snapshot(ctx());
  assert.equal(insecure.ok, true, insecure.error);

  const untrusted = await source({ url }, 'untrusted').snapshot(ctx());
  assert.equal(untrusted.ok, false);
  assert.match(untrusted.error ?? '', /self-signed|self signed/i);

  const missingCa = await source({ url, tls_config: { ca_file: join(tlsDir, 'none.pem') } }, 'noca').snapshot(ctx());
  assert.match(missingCa.error ?? '', /cannot read tls_config\.ca_file/);
});
