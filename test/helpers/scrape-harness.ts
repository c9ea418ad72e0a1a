/**
 * What the scrape tests share: real HTTP targets on 127.0.0.1:0 whose pages a test changes
 * between scrapes, a sink that records every batch the pipeline receives, and a scrape
 * manager built from configuration text exactly as the runtime builds it.
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { parseConfigText } from '../../src/config/index.js';
import type { ScrapeConfig } from '../../src/config/index.js';
import { Logger, silentLogger } from '../../src/log/logger.js';
import type { SampleBatch } from '../../src/model/samples.js';
import type { SampleSink } from '../../src/pipeline/index.js';
import { ScrapeManager, type ScrapeLoop } from '../../src/scrape/index.js';
import { Registry } from '../../src/selfmetrics/index.js';

export interface RecordedSample {
  readonly series: string;
  readonly value: number;
  readonly ts: number;
  readonly stale: boolean;
}

/** Every batch written, flattened to comparable records; `series` is Prometheus notation. */
export class RecordingSink implements SampleSink {
  readonly batches: { job: string; samples: RecordedSample[] }[] = [];

  write(job: string, batch: SampleBatch): void {
    const samples: RecordedSample[] = [];
    for (let i = 0; i < batch.length; i++) {
      samples.push({
        series: batch.series[i].toString(),
        value: batch.values[i],
        ts: batch.timestamps[i],
        stale: batch.isStale(i),
      });
    }
    this.batches.push({ job, samples });
  }

  last(): RecordedSample[] {
    return this.batches.at(-1)?.samples ?? [];
  }

  /** The last batch's sample for a series, by exact notation. */
  find(series: string, batch = this.last()): RecordedSample | undefined {
    return batch.find((s) => s.series === series);
  }

  clear(): void {
    this.batches.length = 0;
  }

  /** Every non-stale sample seen: series notation → timestamp → value. */
  samplesBySeries(): Map<string, Map<number, number>> {
    const out = new Map<string, Map<number, number>>();
    for (const b of this.batches) {
      for (const s of b.samples) {
        if (s.stale) continue;
        let m = out.get(s.series);
        if (m === undefined) out.set(s.series, (m = new Map()));
        m.set(s.ts, s.value);
      }
    }
    return out;
  }
}

/** Asserts that `stored` holds exactly the series of `sent`, each sample bit for bit at its timestamp. */
export function assertSameSamples(stored: ReadonlyMap<string, ReadonlyMap<number, number>>, sent: ReadonlyMap<string, ReadonlyMap<number, number>>): void {
  assert.deepEqual([...stored.keys()].sort(), [...sent.keys()].sort());
  for (const [series, samples] of sent) {
    const arrived = stored.get(series)!;
    assert.deepEqual([...arrived.keys()].sort(), [...samples.keys()].sort(), `timestamps of ${series}`);
    for (const [ts, v] of samples) assert.ok(Object.is(arrived.get(ts), v), `${series} @${ts}: sent ${v}, stored ${arrived.get(ts)}`);
  }
}

export type PageHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestTarget {
  readonly server: Server;
  /** host:port, as a target address. */
  readonly address: string;
  /** Requests received. */
  requests: number;
  /** Connections open on the server's side (keep-alive ones included). */
  openConnections(): number;
  /** Replaces the handler (the page served from the next request on). */
  handle(h: PageHandler): void;
  /** Serves `body` as text format 0.0.4. */
  page(body: string, contentType?: string): void;
  close(): Promise<void>;
}

/** Key and certificate (PEM) to serve HTTPS instead of HTTP. */
export interface TargetTls {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
}

export async function startTarget(handler?: PageHandler, opts: { tls?: TargetTls } = {}): Promise<TestTarget> {
  let current: PageHandler = handler ?? ((_req, res) => res.end(''));
  const t = {
    requests: 0,
    handle(h: PageHandler) {
      current = h;
    },
    page(body: string, contentType = 'text/plain; version=0.0.4') {
      current = (_req, res) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      };
    },
  } as TestTarget & { server: Server; address: string };
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    t.requests++;
    current(req, res);
  };
  const server: Server = opts.tls ? createTlsServer(opts.tls, serve) : createServer(serve);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  t.openConnections = () => sockets.size;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.server = server;
  t.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return t;
}

/** Scrape configs from YAML text (a whole prometheus.yml). */
export function scrapeConfigs(yaml: string): ScrapeConfig[] {
  return parseConfigText(yaml, 'test.yml').config.scrape_configs;
}

export interface Harness {
  readonly manager: ScrapeManager;
  readonly sink: RecordingSink;
  readonly registry: Registry;
  readonly logLines: string[];
  /** The loops of a job, once its targets are built. */
  loops(job: string): Promise<ScrapeLoop[]>;
  close(): Promise<void>;
}

export async function startScraping(yaml: string, opts: { logger?: Logger } = {}): Promise<Harness> {
  const sink = new RecordingSink();
  const registry = new Registry();
  const logLines: string[] = [];
  const logger = opts.logger ?? new Logger('debug', 'json', { write: (l: string) => void logLines.push(l) });
  const manager = new ScrapeManager({ sink, logger: logger ?? silentLogger, registry });
  manager.apply(scrapeConfigs(yaml));
  await manager.ready();
  return {
    manager,
    sink,
    registry,
    logLines,
    async loops(job) {
      const pool = manager.pool(job);
      if (!pool) throw new Error(`no job ${job}`);
      await pool.ready();
      return pool.activeLoops();
    },
    close: () => manager.close(),
  };
}

/** The value of one series of a self-metric, 0 when it has not been created yet. */
export function selfMetricValue(registry: Registry, name: string, labels: Readonly<Record<string, string>>): number {
  const fam = registry.collect().find((f) => f.name === name);
  const p = fam?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels.get(k) === v));
  return p?.value ?? 0;
}

/** Polls `check` (sync or async) until it gives a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
