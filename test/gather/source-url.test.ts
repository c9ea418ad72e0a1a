/** Source URL forms as vmgather accepts them, and precise errors for bad ones (source-url.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeSourceUrl } from '../../src/gather/source-url.js';
import { SourceError } from '../../src/gather/types.js';

test('URL forms map to the API base, the tenant and the cluster path', () => {
  const cases: [string, string | undefined, string, string | undefined, boolean][] = [
    ['http://vm:8428', undefined, 'http://vm:8428', undefined, false],
    ['http://vm:8428/', undefined, 'http://vm:8428', undefined, false],
    ['vm:8428', undefined, 'http://vm:8428', undefined, false],
    ['http://vmselect:8481/select/0/prometheus', undefined, 'http://vmselect:8481/select/0/prometheus', '0', true],
    ['http://vmselect:8481/select/42:7/prometheus/', undefined, 'http://vmselect:8481/select/42:7/prometheus', '42:7', true],
    ['http://vmselect:8481/select/3', undefined, 'http://vmselect:8481/select/3/prometheus', '3', true],
    ['http://vmselect:8481/select/0/prometheus/api/v1/query?query=up', undefined, 'http://vmselect:8481/select/0/prometheus', '0', true],
    ['http://vmselect:8481', '5', 'http://vmselect:8481/select/5/prometheus', '5', true],
    ['http://vmselect:8481/select/1/prometheus', '5', 'http://vmselect:8481/select/1/prometheus', '1', true],
    ['https://vmauth.example.com/42', undefined, 'https://vmauth.example.com/42/prometheus', '42', false],
    ['https://vmauth.example.com/rw/prometheus', undefined, 'https://vmauth.example.com/rw/prometheus', undefined, false],
    ['http://proxy/vm/prometheus/api/v1/export', undefined, 'http://proxy/vm/prometheus', undefined, false],
    ['http://prom:9090/api/v1/query', undefined, 'http://prom:9090', undefined, false],
    ['http://proxy:80/monitoring//', undefined, 'http://proxy/monitoring', undefined, false],
    ['http://prom:9090', '', 'http://prom:9090', undefined, false],
    ['http://vmselect:8481/select/multitenant/prometheus', undefined, 'http://vmselect:8481/select/multitenant/prometheus', 'multitenant', true],
  ];
  for (const [url, tenant, base, t, cluster] of cases) {
    const got = normalizeSourceUrl(url, tenant);
    assert.deepEqual([got.apiBase, got.tenant, got.clusterPath], [base, t, cluster], `${url} (tenant ${tenant})`);
  }
});

test('credentials typed into the URL leave it and become the auth', () => {
  const got = normalizeSourceUrl('http://us%40er:p%3Ass@vm:8428/');
  assert.equal(got.apiBase, 'http://vm:8428');
  assert.deepEqual(got.userInfo, { username: 'us@er', password: 'p:ss' });
});

test('bad URLs and tenants are refused with what is wrong', () => {
  const bad: [string, string | undefined, RegExp][] = [
    ['', undefined, /empty/],
    ['ftp://vm:21', undefined, /scheme ftp is not supported/],
    ['http://', undefined, /not a URL|names no host/],
    ['http://vm:99999', undefined, /not a URL/],
    ['http://vmselect:8481/select/abc/prometheus', undefined, /tenant "abc"/],
    ['http://vmselect:8481', 'x1', /tenant "x1" is not a VictoriaMetrics tenant/],
  ];
  for (const [url, tenant, re] of bad) {
    assert.throws(() => normalizeSourceUrl(url, tenant), (e: unknown) => e instanceof SourceError && re.test(e.message), `${url}`);
  }
});

test('auth settings that could not go out are refused before any request, saying which', async () => {
  const { validateSource, openSource } = await import('../../src/gather/source.js');
  const cases: [NonNullable<Parameters<typeof validateSource>[0]['auth']>, RegExp][] = [
    [{ type: 'header', name: 'X Bad', value: 'v' }, /"X Bad" is not an HTTP header name/],
    [{ type: 'header', name: 'X-Token', value: 'a\r\nInjected: 1' }, /custom header X-Token: the value holds a line break/],
    [{ type: 'basic', username: 'a:b', password: 'p' }, /username must not contain ":"/],
    [{ type: 'bearer', token: '  ' }, /token is empty/],
  ];
  for (const [auth, re] of cases) {
    // a port nothing listens on: an attempt would show up as a network error
    const r = await validateSource({ url: 'http://127.0.0.1:1', auth });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', re);
    assert.deepEqual(r.attempts, []);
    await assert.rejects(openSource({ url: 'http://127.0.0.1:1', auth }, { flavour: 'prometheus', version: 'x', apiBase: 'http://127.0.0.1:1', exportApi: false }), (e: unknown) => e instanceof SourceError && e.kind === 'auth' && re.test(e.message));
  }
  const t = await validateSource({ url: 'http://127.0.0.1:1', timeoutMs: 0 });
  assert.match(t.error ?? '', /timeout 0 ms/);
});
