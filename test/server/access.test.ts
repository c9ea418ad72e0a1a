import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { accessSchema } from '../../src/config/access.js';
import { serverConfigSchema } from '../../src/config/tributary.js';
import { Registry } from '../../src/selfmetrics/index.js';
import {
  AccessRule,
  HttpServer,
  Readiness,
  authenticatedUser,
  parseListenAddress,
  protect,
  registerCoreRoutes,
  sendText,
  type AccessRuleOptions,
  type PasswordVerifier,
} from '../../src/server/index.js';

// Cost 4 is bcrypt's minimum: these tests are about the protocol, not the hashing.
const ALICE_HASH = bcrypt.hashSync('wonderland', 4);
const BOB_HASH = bcrypt.hashSync('builder', 4);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-access-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Reply {
  status: number;
  wwwAuthenticate: string[];
  text: string;
}

function get(address: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const values: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i].toLowerCase() === 'www-authenticate') values.push(res.rawHeaders[i + 1]);
        }
        resolve({ status: res.statusCode ?? 0, wwwAuthenticate: values, text });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string): Record<string, string> => ({
  authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64'),
});
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A verifier that counts its calls, around real bcrypt. */
function countingVerifier(): { verify: PasswordVerifier; calls: () => number } {
  let n = 0;
  return {
    verify: async (password, hash) => {
      n++;
      return bcrypt.compare(password, hash);
    },
    calls: () => n,
  };
}

async function serve(rule: AccessRule, serverWide?: AccessRule): Promise<{ address: string; close: () => Promise<void> }> {
  const registry = new Registry();
  const server = new HttpServer({ registry, access: serverWide });
  registerCoreRoutes(server, { registry, readiness: new Readiness() });
  server.get('/private', protect(rule, (req, res) => sendText(res, 200, `hello ${authenticatedUser(req) ?? 'token holder'}\n`)));
  const address = await server.listen('127.0.0.1:0');
  return { address, close: () => server.close() };
}

function rule(config: { users?: Record<string, string>; tokens?: string[] }, opts?: AccessRuleOptions): AccessRule {
  return new AccessRule(config.users ?? {}, config.tokens ?? [], opts);
}

test('basic auth: right password 200, wrong password or no header 401 with a Basic challenge', async (t) => {
  const s = await serve(rule({ users: { alice: ALICE_HASH, bob: BOB_HASH } }));
  t.after(() => s.close());
  const ok = await get(s.address, '/private', basic('alice', 'wonderland'));
  assert.equal(ok.status, 200);
  assert.equal(ok.text, 'hello alice\n');
  assert.equal((await get(s.address, '/private', basic('bob', 'builder'))).text, 'hello bob\n');
  for (const headers of [basic('alice', 'builder'), basic('carol', 'wonderland'), {}, { authorization: 'Basic !!!' }, bearer('x')]) {
    const r = await get(s.address, '/private', headers);
    assert.equal(r.status, 401);
    assert.deepEqual(r.wwwAuthenticate, ['Basic realm="tributary"']);
    assert.equal(r.text, '401 unauthorized\n');
  }
  // Colons are allowed in passwords: only the first one separates the user.
  const colon = await serve(rule({ users: { eve: bcrypt.hashSync('a:b', 4) } }));
  t.after(() => colon.close());
  assert.equal((await get(colon.address, '/private', basic('eve', 'a:b'))).status, 200);
});

test('bearer tokens: right 200, wrong 401 with a Bearer challenge; scheme names are case-insensitive', async (t) => {
  const s = await serve(rule({ tokens: ['tok-one', 'tok-two'] }));
  t.after(() => s.close());
  assert.equal((await get(s.address, '/private', bearer('tok-one'))).status, 200);
  assert.equal((await get(s.address, '/private', bearer('tok-two'))).text, 'hello token holder\n');
  assert.equal((await get(s.address, '/private', { authorization: 'bearer tok-two' })).status, 200);
  for (const headers of [bearer('tok-on'), bearer('tok-one2'), bearer(''), {}, basic('tok-one', 'tok-one')]) {
    const r = await get(s.address, '/private', headers);
    assert.equal(r.status, 401);
    assert.deepEqual(r.wwwAuthenticate, ['Bearer realm="tributary"']);
  }
});

test('with both methods configured either is accepted and both are offered', async (t) => {
  const s = await serve(rule({ users: { alice: ALICE_HASH }, tokens: ['tok'] }));
  t.after(() => s.close());
  assert.equal((await get(s.address, '/private', basic('alice', 'wonderland'))).status, 200);
  assert.equal((await get(s.address, '/private', bearer('tok'))).status, 200);
  const r = await get(s.address, '/private');
  assert.equal(r.status, 401);
  assert.deepEqual(r.wwwAuthenticate, ['Basic realm="tributary"', 'Bearer realm="tributary"']);
});

test('verified credentials are cached: repeated requests cost one bcrypt round', async (t) => {
  const counter = countingVerifier();
  const s = await serve(rule({ users: { alice: ALICE_HASH } }, { verify: counter.verify }));
  t.after(() => s.close());
  for (let i = 0; i < 5; i++) assert.equal((await get(s.address, '/private', basic('alice', 'wonderland'))).status, 200);
  assert.equal(counter.calls(), 1);
  // Failures are not cached: each costs a round, so guessing stays as slow as bcrypt makes it.
  await get(s.address, '/private', basic('alice', 'nope'));
  await get(s.address, '/private', basic('alice', 'nope'));
  assert.equal(counter.calls(), 3);
  // Unknown users cost a round too, so response times do not reveal which users exist.
  assert.equal((await get(s.address, '/private', basic('mallory', 'wonderland'))).status, 401);
  assert.equal(counter.calls(), 4);
});

test('a burst of requests with the same new credentials shares one verification', async () => {
  const counter = countingVerifier();
  const r = rule({ users: { alice: ALICE_HASH } }, { verify: counter.verify });
  const req = { headers: basic('alice', 'wonderland') } as unknown as Parameters<AccessRule['check']>[0];
  const results = await Promise.all(Array.from({ length: 10 }, () => r.check(req)));
  assert.ok(results.every((x) => x.ok && x.user === 'alice'));
  assert.equal(counter.calls(), 1);
});

test('the cache is bounded: the least recently used credentials are forgotten first', async () => {
  const counter = countingVerifier();
  const r = rule({ users: { alice: ALICE_HASH, bob: BOB_HASH } }, { verify: counter.verify, cacheSize: 1 });
  const as = (h: Record<string, string>) => ({ headers: h }) as unknown as Parameters<AccessRule['check']>[0];
  assert.equal((await r.check(as(basic('alice', 'wonderland')))).ok, true);
  assert.equal((await r.check(as(basic('alice', 'wonderland')))).ok, true);
  assert.equal(counter.calls(), 1);
  assert.equal((await r.check(as(basic('bob', 'builder')))).ok, true);
  assert.equal((await r.check(as(basic('alice', 'wonderland')))).ok, true);
  assert.equal(counter.calls(), 3);
});

test('server-wide rule guards core routes; a route with its own rule answers to that one only', async (t) => {
  const own = rule({ tokens: ['route-token'] });
  const wide = rule({ users: { alice: ALICE_HASH } });
  const s = await serve(own, wide);
  t.after(() => s.close());
  assert.equal((await get(s.address, '/health')).status, 401);
  assert.equal((await get(s.address, '/metrics')).status, 401);
  assert.equal((await get(s.address, '/health', basic('alice', 'wonderland'))).status, 200);
  assert.equal((await get(s.address, '/private', basic('alice', 'wonderland'))).status, 401);
  assert.equal((await get(s.address, '/private', bearer('route-token'))).status, 200);
  assert.equal((await get(s.address, '/nowhere')).status, 404);
});

test('bearer_token_files are read when the rule is built; problems name the file', async () => {
  writeFileSync(join(dir, 'token'), '  from-a-file\n');
  writeFileSync(join(dir, 'empty'), '\n');
  const r = await AccessRule.fromConfig({ bearer_token_files: [join(dir, 'token')], bearer_tokens: ['inline'] });
  const as = (h: Record<string, string>) => ({ headers: h }) as unknown as Parameters<AccessRule['check']>[0];
  assert.deepEqual(await r.check(as(bearer('from-a-file'))), { ok: true });
  assert.equal((await r.check(as(bearer('inline')))).ok, true);
  await assert.rejects(AccessRule.fromConfig({ bearer_token_files: [join(dir, 'absent')] }), {
    message: `cannot read bearer token file ${join(dir, 'absent')}: no such file`,
  });
  await assert.rejects(AccessRule.fromConfig({ bearer_token_files: [join(dir, 'empty')] }), {
    message: `bearer token file ${join(dir, 'empty')} is empty`,
  });
  assert.throws(() => new AccessRule({}, []), /at least one user or bearer token/);
});

test('accessSchema: bcrypt hashes only, with a message that does not repeat what was written', () => {
  const ok = accessSchema.parse({ basic_auth_users: { alice: ALICE_HASH }, bearer_tokens: ['t'], bearer_token_files: ['/f'] });
  assert.deepEqual(ok.basic_auth_users, { alice: ALICE_HASH });
  for (const prefix of ['$2a$', '$2b$', '$2y$']) {
    assert.equal(accessSchema.safeParse({ basic_auth_users: { a: prefix + ALICE_HASH.slice(4) } }).success, true);
  }
  const plaintext = accessSchema.safeParse({ basic_auth_users: { alice: 'hunter2' } });
  assert.equal(plaintext.success, false);
  const issue = plaintext.error!.issues[0];
  assert.deepEqual(issue.path, ['basic_auth_users', 'alice']);
  assert.match(issue.message, /^password hash for user "alice" must be a bcrypt hash \(\$2a\$, \$2b\$ or \$2y\$/);
  assert.match(issue.message, /plaintext passwords are not accepted/);
  assert.doesNotMatch(issue.message, /hunter2/);
  for (const bad of ['$2x$04$' + ALICE_HASH.slice(7), '$2b$03$' + ALICE_HASH.slice(7), ALICE_HASH.slice(0, -1), '$1$abc']) {
    assert.equal(accessSchema.safeParse({ basic_auth_users: { alice: bad } }).success, false, bad);
  }
  const colon = accessSchema.safeParse({ basic_auth_users: { 'a:b': ALICE_HASH } });
  assert.match(colon.error!.issues[0].message, /user name "a:b" is not usable with Basic auth/);
  const empty = accessSchema.safeParse({});
  assert.match(empty.error!.issues[0].message, /at least one entry in basic_auth_users, bearer_tokens or bearer_token_files/);
  assert.equal(accessSchema.safeParse({ bearer_tokens: [''] }).success, false);
  assert.equal(accessSchema.safeParse({ bearer_tokens: ['t'], basic_auth: {} }).success, false, 'strict');
});

test('server.access is optional and open by default', () => {
  assert.equal(serverConfigSchema.parse({}).access, undefined);
  const s = serverConfigSchema.parse({ access: { bearer_tokens: ['t'] } });
  assert.deepEqual(s.access, { bearer_tokens: ['t'] });
  assert.equal(serverConfigSchema.safeParse({ access: { basic_auth_users: { a: 'plain' } } }).success, false);
});
