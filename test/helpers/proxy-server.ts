/**
 * A forward proxy for tests of `proxy_url` and its keys: CONNECT tunnels (what HTTPS targets and
 * undici's ProxyAgent use) and absolute-URI requests, over HTTP or (with `tls`) HTTPS. It records
 * each tunnel's `host:port`, each forwarded request line and every Proxy-Authorization header it
 * is sent. `refuseConnect` answers CONNECT with 403, as Squid does by default for ports other
 * than 443: a client that tunnels plain-http targets fails through it.
 */

import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface TestProxy {
  readonly url: string;
  /** The `host:port` of every CONNECT, in order. */
  readonly tunnels: string[];
  /** The headers of every CONNECT, in order. */
  readonly connectHeaders: IncomingMessage['headers'][];
  /** `METHOD absolute-URI` of every request forwarded without a tunnel, in order. */
  readonly requests: string[];
  /** The headers of those requests as the proxy received them. */
  readonly requestHeaders: IncomingMessage['headers'][];
  /** The Proxy-Authorization header of every request and CONNECT (undefined when absent). */
  readonly auth: (string | undefined)[];
  close(): Promise<void>;
}

export async function startProxy(
  t: { after(fn: () => unknown): void },
  tls?: { key: Buffer; cert: Buffer },
  options: { refuseConnect?: boolean } = {},
): Promise<TestProxy> {
  const tunnels: string[] = [];
  const requests: string[] = [];
  const connectHeaders: IncomingMessage['headers'][] = [];
  const requestHeaders: IncomingMessage['headers'][] = [];
  const auth: (string | undefined)[] = [];
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    auth.push(req.headers['proxy-authorization']);
    requests.push(`${req.method} ${req.url}`);
    requestHeaders.push(req.headers);
    let u: URL;
    try {
      u = new URL(req.url ?? '');
    } catch {
      res.writeHead(405);
      res.end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers, method: req.method }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = tls ? createHttpsServer(tls, onRequest) : createHttpServer(onRequest);
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    auth.push(req.headers['proxy-authorization']);
    tunnels.push(req.url ?? '');
    connectHeaders.push(req.headers);
    track(client);
    if (options.refuseConnect) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }));
  t.after(close);
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels, connectHeaders, requests, requestHeaders, auth, close };
}
