/**
 * OAuth 2.0 client credentials for scrapes and remote write, against a token server written
 * here: a real OAuth server (Keycloak, Dex, ...) cannot be installed on this machine, and a
 * small one lets the test count token requests and see every form field. Plus the token
 * request real Prometheus (2.42, agent mode) sends for the same config, compared with ours.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { freePort, PROMETHEUS, stopProcess } from '../helpers/prometheus-peer.js';
import { requirePeer } from '../helpers/peers.js';
import { startProxy } from '../helpers/proxy-server.js';
import { receiver, startQueues } from '../helpers/remotewrite-harness.js';
import { startScraping, startTarget, waitFor, type TestTarget } from '../helpers/scrape-harness.js';

interface TokenRequest {
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly userAgent: string | undefined;
  readonly custom: string | undefined;
  readonly form: Record<string, string[]>;
}

/**
 * Issues `tok-N` to the client with the right secret (Basic auth or form fields, as RFC 6749
 * allows both), 401 otherwise; every request recorded.
 */
async function tokenServer(opts: { id: string; secret: () => string; expiresIn?: number; tls?: { key: Buffer; cert: Buffer } }) {
  const requests: TokenRequest[] = [];
  const valid = new Map<string, number>();
  let n = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const form: Record<string, string[]> = {};
      for (const [k, v] of params) (form[k] ??= []).push(v);
      requests.push({
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        userAgent: req.headers['user-agent'],
        custom: req.headers['x-token-header'] as string | undefined,
        form,
      });
      let id = params.get('client_id') ?? '';
      let secret = params.get('client_secret') ?? '';
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      if (basic) {
        const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
        id = unescape(decoded.slice(0, colon));
        secret = unescape(decoded.slice(colon + 1));
      }
      if (params.get('grant_type') !== 'client_credentials' || id !== opts.id || secret !== opts.secret()) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_client"}');
        return;
      }
      const token = `tok-${++n}`;
      valid.set(token, opts.expiresIn ? Date.now() + opts.expiresIn * 1000 : Infinity);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: token, token_type: 'bearer', ...(opts.expiresIn ? { expires_in: opts.expiresIn } : {}) }));
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, handle) : createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`,
    requests,
    /** Whether a request carries a token this server issued and that has not expired. */
    authorized(req: IncomingMessage): boolean {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      return m !== null && (valid.get(m[1]) ?? 0) > Date.now();
    },
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** A target that serves its page only with a valid token. */
async function protectedTarget(auth: { authorized(req: IncomingMessage): boolean }): Promise<TestTarget> {
  return startTarget((req, res) => {
    if (!auth.authorized(req)) {
      res.writeHead(401);
      res.end('no valid token');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('up_metric 1\n');
  });
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-oauth2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('scrapes of every target of a job share one token: fetched once, with scopes and endpoint_params, sent as Bearer', async (t) => {
  const tokens = await tokenServer({ id: 'agent', secret: () => 's3cr3t' });
  t.after(() => tokens.close());
  const targets = await Promise.all([1, 2, 3].map(() => protectedTarget(tokens)));
  t.after(() => Promise.all(targets.map((x) => x.close())));
  const h = await startScraping(`scrape_configs:
  - job_name: secured
    scrape_interval: 100ms
    scrape_timeout: 100ms
    oauth2:
      client_id: agent
      client_secret: s3cr3t
      token_url: ${tokens.url}
      scopes: [metrics.read, metrics.list]
      endpoint_params: {audience: tributary-test}
      http_headers: {X-Token-Header: {values: [for-the-token-only]}}
    static_configs: [{targets: [${targets.map((x) => x.address).join(', ')}]}]
`);
  t.after(() => h.close());
  await waitFor('three good scrapes of every target', () => targets.every((x) => x.requests >= 3), 10_000);
  const loops = await h.loops('secured');
  assert.deepEqual(loops.map((l) => l.status().health), ['up', 'up', 'up'], loops.map((l) => l.status().lastError).join('; '));
  assert.equal(tokens.requests.length, 1, 'one token request for all targets and scrapes');
  const r = tokens.requests[0];
  assert.deepEqual(r.form, { audience: ['tributary-test'], grant_type: ['client_credentials'], scope: ['metrics.read metrics.list'] });
  assert.equal(r.authorization, 'Basic ' + Buffer.from('agent:s3cr3t').toString('base64'));
  assert.equal(r.contentType, 'application/x-www-form-urlencoded');
  assert.equal(r.custom, 'for-the-token-only');
});

test('a token is fetched again shortly before it expires (expires_in, less 10s)', async (t) => {
  const tokens = await tokenServer({ id: 'agent', secret: () => 'pw', expiresIn: 11 });
  t.after(() => tokens.close());
  const target = await protectedTarget(tokens);
  t.after(() => target.close());
  const h = await startScraping(`scrape_configs:
  - job_name: expiring
    scrape_interval: 200ms
    scrape_timeout: 200ms
    oauth2: {client_id: agent, client_secret: pw, token_url: ${tokens.url}}
    static_configs: [{targets: ['${target.address}']}]
`);
  t.after(() => h.close());
  // each token is used for 1s (11s less the margin): about 1 fetch a second, never every scrape
  const started = Date.now();
  await waitFor('25 scrapes', () => target.requests >= 25, 15_000);
  const seconds = (Date.now() - started) / 1000;
  const [loop] = await h.loops('expiring');
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  const fetched = tokens.requests.length;
  const scrapes = target.requests;
  assert.ok(fetched >= 3 && fetched <= Math.ceil(seconds) + 2 && fetched < scrapes / 2, `${fetched} token requests for ${scrapes} scrapes in ${seconds}s`);
});

test('a wrong secret marks the target down with the token endpoint\'s answer; a fixed client_secret_file is read again', async (t) => {
  const dir = tempDir(t);
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, 'wrong\n');
  const tokens = await tokenServer({ id: 'agent', secret: () => 'right' });
  t.after(() => tokens.close());
  const target = await protectedTarget(tokens);
  t.after(() => target.close());
  const h = await startScraping(`scrape_configs:
  - job_name: denied
    scrape_interval: 100ms
    scrape_timeout: 100ms
    oauth2: {client_id: agent, client_secret_file: ${secretFile}, token_url: ${tokens.url}}
    static_configs: [{targets: ['${target.address}']}]
`);
  t.after(() => h.close());
  const [loop] = await h.loops('denied');
  await waitFor('the target marked down', () => loop.status().health === 'down', 5_000);
  assert.match(loop.status().lastError, /^oauth2: cannot fetch token from http:\/\/127\.0\.0\.1:\d+\/oauth2\/token: HTTP 401: \{"error":"invalid_client"\}$/);
  assert.equal(target.requests, 0, 'the target was never asked without a token');
  assert.ok(!h.logLines.join('\n').includes('wrong'), 'the secret is not logged');
  // header style refused, so the form style was tried too, as golang.org/x/oauth2 does
  assert.ok(tokens.requests.some((r) => r.form.client_secret?.[0] === 'wrong' && r.authorization === undefined));

  writeFileSync(secretFile, 'right\n');
  await waitFor('the target up with the new secret', () => loop.status().health === 'up', 5_000);
});

test('remote write with oauth2: a refused token is retried, the data kept and then sent with the token', async (t) => {
  const dir = tempDir(t);
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, 'not-yet');
  const tokens = await tokenServer({ id: 'writer', secret: () => 'rw-secret' });
  t.after(() => tokens.close());
  const r = await receiver((_n, req) => ({ status: tokens.authorized(req) ? 204 : 401 }));
  t.after(() => r.close());
  const { rw, pipeline } = await startQueues(
    t,
    `remote_write:
  - url: ${r.url}
    queue_config: {senders: 1, min_backoff: 50ms, max_backoff: 100ms}
    oauth2: {client_id: writer, client_secret_file: ${secretFile}, token_url: ${tokens.url}, scopes: [write]}
`,
  );
  const b = new SampleBatch(5);
  for (let i = 0; i < 5; i++) b.append(Labels.fromRecord({ __name__: 'm', i: String(i) }), i, 1_700_000_000_000 + i);
  pipeline.write('job', b);
  await waitFor('token requests refused twice', () => tokens.requests.length >= 4, 5_000);
  assert.equal(r.requests(), 0, 'nothing sent without a token');
  writeFileSync(secretFile, 'rw-secret');
  await waitFor('the samples delivered', () => r.got.length > 0, 5_000);
  await rw.close();
  assert.deepEqual(r.got.flatMap((x) => x.body.timeseries.map((s) => s.samples[0].value)), [0, 1, 2, 3, 4]);
  assert.match(String(r.got[0].headers.authorization), /^Bearer tok-\d+$/);
});

test('http_sd_configs with oauth2: the discovery document is fetched with a token of its own', async (t) => {
  const tokens = await tokenServer({ id: 'sd', secret: () => 'sd-secret' });
  t.after(() => tokens.close());
  const target = await protectedTarget(tokens);
  t.after(() => target.close());
  const sd = await startTarget((req, res) => {
    if (!tokens.authorized(req)) {
      res.writeHead(401);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify([{ targets: [target.address] }]));
  });
  t.after(() => sd.close());
  const oauth2 = `{client_id: sd, client_secret: sd-secret, token_url: ${tokens.url}, scopes: [discovery]}`;
  const h = await startScraping(`scrape_configs:
  - job_name: discovered
    scrape_interval: 100ms
    scrape_timeout: 100ms
    oauth2: ${oauth2.replace('[discovery]', '[scrape]')}
    http_sd_configs: [{url: 'http://${sd.address}/targets', oauth2: ${oauth2}}]
`);
  t.after(() => h.close());
  await waitFor('the discovered target scraped', () => target.requests >= 2, 10_000);
  const [loop] = await h.loops('discovered');
  await waitFor('the discovered target up', () => loop.status().health === 'up', 5_000);
  // one token source for discovery, one for the job: each with its own scope
  assert.deepEqual(tokens.requests.map((r) => r.form.scope?.[0]).sort(), ['discovery', 'scrape']);
});

test('the JWT-bearer grant: an RS256 assertion with prometheus/common\'s claims, verified by the token server', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = tempDir(t);
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const issued: string[] = [];
  const server = await startTarget((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const [h, c, sig] = (form.get('assertion') ?? '').split('.');
      const ok =
        req.headers.authorization === undefined &&
        form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' &&
        verify('RSA-SHA256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(sig ?? '', 'base64url'));
      issued.push(ok ? `${Buffer.from(h, 'base64url')}|${Buffer.from(c, 'base64url')}|${form.get('scope')}` : 'refused');
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"access_token":"jwt-granted","token_type":"Bearer","expires_in":3600}' : '{}');
    });
  });
  t.after(() => server.close());
  const target = await protectedTarget({ authorized: (req) => req.headers.authorization === 'Bearer jwt-granted' });
  t.after(() => target.close());
  const tokenUrl = `http://${server.address}/token`;
  const h = await startScraping(`scrape_configs:
  - job_name: jwt
    scrape_interval: 100ms
    scrape_timeout: 100ms
    oauth2:
      client_id: svc-account
      grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer
      client_certificate_key_file: ${keyFile}
      client_certificate_key_id: key-1
      scopes: [read]
      claims: {tenant: acme}
      token_url: ${tokenUrl}
    static_configs: [{targets: ['${target.address}']}]
`);
  t.after(() => h.close());
  const [loop] = await h.loops('jwt');
  await waitFor('the target up', () => loop.status().health === 'up', 5_000);
  assert.equal(issued.length, 1, issued.join());
  const [header, claims, scope] = issued[0].split('|');
  assert.deepEqual(JSON.parse(header), { alg: 'RS256', typ: 'JWT', kid: 'key-1' });
  const c = JSON.parse(claims) as Record<string, unknown>;
  assert.equal(c.iss, 'svc-account');
  assert.equal(c.sub, 'svc-account');
  assert.equal(c.aud, tokenUrl);
  assert.equal(c.scope, 'read');
  assert.equal(c.tenant, 'acme');
  assert.equal((c.exp as number) - (c.iat as number), 600);
  assert.match(String(c.jti), /^[0-9a-f-]{36}$/);
  assert.equal(scope, 'read');
});

test('the token request uses the oauth2 block\'s own tls_config and proxy_url, not the job\'s', async (t) => {
  const dir = tempDir(t);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=tokens.test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const tokens = await tokenServer({ id: 'agent', secret: () => 'pw', tls: { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) } });
  t.after(() => tokens.close());
  const proxy = await startProxy(t);
  const target = await protectedTarget(tokens);
  t.after(() => target.close());
  const job = (tls: string) => `scrape_configs:
  - job_name: tls-token
    scrape_interval: 100ms
    scrape_timeout: 100ms
    oauth2:
      client_id: agent
      client_secret: pw
      token_url: ${tokens.url}
      proxy_url: ${proxy.url}
      ${tls}
    static_configs: [{targets: ['${target.address}']}]
`;
  const untrusted = await startScraping(job(''));
  const [refused] = await untrusted.loops('tls-token');
  await waitFor('the target down for the untrusted token server', () => refused.status().health === 'down', 5_000);
  assert.match(refused.status().lastError, /^oauth2: cannot fetch token from https:\/\/127\.0\.0\.1:\d+\/oauth2\/token: .*(certificate|self-signed|self signed)/i);
  await untrusted.close();

  const h = await startScraping(job(`tls_config: {ca_file: ${join(dir, 'cert.pem')}}`));
  t.after(() => h.close());
  const [loop] = await h.loops('tls-token');
  await waitFor('the target up', () => loop.status().health === 'up', 5_000);
  assert.ok(tokens.requests.length >= 1);
  assert.ok(proxy.tunnels.length >= 1 && proxy.tunnels.every((u) => u === new URL(tokens.url).host), proxy.tunnels.join());
  assert.equal(target.requests > 0, true, 'the target itself is scraped directly, not through the token proxy');
});

test('side by side with Prometheus 2.42 (agent mode): the same token request', async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const tokens = await tokenServer({ id: 'id with space', secret: () => 'p@ss:w/rd+' });
  t.after(() => tokens.close());
  const target = await protectedTarget(tokens);
  t.after(() => target.close());
  const job = (name: string) => `  - job_name: ${name}
    scrape_interval: 1s
    oauth2:
      client_id: id with space
      client_secret: p@ss:w/rd+
      token_url: ${tokens.url}
      scopes: [a, b]
      endpoint_params: {resource: 'https://metrics.example/', x: 'y z'}
    static_configs: [{targets: ['${target.address}']}]
`;
  const dir = tempDir(t);
  writeFileSync(join(dir, 'prometheus.yml'), `scrape_configs:\n${job('prometheus')}`);
  const port = await freePort();
  const prom = spawn(
    PROMETHEUS,
    ['--enable-feature=agent', `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.agent.path=${join(dir, 'agent')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: 'ignore' },
  );
  t.after(() => stopProcess(prom));
  const theirs = await waitFor('a token request from Prometheus', () => tokens.requests.find((r) => r.userAgent?.startsWith('Prometheus/')), 20_000);
  await waitFor('Prometheus scraping with its token', () => target.requests > 0, 10_000);

  const h = await startScraping(`scrape_configs:\n${job('tributary')}`);
  t.after(() => h.close());
  const ours = await waitFor('a token request from Tributary', () => tokens.requests.find((r) => r.userAgent?.startsWith('Tributary/')), 10_000);
  const [loop] = await h.loops('tributary');
  await waitFor('our target up', () => loop.status().health === 'up', 5_000);

  assert.deepEqual(ours.form, theirs.form, 'the same form fields');
  assert.equal(ours.authorization, theirs.authorization, 'the same Basic auth header (id and secret query-escaped)');
  assert.equal(ours.contentType, theirs.contentType);
  assert.deepEqual(theirs.form, { grant_type: ['client_credentials'], resource: ['https://metrics.example/'], scope: ['a b'], x: ['y z'] });
});
