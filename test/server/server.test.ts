import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Registry } from '../../src/selfmetrics/index.js';
import {
  HttpServer,
  DEFAULT_LISTEN_ADDRESS,
  Readiness,
  acceptsGzip,
  parseListenAddress,
  registerCoreRoutes,
  sendJson,
} from '../../src/server/index.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

function fetchRaw(
  address: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; agent?: Agent | false } = {},
): Promise<Reply> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host, port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Fixture {
  server: HttpServer;
  registry: Registry;
  readiness: Readiness;
  address: string;
  get(path: string, opts?: Parameters<typeof fetchRaw>[2]): Promise<Reply>;
}

async function start(setup?: (server: HttpServer) => void): Promise<Fixture> {
  const registry = new Registry();
  const readiness = new Readiness();
  const server = new HttpServer({ registry });
  registerCoreRoutes(server, { registry, readiness });
  setup?.(server);
  const address = await server.listen('127.0.0.1:0');
  return { server, registry, readiness, address, get: (path, opts) => fetchRaw(address, path, opts) };
}

function requestCount(registry: Registry, path: string, code: string): number {
  const fam = registry.collect().find((f) => f.name === 'tributary_http_requests_total');
  const m = fam?.metrics.find((p) => p.labels.get('path') === path && p.labels.get('code') === code);
  return m?.value ?? 0;
}

const PROMETHEUS_3_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

test('listen binds where told and reports the bound address', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  assert.match(f.address, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(f.address, '127.0.0.1:0');
  assert.equal(f.server.address(), f.address);
  assert.equal(DEFAULT_LISTEN_ADDRESS, '127.0.0.1:9190');
});

test('/health, /ready and nosniff on every response', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  const health = await f.get('/health');
  assert.equal(health.status, 200);
  assert.equal(health.text, 'OK\n');
  assert.equal(health.headers['x-content-type-options'], 'nosniff');

  let ready = await f.get('/ready');
  assert.equal(ready.status, 503);
  assert.equal(ready.text, 'not ready: starting\n');
  f.readiness.setReady();
  ready = await f.get('/ready');
  assert.equal(ready.status, 200);
  f.readiness.setNotReady('loading configuration');
  ready = await f.get('/ready');
  assert.equal(ready.status, 503);
  assert.match(ready.text, /loading configuration/);

  const missing = await f.get('/nope');
  assert.equal(missing.headers['x-content-type-options'], 'nosniff');
});

test('404 for unknown paths, 405 with Allow for wrong methods, HEAD served as GET', async (t) => {
  const f = await start((s) => s.post('/push', (_req, res) => sendJson(res, 200, { ok: true })));
  t.after(() => f.server.close());
  const missing = await f.get('/missing?x=1');
  assert.equal(missing.status, 404);
  assert.equal(missing.text, '404 page not found\n');

  const wrong = await f.get('/health', { method: 'POST' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.allow, 'GET, HEAD');
  const wrong2 = await f.get('/push');
  assert.equal(wrong2.status, 405);
  assert.equal(wrong2.headers.allow, 'POST');
  const pushed = await f.get('/push', { method: 'POST' });
  assert.equal(pushed.status, 200);
  assert.deepEqual(JSON.parse(pushed.text), { ok: true });
  assert.match(String(pushed.headers['content-type']), /^application\/json/);

  const head = await f.get('/health', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers['content-length'], '3');

  const withQuery = await f.get('/health?verbose=1');
  assert.equal(withQuery.status, 200);
});

test('request metrics are labelled by route pattern and code; unrouted paths collapse to "other"', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  await f.get('/health');
  await f.get('/health?a=b');
  await f.get('/ready');
  await f.get('/random-1');
  await f.get('/random-2');
  await f.get('/health', { method: 'DELETE' });
  assert.equal(requestCount(f.registry, '/health', '200'), 2);
  assert.equal(requestCount(f.registry, '/ready', '503'), 1);
  assert.equal(requestCount(f.registry, 'other', '404'), 2);
  assert.equal(requestCount(f.registry, '/health', '405'), 1);
  const fam = f.registry.collect().find((x) => x.name === 'tributary_http_request_duration_seconds');
  assert.equal(fam?.type, 'histogram');
  const count = fam?.metrics.find((m) => m.labels.metricName.endsWith('_count') && m.labels.get('path') === '/health');
  assert.equal(count?.value, 3);
  const paths = new Set(fam?.metrics.map((m) => m.labels.get('path')));
  assert.deepEqual([...paths].sort(), ['/health', '/ready', 'other']);
});

test('a throwing handler gives 500 and the server keeps serving', async (t) => {
  const f = await start((s) => {
    s.get('/sync-throw', () => {
      throw new Error('sync failure');
    });
    s.get('/async-throw', async (_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('async failure');
    });
  });
  t.after(() => f.server.close());
  const a = await f.get('/sync-throw');
  assert.equal(a.status, 500);
  assert.equal(a.text, '500 internal server error\n');
  assert.doesNotMatch(a.text, /failure/);
  const b = await f.get('/async-throw');
  assert.equal(b.status, 500);
  assert.match(String(b.headers['content-type']), /^text\/plain/);
  assert.equal(b.headers['x-content-type-options'], 'nosniff');
  assert.equal((await f.get('/health')).status, 200);
  assert.equal(requestCount(f.registry, '/sync-throw', '500'), 1);
});

test('acceptsGzip honours q-values', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip(''), false);
  assert.equal(acceptsGzip('gzip'), true);
  assert.equal(acceptsGzip('deflate, gzip;q=0.5'), true);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('gzip; q=0.000'), false);
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('*;q=0'), false);
  assert.equal(acceptsGzip('gzip;q=0, *'), false);
  assert.equal(acceptsGzip('br, x-gzip'), true);
  assert.equal(acceptsGzip('GZIP'), true);
});

test('parseListenAddress', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9190'), { host: '127.0.0.1', port: 9190 });
  assert.deepEqual(parseListenAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.deepEqual(parseListenAddress(':9190'), { host: undefined, port: 9190 });
  assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
  assert.throws(() => parseListenAddress('9190'), /^Error: cannot listen on 9190: missing port/);
  assert.throws(() => parseListenAddress('::1:9190'), /in brackets/);
  assert.throws(() => parseListenAddress('[::1]9190'), /invalid address/);
  assert.throws(() => parseListenAddress('[1.2.3.4]:9190'), /invalid IPv6/);
  assert.throws(() => parseListenAddress('host:99999'), /invalid port "99999"/);
  assert.throws(() => parseListenAddress('host:-1'), /invalid port/);
  assert.throws(() => parseListenAddress('bad host:1'), /invalid host/);
  assert.throws(() => parseListenAddress(''), /^Error: cannot listen on "": missing port/);
});

test('a taken port gives a one-line error; the first server keeps serving', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  const second = new HttpServer({ registry: new Registry() });
  await assert.rejects(second.listen(f.address), (err: Error) => {
    assert.equal(err.message, `cannot listen on ${f.address}: address already in use`);
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
    return true;
  });
  await assert.rejects(second.listen('nonsense'), /^Error: cannot listen on nonsense: missing port/);
  assert.equal((await f.get('/health')).status, 200);
  await second.close();
});

test('an address not on this host gives a one-line error', async () => {
  const s = new HttpServer({ registry: new Registry() });
  // TEST-NET-1 (RFC 5737) is never assigned to a local interface.
  await assert.rejects(s.listen('192.0.2.1:0'), {
    message: 'cannot listen on 192.0.2.1:0: address not available on this host',
  });
});

test('IPv6 loopback is formatted with brackets', async (t) => {
  const s = new HttpServer({ registry: new Registry() });
  let address: string;
  try {
    address = await s.listen('[::1]:0');
  } catch {
    t.skip('no IPv6 loopback here');
    return;
  }
  assert.match(address, /^\[::1\]:\d+$/);
  await s.close();
});

test('graceful shutdown: in-flight request completes, new connections are refused', async () => {
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  const f = await start((s) =>
    s.get('/slow', async (_req, res) => {
      entered();
      await new Promise((r) => setTimeout(r, 300));
      res.end('done');
    }),
  );
  // An idle keep-alive connection must not hold shutdown up.
  const idle = connect(parseListenAddress(f.address).port, '127.0.0.1');
  await new Promise((r) => idle.once('connect', r));
  const idleClosed = new Promise((r) => idle.once('close', r));

  const slow = f.get('/slow');
  await inHandler;
  const t0 = Date.now();
  const closed = f.server.close(5_000);
  await assert.rejects(f.get('/health'), { code: 'ECONNREFUSED' });
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(reply.text, 'done');
  assert.equal(reply.headers.connection, 'close');
  await closed;
  await idleClosed;
  assert.ok(Date.now() - t0 < 3_000, 'close waited for the grace period instead of the request');
  assert.equal(f.server.close(), closed, 'close is idempotent');
});

test('graceful shutdown: a keep-alive connection is closed after its in-flight response', async () => {
  const f = await start((s) =>
    s.get('/slow', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 150));
      res.end('done');
    }),
  );
  const sock = connect(parseListenAddress(f.address).port, '127.0.0.1');
  let received = '';
  sock.on('data', (d: Buffer) => (received += d.toString()));
  const sockClosed = new Promise((r) => sock.once('close', r));
  await new Promise((r) => sock.once('connect', r));
  // Two pipelined requests: the first keeps the connection busy while shutdown begins.
  sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 50));
  await f.server.close(5_000);
  await sockClosed;
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(received, /\r\nConnection: close\r\n/i);
  assert.match(received, /\r\n\r\ndone$/, 'the pipelined request after the last response is not served');
});

test('graceful shutdown: a response already streaming finishes, then its keep-alive connection closes', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let streaming!: () => void;
  const started = new Promise<void>((r) => (streaming = r));
  const f = await start((s) =>
    s.get('/stream', async (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('part one, ');
      streaming();
      await released;
      res.end('part two');
    }),
  );
  const agent = new Agent({ keepAlive: true });
  try {
    const reply = f.get('/stream', { agent });
    await started;
    const closed = f.server.close(5_000);
    release();
    const r = await reply;
    assert.equal(r.text, 'part one, part two');
    assert.equal(r.headers.connection, 'keep-alive', 'headers went out before shutdown began');
    const t0 = Date.now();
    await closed;
    assert.ok(Date.now() - t0 < 1_000);
  } finally {
    agent.destroy();
  }
});

test('graceful shutdown: requests still running after the grace period are cut', async () => {
  const f = await start((s) =>
    s.get('/hang', () => {
      // Never answers.
    }),
  );
  const hung = f.get('/hang');
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  await f.server.close(200);
  const waited = Date.now() - t0;
  assert.ok(waited >= 150 && waited < 2_000, `close took ${waited} ms`);
  await assert.rejects(hung, /socket hang up|ECONNRESET/);
});

// The /metrics tests below need the exposition writer.

test('/metrics without Accept: text format 0.0.4', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  f.registry.counter({ name: 'tributary_test_events_total', help: 'Test events.' }).inc(3);
  await f.get('/health');
  const r = await f.get('/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(r.headers.vary, 'Accept, Accept-Encoding');
  assert.equal(r.headers['content-encoding'], undefined);
  assert.match(r.text, /^# TYPE tributary_test_events_total counter$/m);
  assert.match(r.text, /^tributary_test_events_total 3$/m);
  assert.match(r.text, /^tributary_http_requests_total\{code="200",path="\/health"\} 1$/m);
  assert.doesNotMatch(r.text, /# EOF/);
});

test('/metrics with OpenMetrics Accept ends with # EOF', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  const r = await f.get('/metrics', { headers: { accept: 'application/openmetrics-text;version=1.0.0' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  assert.ok(r.text.endsWith('# EOF\n'), 'OpenMetrics page must end with # EOF');
});

test("/metrics with Prometheus 3's Accept header", async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  const r = await f.get('/metrics', { headers: { accept: PROMETHEUS_3_ACCEPT } });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/openmetrics-text; version=1\.0\.0; charset=utf-8/);
  assert.ok(r.text.endsWith('# EOF\n'));
});

test('/metrics gzip when asked, not when refused', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  await f.get('/health');
  const plain = await f.get('/metrics', { headers: { 'accept-encoding': 'identity' } });
  const zipped = await f.get('/metrics', { headers: { 'accept-encoding': 'gzip, deflate' } });
  assert.equal(zipped.status, 200);
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
  const unzipped = gunzipSync(zipped.body).toString('utf8');
  const stable = (s: string): string =>
    s
      .split('\n')
      .filter((l) => l.startsWith('# TYPE') || l.startsWith('# HELP'))
      .join('\n');
  assert.equal(stable(unzipped), stable(plain.text));
  assert.match(unzipped, /^tributary_http_requests_total\{code="200",path="\/metrics"\} 1$/m);
  assert.doesNotMatch(plain.text, /path="\/metrics"/);

  const refused = await f.get('/metrics', { headers: { 'accept-encoding': 'gzip;q=0' } });
  assert.equal(refused.headers['content-encoding'], undefined);
  assert.match(refused.text, /^# TYPE tributary_http_requests_total counter$/m);
});

test('/metrics HEAD has headers and no body', async (t) => {
  const f = await start();
  t.after(() => f.server.close());
  await f.get('/health');
  const r = await f.get('/metrics', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
  assert.ok(Number(r.headers['content-length']) > 0);
});
