/**
 * Remote-write test parts: a receiver whose answers the test chooses (a real HTTP server
 * decoding real requests), and the remote-write queues started on a config text.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uncompressSync } from 'snappy';
import { parseConfigText } from '../../src/config/index.js';
import { parseWriteRequest, type DecodedWriteRequest } from '../../src/formats/remotewrite/index.js';
import { Logger, silentLogger } from '../../src/log/logger.js';
import { SinkFanout } from '../../src/pipeline/index.js';
import { startRemoteWrite, type DiskFs } from '../../src/remotewrite/index.js';
import { Registry } from '../../src/selfmetrics/index.js';

export interface Received {
  headers: IncomingMessage['headers'];
  body: DecodedWriteRequest;
}

/** A receiver whose answer to the n-th request (and its headers) the test chooses; accepted requests are decoded. */
export async function receiver(answer: (n: number, req: IncomingMessage, body: Buffer) => { status: number; headers?: Record<string, string> }) {
  const got: Received[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const a = answer(++n, req, body);
      if (a.status < 300) got.push({ headers: req.headers, body: parseWriteRequest(uncompressSync(body) as Buffer) });
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.status >= 400 ? `refused with ${a.status}` : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
  return {
    url,
    got,
    requests: () => n,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** A logger whose JSON lines the test reads. */
export function capturingLogger(level: 'debug' | 'info' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger(level, 'json', { write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { logger, lines };
}

export async function startQueues(
  t: { after(fn: () => void): void },
  yaml: string,
  dataDir = mkdtempSync(join(tmpdir(), 'tributary-rw-')),
  logger: Logger = silentLogger,
  diskFs?: DiskFs,
) {
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const { config } = parseConfigText(yaml, 'rw.yml');
  const registry = new Registry();
  const pipeline = new SinkFanout(() => {});
  const rw = await startRemoteWrite(config.remote_write, {
    pipeline,
    registry,
    logger,
    dataDir,
    externalLabels: config.global.external_labels,
    options: config.remote_write_options,
    diskFs,
  });
  return { rw, pipeline, registry, dataDir };
}

