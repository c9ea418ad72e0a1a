/**
 * What the gateway's end-to-end tests share: Tributary started in-process from a YAML
 * `gateway:` section, exporters on 127.0.0.1, the requests a scraper or a pushing job makes
 * (fetch, raw bytes, curl), and readers of what comes back.
 */

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { Logger, silentLogger } from '../../src/log/logger.js';
import { startRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { tempDataDir } from './fixtures.js';
import { CURL, PROMTOOL } from './peers.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A directory for the test's files, removed when the test ends. */
export function testDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ------------------------------------------------------------------ Tributary

export interface Tributary {
  runtime: Runtime;
  /** `http://127.0.0.1:PORT` */
  base: string;
}

export interface StartOptions {
  /** Where pushed apps persist; a fresh directory of its own by default. */
  dataDir?: string;
  /** Collects its log lines (info and up, logfmt); by default it logs nothing. */
  logs?: string[];
}

/** Tributary from a YAML `gateway:` section, on 127.0.0.1:0. */
export async function startTributary(yaml: string, opts: StartOptions = {}): Promise<Tributary> {
  const { config, warnings } = parseConfigText(yaml, 'test.yml', {});
  config.server.listen = '127.0.0.1:0';
  const logs = opts.logs;
  const logger = logs ? new Logger('info', 'logfmt', { write: (l) => void logs.push(l) }) : silentLogger;
  const runtime = await startRuntime({ resolved: { config, warnings }, logger, dataDir: opts.dataDir ?? tempDataDir() });
  return { runtime, base: `http://${runtime.address}` };
}

/**
 * A `gateway:` section listing `sources` in order (name → its settings in YAML, e.g.
 * fileSource(path)), then `more` (the section's other keys, indented as in the section).
 */
export function gatewayYaml(sources: Record<string, string>, more = ''): string {
  return 'gateway:\n  sources:\n' + Object.entries(sources).map(([name, settings]) => `    - name: ${name}\n      ${settings}\n`).join('') + more;
}

export const fileSource = (path: string): string => `file: { path: "${path}" }`;
export const httpSource = (url: string): string => `http: { url: "${url}" }`;

/** Runs `fn` against Tributary started from `yaml` (as startTributary does), then closes it, whatever `fn` did. */
export async function withTributary(yaml: string, fn: (tr: Tributary) => Promise<void>): Promise<void> {
  const tr = await startTributary(yaml);
  try {
    await fn(tr);
  } finally {
    await tr.runtime.close(1_000);
  }
}

// ------------------------------------------------------------------ exporters

export interface Exporter {
  /** `http://127.0.0.1:PORT/metrics` */
  url: string;
  /** Closes the server and its connections; calling it again waits for the same close. */
  close(): Promise<void>;
}

export async function serveExporter(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Exporter> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    close: () =>
      (closed ??= new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      })),
  };
}

/** Serves `page` at /metrics (404 elsewhere). */
export function staticExporter(page: string, contentType = 'text/plain; version=0.0.4; charset=utf-8'): Promise<Exporter> {
  return serveExporter((req, res) => {
    if (req.url !== '/metrics') {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Type', contentType);
    res.end(page);
  });
}

/** Serves whatever `body()` returns at the time of the request, with a Content-Length. */
export function bytesExporter(body: () => Buffer): Promise<Exporter> {
  return serveExporter((_req, res) => {
    const b = body();
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': b.length });
    res.end(b);
  });
}

// ------------------------------------------------------------------ requests

export interface Reply {
  status: number;
  headers: Headers;
  /** The Content-Type header, '' without one. */
  contentType: string;
  body: string;
}

async function fetchText(url: string, init: RequestInit): Promise<Reply> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, headers: res.headers, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

export function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return fetchText(url, { headers });
}

/** get(), and how long it took (ms). */
export async function timedGet(url: string, headers: Record<string, string> = {}): Promise<{ reply: Reply; took: number }> {
  const started = performance.now();
  const reply = await get(url, headers);
  return { reply, took: performance.now() - started };
}

export function put(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return fetchText(url, { method: 'PUT', body, headers });
}

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request with exactly the headers given (no Content-Type unless asked for), the body as it came (no decompression). */
export function sendRaw(url: string, method: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    const req = request(
      url,
      { method, headers: { ...(payload !== undefined ? { 'content-length': String(payload.length) } : {}), ...headers }, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface CurlReply {
  status: number;
  body: string;
}

/** Runs `file`, whose output ends as curl's `-w '\n%{http_code}'` leaves it: the body, then the status on a line of its own. */
export function runForStatus(file: string, args: readonly string[], stdin = ''): Promise<CurlReply> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${file} failed: ${stderr || err.message}`));
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
    child.stdin!.end(stdin);
  });
}

/** curl as users run it; `stdin` is what `--data-binary @-` reads. */
export function curl(args: readonly string[], stdin?: string): Promise<CurlReply> {
  return runForStatus(CURL, ['-sS', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10', ...args], stdin);
}

// ------------------------------------------------------------------ what comes back

/** An app as `/apps?format=json` lists it. */
export interface AppJson {
  name: string;
  key?: string;
  kind: string;
  protocol?: string;
  origin: string;
  lastUpdate: string | null;
  lastUpdateMs: number;
  ttlSeconds: number;
  series: number;
  lastError?: string;
}

/** `/apps` as JSON, asked for by `?format=json` or (`how`: 'accept') by the Accept header; it must come with 200. */
export async function appsReply(base: string, how: 'query' | 'accept' = 'query'): Promise<{ reply: Reply; doc: { now: string; apps: AppJson[] } }> {
  const reply = how === 'query' ? await get(`${base}/apps?format=json`) : await get(`${base}/apps`, { Accept: 'application/json' });
  assert.equal(reply.status, 200);
  return { reply, doc: JSON.parse(reply.body) as { now: string; apps: AppJson[] } };
}

export async function appsJson(base: string): Promise<AppJson[]> {
  return (await appsReply(base)).doc.apps;
}

/** The sample lines of a text page, without the push-time series every HTTP group carries. */
export function pushedSeries(page: string): string[] {
  return page.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !/^push_(failure_)?time_seconds[{ ]/.test(l));
}

/** promtool's verdict on a text page: its exit status and its output lines (trimmed, none empty). */
export function promtoolCheck(text: string): { status: number | null; lines: string[] } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, lines: ((r.stdout ?? '') + (r.stderr ?? '')).split('\n').map((l) => l.trim()).filter((l) => l !== '') };
}
