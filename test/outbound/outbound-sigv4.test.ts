/**
 * AWS Signature Version 4 for remote write: the signing checked against AWS's published test
 * suite (canonical request, string to sign, Authorization header); credentials and region
 * found as aws-sdk-go does (config, environment, shared files); an end-to-end remote write to
 * a receiver that verifies the signature with its own code (written here, apart from the
 * signer's). And the cloud kinds Tributary does not implement (azuread, google_iam): a warning
 * at load and in check-config, and nothing sent to their URL.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { SigV4Signer, signV4 } from '../../src/outbound/sigv4.js';
import { runCli } from '../helpers/cli-process.js';
import { receiver, startQueues } from '../helpers/remotewrite-harness.js';
import { CASES, SUITE } from '../helpers/sigv4-vectors.js';

/** A suite case's raw request: request line, headers (repeats kept), blank line, body. */
function parseRaw(raw: string) {
  const [head, ...rest] = raw.split('\n\n');
  const [requestLine, ...lines] = head.split('\n');
  const [method, target] = requestLine.split(' ');
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    (headers[line.slice(0, colon)] ??= []).push(line.slice(colon + 1));
  }
  return { method, url: new URL(target, `https://${headers['Host'][0]}`), headers, body: rest.join('\n\n') };
}

for (const c of CASES) {
  test(`AWS SigV4 test suite: ${c.name}`, () => {
    const req = parseRaw(c.req);
    const creds = { accessKeyId: SUITE.accessKeyId, secretAccessKey: SUITE.secretAccessKey };
    const s = signV4(req, creds, SUITE.region, SUITE.service);
    assert.equal(s.canonicalRequest, c.creq);
    assert.equal(s.stringToSign, c.sts);
    assert.equal(s.authorization, c.authz);
  });
}

const SUITE_TIME = new Date('2015-08-30T12:36:00Z');

test('the remote-write signer adds X-Amz-Date (and the session token) and signs as the suite does', async () => {
  const url = new URL('https://example.amazonaws.com/');
  const fromConfig = new SigV4Signer({ region: 'us-east-1', access_key: SUITE.accessKeyId, secret_key: SUITE.secretAccessKey }, {}, 'service');
  const vanilla = CASES.find((c) => c.name === 'post-vanilla')!;
  // User-Agent is never signed (prometheus/common's deny list)
  assert.deepEqual(await fromConfig.sign('POST', url, { 'user-agent': 'Tributary/x' }, Buffer.alloc(0), SUITE_TIME), {
    'x-amz-date': '20150830T123600Z',
    authorization: vanilla.authz,
  });
  const fromEnv = new SigV4Signer({}, { AWS_ACCESS_KEY_ID: SUITE.accessKeyId, AWS_SECRET_ACCESS_KEY: SUITE.secretAccessKey, AWS_SESSION_TOKEN: SUITE.sessionToken, AWS_REGION: 'us-east-1' }, 'service');
  const sts = CASES.find((c) => c.name === 'post-sts-header-before')!;
  assert.deepEqual(await fromEnv.sign('POST', url, {}, Buffer.alloc(0), SUITE_TIME), {
    'x-amz-date': '20150830T123600Z',
    'x-amz-security-token': SUITE.sessionToken,
    authorization: sts.authz,
  });
});

test('credentials and region: config, then environment, then the shared files; a clear error when none', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-aws-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const credentials = join(dir, 'credentials');
  const config = join(dir, 'config');
  writeFileSync(credentials, '[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = defaultsecret\n\n[prod]\naws_access_key_id=PRODKEY\naws_secret_access_key=prodsecret\naws_session_token=prodtoken\n');
  writeFileSync(config, '[default]\nregion = eu-west-1\n[profile prod]\nregion = us-west-2\n');
  const files = { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config };
  const env = { ...files, AWS_ACCESS_KEY_ID: 'ENVKEY', AWS_SECRET_ACCESS_KEY: 'envsecret', AWS_REGION: 'ap-south-1' };

  const keys = async (cfg: ConstructorParameters<typeof SigV4Signer>[0], e: NodeJS.ProcessEnv) => {
    const r = await new SigV4Signer(cfg, e).resolve();
    return [r.credentials.accessKeyId, r.credentials.sessionToken, r.region];
  };
  assert.deepEqual(await keys({ access_key: 'CFGKEY', secret_key: 's', region: 'us-east-2' }, env), ['CFGKEY', undefined, 'us-east-2']);
  assert.deepEqual(await keys({}, env), ['ENVKEY', undefined, 'ap-south-1']);
  // an explicit profile goes before the environment's keys, as in aws-sdk-go
  assert.deepEqual(await keys({ profile: 'prod' }, env), ['PRODKEY', 'prodtoken', 'ap-south-1']);
  assert.deepEqual(await keys({}, files), ['DEFAULTKEY', undefined, 'eu-west-1']);
  assert.deepEqual(await keys({}, { ...files, AWS_PROFILE: 'prod' }), ['PRODKEY', 'prodtoken', 'us-west-2']);

  const none = { AWS_SHARED_CREDENTIALS_FILE: join(dir, 'missing'), AWS_CONFIG_FILE: join(dir, 'missing') };
  await assert.rejects(new SigV4Signer({ region: 'us-east-1' }, none).resolve(), /^Error: sigv4: no AWS credentials .*nothing is sent$/);
  await assert.rejects(new SigV4Signer({ access_key: 'A', secret_key: 'B' }, none).resolve(), /sigv4: no region/);
  await assert.rejects(
    new SigV4Signer({ region: 'us-east-1', access_key: 'A', secret_key: 'B', role_arn: 'arn:aws:iam::1:role/x' }, none).sign('POST', new URL('https://x/'), {}, Buffer.alloc(0)),
    /role_arn needs STS AssumeRole/,
  );
});

/**
 * The receiver's check, independent of src/outbound/sigv4.ts: the canonical request rebuilt
 * from what arrived (the signed headers as received, the body's hash), signed with the key.
 */
function verifySigV4(req: IncomingMessage, body: Buffer, secret: string): string | undefined {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
  if (!m) return 'no SigV4 Authorization header';
  const [, , day, region, service, signed, signature] = m;
  const date = String(req.headers['x-amz-date'] ?? '');
  if (!date.startsWith(day)) return 'x-amz-date does not match the credential scope';
  if (Math.abs(Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13)}`) - Date.now()) > 5 * 60_000) return 'stale x-amz-date';
  const names = signed.split(';');
  for (const required of ['host', 'x-amz-date', 'content-type', 'content-encoding', 'content-length']) if (!names.includes(required)) return `${required} not signed`;
  const url = new URL(req.url ?? '/', 'http://x');
  const canonical = [
    req.method,
    url.pathname,
    '',
    names.map((n) => `${n}:${String(req.headers[n]).trim()}\n`).join(''),
    signed,
    createHash('sha256').update(body).digest('hex'),
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const key = [day, region, service, 'aws4_request'].reduce<Buffer | string>((k, part) => createHmac('sha256', k).update(part).digest(), 'AWS4' + secret);
  const expected = createHmac('sha256', key).update(toSign).digest('hex');
  return expected === signature ? undefined : 'signature mismatch';
}

function batchOf(n: number): SampleBatch {
  const b = new SampleBatch(n);
  for (let i = 0; i < n; i++) b.append(Labels.fromRecord({ __name__: 'm', i: String(i) }), i, 1_700_000_000_000 + i);
  return b;
}

test('remote write with sigv4: every request signed (service aps, body hash) and accepted by a verifying receiver', async (t) => {
  const problems: string[] = [];
  const r = await receiver((_n, req, body) => {
    const problem = verifySigV4(req, body, 'test-secret');
    if (problem) problems.push(problem);
    return { status: problem ? 403 : 204 };
  });
  t.after(() => r.close());
  const { rw, pipeline } = await startQueues(
    t,
    `remote_write:
  - url: ${r.url}
    headers: {X-Scope-OrgID: tenant-1}
    queue_config: {senders: 1, max_samples_per_send: 10}
    sigv4: {region: eu-central-1, access_key: AKIDTEST, secret_key: test-secret}
`,
  );
  pipeline.write('job', batchOf(25));
  await rw.close();
  assert.deepEqual(problems, []);
  assert.equal(r.got.length, 3);
  assert.deepEqual(r.got.flatMap((x) => x.body.timeseries.map((s) => s.samples[0].value)), Array.from({ length: 25 }, (_, i) => i));
  const auth = String(r.got[0].headers.authorization);
  assert.match(auth, /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-central-1\/aps\/aws4_request, SignedHeaders=content-encoding;content-length;content-type;host;x-amz-date;x-prometheus-remote-write-version;x-scope-orgid, /);
});

test('a wrong sigv4 secret is refused by the receiver: the check above is not a rubber stamp', async (t) => {
  const problems: string[] = [];
  const r = await receiver((_n, req, body) => {
    const problem = verifySigV4(req, body, 'the-real-secret');
    if (problem) problems.push(problem);
    return { status: problem ? 403 : 204 };
  });
  t.after(() => r.close());
  const { rw, pipeline } = await startQueues(t, `remote_write:\n  - url: ${r.url}\n    sigv4: {region: eu-central-1, access_key: AKIDTEST, secret_key: not-the-secret}\n`);
  pipeline.write('job', batchOf(3));
  await rw.close();
  assert.ok(problems.length > 0 && problems.every((p) => p === 'signature mismatch'), problems.join());
  assert.equal(r.got.length, 0);
});

const CLOUD_YAML = (url: string) => `remote_write:
  - url: ${url}
    queue_config: {min_backoff: 50ms, max_backoff: 100ms}
    azuread: {cloud: AzurePublic, managed_identity: {client_id: 00000000-0000-0000-0000-000000000000}}
  - url: ${url}
    google_iam: {credentials_file: /nonexistent.json}
  - url: ${url}
    sigv4: {region: us-east-1, role_arn: 'arn:aws:iam::123456789012:role/prom'}
`;

test('azuread, google_iam and sigv4.role_arn load with a warning naming what is missing', () => {
  const { warnings } = parseConfigText(CLOUD_YAML('http://127.0.0.1:1/w'), 'cloud.yml');
  const text = warnings.map((w) => `${w.path}: ${w.message}`);
  assert.deepEqual(text.filter((w) => !w.startsWith('remote_write[') || /azuread|google_iam|role_arn/.test(w)), [
    'remote_write[0].azuread: azuread: not supported; remote_write[0] sends nothing (its data stays queued) — Azure AD client secrets work as oauth2 with token_url https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token and scopes [https://monitor.azure.com/.default]',
    'remote_write[1].google_iam: google_iam: not supported; remote_write[1] sends nothing (its data stays queued)',
    'remote_write[2].sigv4.role_arn: STS AssumeRole is not supported; remote_write[2] sends nothing (give the role\'s keys instead)',
  ]);
  // oauth2 and sigv4 themselves are implemented: no warning
  const plain = parseConfigText(
    'remote_write:\n  - url: http://a/w\n    sigv4: {region: us-east-1}\n  - url: http://b/w\n    oauth2: {client_id: x, client_secret: y, token_url: http://t/}\nscrape_configs:\n  - job_name: j\n    oauth2: {client_id: x, client_secret: y, token_url: http://t/}\n',
    'plain.yml',
  );
  assert.deepEqual(plain.warnings, []);
  // keys of the JWT-bearer grant with another grant do nothing: named
  const jwt = parseConfigText(
    'scrape_configs:\n  - job_name: j\n    oauth2: {client_id: x, client_secret: y, token_url: http://t/, signature_algorithm: RS256, audience: a}\n',
    'jwt.yml',
  );
  assert.deepEqual(jwt.warnings.map((w) => `${w.path}: ${w.message}`), [
    'scrape_configs[0].oauth2.signature_algorithm: only used with grant_type urn:ietf:params:oauth:grant-type:jwt-bearer; ignored',
    'scrape_configs[0].oauth2.audience: only used with grant_type urn:ietf:params:oauth:grant-type:jwt-bearer; ignored',
  ]);
  assert.throws(
    () => parseConfigText('scrape_configs:\n  - job_name: j\n    oauth2: {client_id: x, token_url: http://t/, grant_type: password}\n', 'g.yml'),
    /grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:jwt-bearer/,
  );
  assert.throws(
    () => parseConfigText('scrape_configs:\n  - job_name: j\n    oauth2: {client_id: x, token_url: http://t/, grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", signature_algorithm: ES256}\n', 'g.yml'),
    /valid signature algorithms are RS256, RS384 and RS512/,
  );
});

test('check-config prints the cloud auth warnings; at run time their URL is sent nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cloud-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await receiver(() => ({ status: 204 }));
  t.after(() => r.close());
  const file = join(dir, 'cloud.yml');
  writeFileSync(file, CLOUD_YAML(r.url));
  const checked = await runCli(['check-config', file]);
  assert.equal(checked.code, 0, checked.stderr);
  const out = checked.stdout + checked.stderr;
  assert.match(out, /remote_write\[0\]\.azuread.*azuread: not supported; remote_write\[0\] sends nothing/);
  assert.match(out, /remote_write\[1\]\.google_iam/);
  assert.match(out, /remote_write\[2\]\.sigv4\.role_arn/);

  const { rw, pipeline } = await startQueues(t, CLOUD_YAML(r.url));
  pipeline.write('job', batchOf(3));
  await new Promise((res) => setTimeout(res, 500));
  await rw.close();
  assert.equal(r.requests(), 0, 'no request went out without the authentication it asked for');
});

test('oauth2 and sigv4 can not be combined, nor access_key without secret_key', () => {
  assert.throws(() => parseConfigText('remote_write:\n  - url: http://a/w\n    sigv4: {region: x}\n    oauth2: {client_id: x, token_url: http://t/}\n', 'x.yml'), /at most one of basic_auth, authorization, oauth2, sigv4/);
  assert.throws(() => parseConfigText('remote_write:\n  - url: http://a/w\n    sigv4: {access_key: AK}\n', 'x.yml'), /sigv4\.secret_key.*access_key and secret_key must be given together/s);
});
