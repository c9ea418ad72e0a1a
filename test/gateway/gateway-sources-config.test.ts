/** The gateway sources config fragment: defaults, one kind per source, unique safe names. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewaySourcesSchema } from '../../src/config/gateway-sources.js';

const issues = (input: unknown): string[] => {
  const r = gatewaySourcesSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('defaults are filled in', () => {
  const [h, f, s] = gatewaySourcesSchema.parse([
    { name: 'node', http: { url: 'http://localhost:9100/metrics', bearer_token: 't' } },
    { name: 'tf', labels: { team: 'a' }, file: { path: '/x.prom' } },
    { name: 'sh', source_label: false, script: { command: '/bin/true' } },
  ]);
  assert.equal(h.source_label, true);
  assert.deepEqual(h.labels, {});
  assert.equal(h.http!.mode, 'on_scrape');
  assert.equal(h.http!.timeout, 10_000);
  assert.equal(h.http!.max_body_bytes, 16 * 1024 * 1024);
  assert.equal(h.http!.forward_params, false);
  assert.deepEqual(h.http!.authorization, { type: 'Bearer', credentials: 't' });
  assert.deepEqual(f.labels, { team: 'a' });
  assert.equal(s.source_label, false);
  assert.deepEqual(s.script, {
    command: '/bin/true',
    args: [],
    env: {},
    timeout: 10_000,
    mode: 'on_scrape',
    interval: 60_000,
    max_output_bytes: 16 * 1024 * 1024,
  });
});

test('exactly one kind, unique and label-safe names, no unknown or unsupported keys', () => {
  assert.match(issues([{ name: 'a' }]).join(), /needs one of http, file, script or scrape/);
  assert.match(
    issues([{ name: 'a', file: { path: '/x' }, script: { command: 'x' } }]).join(),
    /exactly one of http, file, script or scrape, got file and script/,
  );
  assert.match(
    issues([{ name: 'a', file: { path: '/x' } }, { name: 'a', file: { path: '/y' } }]).join(),
    /1\.name: source name "a" is used more than once/,
  );
  assert.match(issues([{ name: 'a b', file: { path: '/x' } }]).join(), /must not contain whitespace/);
  assert.match(issues([{ name: '', file: { path: '/x' } }]).join(), /must not be empty/);
  assert.match(issues([{ name: 'a', file: { path: '/x', poll: 1 } }]).join(), /poll/);
  assert.deepEqual(issues([{ name: 'a', http: { url: 'http://h/', oauth2: { client_id: 'c', token_url: 'http://t' } } }]), []);
  assert.match(
    issues([{ name: 'a', http: { url: 'http://h/', basic_auth: { password_ref: 'x' } } }]).join(),
    /password_ref is not supported/,
  );
  assert.match(
    issues([{ name: 'a', http: { url: 'http://h/', mode: 'poll', forward_params: true } }]).join(),
    /forward_params needs mode: on_scrape/,
  );
  assert.match(issues([{ name: 'a', http: { url: 'ftp://h/' } }]).join(), /URL scheme/);
  assert.match(issues([{ name: 'a', labels: { '': 'x' }, file: { path: '/x' } }]).join(), /not a valid label name/);
});
