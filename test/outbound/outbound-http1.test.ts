/**
 * The plain HTTP/1.1 client (src/outbound/http1.ts) against real servers: Node's own HTTP
 * server for keep-alive, POST bodies and stale connections, and raw TCP servers that write
 * responses byte by byte for the framings and the malformed answers a parser must survive.
 * Redirects and gzip are checked through fetchStream, which owns them.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Http1Pool, MAX_HEAD_BYTES, type Http1Request } from '../../src/outbound/http1.js';
import { fetchPage, HttpClient, type HttpClientSettings } from '../../src/outbound/index.js';

interface Got {
  status: number;
  headers: ReadonlyMap<string, string>;
  body: string;
}

function call(pool: Http1Pool, req: Partial<Http1Request> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: ReadonlyMap<string, string> = new Map();
    const parts: Buffer[] = [];
    pool.request(
      { method: 'GET', path: '/', headers: {}, ...req },
      {
        onHeaders(s, h) {
          status = s;
          headers = h;
        },
        // a view of the shared read buffer: copied, as the contract says
        onData: (c) => parts.push(Buffer.from(c)),
        onEnd: () => resolve({ status, headers, body: Buffer.concat(parts).toString() }),
        onError: reject,
      },
    );
  });
}

/** A TCP server that answers every request with `answer`, written in pieces of `piece` bytes. */
async function rawServer(answer: (n: number) => string, piece = 1): Promise<{ pool: Http1Pool; connections: () => number; close: () => void }> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((sock) => {
    connections++;
    sockets.add(sock);
    let pending = '';
    sock.on('data', async (d) => {
      pending += d.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        const bytes = Buffer.from(answer(++requests), 'latin1');
        for (let i = 0; i < bytes.length; i += piece) {
          sock.write(bytes.subarray(i, i + piece));
          if (piece < bytes.length) await new Promise((r) => setImmediate(r));
        }
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    pool: Http1Pool.forUrl(new URL(`http://127.0.0.1:${port}/`)),
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test('keep-alive: one connection serves many requests; POST bodies arrive whole with their length', async (t) => {
  const sockets = new Set<unknown>();
  const server = createServer((req, res) => {
    sockets.add(req.socket);
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      res.setHeader('x-seen-length', String(req.headers['content-length'] ?? 'none'));
      res.setHeader('x-host', String(req.headers.host));
      res.end(`${req.method} ${req.url} ${body.length} ${body.subarray(0, 4).toString('hex')}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const pool = Http1Pool.forUrl(new URL(`http://127.0.0.1:${port}/x`));
  t.after(() => pool.close());

  for (let i = 0; i < 5; i++) {
    const got = await call(pool, { path: `/p?i=${i}` });
    assert.equal(got.status, 200);
    assert.equal(got.body, `GET /p?i=${i} 0 `);
    assert.equal(got.headers.get('x-host'), `127.0.0.1:${port}`);
  }
  assert.equal(sockets.size, 1, 'five sequential requests shared one connection');

  // 200 KiB: several reads into the shared 64 KiB buffer on the server's side and ours
  const body = Buffer.alloc(200 * 1024, 7);
  body.write('\x01\x02\x03\x04');
  const got = await call(pool, { method: 'POST', path: '/w', body });
  assert.equal(got.body, `POST /w ${body.length} 01020304`);
  assert.equal(got.headers.get('x-seen-length'), String(body.length));

  // in parallel: each request gets a connection of its own, answers are not mixed up
  const many = await Promise.all([1, 2, 3, 4].map((i) => call(pool, { path: `/par${i}` })));
  assert.deepEqual(
    many.map((g) => g.body),
    [1, 2, 3, 4].map((i) => `GET /par${i} 0 `),
  );
});

test('a keep-alive connection the server closed while idle: the next request goes out on a new one', async (t) => {
  const server = createServer((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const pool = Http1Pool.forUrl(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
  t.after(() => pool.close());
  assert.equal((await call(pool)).body, 'ok');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await call(pool)).body, 'ok');
});

test('a reused connection reset as the request went out is retried once, transparently', async (t) => {
  // connection 1 answers its first request and hangs up on its second without a word
  let connections = 0;
  const server = createTcpServer((sock) => {
    const n = ++connections;
    let requests = 0;
    sock.on('data', () => {
      requests++;
      if (n === 1 && requests === 2) sock.resetAndDestroy();
      else sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${n}`);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const pool = Http1Pool.forUrl(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
  t.after(() => pool.close());
  assert.equal((await call(pool)).body, '1');
  assert.equal((await call(pool, { method: 'POST', body: Buffer.from('x') })).body, '2', 'answered on a second connection');
  assert.equal(connections, 2);
});

test('framings, byte by byte: content-length, chunked with extensions and trailers, until close, 1xx, 204', async (t) => {
  const cases: { name: string; answer: string; body: string; status?: number; reused: boolean }[] = [
    { name: 'content-length', answer: 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world', body: 'hello world', reused: true },
    {
      name: 'chunked',
      answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\nworld-0123\r\n0\r\nx-trailer: y\r\n\r\n',
      body: 'hello world-0123',
      reused: true,
    },
    { name: '100 then 200', answer: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', body: 'ok', reused: true },
    { name: '204', answer: 'HTTP/1.1 204 No Content\r\n\r\n', body: '', status: 204, reused: true },
    { name: 'connection: close', answer: 'HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 3\r\n\r\nbye', body: 'bye', reused: false },
    { name: 'HTTP/1.0', answer: 'HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nold', body: 'old', reused: false },
  ];
  for (const c of cases) {
    const s = await rawServer(() => c.answer, 1);
    t.after(() => s.close());
    t.after(() => s.pool.close());
    for (let i = 0; i < 2; i++) {
      const got = await call(s.pool);
      assert.equal(got.status, c.status ?? 200, c.name);
      assert.equal(got.body, c.body, c.name);
    }
    assert.equal(s.connections(), c.reused ? 1 : 2, `${c.name}: connection reused: ${c.reused}`);
  }

  // no length at all: the body runs until the server closes
  const untilClose = createTcpServer((sock) => {
    sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\n\r\nall of it'));
  });
  await new Promise<void>((r) => untilClose.listen(0, '127.0.0.1', r));
  t.after(() => untilClose.close());
  const pool = Http1Pool.forUrl(new URL(`http://127.0.0.1:${(untilClose.address() as AddressInfo).port}/`));
  assert.equal((await call(pool)).body, 'all of it');
});

test('bad answers are errors that say what was wrong, and never reach the next request', async (t) => {
  const bad: [string, RegExp][] = [
    ['SSH-2.0-OpenSSH_9.2\r\n\r\n', /not an HTTP\/1.x status line: "SSH-2.0-OpenSSH_9.2"/],
    ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /malformed header line: "no colon here"/],
    ['HTTP/1.1 200 OK\r\ncontent-length: 1e3\r\n\r\n', /bad content-length "1e3"/],
    ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', /bad chunk size "zz"/],
    ['HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n', /unsupported transfer-encoding "gzip": only chunked is decoded/],
    // a coding under the chunks would reach the parser still encoded: refused, as Go's client does
    [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' + `${gzipSync('up 1\n').length.toString(16)}\r\n` + gzipSync('up 1\n').toString('latin1') + '\r\n0\r\n\r\n',
      /unsupported transfer-encoding "gzip, chunked": only chunked is decoded/,
    ],
    ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', /unsupported transfer-encoding "chunked, chunked"/],
    [`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, new RegExp(`response head over ${MAX_HEAD_BYTES} bytes`)],
  ];
  for (const [answer, message] of bad) {
    const s = await rawServer(() => answer, 4096);
    t.after(() => s.close());
    t.after(() => s.pool.close());
    await assert.rejects(call(s.pool), message);
  }

  const s = await rawServer(() => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', 1024);
  t.after(() => s.close());
  t.after(() => s.pool.close());
  await assert.rejects(call(s.pool, { headers: { 'x-evil': 'a\r\nx-injected: 1' } }), /invalid character in header x-evil/);
  await assert.rejects(call(s.pool, { headers: { 'bad name': 'v' } }), /invalid header name "bad name"/);
  assert.equal(s.connections(), 0, 'nothing was sent for a request with a bad header');
  assert.equal((await call(s.pool)).body, 'ok');

  const refused = Http1Pool.forUrl(new URL('http://127.0.0.1:1/'));
  await assert.rejects(call(refused), (err: Error & { code?: string }) => err.code === 'ECONNREFUSED');
});

test('fetchStream over the plain client: gzip, redirects (followed or not), an aborted fetch', async (t) => {
  const page = 'm{a="1"} 1\n'.repeat(5000);
  const server = createServer((req, res) => {
    if (req.url === '/hop') return res.writeHead(302, { location: '/gz' }).end();
    if (req.url === '/loop') return res.writeHead(301, { location: '/loop' }).end();
    if (req.url === '/slow') return; // never answers
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-encoding': 'gzip' }).end(gzipSync(page));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.closeAllConnections());
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const spec = (path: string, client: HttpClient) => ({
    url: new URL(base + path),
    shownUrl: base + path,
    client,
    headers: {},
    timeoutMs: 2000,
    maxBodyBytes: 1 << 20,
  });
  const follow = new HttpClient({ follow_redirects: true, enable_http2: false } as HttpClientSettings);
  const noFollow = new HttpClient({ follow_redirects: false, enable_http2: false } as HttpClientSettings);
  t.after(() => follow.close());
  t.after(() => noFollow.close());

  const direct = await fetchPage(spec('/gz', follow), new AbortController().signal);
  assert.ok(direct.ok && direct.body.toString() === page, 'gzip body decoded');
  const hop = await fetchPage(spec('/hop', follow), new AbortController().signal);
  assert.ok(hop.ok && hop.body.toString() === page, 'the redirect was followed');
  const notFollowed = await fetchPage(spec('/hop', noFollow), new AbortController().signal);
  assert.ok(!notFollowed.ok && /HTTP 302/.test(notFollowed.error), 'follow_redirects: false reports the 302');
  const loop = await fetchPage(spec('/loop', follow), new AbortController().signal);
  assert.ok(!loop.ok && /more than 10 redirects/.test(loop.error), !loop.ok ? loop.error : 'ok');

  const abort = new AbortController();
  setTimeout(() => abort.abort(), 100);
  const slow = await fetchPage(spec('/slow', follow), abort.signal);
  assert.ok(!slow.ok && /aborted/.test(slow.error));
  const timedOut = await fetchPage({ ...spec('/slow', follow), timeoutMs: 200 }, new AbortController().signal);
  assert.ok(!timedOut.ok && /timeout after 0.2s/.test(timedOut.error));
  // the pool is still good after aborted requests
  const again = await fetchPage(spec('/gz', follow), new AbortController().signal);
  assert.ok(again.ok && again.body.length === page.length);
});
