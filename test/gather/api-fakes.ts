/**
 * What the wizard API tests run against when the source is not the point: a fake `Source`
 * holding a few VictoriaMetrics-like series (answers discovery, previews and exports, slowly
 * when asked), a fake `validate`, and a gather server with the real export jobs and obfuscation
 * sessions over temporary folders, with its log captured.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportManager } from '../../src/gather/jobs.js';
import { ObfuscationSessions } from '../../src/gather/obfuscate.js';
import { startGatherServer } from '../../src/gather/server.js';
import {
  SourceError,
  type ConnectionConfig,
  type DiscoverResult,
  type Selection,
  type SeriesSample,
  type Source,
  type SourceInfo,
  type ValidateResult,
} from '../../src/gather/types.js';
import { Logger } from '../../src/log/logger.js';

export const HOSTS = ['storage-a.corp.example', 'storage-b.corp.example', '10.1.2.3'];
export const BASE_MS = Date.UTC(2026, 0, 1, 0, 0, 0);

export function fakeMetrics(): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  HOSTS.forEach((h, i) => {
    for (const name of ['vm_rows', 'vm_cache_bytes']) {
      out.push({ __name__: name, instance: `${h}:8482`, job: 'vmstorage-prod', pod: `vmstorage-${i}`, datacenter: 'eu-secret-1' });
    }
  });
  out.push({ __name__: 'node_load1', instance: 'db-1.corp.example:9100', job: 'node', datacenter: 'eu-secret-1' });
  return out;
}

export interface FakeSourceOptions {
  /** Per exported batch. */
  delayMs?: number;
  /** Thrown by every call. */
  fail?: SourceError;
}

export class ApiFakeSource implements Source {
  readonly info: SourceInfo = { flavour: 'victoriametrics-single', version: 'v1.93.4', apiBase: 'http://fake:8428', exportApi: true };
  readonly metrics = fakeMetrics();
  readonly calls: string[] = [];
  closed = 0;

  constructor(private readonly o: FakeSourceOptions = {}) {}

  private matching(selection: Selection): Record<string, string>[] {
    if (!('selectors' in selection)) return this.metrics;
    const jobs = selection.selectors.map((s) => /job="([^"]*)"/.exec(s)?.[1]);
    if (jobs.some((j) => j === undefined)) return this.metrics;
    return this.metrics.filter((m) => jobs.includes(m.job));
  }

  async validateQuery(selection: Selection): Promise<{ ok: boolean; error?: string; series?: number }> {
    this.calls.push('validateQuery');
    if (this.o.fail) throw this.o.fail;
    const text = 'selectors' in selection ? selection.selectors.join(' ') : selection.query;
    if (text.includes('(((')) return { ok: false, error: 'cannot parse "(((": unexpected end' };
    return { ok: true, series: this.matching(selection).length };
  }

  async labelNames(selection: Selection): Promise<string[]> {
    this.calls.push('labelNames');
    if (this.o.fail) throw this.o.fail;
    return [...new Set(this.matching(selection).flatMap((m) => Object.keys(m)))].filter((n) => n !== '__name__').sort();
  }

  async labelValues(label: string, selection: Selection): Promise<string[]> {
    this.calls.push('labelValues');
    if (this.o.fail) throw this.o.fail;
    return [...new Set(this.matching(selection).flatMap((m) => (m[label] === undefined ? [] : [m[label]])))].sort();
  }

  async jobComponents(): Promise<Record<string, string>> {
    this.calls.push('jobComponents');
    if (this.o.fail) throw this.o.fail;
    return Object.fromEntries((await this.discover()).jobs.map((j) => [j.job, j.component]));
  }

  async discover(): Promise<DiscoverResult> {
    this.calls.push('discover');
    if (this.o.fail) throw this.o.fail;
    return {
      components: [
        { component: 'vmstorage', jobs: 1, instances: 3, series: 6 },
        { component: 'unknown', jobs: 1, instances: 1, series: 1 },
      ],
      jobs: [
        { job: 'vmstorage-prod', component: 'vmstorage', instances: 3, series: 6 },
        { job: 'node', component: 'unknown', instances: 1, series: 1 },
      ],
      totalSeries: 7,
    };
  }

  async sample(selection: Selection, _s: number, _e: number, limit: number): Promise<SeriesSample[]> {
    this.calls.push('sample');
    if (this.o.fail) throw this.o.fail;
    return this.matching(selection)
      .slice(0, limit)
      .map((metric, i) => ({ metric, values: [i, i + 0.5], timestamps: [BASE_MS, BASE_MS + 30_000] }));
  }

  async *exportLines(selection: Selection, startMs: number, endMs: number, signal: AbortSignal): AsyncIterable<Buffer> {
    this.calls.push('exportLines');
    if (this.o.fail) throw this.o.fail;
    if (this.o.delayMs) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(t);
          reject(new SourceError('canceled', 'canceled'));
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, this.o.delayMs);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    const lines: string[] = [];
    this.matching(selection).forEach((metric, n) => {
      const ts: number[] = [];
      for (let t = Math.ceil(startMs / 30_000) * 30_000; t < endMs; t += 30_000) ts.push(t);
      if (ts.length > 0) lines.push(JSON.stringify({ metric, values: ts.map((t) => n + (t - BASE_MS) / 30_000), timestamps: ts }) + '\n');
    });
    yield Buffer.from(lines.join(''));
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

export const okValidate = async (c: ConnectionConfig): Promise<ValidateResult> => ({
  ok: true,
  source: { flavour: 'victoriametrics-single', version: 'v1.93.4', apiBase: c.url.replace(/\/+$/, ''), exportApi: true },
  attempts: [{ url: c.url.replace(/\/+$/, '') + '/api/v1/query?query=vm_app_version', ok: true, status: 200 }],
});

export interface TestServer {
  readonly url: string;
  readonly outputDir: string;
  readonly stagingDir: string;
  readonly jobs: ExportManager;
  readonly sessions: ObfuscationSessions;
  /** Every connection the server opened a source with. */
  readonly connections: ConnectionConfig[];
  readonly logs: string[];
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, any> }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, any> }>;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: {
    source?: () => Source;
    validate?: (c: ConnectionConfig) => Promise<ValidateResult>;
    listen?: string;
    openSource?: (c: ConnectionConfig) => Promise<Source>;
  } = {},
): Promise<TestServer> {
  const root = mkdtempSync(join(tmpdir(), 'gather-api-'));
  const outputDir = join(root, 'out');
  const stagingDir = join(root, 'staging');
  const logs: string[] = [];
  const log = new Logger('debug', 'logfmt', { write: (l) => void logs.push(l) });
  const connections: ConnectionConfig[] = [];
  const openSource =
    opts.openSource ??
    (async (c: ConnectionConfig): Promise<Source> => {
      connections.push(c);
      return (opts.source ?? (() => new ApiFakeSource()))();
    });
  const sessions = new ObfuscationSessions();
  const jobs = new ExportManager({ stagingDir, outputDir, openSource, sessions, log, retryDelaysMs: [10, 10] });
  await jobs.open();
  const server = await startGatherServer({
    listen: opts.listen ?? '127.0.0.1:0',
    nextFreePort: false,
    outputDir,
    jobs,
    sessions,
    openSource,
    validate: opts.validate ?? okValidate,
    log,
  });
  const base = server.url.replace(/\/$/, '');
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(base + path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let json: Record<string, any>;
    try {
      json = JSON.parse(text) as Record<string, any>;
    } catch {
      json = { text };
    }
    return { status: r.status, json };
  };
  return {
    url: base,
    outputDir,
    stagingDir,
    jobs,
    sessions,
    connections,
    logs,
    post: (p, b, h) => call('POST', p, b, h),
    get: (p, h) => call('GET', p, undefined, h),
    close: async () => {
      await server.close();
      await jobs.close();
    },
  };
}

/** Polls an export until it leaves pending/running. */
export async function waitForExport(s: TestServer, id: string, timeoutMs = 30_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await s.get(`/api/export/status?id=${id}`);
    if (r.json.state !== 'pending' && r.json.state !== 'running') return r.json;
    if (Date.now() > deadline) throw new Error(`export ${id} still ${r.json.state}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
