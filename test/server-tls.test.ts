import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { serverConfigSchema } from '../src/config/tributary.js';
import { defaultConfig } from '../src/config/index.js';
import { Logger } from '../src/log/logger.js';
import { startRuntime } from '../src/runtime/runtime.js';
import { Registry } from '../src/selfmetrics/index.js';
import {
  AccessRule,
  HttpServer,
  Readiness,
  parseListenAddress,
  registerCoreRoutes,
  type ServerTlsOptions,
} from '../src/server/index.js';

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
  more: { access?: AccessRule; logger?: Logger } = {},
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
  const rt = await startRuntime({ logger, resolved: { config, warnings: [] } });
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
