/**
 * Targets that misbehave: garbage, pages over body_size_limit (declared, chunked, gzip bomb),
 * bodies that never end or trickle, foreign content types, HTTP errors, TLS failures, refused
 * and dropped connections. Each one makes its target down with a precise error, keeps none of
 * the failed scrape's samples (the previous scrape's series go stale), counts in
 * tributary_scrapes_failed_total, closes the connection of a body it gives up on, and leaves a
 * neighbour scraped at the same moment untouched. The last test runs a
 * real schedule: the good target keeps its pace while bad ones time out or are refused.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { ScrapeLoop } from '../../src/scrape/index.js';
import { freePort } from '../helpers/prometheus-peer.js';
import {
  selfMetricValue,
  startScraping,
  startTarget,
  waitFor,
  type Harness,
  type PageHandler,
  type RecordedSample,
  type TestTarget,
} from '../helpers/scrape-harness.js';
import { rng } from '../helpers/seeded-random.js';

const execFile = promisify(execFileCallback);

const GOOD_PAGE = '# TYPE page_a gauge\npage_a 1\npage_b{x="y"} 2\n';
const AUTO = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'];

function jobYaml(job: string, addresses: readonly string[], extra = ''): string {
  return `global:
  scrape_interval: 1h
  scrape_timeout: 10s
scrape_configs:
  - job_name: ${job}
    static_configs:
      - targets: [${addresses.map((a) => `'${a}'`).join(', ')}]
${extra}`;
}

const failedScrapes = (h: Harness, job: string): number => selfMetricValue(h.registry, 'tributary_scrapes_failed_total', { job });

/** The last batch `loop` wrote (found by its `up` series). */
function lastBatchOf(h: Harness, loop: ScrapeLoop): RecordedSample[] {
  const up = `up${loop.target.labels.toString()}`;
  const batch = h.sink.batches.findLast((b) => b.samples.some((s) => s.series === up && !s.stale));
  assert.ok(batch, `a batch with ${up}`);
  return batch.samples;
}

const metricName = (series: string): string => series.slice(0, series.indexOf('{'));
const instanceOf = (loop: ScrapeLoop): string => loop.target.labels.get('instance') ?? '';

interface BadSetup {
  readonly h: Harness;
  /** The target that will misbehave; it serves GOOD_PAGE until the test hands it another handler. */
  readonly target: TestTarget;
  readonly loop: ScrapeLoop;
  /** A well-behaved target of the same job. */
  readonly neighbour: ScrapeLoop;
}

/**
 * A job with a target and a well-behaved neighbour, both scraped once successfully (so the
 * target has series that its failed scrape must mark stale, and a keep-alive connection).
 */
async function badTargetSetup(t: TestContext, extra = ''): Promise<BadSetup> {
  const target = await startTarget();
  target.page(GOOD_PAGE);
  const good = await startTarget();
  good.page('neighbour_metric 7\n');
  const h = await startScraping(jobYaml('bad', [target.address, good.address], extra));
  t.after(async () => {
    await h.close();
    await target.close();
    await good.close();
  });
  const loops = await h.loops('bad');
  const loop = loops.find((l) => instanceOf(l) === target.address)!;
  const neighbour = loops.find((l) => instanceOf(l) === good.address)!;
  await Promise.all([loop.scrapeOnce(), neighbour.scrapeOnce()]);
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  assert.equal(target.openConnections(), 1, 'a keep-alive connection after a good scrape');
  return { h, target, loop, neighbour };
}

/** Serves the good page again and scrapes it, so the next failure has series to mark stale. */
async function restore(s: BadSetup): Promise<void> {
  s.target.page(GOOD_PAGE);
  await s.loop.scrapeOnce();
  assert.equal(s.loop.status().health, 'up', s.loop.status().lastError);
}

interface Failed {
  readonly ms: number;
  readonly batch: RecordedSample[];
}

/**
 * Scrapes `loop` (and `neighbour` at the same time) and checks what every failed scrape must
 * show: down with the expected error on the loop and on the manager's status, up 0, no sample
 * of the page kept (series of the previous good scrape stale instead), one more failed scrape
 * counted, the neighbour up with its sample.
 */
async function expectFailedScrape(
  h: Harness,
  loop: ScrapeLoop,
  error: RegExp | string,
  opts: { neighbour?: ScrapeLoop; hadPage?: boolean } = {},
): Promise<Failed> {
  const job = loop.status().scrapePool;
  const failedBefore = failedScrapes(h, job);
  const t0 = performance.now();
  await Promise.all([loop.scrapeOnce(), opts.neighbour?.scrapeOnce()]);
  const ms = performance.now() - t0;
  const status = loop.status();
  assert.equal(status.health, 'down');
  if (typeof error === 'string') assert.equal(status.lastError, error);
  else assert.match(status.lastError, error);
  const shown = h.manager
    .pools()
    .find((p) => p.name === job)
    ?.active.find((a) => a.labels.get('instance') === instanceOf(loop));
  assert.equal(shown?.health, 'down', 'the manager shows the target down');
  assert.equal(shown?.lastError, status.lastError, 'the manager shows the same error');

  const batch = lastBatchOf(h, loop);
  const labels = loop.target.labels.toString();
  assert.equal(batch.find((s) => s.series === `up${labels}`)?.value, 0, 'up 0');
  const kept = batch.filter((s) => !s.stale && !AUTO.includes(metricName(s.series)));
  assert.deepEqual(kept, [], 'no sample of the failed scrape is kept');
  if (opts.hadPage ?? true) {
    const stale = batch.filter((s) => s.stale).map((s) => s.series).sort();
    assert.deepEqual(stale, [`page_a${labels}`, `page_b{instance="${instanceOf(loop)}", job="${job}", x="y"}`]);
  }
  assert.equal(failedScrapes(h, job), failedBefore + 1, 'tributary_scrapes_failed_total counts the scrape');

  if (opts.neighbour) {
    const n = opts.neighbour;
    assert.equal(n.status().health, 'up', n.status().lastError);
    const nb = lastBatchOf(h, n);
    assert.equal(nb.find((s) => s.series === `neighbour_metric${n.target.labels.toString()}`)?.value, 7);
    assert.equal(nb.find((s) => s.series === `up${n.target.labels.toString()}`)?.value, 1);
  }
  return { ms, batch };
}

/**
 * A page that never ends, written as fast as the client reads; `stats` counts the bytes written
 * and the responses still open, `served` gets the sockets it was served on.
 */
function endless(piece: Buffer, stats: { bytes: number; open: number }, served: Socket[]): PageHandler {
  return (req, res) => {
    served.push(req.socket);
    res.writeHead(200, { 'content-type': 'text/plain' });
    let closed = false;
    stats.open++;
    res.on('close', () => {
      closed = true;
      stats.open--;
    });
    const pump = (): void => {
      while (!closed) {
        stats.bytes += piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };
}

/** A page that never ends: `piece` every `everyMs`; `served` gets the sockets it was served on. */
function trickling(piece: string, everyMs: number, served: Socket[] = []): PageHandler {
  return (req, res) => {
    served.push(req.socket);
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write(piece), everyMs);
    res.on('close', () => clearInterval(timer));
  };
}

/** A scrape with a 1 s timeout ended by it: not before, and not much after. */
function endedByOneSecondTimeout(r: Failed): void {
  // the upper bound leaves room for a loaded CI machine; a timeout that did not fire would hang
  assert.ok(r.ms >= 990 && r.ms < 2500, `failed after ${r.ms} ms`);
}

const url = (target: TestTarget): string => `http://${target.address}/metrics`;

test('garbage: random bytes and a syntax error fail with the page line and column', async (t) => {
  const s = await badTargetSetup(t);
  // random bytes after two good lines; the first garbage byte (0xff) can start no line
  const random = rng(42);
  const garbage = Buffer.alloc(4096, 0);
  for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
  garbage[0] = 0xff;
  s.target.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(Buffer.concat([Buffer.from('page_a 1\npage_b{x="y"} 2\n'), garbage]));
  });
  await expectFailedScrape(s.h, s.loop, /^line 3, column 1: expected a metric name, "#" or an empty line, got "\uFFFD"$/, {
    neighbour: s.neighbour,
  });

  // a missing closing brace, far enough in that the line number counts across body pieces
  await restore(s);
  const lines = Array.from({ length: 3000 }, (_, i) => `page_ok{n="${i}"} ${i}\n`).join('');
  s.target.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.write(lines);
    res.end('page_bad{x="1" 2\n');
  });
  // column 16 is the "2" where "," or "}" should be
  await expectFailedScrape(s.h, s.loop, /^line 3001, column 16: expected "," or "}" after label value, got "2"$/, {
    neighbour: s.neighbour,
  });
});

test('over body_size_limit: declared Content-Length, chunked, and a small gzip body that inflates', async (t) => {
  const limit = 4096;
  const s = await badTargetSetup(t, '    body_size_limit: 4KiB\n');
  const tooLarge = `body from ${url(s.target)} exceeds body_size_limit (${limit} bytes)`;
  const big = 'page_a 1\n'.repeat(Math.ceil((2 * limit) / 9));

  s.target.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(big) });
    res.end(big);
  });
  await expectFailedScrape(s.h, s.loop, tooLarge, { neighbour: s.neighbour });

  // chunked: no length up front; valid lines are parsed until the limit is crossed
  await restore(s);
  s.target.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (let i = 0; i < big.length; i += 100) res.write(big.slice(i, i + 100));
    res.end();
  });
  await expectFailedScrape(s.h, s.loop, tooLarge, { neighbour: s.neighbour });

  // gzip: far below the limit on the wire, far above it once inflated
  const bomb = gzipSync('page_a 1\n'.repeat(100_000));
  assert.ok(bomb.length < limit, `compressed ${bomb.length} bytes`);
  await restore(s);
  s.target.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': bomb.length });
    res.end(bomb);
  });
  await expectFailedScrape(s.h, s.loop, tooLarge, { neighbour: s.neighbour });
  // within the limit once inflated, the same encoding scrapes fine
  const small = gzipSync('page_a 1\npage_b{x="y"} 2\n');
  s.target.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
    res.end(small);
  });
  await s.loop.scrapeOnce();
  assert.equal(s.loop.status().health, 'up', s.loop.status().lastError);
});

test('an endless body is cut at body_size_limit, or at the timeout when that comes first; no connection is left open', async (t) => {
  // fast: the limit (1 MiB) comes long before the timeout (10 s)
  const s = await badTargetSetup(t, '    body_size_limit: 1MiB\n');
  const fast = { bytes: 0, open: 0 };
  const served: Socket[] = [];
  s.target.handle(endless(Buffer.from('page_a 1\n'.repeat(1000)), fast, served));
  const r = await expectFailedScrape(s.h, s.loop, `body from ${url(s.target)} exceeds body_size_limit (1048576 bytes)`, {
    neighbour: s.neighbour,
  });
  assert.ok(r.ms < 5000, `stopped by the limit after ${r.ms} ms`);
  await waitFor('the endless response and its connection to be closed', () => fast.open === 0 && served[0].destroyed);
  const written = fast.bytes;
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(fast.bytes, written, 'the target stopped writing');
  // failing again and again does not pile up connections (the keep-alive one, and at most
  // one that undici opens again after an aborted request, stay until their idle timeout)
  for (let i = 0; i < 5; i++) {
    await s.loop.scrapeOnce();
    assert.match(s.loop.status().lastError, /exceeds body_size_limit/);
  }
  await waitFor('every endless response to be closed', () => fast.open === 0 && served.length === 6 && served.every((c) => c.destroyed));
  assert.ok(s.target.openConnections() <= 2, `${s.target.openConnections()} connections open`);

  // slow: about 200 KB/s never reaches the default 64 MiB limit; the 1 s timeout stops it
  const slow = await badTargetSetup(t, '    scrape_timeout: 1s\n');
  const slowServed: Socket[] = [];
  slow.target.handle(trickling('page_a 1\n'.repeat(227), 10, slowServed));
  endedByOneSecondTimeout(
    await expectFailedScrape(slow.h, slow.loop, `timeout after 1s fetching ${url(slow.target)}`, { neighbour: slow.neighbour }),
  );
  await waitFor('its connection to be closed', () => slowServed.length === 1 && slowServed[0].destroyed);
});

test('a slow trickle: timeout after 1s, reported soon after', async (t) => {
  const s = await badTargetSetup(t, '    scrape_timeout: 1s\n');
  const timedOut = `timeout after 1s fetching ${url(s.target)}`;
  const served: Socket[] = [];
  s.target.handle(trickling('pag', 200, served));
  endedByOneSecondTimeout(await expectFailedScrape(s.h, s.loop, timedOut, { neighbour: s.neighbour }));

  // headers that never come time out the same way
  await restore(s);
  s.target.handle((req) => void served.push(req.socket));
  endedByOneSecondTimeout(await expectFailedScrape(s.h, s.loop, timedOut, { neighbour: s.neighbour }));
  await waitFor('both connections to be closed', () => served.length === 2 && served.every((c) => c.destroyed));
});

test('text/html is refused with the unsupported Content-Type error', async (t) => {
  const s = await badTargetSetup(t);
  s.target.page('page_a 1\n', 'text/html; charset=utf-8');
  await expectFailedScrape(
    s.h,
    s.loop,
    'received unsupported Content-Type "text/html; charset=utf-8" and no fallback_scrape_protocol specified for target',
    { neighbour: s.neighbour },
  );
});

test('HTTP 500: the status, the URL and the body\'s first 200 characters on one line', async (t) => {
  const s = await badTargetSetup(t);
  s.target.handle((_req, res) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('database is locked\n\tretry later\n' + 'x'.repeat(5000));
  });
  await expectFailedScrape(s.h, s.loop, `HTTP 500 from ${url(s.target)}: database is locked retry later ${'x'.repeat(168)}`, {
    neighbour: s.neighbour,
  });
});

test('TLS: a self-signed target fails without its CA, with the wrong name, and scrapes with ca_file and server_name', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-scrape-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await execFile(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'target.key',
      '-out', 'target.pem', '-days', '2', '-subj', '/CN=scrape.test', '-addext', 'subjectAltName=DNS:scrape.test'],
    { cwd: dir },
  );
  const ca = join(dir, 'target.pem');
  const target = await startTarget(undefined, { tls: { key: readFileSync(join(dir, 'target.key')), cert: readFileSync(ca) } });
  target.page(GOOD_PAGE);
  const job = (name: string, tls: string): string => `  - job_name: ${name}
    scheme: https
${tls}    static_configs:
      - targets: ['${target.address}']
`;
  const h = await startScraping(`global:
  scrape_interval: 1h
scrape_configs:
${job('no_ca', '')}${job('wrong_name', `    tls_config: {ca_file: '${ca}'}\n`)}${job('trusted', `    tls_config: {ca_file: '${ca}', server_name: scrape.test}\n`)}`);
  t.after(async () => {
    await h.close();
    await target.close();
  });
  const [noCa] = await h.loops('no_ca');
  const [wrongName] = await h.loops('wrong_name');
  const [trusted] = await h.loops('trusted');
  const https = `https://${target.address}/metrics`;
  await expectFailedScrape(h, noCa, new RegExp(`^fetching ${https}: self[- ]signed certificate`), { hadPage: false });
  await expectFailedScrape(h, wrongName, new RegExp(`^fetching ${https}: Hostname/IP does not match certificate's altnames: IP: 127\\.0\\.0\\.1 is not in the cert's list`), {
    hadPage: false,
  });
  await trusted.scrapeOnce();
  assert.equal(trusted.status().health, 'up', trusted.status().lastError);
  const batch = lastBatchOf(h, trusted);
  assert.equal(batch.find((s) => s.series === `up${trusted.target.labels.toString()}`)?.value, 1);
  assert.equal(batch.find((s) => s.series === `page_a${trusted.target.labels.toString()}`)?.value, 1);
  assert.equal(target.requests, 1, 'the failed handshakes sent no request');
});

test('refused: a port nothing listens on, and a target that went away', async (t) => {
  const port = await freePort();
  const good = await startTarget();
  good.page('neighbour_metric 7\n');
  const h = await startScraping(jobYaml('refused', [`127.0.0.1:${port}`, good.address]));
  t.after(async () => {
    await h.close();
    await good.close();
  });
  const loops = await h.loops('refused');
  const loop = loops.find((l) => instanceOf(l) === `127.0.0.1:${port}`)!;
  const neighbour = loops.find((l) => instanceOf(l) === good.address)!;
  await expectFailedScrape(h, loop, new RegExp(`^fetching http://127\\.0\\.0\\.1:${port}/metrics: .*ECONNREFUSED`), {
    neighbour,
    hadPage: false,
  });

  // the target was up, with a keep-alive connection, and is stopped
  const s = await badTargetSetup(t);
  await s.target.close();
  await waitFor('the old connection to be closed', () => s.target.openConnections() === 0);
  await expectFailedScrape(s.h, s.loop, new RegExp(`^fetching ${url(s.target)}: .*ECONNREFUSED`), { neighbour: s.neighbour });
});

/** Sends `head` of a page, then drops the connection; `length` is the Content-Length promised. */
function closeMidBody(head: string, length?: number): PageHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', ...(length === undefined ? {} : { 'content-length': length }) });
    res.write(head, () => setTimeout(() => res.socket?.destroy(), 20));
  };
}

test('a target that closes the connection mid-body, or before answering', async (t) => {
  const s = await badTargetSetup(t);
  const closed = (how: string) => new RegExp(`^fetching ${url(s.target)}: the server closed the connection ${how}$`);
  // Content-Length promises more than comes; valid lines arrive before the close
  s.target.handle(closeMidBody('page_a 5\npage_b{x="y"} 6\n', 10_000));
  await expectFailedScrape(s.h, s.loop, closed('with 9975 body bytes still to come'), { neighbour: s.neighbour });
  // chunked: the terminating chunk never comes
  await restore(s);
  s.target.handle(closeMidBody('page_a 5\npage_b{x="y"} 6\n'));
  await expectFailedScrape(s.h, s.loop, closed('before the last chunk'), { neighbour: s.neighbour });
  // no answer at all
  await restore(s);
  s.target.handle((req) => req.socket.destroy());
  await expectFailedScrape(s.h, s.loop, closed('before answering'), { neighbour: s.neighbour });
});

test('the auto series of a failed scrape, as Prometheus: a failed transfer counts nothing, a bad page counts up to the bad line', async (t) => {
  const s = await badTargetSetup(t);
  const labels = s.loop.target.labels.toString();
  const counts = (batch: RecordedSample[]): number[] =>
    ['scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'].map(
      (name) => batch.find((x) => x.series === name + labels)?.value ?? -1,
    );
  // two new series arrive before the connection drops: Prometheus, reading the whole body
  // first, never sees them
  s.target.handle(closeMidBody('page_c 5\npage_d 6\n'));
  const dropped = await expectFailedScrape(s.h, s.loop, /the server closed the connection before the last chunk/);
  assert.deepEqual(counts(dropped.batch), [0, 0, 0]);
  assert.equal(s.loop.status().lastSamplesScraped, 0);
  assert.equal(s.loop.status().lastSamples, 0);
  // a page that fails to parse reports what was read up to the bad line
  await restore(s);
  s.target.page('page_a 1\npage_e 2\npage_f{ 3\n');
  const bad = await expectFailedScrape(s.h, s.loop, /^line 3, column/);
  assert.deepEqual(counts(bad.batch), [2, 2, 1]);
});

test('every other target keeps its schedule while bad ones time out or are refused', async (t) => {
  const good = await startTarget();
  good.page('good_metric 1\n');
  const slow = await startTarget(trickling('x', 100));
  const refusedPort = await freePort();
  const refused = `127.0.0.1:${refusedPort}`;
  const h = await startScraping(`global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: mixed
    static_configs:
      - targets: ['${good.address}', '${slow.address}', '${refused}']
`);
  t.after(async () => {
    await h.close();
    await good.close();
    await slow.close();
  });
  const startedAt = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  const failedHalfway = failedScrapes(h, 'mixed');
  assert.ok(failedHalfway >= 2, `failed scrapes after 1.5 s: ${failedHalfway}`);
  await new Promise((r) => setTimeout(r, 3000 - (Date.now() - startedAt)));

  // as the pages see it
  const pool = h.manager.pools().find((p) => p.name === 'mixed')!;
  const byInstance = new Map(pool.active.map((a) => [a.labels.get('instance'), a]));
  assert.equal(byInstance.get(good.address)?.health, 'up');
  assert.equal(byInstance.get(good.address)?.lastError, '');
  assert.equal(byInstance.get(slow.address)?.health, 'down');
  assert.equal(byInstance.get(slow.address)?.lastError, `timeout after 0.4s fetching http://${slow.address}/metrics`);
  assert.equal(byInstance.get(refused)?.health, 'down');
  assert.match(byInstance.get(refused)?.lastError ?? '', new RegExp(`^fetching http://${refused}/metrics: connect ECONNREFUSED`));
  assert.equal(selfMetricValue(h.registry, 'tributary_scrape_targets', { job: 'mixed', state: 'down' }), 2);
  assert.equal(selfMetricValue(h.registry, 'tributary_scrape_targets', { job: 'mixed', state: 'up' }), 1);
  await h.close();

  // the good target's pace
  assert.ok(Math.abs(good.requests - 6) <= 2, `good target scraped ${good.requests} times in 3 s`);
  const upSeries = `up{instance="${good.address}", job="mixed"}`;
  const times = h.sink.batches.flatMap((b) => b.samples.filter((s) => s.series === upSeries && !s.stale).map((s) => s.ts));
  // every request answered became a batch, but for one that close() may have cut short
  assert.ok(times.length === good.requests || times.length === good.requests - 1, `${times.length} batches, ${good.requests} requests`);
  const gaps = times.slice(1).map((ts, i) => ts - times[i]);
  // a late timer shortens the next gap (the phase is fixed); a skipped tick would show as ~1000 ms
  for (const gap of gaps) assert.ok(gap >= 200 && gap <= 800, `intervals between scrapes of the good target: ${gaps.join(', ')}`);
  const mean = (times.at(-1)! - times[0]) / gaps.length;
  assert.ok(Math.abs(mean - 500) <= 100, `mean interval ${mean}`);

  // the bad ones failed at the same pace, and every failure was counted
  const downs = (address: string): number =>
    h.sink.batches.filter((b) => b.samples.some((s) => s.series === `up{instance="${address}", job="mixed"}` && s.value === 0)).length;
  assert.ok(Math.abs(downs(slow.address) - good.requests) <= 2, `slow target failed ${downs(slow.address)} times`);
  assert.ok(Math.abs(downs(refused) - good.requests) <= 2, `refused target failed ${downs(refused)} times`);
  const failed = failedScrapes(h, 'mixed');
  assert.ok(failed > failedHalfway, `tributary_scrapes_failed_total grows: ${failedHalfway} then ${failed}`);
  assert.equal(failed, downs(slow.address) + downs(refused));
});
