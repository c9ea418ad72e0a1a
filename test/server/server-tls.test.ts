import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { serverConfigSchema } from '../../src/config/tributary.js';
import { defaultConfig } from '../../src/config/index.js';
import { Logger } from '../../src/log/logger.js';
import { startRuntime } from '../../src/runtime/runtime.js';
import { Registry } from '../../src/selfmetrics/index.js';
import { tempDataDir } from '../helpers/fixtures.js';
import {
  AccessRule,
  HttpServer,
  Readiness,
  parseListenAddress,
  registerCoreRoutes,
  type ServerTlsOptions,
} from '../../src/server/index.js';

const execFile = promisify(execFileCallback);

let dir: string;
const file = (name: string): string => join(dir, name);

async function openssl(...args: string[]): Promise<void> {
  await execFile('openssl', args, { cwd: dir });
}

/** EC keys: generating RSA ones would make up most of this suite's time. */
async function newKeyAndCsr(name: string, cn: string): Promise<void> {
  await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
}

async function selfSigned(name: string, cn: string): Promise<void> {
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`);
}

async function signedByCa(name: string, cn: string, ext: string): Promise<void> {
  await newKeyAndCsr(name, cn);
  writeFileSync(file(`${name}.ext`), ext + '\n');
  await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-tls-'));
  await selfSigned('ca', 'Tributary Test CA');
  await signedByCa('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  await signedByCa('client', 'scraper', 'extendedKeyUsage=clientAuth');
  await selfSigned('rogue', 'scraper');
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface ClientOptions {
  cert?: string;
  headers?: Record<string, string>;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

function get(address: string, path: string, opts: ClientOptions = {}): Promise<Reply> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host,
        port,
        path,
        agent: false,
        ca: readFileSync(file('ca.pem')),
        cert: opts.cert === undefined ? undefined : readFileSync(file(`${opts.cert}.pem`)),
        key: opts.cert === undefined ? undefined : readFileSync(file(`${opts.cert}.key`)),
        headers: opts.headers,
        maxVersion: opts.maxVersion,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function tlsOptions(extra: Partial<ServerTlsOptions> = {}): ServerTlsOptions {
  return { certFile: file('server.pem'), keyFile: file('server.key'), ...extra };
}

async function startTls(
  tls: ServerTlsOptions,
  more: { access?: AccessRule; logger?: Logger; headersTimeoutMs?: number } = {},
): Promise<{ server: HttpServer; address: string }> {
  const registry = new Registry();
  const server = new HttpServer({ registry, tls, ...more });
  registerCoreRoutes(server, { registry, readiness: new Readiness() });
  const address = await server.listen('127.0.0.1:0');
  return { server, address };
}

function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger('debug', 'logfmt', { write: (l: string) => void lines.push(l) }), lines };
}

test('HTTPS serves /health; the log says https and carries no key material', async (t) => {
  const { logger, lines } = memoryLogger();
  const { server, address } = await startTls(tlsOptions(), { logger });
  t.after(() => server.close());
  assert.equal(server.scheme, 'https');
  const r = await get(address, '/health');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'OK\n');
  const listening = lines.find((l) => l.includes('msg=listening'));
  assert.match(listening ?? '', /scheme=https/);
  assert.doesNotMatch(lines.join(''), /PRIVATE KEY|BEGIN/);
});

test('mTLS: a CA-signed client certificate gets in; none or a self-signed one fails the handshake', async (t) => {
  const { server, address } = await startTls(tlsOptions({ clientCaFile: file('ca.pem') }));
  t.after(() => server.close());
  assert.equal((await get(address, '/health', { cert: 'client' })).status, 200);
  await assert.rejects(get(address, '/health'), (err: NodeJS.ErrnoException) => {
    // TLS 1.3 clients learn of the refusal as an alert or a reset right after their Finished.
    assert.match(`${err.code} ${err.message}`, /CERTIFICATE_REQUIRED|ECONNRESET|alert|socket hang up/i);
    return true;
  });
  await assert.rejects(get(address, '/health', { cert: 'rogue' }));
  await assert.rejects(get(address, '/health', { cert: 'rogue', maxVersion: 'TLSv1.2' }));
  await assert.rejects(get(address, '/health', { maxVersion: 'TLSv1.2' }));
  assert.equal((await get(address, '/health', { cert: 'client', maxVersion: 'TLSv1.2' })).status, 200);
});

test('client_auth request: no certificate is fine, a CA-signed one too, a self-signed one is refused', async (t) => {
  const { server, address } = await startTls(tlsOptions({ clientCaFile: file('ca.pem'), clientAuth: 'request' }));
  t.after(() => server.close());
  assert.equal((await get(address, '/health')).status, 200);
  assert.equal((await get(address, '/health', { cert: 'client' })).status, 200);
  await assert.rejects(get(address, '/health', { cert: 'rogue' }));
});

test('min_version TLS13 refuses TLS 1.2 clients', async (t) => {
  const { server, address } = await startTls(tlsOptions({ minVersion: 'TLS13' }));
  t.after(() => server.close());
  assert.equal((await get(address, '/health')).status, 200);
  await assert.rejects(get(address, '/health', { maxVersion: 'TLSv1.2' }));
});

test('bad certificate files: a one-line error naming the file, and nothing bound', async () => {
  writeFileSync(file('garbage.pem'), 'not a certificate\n');
  writeFileSync(file('broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const cases: [ServerTlsOptions, string][] = [
    [tlsOptions({ certFile: file('missing.pem') }), `cannot read TLS certificate file ${file('missing.pem')}: no such file`],
    [tlsOptions({ keyFile: file('missing.key') }), `cannot read TLS key file ${file('missing.key')}: no such file`],
    [tlsOptions({ certFile: file('garbage.pem') }), `TLS certificate file ${file('garbage.pem')} holds no PEM certificate`],
    [tlsOptions({ certFile: file('broken.pem') }), `TLS certificate file ${file('broken.pem')}: certificate 1 is not valid`],
    [
      tlsOptions({ keyFile: file('garbage.pem') }),
      `TLS key file ${file('garbage.pem')} holds no readable PEM private key (an encrypted key is not supported)`,
    ],
    [
      tlsOptions({ keyFile: file('client.key') }),
      `TLS key file ${file('client.key')} does not belong to the certificate in ${file('server.pem')}`,
    ],
    [
      tlsOptions({ clientCaFile: file('missing-ca.pem') }),
      `cannot read TLS client CA file ${file('missing-ca.pem')}: no such file`,
    ],
    [tlsOptions({ clientAuth: 'require_and_verify' }), 'TLS client_auth require_and_verify needs a client CA file'],
  ];
  for (const [tls, message] of cases) {
    const server = new HttpServer({ registry: new Registry(), tls });
    await assert.rejects(server.listen('127.0.0.1:0'), (err: Error) => {
      assert.equal(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    assert.throws(() => server.address(), /not listening/);
  }
  // After a failed start the same server can start once the file is right.
  const server = new HttpServer({ registry: new Registry(), tls: tlsOptions({ certFile: file('late.pem') }) });
  await assert.rejects(server.listen('127.0.0.1:0'));
  writeFileSync(file('late.pem'), readFileSync(file('server.pem')));
  await server.listen('127.0.0.1:0');
  await server.close();
});

test('shutdown is not held up by a connection that never starts its handshake', async () => {
  const { server, address } = await startTls(tlsOptions());
  const sock = connect(parseListenAddress(address).port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const closed = new Promise((r) => sock.once('close', r));
  const t0 = Date.now();
  await server.close(5_000);
  await closed;
  assert.ok(Date.now() - t0 < 2_000, `close took ${Date.now() - t0} ms`);
});

test('curl: --cacert, a client certificate, and -u against a protected listener', async (t) => {
  const hash = bcrypt.hashSync('s3cret', 4);
  const access = new AccessRule({ prom: hash }, []);
  const { server, address } = await startTls(tlsOptions({ clientCaFile: file('ca.pem'), clientAuth: 'request' }), { access });
  t.after(() => server.close());
  const url = `https://${address}/health`;
  const curl = async (...args: string[]): Promise<string> => {
    const { stdout } = await execFile('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', file('ca.pem'), ...args, url]);
    return stdout;
  };
  assert.equal(await curl('-u', 'prom:s3cret'), '200');
  assert.equal(await curl('-u', 'prom:wrong'), '401');
  assert.equal(await curl(), '401');
  assert.equal(await curl('--cert', file('client.pem'), '--key', file('client.key'), '-u', 'prom:s3cret'), '200');
  // Without --cacert the server certificate is not trusted.
  await assert.rejects(execFile('curl', ['-sS', '-o', '/dev/null', url]), /certificate/i);
});

test('server.tls config: client_auth defaults, and needs client_ca_file when verifying', () => {
  const plain = serverConfigSchema.parse({ tls: { cert_file: 'c.pem', key_file: 'k.pem' } });
  assert.deepEqual(plain.tls, { cert_file: 'c.pem', key_file: 'k.pem', client_auth: 'none', min_version: 'TLS12' });
  const mtls = serverConfigSchema.parse({ tls: { cert_file: 'c', key_file: 'k', client_ca_file: 'ca', min_version: 'TLS13' } });
  assert.equal(mtls.tls?.client_auth, 'require_and_verify');
  assert.equal(mtls.tls?.min_version, 'TLS13');
  const bad = serverConfigSchema.safeParse({ tls: { cert_file: 'c', key_file: 'k', client_auth: 'request' } });
  assert.equal(bad.success, false);
  assert.equal(bad.error?.issues[0].message, 'client_auth request needs client_ca_file to verify client certificates against');
  assert.deepEqual(bad.error?.issues[0].path, ['tls', 'client_auth']);
  assert.equal(serverConfigSchema.safeParse({ tls: { cert_file: 'c' } }).success, false);
  assert.equal(serverConfigSchema.safeParse({ tls: { cert_file: 'c', key_file: 'k', min_version: 'TLS11' } }).success, false);
  assert.equal(serverConfigSchema.safeParse({ tls: { cert_file: 'c', key_file: 'k', extra: 1 } }).success, false);
  assert.equal(serverConfigSchema.parse({}).tls, undefined);
});

test('runtime: server.tls and server.access from the config reach the listener and the index page', async (t) => {
  const config = defaultConfig();
  config.server.listen = '127.0.0.1:0';
  config.server.tls = serverConfigSchema.parse({
    tls: { cert_file: file('server.pem'), key_file: file('server.key') },
  }).tls;
  config.server.access = { bearer_tokens: ['let-me-in'] };
  const { logger, lines } = memoryLogger();
  const rt = await startRuntime({ logger, resolved: { config, warnings: [] }, dataDir: tempDataDir() });
  t.after(() => rt.close());
  assert.equal(rt.server.scheme, 'https');
  assert.equal((await get(rt.address, '/metrics')).status, 401);
  const auth = { authorization: 'Bearer let-me-in' };
  assert.equal((await get(rt.address, '/metrics', { headers: auth })).status, 200);
  const index = await get(rt.address, '/', { headers: auth });
  assert.equal(index.status, 200);
  assert.ok(index.text.includes(`https://${rt.address}`));
  const started = lines.find((l) => l.includes('msg="Tributary started"')) ?? '';
  assert.match(started, /scheme=https/);
  assert.match(started, /access=protected/);
  assert.doesNotMatch(lines.join(''), /let-me-in/);
});

// ------------------------------------------------------------ plain HTTP on the TLS port

/** What Go's net/http sends, and so what vmagent and Prometheus users have seen before. */
const GO_PLAIN_HTTP_REPLY = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';
const GO_PLAIN_HTTP_BODY = 'Client sent an HTTP request to an HTTPS server.\n';

/** A plain node:http request to the TLS port. */
function plainGet(address: string, path: string, body?: Buffer): Promise<{ status: number; text: string }> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, agent: false, method: body ? 'POST' : 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes `parts` on a raw TCP connection, `gapMs` apart, and collects everything until the server closes. */
function rawExchange(address: string, parts: (string | Buffer)[], gapMs = 0): Promise<{ reply: Buffer; ms: number }> {
  const { port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve({ reply: Buffer.concat(chunks), ms: Date.now() - t0 }));
    sock.once('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (!sock.destroyed) sock.write(part);
      }
    });
  });
}

test('plain HTTP to the TLS port: HTTP/1.0 400 with Go\'s message, for node:http, a raw socket and curl; HTTPS still served', async (t) => {
  const { logger, lines } = memoryLogger();
  const { server, address } = await startTls(tlsOptions(), { logger });
  t.after(() => server.close());

  const plain = await plainGet(address, '/metrics');
  assert.deepEqual(plain, { status: 400, text: GO_PLAIN_HTTP_BODY });
  // a request with a body larger than one read: the answer still arrives whole, not reset
  const post = await plainGet(address, '/metrics', Buffer.alloc(512 * 1024, 'x'));
  assert.deepEqual(post, { status: 400, text: GO_PLAIN_HTTP_BODY });
  // byte for byte as Go sends it, also when the request line arrives in pieces
  const raw = await rawExchange(address, ['GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n']);
  assert.equal(raw.reply.toString('latin1'), GO_PLAIN_HTTP_REPLY);
  const trickled = await rawExchange(address, ['G', 'ET /health HTTP/1.1\r\n', 'Host: x\r\n\r\n'], 30);
  assert.equal(trickled.reply.toString('latin1'), GO_PLAIN_HTTP_REPLY);
  assert.equal((await rawExchange(address, ['OPTIONS * HTTP/1.1\r\n\r\n'])).reply.toString('latin1'), GO_PLAIN_HTTP_REPLY);

  let curlFound = true;
  try {
    await execFile('curl', ['--version']);
  } catch {
    curlFound = false;
  }
  if (curlFound) {
    const { stdout } = await execFile('curl', ['-sS', '-w', '\n%{http_code}', `http://${address}/metrics`]);
    assert.equal(stdout, GO_PLAIN_HTTP_BODY + '\n400');
  } else {
    t.diagnostic('curl not installed: its part is skipped');
  }

  // HTTPS on the same listener is unaffected, before and after
  const r = await get(address, '/health');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'OK\n');
  assert.ok(lines.some((l) => l.includes('plain HTTP request on the HTTPS listener')), lines.join(''));
});

test('plain HTTP to an mTLS port gets the 400 too, and certificate clients still get in', async (t) => {
  for (const clientAuth of ['require_and_verify', 'request'] as const) {
    const { server, address } = await startTls(tlsOptions({ clientCaFile: file('ca.pem'), clientAuth }));
    t.after(() => server.close());
    assert.deepEqual(await plainGet(address, '/health'), { status: 400, text: GO_PLAIN_HTTP_BODY }, clientAuth);
    assert.equal((await get(address, '/health', { cert: 'client' })).status, 200, clientAuth);
    assert.equal((await get(address, '/health', { cert: 'client', maxVersion: 'TLSv1.2' })).status, 200, clientAuth);
    await assert.rejects(get(address, '/health', { cert: 'rogue' }), clientAuth);
  }
});

test('a TLS ClientHello that arrives in pieces still completes its handshake', async (t) => {
  const { server, address } = await startTls(tlsOptions());
  t.after(() => server.close());
  const { port } = parseListenAddress(address);
  const tcp = connect(port, '127.0.0.1');
  await new Promise((r) => tcp.once('connect', r));
  // The first chunk the server sees is the record type byte alone, the rest 50 ms later.
  let first = true;
  const split = new Duplex({
    write(chunk: Buffer, _enc, done) {
      if (!first) return tcp.write(chunk, done);
      first = false;
      tcp.write(chunk.subarray(0, 1));
      setTimeout(() => tcp.write(chunk.subarray(1), done), 50);
    },
    read() {},
    final(done) {
      tcp.end(done);
    },
  });
  tcp.on('data', (c: Buffer) => split.push(c));
  tcp.on('end', () => split.push(null));
  const tls = tlsConnect({ socket: split, ca: readFileSync(file('ca.pem')), servername: 'localhost' });
  t.after(() => tls.destroy());
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', resolve);
    tls.once('error', reject);
  });
  tls.write('GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  let reply = '';
  tls.setEncoding('utf8');
  tls.on('data', (c: string) => (reply += c));
  await new Promise((r) => tls.once('end', r));
  assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(reply.endsWith('\r\n\r\nOK\n'), reply);
});

test('a connection that sends nothing is closed after the handshake timeout; bytes that are neither TLS nor HTTP fail as before', async (t) => {
  const { logger, lines } = memoryLogger();
  const { server, address } = await startTls(tlsOptions(), { logger, headersTimeoutMs: 300 });
  t.after(() => server.close());
  const silent = await rawExchange(address, []);
  assert.equal(silent.reply.length, 0);
  assert.ok(silent.ms >= 250 && silent.ms < 3_000, `closed after ${silent.ms} ms`);
  assert.ok(lines.some((l) => l.includes('nothing sent before the handshake timeout')), lines.join(''));
  // Lower-case "get" is no HTTP method and no TLS record: the handshake fails and says nothing.
  const garbage = await rawExchange(address, ['get / HTTP/1.1\r\n\r\n']);
  assert.equal(garbage.reply.length, 0);
  assert.ok(lines.some((l) => l.includes('TLS handshake failed')), lines.join(''));
  // A client that sends the first byte of a ClientHello and then nothing: TLS's own timeout.
  const stalled = await rawExchange(address, [Buffer.from([0x16])]);
  assert.ok(stalled.ms >= 250 && stalled.ms < 3_000, `closed after ${stalled.ms} ms`);
  assert.equal((await get(address, '/health')).status, 200);
});
