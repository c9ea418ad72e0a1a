/**
 * The two helper processes of `npm run bench:ingest` (bench/ingest.ts), each a process of its own
 * so that its CPU is never counted as an agent's:
 *
 * - `sink`: the remote-write receiver both agents write to, at `/<agent>/api/v1/write`. It
 *   answers 204 at once, decodes the body (snappy, or zstd should an agent choose it) and counts
 *   the samples of each agent by walking the protobuf, without decoding labels — so both agents
 *   are counted the same way, at the end of the path.
 * - `gen`: the load generator for one protocol. It builds every payload before it is asked to
 *   send (`series` series × `rounds` rounds, values and timestamps changing every round), then,
 *   on each `send` command read from stdin, sends a range of rounds to an agent as fast as the
 *   agent takes them over `concurrency` connections, and answers one JSON line on stdout.
 *
 * - `floor`: Node.js taking the load and doing nothing with it — the bodies read and answered
 *   204, the Graphite bytes read and discarded: what any agent on this runtime pays before it
 *   parses a byte (bench/ingest.ts reports it beside the agents with `--agents …,floor`).
 *
 * The payloads stand for what real senders push: remote write as Prometheus sends it (2,000
 * series per snappy WriteRequest), Influx lines of five fields as Telegraf batches them (1,000
 * lines per POST /write), Graphite plaintext over TCP (as collectd's write_graphite, 64 KiB
 * writes), JSON lines of one sample each (1,000 lines per POST /api/v1/import).
 */

import { createServer as createHttpServer, request, Agent, type IncomingMessage } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { createInterface } from 'node:readline';
import { compressSync, uncompressSync } from 'snappy';
import { decompress as zstdDecompress } from 'fzstd';
import { Labels } from '../src/model/labels.js';
import { SampleBatch } from '../src/model/samples.js';
import { WriteRequestWriter } from '../src/formats/remotewrite/writer.js';

export type Protocol = 'remote_write' | 'influx' | 'graphite' | 'jsonl';
export const PROTOCOLS: readonly Protocol[] = ['remote_write', 'influx', 'graphite', 'jsonl'];

/** Where an agent takes a protocol: an HTTP path on its main listener, or a TCP port. */
export interface Target {
  readonly http?: string;
  readonly tcp?: { host: string; port: number };
}

export interface SendCommand {
  readonly target: Target;
  /** Rounds [from, to) of the prebuilt payloads. */
  readonly from: number;
  readonly to: number;
}

export interface SendResult {
  /** Samples in the rounds sent (what should reach the sink). */
  readonly samples: number;
  readonly ms: number;
  readonly requests: number;
  /** Answers 429 that were retried. */
  readonly retried: number;
  /** The first unexpected answer, if any ("404" means the agent has no such endpoint). */
  readonly error?: string;
  readonly notFound?: boolean;
}

// ---------------------------------------------------------------------------------------------
// payloads

/** Deterministic pseudo-random values (xorshift), so every run sends the same bytes. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const HOSTS_PER_METRIC = 100;

/** Series `i`'s parts: 100 hosts × (series / 100) metrics, as a fleet of exporters. */
function seriesParts(i: number) {
  const host = i % HOSTS_PER_METRIC;
  const metric = Math.floor(i / HOSTS_PER_METRIC);
  return { host: `host-${host}`, region: `region-${host % 4}`, metric };
}

/** A value that changes every round: counters grow, gauges wander, with decimals as real ones have. */
function value(i: number, round: number, rand: () => number): number {
  return i % 3 === 0 ? i * 1000 + round * 17 : Math.round(rand() * 1e6) / 1000;
}

export interface Payloads {
  /** Per round, the bodies (HTTP) or chunks (TCP), in sending order. */
  readonly rounds: Buffer[][];
  readonly samplesPerRound: number;
}

export function buildPayloads(protocol: Protocol, series: number, rounds: number, startMs: number): Payloads {
  const rand = rng(42);
  const out: Buffer[][] = [];
  let samplesPerRound = series;
  if (protocol === 'remote_write') {
    const labels: Labels[] = [];
    for (let i = 0; i < series; i++) {
      const p = seriesParts(i);
      labels.push(Labels.fromRecord({ __name__: `bench_metric_${p.metric}`, job: 'bench', instance: `${p.host}:9100`, region: p.region }));
    }
    const w = new WriteRequestWriter();
    const batch = new SampleBatch(2000);
    for (let r = 0; r < rounds; r++) {
      const bodies: Buffer[] = [];
      for (let i0 = 0; i0 < series; i0 += 2000) {
        batch.reset();
        for (let i = i0; i < Math.min(series, i0 + 2000); i++) batch.append(labels[i], value(i, r, rand), startMs + r * 1000);
        w.reset();
        w.append(batch);
        bodies.push(compressSync(w.bytes()));
      }
      out.push(bodies);
    }
  } else if (protocol === 'influx') {
    // five fields a line: the series are lines × 5
    const FIELDS = 5;
    const lines = Math.ceil(series / FIELDS);
    samplesPerRound = lines * FIELDS;
    for (let r = 0; r < rounds; r++) {
      const bodies: Buffer[] = [];
      let text = '';
      for (let l = 0; l < lines; l++) {
        const p = seriesParts(l);
        let fields = '';
        for (let f = 0; f < FIELDS; f++) fields += `${f > 0 ? ',' : ''}field_${f}=${value(l * FIELDS + f, r, rand)}`;
        text += `bench_m${p.metric},host=${p.host},region=${p.region} ${fields} ${(startMs + r * 1000) * 1e6}\n`;
        if ((l + 1) % 1000 === 0 || l === lines - 1) {
          bodies.push(Buffer.from(text));
          text = '';
        }
      }
      out.push(bodies);
    }
  } else if (protocol === 'graphite') {
    for (let r = 0; r < rounds; r++) {
      const chunks: Buffer[] = [];
      let text = '';
      const ts = Math.floor((startMs + r * 1000) / 1000);
      for (let i = 0; i < series; i++) {
        const p = seriesParts(i);
        text += `bench.${p.host}.${p.region}.metric_${p.metric} ${value(i, r, rand)} ${ts}\n`;
        if (text.length >= 64 * 1024 || i === series - 1) {
          chunks.push(Buffer.from(text));
          text = '';
        }
      }
      out.push(chunks);
    }
  } else {
    for (let r = 0; r < rounds; r++) {
      const bodies: Buffer[] = [];
      let text = '';
      for (let i = 0; i < series; i++) {
        const p = seriesParts(i);
        text += `{"metric":{"__name__":"bench_metric_${p.metric}","job":"bench","instance":"${p.host}:9100","region":"${p.region}"},"values":[${value(i, r, rand)}],"timestamps":[${startMs + r * 1000}]}\n`;
        if ((i + 1) % 1000 === 0 || i === series - 1) {
          bodies.push(Buffer.from(text));
          text = '';
        }
      }
      out.push(bodies);
    }
  }
  return { rounds: out, samplesPerRound };
}

const HTTP_HEADERS: Record<Exclude<Protocol, 'graphite'>, Record<string, string>> = {
  remote_write: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
  influx: { 'content-type': 'text/plain; charset=utf-8' },
  jsonl: { 'content-type': 'application/json' },
};

// ---------------------------------------------------------------------------------------------
// senders

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sendHttp(protocol: Protocol, payloads: Payloads, cmd: SendCommand, concurrency: number): Promise<SendResult> {
  const url = new URL(cmd.target.http!);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const headers = HTTP_HEADERS[protocol as Exclude<Protocol, 'graphite'>];
  const bodies: Buffer[] = [];
  for (let r = cmd.from; r < cmd.to; r++) bodies.push(...payloads.rounds[r]);
  let next = 0;
  let requests = 0;
  let retried = 0;
  let error: string | undefined;
  let notFound = false;
  const post = (body: Buffer) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } },
        (res: IncomingMessage) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString().slice(0, 300) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    while (error === undefined && next < bodies.length) {
      const body = bodies[next++];
      for (;;) {
        const a = await post(body).catch((err: Error) => ({ status: 0, text: err.message }));
        requests++;
        if (a.status === 429 || a.status === 503) {
          retried++;
          await sleep(100);
          continue;
        }
        if (a.status < 200 || a.status >= 300) {
          notFound = a.status === 404;
          error ??= `${a.status} ${a.text.trim()}`;
        }
        break;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - t0;
  agent.destroy();
  return { samples: (cmd.to - cmd.from) * payloads.samplesPerRound, ms, requests, retried, error, notFound };
}

/** Graphite over `concurrency` TCP connections, the rounds' chunks dealt out among them in turn. */
async function sendTcp(payloads: Payloads, cmd: SendCommand, concurrency: number): Promise<SendResult> {
  const { host, port } = cmd.target.tcp!;
  const chunks: Buffer[] = [];
  for (let r = cmd.from; r < cmd.to; r++) chunks.push(...payloads.rounds[r]);
  let next = 0;
  let error: string | undefined;
  const worker = () =>
    new Promise<void>((resolve) => {
      const s = connect({ host, port });
      s.setNoDelay(true);
      s.on('error', (err) => {
        error ??= err.message;
        resolve();
      });
      s.on('close', () => resolve());
      const pump = () => {
        while (next < chunks.length) {
          if (!s.write(chunks[next++])) return void s.once('drain', pump);
        }
        s.end();
      };
      s.once('connect', pump);
      s.resume();
    });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { samples: (cmd.to - cmd.from) * payloads.samplesPerRound, ms: performance.now() - t0, requests: concurrency, retried: 0, error };
}

async function runGenerator(args: string[]): Promise<void> {
  const [protocol, series, rounds, concurrency, startMs] = [args[0] as Protocol, Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4])];
  const payloads = buildPayloads(protocol, series, rounds, startMs);
  const bytes = payloads.rounds.reduce((n, r) => n + r.reduce((m, b) => m + b.length, 0), 0);
  process.stdout.write(JSON.stringify({ ready: true, samplesPerRound: payloads.samplesPerRound, bytesPerRound: Math.round(bytes / rounds) }) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const cmd = JSON.parse(line) as SendCommand;
    const result = protocol === 'graphite' ? await sendTcp(payloads, cmd, concurrency) : await sendHttp(protocol, payloads, cmd, concurrency);
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}

// ---------------------------------------------------------------------------------------------
// sink

/** Samples in a WriteRequest: field 2 (samples) of every field 1 (timeseries), labels skipped unread. */
export function countSamples(b: Uint8Array): number {
  let n = 0;
  let p = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const c = b[p++];
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 128;
    }
  };
  const skip = (wire: number) => {
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 2) {
      const len = varint();
      p += len;
    }
    else if (wire === 5) p += 4;
    else throw new Error(`wire type ${wire}`);
  };
  while (p < b.length) {
    const tag = varint();
    if (tag === 0x0a) {
      const len = varint();
      const end = p + len;
      while (p < end) {
        const t = varint();
        if (t === 0x12) n++;
        skip(t & 7);
      }
      p = end;
    } else skip(tag & 7);
  }
  return n;
}

function runSink(): void {
  const counts: Record<string, { samples: number; requests: number; bytes: number; errors: number }> = {};
  const server = createHttpServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/count') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(counts));
      return;
    }
    const agent = url.split('/')[1] ?? '';
    const c = (counts[agent] ??= { samples: 0, requests: 0, bytes: 0, errors: 0 });
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      c.requests++;
      c.bytes += body.length;
      try {
        const enc = req.headers['content-encoding'];
        const raw = enc === 'zstd' ? zstdDecompress(body) : (uncompressSync(body) as Buffer);
        c.samples += countSamples(raw);
      } catch {
        c.errors++;
      }
      res.writeHead(204);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const a = server.address() as { port: number };
    process.stdout.write(JSON.stringify({ port: a.port }) + '\n');
  });
}

function runFloor(): void {
  const http = createHttpServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(204);
      res.end();
    });
  });
  http.keepAliveTimeout = 60_000;
  const tcp = createTcpServer((s) => s.on('data', () => {}));
  http.listen(0, '127.0.0.1', () =>
    tcp.listen(0, '127.0.0.1', () => {
      const ports = { port: (http.address() as { port: number }).port, graphite: (tcp.address() as { port: number }).port };
      process.stdout.write(JSON.stringify(ports) + '\n');
    }),
  );
}

const role = process.argv[2];
if (role === 'floor') runFloor();
else if (role === 'sink') runSink();
else if (role === 'gen') await runGenerator(process.argv.slice(3));
