/**
 * The gather wizard's web server (`tributary gather` without `--url`): the REST API (`api.ts`)
 * and the wizard page (`wizard/`) on one node:http server, on the project's `HttpServer`
 * (routing, timeouts, graceful close). Localhost by default; with `nextFreePort` a taken port
 * moves the server to the next free one, as vmgather does, so a second wizard still starts.
 */

import { isIP } from 'node:net';
import { type Logger, silentLogger } from '../log/logger.js';
import { Registry } from '../selfmetrics/registry.js';
import { HttpServer } from '../server/http-server.js';
import { formatListenAddress, parseListenAddress } from '../server/listen-address.js';
import { type ObfuscationSessionStore, registerGatherApi } from './api.js';
import type { ImportJobs } from './import-jobs.js';
import type { ConnectionConfig, ExportJobs, Source, ValidateResult } from './types.js';
import { registerWizardPage } from './wizard/index.js';

/** vmgather's address: the wizard is for the person at this machine. */
export const DEFAULT_GATHER_LISTEN = '127.0.0.1:8080';
/** Ports tried after a taken one before giving up. */
export const NEXT_FREE_PORT_TRIES = 50;

export interface GatherServerOptions {
  listen: string;
  nextFreePort: boolean;
  outputDir: string;
  jobs: ExportJobs;
  sessions: ObfuscationSessionStore;
  openSource: (c: ConnectionConfig) => Promise<Source>;
  validate: (c: ConnectionConfig) => Promise<ValidateResult>;
  log?: Logger;
  /** Shown by `/api/config`. */
  stagingDir?: string;
  /** The Import tab's runs (`/api/import/*`). */
  imports?: ImportJobs;
}

export interface GatherServer {
  /** `http://127.0.0.1:8080/`: what to print and open. */
  readonly url: string;
  close(): Promise<void>;
}

function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export async function startGatherServer(opts: GatherServerOptions): Promise<GatherServer> {
  const log = (opts.log ?? silentLogger).child({ component: 'gather' });
  const parsed = parseListenAddress(opts.listen);
  const loopbackOnly = isLoopbackHost(parsed.host);
  const tries = opts.nextFreePort && parsed.port !== 0 ? NEXT_FREE_PORT_TRIES : 1;
  let lastError: unknown;
  for (let i = 0; i < tries && parsed.port + i <= 65535; i++) {
    const server = new HttpServer({ registry: new Registry(), logger: log });
    registerGatherApi(server, { ...opts, log, loopbackOnly });
    registerWizardPage(server);
    const address = formatListenAddress(parsed.host ?? '', parsed.port + i);
    let bound: string;
    try {
      bound = await server.listen(parsed.host === undefined ? `:${parsed.port + i}` : address);
    } catch (err) {
      lastError = err;
      const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'EADDRINUSE' && i + 1 < tries) {
        log.info('port taken, trying the next one', { address });
        continue;
      }
      throw err;
    }
    const port = Number(bound.slice(bound.lastIndexOf(':') + 1));
    const host = parsed.host === undefined || parsed.host === '0.0.0.0' || parsed.host === '::' ? '127.0.0.1' : parsed.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    log.info('gather wizard ready', { url });
    // the wizard has no login of its own: whoever reaches it can use it to read any source it can reach
    if (!loopbackOnly) log.warn('the gather wizard listens beyond this machine: anyone who can reach it can export through it and download bundles (only the fs endpoints stay loopback-only)', { listen: address });
    return { url, close: () => server.close(5_000) };
  }
  throw lastError instanceof Error ? lastError : new Error(`cannot listen on ${opts.listen}`);
}
