/**
 * Micro-benchmark plumbing shared by `npm run bench` suites: interleaved rounds so that load
 * from other processes hits every contender alike, CPU time (user+system) rather than wall
 * time, and the best round reported, which is the least disturbed one; and the exporter farm
 * the suites that scrape run in a child process; the counting sink and line feeding of the push
 * parsers' suites.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Labels } from '../src/model/labels.js';
import { LineSplitter, type LineFormat, type RowSink } from '../src/formats/rows/index.js';

export interface Contender {
  name: string;
  /** One unit of work; returns something so the engine cannot drop it. */
  run: () => unknown;
}

export interface Result {
  name: string;
  /** CPU nanoseconds per run, best round. */
  nsPerRun: number;
}

let sink: unknown;

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Runs each contender `rounds` times for about `roundMs` each, interleaved. */
export function compare(contenders: readonly Contender[], rounds = 7, roundMs = 300): Result[] {
  const best = new Map<string, number>();
  for (const c of contenders) {
    // warm-up: let the optimising compiler settle
    const until = performance.now() + roundMs;
    while (performance.now() < until) sink = c.run();
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      let n = 0;
      const start = cpuNs();
      const until = performance.now() + roundMs;
      while (performance.now() < until) {
        sink = c.run();
        n++;
      }
      const ns = (cpuNs() - start) / n;
      const prev = best.get(c.name);
      if (prev === undefined || ns < prev) best.set(c.name, ns);
    }
  }
  void sink;
  return contenders.map((c) => ({ name: c.name, nsPerRun: best.get(c.name) ?? NaN }));
}

/**
 * Starts bench/exporter-farm.js (compiled next to this file) in a child process with `args`,
 * so that serving the pages costs the benchmarked process nothing; resolves with its ports.
 */
export async function startExporterFarm(args: string[]): Promise<{ ports: number[]; stop: () => void }> {
  const farm = spawn(process.execPath, [fileURLToPath(new URL('./exporter-farm.js', import.meta.url)), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(farm.stdout, 'data')) as [Buffer];
  return { ports: JSON.parse(line.toString()) as number[], stop: () => farm.kill() };
}

/**
 * The sink of the push parsers' micro-benchmarks (rows, OTLP, remote write): it only counts, so
 * the figures are the parser's cost, not the pipeline's. `sum` keeps the values alive.
 */
export class CountingSink {
  rows = 0;
  invalidRows = 0;
  sum = 0;

  constructor(readonly now = Date.now()) {}

  sample(_labels: Labels, value: number, ts: number): void {
    this.rows++;
    this.sum += value + (ts & 0);
  }

  stale(): void {
    this.rows++;
  }

  invalid(): void {
    this.invalidRows++;
  }
}

/**
 * `input` through a line splitter over `format` into `sink` as a request or a connection hands
 * it over: in `chunkBytes` chunks (a Buffer) or in the chunks given.
 */
export function pushLines(format: LineFormat, input: Buffer | readonly Buffer[], sink: RowSink, maxLineBytes = 256 * 1024, chunkBytes = 64 * 1024): void {
  const splitter = new LineSplitter(format, maxLineBytes);
  if (Buffer.isBuffer(input)) for (let p = 0; p < input.length; p += chunkBytes) splitter.push(input.subarray(p, Math.min(input.length, p + chunkBytes)), sink);
  else for (const c of input) splitter.push(c, sink);
  splitter.end(sink);
}

/** A remote-write receiver that reads each body and answers 204, counting the requests. */
export async function countingReceiver(): Promise<{ server: Server; url: string; requests: () => number; resetCount: () => void }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`,
    requests: () => requests,
    resetCount: () => void (requests = 0),
  };
}
