/**
 * The HTTP server every endpoint is served from: exact-path routing, request metrics, handler
 * failures contained to one 500, and a graceful shutdown that lets in-flight requests finish.
 * With TLS options it serves HTTPS (optionally requiring client certificates) on the same code
 * path, and with a server-wide access rule it guards every route that has none of its own.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type AccessRule, hasOwnAccessRule, protect } from './access.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { Counter, Histogram, Registry } from '../selfmetrics/registry.js';
import {
  DEFAULT_LISTEN_ADDRESS,
  describeBindError,
  formatListenAddress,
  listenError,
  parseListenAddress,
  type ListenAddress,
} from './listen-address.js';
import { sendText } from './respond.js';
import { type ClientAuth, type ServerTlsOptions, answerPlainHttp, effectiveClientAuth, handshakeOptions, loadServerTls } from './tls.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const answersContinue = new WeakSet<Handler>();

/**
 * Marks a route's handler as one that answers `Expect: 100-continue` itself — `res.writeContinue()`
 * once it wants the body — so that a request it refuses (429 while the queues are full, 415) is
 * refused before the client uploads the body. Other handlers get the 100 at once, as Node gives it.
 */
export function answerContinueItself(handler: Handler): Handler {
  answersContinue.add(handler);
  return handler;
}

export interface HttpServerOptions {
  /** Where `tributary_http_*` metrics are registered. */
  registry: Registry;
  logger?: Logger;
  /** Time a client has to send its request headers; short, against slow-header attacks. */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request, body included. */
  requestTimeoutMs?: number;
  /** Idle time a kept-alive connection is held; above a one-minute scrape interval. */
  keepAliveTimeoutMs?: number;
  /** Serve HTTPS; the files are read when `listen` is called. */
  tls?: ServerTlsOptions;
  /** Guards every route whose handler does not carry its own rule (see `protect`). */
  access?: AccessRule;
}

/** Label for requests to paths that have no route, so clients cannot mint new series. */
const UNROUTED = 'other';

export class HttpServer {
  private readonly server: Server | HttpsServer;
  private readonly tls: ServerTlsOptions | undefined;
  private readonly clientAuth: ClientAuth | undefined;
  private readonly access: AccessRule | undefined;
  /** TLS connections still in their handshake: not yet in `sockets`, but they hold `close` up. */
  private readonly handshaking = new Set<Socket>();
  private readonly guarded = new WeakMap<Handler, Handler>();
  private readonly logger: Logger;
  private readonly routes = new Map<string, Map<string, Handler>>();
  /** Prefix routes, for APIs that carry parameters in the path; tried after exact paths. */
  private readonly prefixRoutes: { prefix: string; methods: Map<string, Handler> }[] = [];
  private readonly inFlight = new Set<ServerResponse>();
  /** Open connections and how many requests each is serving, for shutdown. */
  private readonly sockets = new Map<Socket, number>();
  private readonly requests: Counter;
  private readonly durations: Histogram;
  private closing: Promise<void> | undefined;
  private listenCalled = false;

  constructor(opts: HttpServerOptions) {
    this.logger = (opts.logger ?? silentLogger).child({ component: 'server' });
    this.requests = opts.registry.counter({
      name: 'tributary_http_requests_total',
      help: 'HTTP requests served, by route and status code.',
      labelNames: ['path', 'code'],
    });
    this.durations = opts.registry.histogram({
      name: 'tributary_http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response, by route.',
      labelNames: ['path'],
    });
    this.tls = opts.tls;
    this.access = opts.access;
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    const httpOptions = {
      headersTimeout,
      requestTimeout: opts.requestTimeoutMs ?? 60_000,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 65_000,
      // Timeouts are enforced by this sweep; the default 30 s would let them overrun by as much.
      connectionsCheckingInterval: 2_000,
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.onRequest(req, res, false);
    if (this.tls === undefined) {
      this.server = createServer(httpOptions, onRequest);
      this.server.on('connection', (socket: Socket) => this.track(socket));
    } else {
      const clientAuth = effectiveClientAuth(this.tls);
      this.clientAuth = clientAuth;
      // Certificates come with setSecureContext in `listen`; the handshake policy is fixed here.
      const https = createHttpsServer(
        {
          ...httpOptions,
          handshakeTimeout: headersTimeout,
          ...handshakeOptions(clientAuth),
        },
        onRequest,
      );
      this.server = https;
      answerPlainHttp(https, {
        timeoutMs: headersTimeout,
        onPlainHttp: (socket) => this.logger.debug('plain HTTP request on the HTTPS listener, answered 400', { remote: socket.remoteAddress }),
        onSilent: (socket) => this.logger.debug('connection closed: nothing sent before the handshake timeout', { remote: socket.remoteAddress }),
      });
      this.server.on('connection', (raw: Socket) => {
        this.handshaking.add(raw);
        raw.once('close', () => this.handshaking.delete(raw));
      });
      this.server.on('secureConnection', (socket: TLSSocket) => this.onSecureConnection(socket));
      this.server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
        this.logger.debug('TLS handshake failed', { remote: socket.remoteAddress, err });
      });
    }
    // with a listener here Node no longer sends 100 Continue by itself: onRequest does, unless
    // the route answers it itself
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, true));
  }

  /** `https` when serving TLS. */
  get scheme(): 'http' | 'https' {
    return this.tls === undefined ? 'http' : 'https';
  }

  private track(socket: Socket): void {
    this.sockets.set(socket, 0);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private onSecureConnection(socket: TLSSocket): void {
    // The raw connection under this socket has finished its handshake; it is the same TCP
    // connection, which the remote end names uniquely while it is open.
    for (const raw of this.handshaking) {
      if (raw.remotePort === socket.remotePort && raw.remoteAddress === socket.remoteAddress) {
        this.handshaking.delete(raw);
        break;
      }
    }
    // `request` asks for a certificate without requiring one; one that is presented must verify.
    if (this.clientAuth === 'request' && !socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
      this.logger.debug('client certificate refused', { remote: socket.remoteAddress, why: String(socket.authorizationError) });
      socket.destroy();
      return;
    }
    this.track(socket);
  }

  /** Serves `handler` for `method` on exactly `path`; GET routes answer HEAD too. */
  route(method: string, path: string, handler: Handler): this {
    if (!path.startsWith('/')) throw new Error(`route path must start with "/": ${JSON.stringify(path)}`);
    const m = method.toUpperCase();
    let methods = this.routes.get(path);
    if (!methods) {
      methods = new Map();
      this.routes.set(path, methods);
    }
    if (methods.has(m)) throw new Error(`route ${m} ${path} is already registered`);
    methods.set(m, handler);
    return this;
  }

  /**
   * Serves `handler` for `method` on every path that starts with `prefix` and has no exact
   * route; the longest matching prefix wins. Request metrics label these requests with the
   * prefix, so path parameters cannot mint new series.
   */
  routePrefix(method: string, prefix: string, handler: Handler): this {
    if (!prefix.startsWith('/')) throw new Error(`route prefix must start with "/": ${JSON.stringify(prefix)}`);
    const m = method.toUpperCase();
    let entry = this.prefixRoutes.find((r) => r.prefix === prefix);
    if (!entry) {
      entry = { prefix, methods: new Map() };
      this.prefixRoutes.push(entry);
      this.prefixRoutes.sort((a, b) => b.prefix.length - a.prefix.length);
    }
    if (entry.methods.has(m)) throw new Error(`route ${m} ${prefix}* is already registered`);
    entry.methods.set(m, handler);
    return this;
  }

  get(path: string, handler: Handler): this {
    return this.route('GET', path, handler);
  }

  post(path: string, handler: Handler): this {
    return this.route('POST', path, handler);
  }

  /** Routed paths, in registration order. */
  paths(): string[] {
    return [...this.routes.keys()];
  }

  /**
   * Binds and starts serving; resolves with the bound address (useful with port 0). Failures
   * reject with a one-line message such as `cannot listen on 127.0.0.1:9190: address already
   * in use`, with the system error as `cause`.
   */
  listen(address: string = DEFAULT_LISTEN_ADDRESS): Promise<string> {
    if (this.listenCalled) return Promise.reject(new Error('server is already listening'));
    let parsed: ListenAddress;
    try {
      parsed = parseListenAddress(address);
    } catch (err) {
      return Promise.reject(err);
    }
    this.listenCalled = true;
    return this.loadTls().then(
      () => this.bind(address, parsed),
      (err: unknown) => {
        this.listenCalled = false;
        throw err;
      },
    );
  }

  /** Reads the certificate files into the server; failures name the file. */
  private async loadTls(): Promise<void> {
    if (this.tls === undefined) return;
    const loaded = await loadServerTls(this.tls);
    (this.server as HttpsServer).setSecureContext(loaded.context);
  }

  private bind(address: string, parsed: ListenAddress): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server.off('listening', onListening);
        this.listenCalled = false;
        reject(listenError(address, describeBindError(err), err));
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.logger.error('server error', { err }));
        const bound = this.address();
        this.logger.info('listening', { address: bound, scheme: this.scheme, client_auth: this.clientAuth });
        resolve(bound);
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen({ host: parsed.host, port: parsed.port });
    });
  }

  /** The bound `host:port` (`[v6]:port` for IPv6); throws before `listen` has finished. */
  address(): string {
    const a = this.server.address() as AddressInfo | string | null;
    if (a === null || typeof a === 'string') throw new Error('server is not listening');
    return formatListenAddress(a.address, a.port);
  }

  /**
   * Stops accepting connections, closes idle ones, lets in-flight requests finish (their
   * responses, and any request that still arrives on an open connection, carry
   * `Connection: close`), and after `graceMs` cuts whatever is left. Resolves when every
   * connection is gone; calling it again returns the same promise.
   */
  close(graceMs = 10_000): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      for (const res of this.inFlight) {
        if (!res.headersSent) res.setHeader('Connection', 'close');
      }
      const timer = setTimeout(() => {
        this.logger.warn('grace period over, closing remaining connections', { requests: this.inFlight.size });
        this.server.closeAllConnections();
        for (const raw of this.handshaking) raw.destroy();
      }, graceMs);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      // Node's closeIdleConnections skips connections that have not sent a request yet, and
      // those would hold shutdown up until the headers timeout; drop every connection at rest.
      for (const [socket, busy] of this.sockets) if (busy === 0) socket.destroy();
      for (const raw of this.handshaking) raw.destroy();
    });
    return this.closing;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const startedAt = performance.now();
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (this.closing) res.setHeader('Connection', 'close');
    req.on('error', (err) => this.logger.debug('request stream error', { err }));
    res.on('error', (err) => this.logger.debug('response stream error', { err }));

    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const exact = this.routes.get(path);
    const prefixed = exact ? undefined : this.prefixRoutes.find((r) => path.startsWith(r.prefix));
    const methods = exact ?? prefixed?.methods;
    const label = exact ? path : prefixed ? prefixed.prefix : UNROUTED;

    const socket = req.socket;
    this.inFlight.add(res);
    this.sockets.set(socket, (this.sockets.get(socket) ?? 0) + 1);
    res.once('close', () => {
      this.inFlight.delete(res);
      const busy = (this.sockets.get(socket) ?? 1) - 1;
      if (this.sockets.has(socket)) this.sockets.set(socket, busy);
      // Responses cut short by the client are not counted: they have no status to report.
      if (res.writableFinished) {
        this.requests.labels(label, String(res.statusCode)).inc();
        this.durations.labels(label).observe((performance.now() - startedAt) / 1000);
      }
      // A response already under way when shutdown began did not say `Connection: close`,
      // so its connection stays open unless closed here; its data is with the kernel by now.
      if (this.closing && busy === 0) socket.destroy();
    });

    if (!methods) {
      sendText(res, 404, '404 page not found\n');
      return;
    }
    const method = req.method ?? 'GET';
    const handler = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined);
    if (!handler) {
      const allow = [...methods.keys()];
      if (methods.has('GET') && !methods.has('HEAD')) allow.push('HEAD');
      res.setHeader('Allow', allow.join(', '));
      sendText(res, 405, '405 method not allowed\n');
      return;
    }
    if (expectsContinue && !answersContinue.has(handler)) res.writeContinue();
    void this.invoke(this.guard(handler), req, res, path);
  }

  /** The handler behind the server-wide access rule, unless it carries its own. */
  private guard(handler: Handler): Handler {
    if (this.access === undefined || hasOwnAccessRule(handler)) return handler;
    let guarded = this.guarded.get(handler);
    if (!guarded) {
      guarded = protect(this.access, handler);
      this.guarded.set(handler, guarded);
    }
    return guarded;
  }

  private async invoke(handler: Handler, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      await handler(req, res);
    } catch (err) {
      this.logger.error('handler failed', { method: req.method, path, err });
      if (res.headersSent) {
        // Part of a body is out; only cutting the connection tells the client it is incomplete.
        res.destroy();
        return;
      }
      for (const h of res.getHeaderNames()) {
        if (h !== 'x-content-type-options' && h !== 'connection') res.removeHeader(h);
      }
      sendText(res, 500, '500 internal server error\n');
    }
  }
}
