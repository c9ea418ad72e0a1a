/**
 * OpenTSDB, as vmagent serves it: telnet `put` lines over TCP and UDP on
 * `ingest.opentsdb.listen_address` (vmagent's -opentsdbListenAddr), whose TCP port also answers
 * HTTP `/api/put` — a connection whose first byte is an uppercase letter (an HTTP method) is
 * handed to an HTTP server of this module; `/api/put` on a port of its own
 * (`http_listen_address`, vmagent's -opentsdbHTTPListenAddr); and `/api/put` on the main
 * listener when `http` is true. Every HTTP way in answers as the other ingestion paths do
 * (IngestHttp: tenants, extra_label, gzip and the rest, 204 / 400 quoting refused objects).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { OpenTsdbJsonParser } from '../formats/opentsdb/json.js';
import { OpenTsdbTelnetParser } from '../formats/opentsdb/parser.js';
import { AccessRule, protect } from '../server/index.js';
import { describeBindError, formatListenAddress, listenError, parseListenAddress } from '../server/listen-address.js';
import type { Closable, IngestContext, IngestProtocol } from './context.js';
import { IngestHttp, IngestRefusal, type IngestRoute } from './http.js';
import { startLineListener } from './listeners.js';

export const OPENTSDB_PUT_PATH = '/api/put';

export const opentsdb: IngestProtocol = {
  name: 'opentsdb',
  async start(ctx: IngestContext) {
    const c = ctx.config.opentsdb;
    const parts: Closable[] = [];
    const own = c.listen_address !== undefined || c.http_listen_address !== undefined;
    if (!c.http && !own) return parts;
    const json = new OpenTsdbJsonParser({ trimTimestampMs: c.http_trim_timestamp });
    const route: IngestRoute = {
      paths: [OPENTSDB_PUT_PATH],
      ingester: ctx.ingester('opentsdb_http'),
      maxBodyBytes: c.max_body_bytes,
      // vmagent takes PUT as POST on this path
      methods: ['POST', 'PUT'],
      async read({ body, rows }) {
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(chunk);
        const syntax = json.parse(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), rows);
        if (syntax !== undefined) throw new IngestRefusal(400, syntax);
      },
    };
    if (c.http) ctx.http.add(route);
    if (!own) return parts;

    const access = ctx.config.access === undefined ? undefined : await AccessRule.fromConfig(ctx.config.access);
    const router = new IngestHttp(undefined, access && ((h) => protect(access, h)));
    router.add(route);
    const log = ctx.logger.child({ component: 'ingest', protocol: 'opentsdb' });
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      router.serve(req, res).catch((err: Error) => {
        log.error('opentsdb http request failed', { err });
        if (!res.headersSent) res.writeHead(500).end();
      });
    };
    try {
      if (c.http_listen_address !== undefined) {
        const server = httpServer(handler);
        const address = await listen(server, c.http_listen_address);
        log.info('listening', { address, http: true });
        const part = { address, close: () => closeHttp(server) };
        parts.push(part);
      }
      if (c.listen_address !== undefined) {
        // never listens: it gets the telnet port's HTTP connections
        const switched = httpServer(handler);
        // one parser (and series cache) for every connection and datagram
        const telnet = new OpenTsdbTelnetParser({ trimTimestampMs: c.trim_timestamp });
        const listener = await startLineListener({
          address: c.listen_address,
          ingester: ctx.ingester('opentsdb'),
          format: () => telnet,
          maxLineBytes: c.max_line_bytes,
          takeOver: (socket, first) => {
            // vmagent switches on the first byte ('p' for put, anything else HTTP); an HTTP
            // method is uppercase, so other text stays telnet and is read line by line
            if (!(first[0] >= 0x41 && first[0] <= 0x5a)) return false;
            socket.pause();
            socket.unshift(first);
            // after the line listener has let go of the socket's data events
            setImmediate(() => {
              // the line listener would end the socket on the client's FIN, before the answer
              socket.removeAllListeners('end');
              switched.emit('connection', socket);
              socket.resume();
            });
            return true;
          },
        });
        const part = {
          address: listener.address,
          async close() {
            await listener.close();
            await closeHttp(switched);
          },
        };
        parts.push(part);
      }
    } catch (err) {
      for (const p of parts) await p.close().catch(() => {});
      throw err;
    }
    return parts;
  },
};

function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  return createServer({ headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 65_000 }, handler);
}

function listen(server: Server, address: string): Promise<string> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(listenError(address, describeBindError(err), err)));
    server.listen({ host, port }, () => {
      const a = server.address() as { address: string; port: number };
      resolve(formatListenAddress(a.address, a.port));
    });
  });
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
