/**
 * `proxy_url` the way Prometheus and vmagent use it: a plain-http target's request (a scrape, a
 * remote write) goes to the proxy in absolute form (`GET http://host:port/metrics HTTP/1.1`),
 * with the proxy credentials; only https targets are tunnelled with CONNECT. A proxy that
 * refuses CONNECT to anything but port 443 (Squid's default) must not take http targets down.
 */

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Labels } from '../../src/model/labels.js';
import { SampleBatch } from '../../src/model/samples.js';
import { requirePeer } from '../helpers/peers.js';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus-peer.js';
import { startProxy } from '../helpers/proxy-server.js';
import { receiver, startQueues } from '../helpers/remotewrite-harness.js';
import { selfMetricValue, startScraping, startTarget, waitFor } from '../helpers/scrape-harness.js';

const execFile = promisify(execFileCb);
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

test('scrape of an http target through a proxy that refuses CONNECT: absolute-form request with the proxy credentials', async (t) => {
  const target = await startTarget();
  let seen: Record<string, unknown> = {};
  target.handle((req, res) => {
    seen = req.headers;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('via_proxy 1\n');
  });
  t.after(() => target.close());
  const proxy = await startProxy(t, undefined, { refuseConnect: true });
  const cases: [string, string][] = [
    ['    proxy_basic_auth: {username: u, password: p}\n', basic('u', 'p')],
    ['    proxy_bearer_token: tok\n', 'Bearer tok'],
    ['    proxy_authorization: {type: Token, credentials: c}\n', 'Token c'],
    // vmagent's proxy_headers go to the proxy too
    ['    proxy_headers: ["Proxy-Authorization: Custom x"]\n', 'Custom x'],
  ];
  for (const [extra, want] of cases) {
    const before = proxy.requests.length;
    const h = await startScraping(`global: {scrape_interval: 1h}
scrape_configs:
  - job_name: app
    proxy_url: ${proxy.url}
${extra}    static_configs: [{targets: ['${target.address}']}]
`);
    const [loop] = await h.loops('app');
    await loop.scrapeOnce();
    await h.close();
    assert.equal(loop.status().health, 'up', `${extra}: ${loop.status().lastError}`);
    assert.deepEqual(proxy.requests.slice(before), [`GET http://${target.address}/metrics`], extra);
    assert.equal(proxy.requestHeaders.at(-1)?.['proxy-authorization'], want, extra);
    assert.equal(proxy.requestHeaders.at(-1)?.host, target.address, 'Host names the target');
    assert.equal(seen['proxy-authorization'], undefined, 'the proxy credentials stop at the proxy');
  }
  assert.deepEqual(proxy.tunnels, [], 'no CONNECT for an http target');
});

test('remote write to an http URL through a proxy that refuses CONNECT: absolute-form POST with the proxy_url credentials', async (t) => {
  const r = await receiver(() => ({ status: 204 }));
  t.after(() => r.close());
  const proxy = await startProxy(t, undefined, { refuseConnect: true });
  const proxyUrl = new URL(proxy.url);
  proxyUrl.username = 'rw';
  proxyUrl.password = 'secret';
  const { rw, pipeline, registry } = await startQueues(t, `remote_write:
  - url: ${r.url}
    proxy_url: ${proxyUrl.href}
    queue_config: {senders: 1, min_backoff: 10ms, max_backoff: 40ms, batch_send_deadline: 100ms}
`);
  const batch = new SampleBatch(3);
  for (let i = 0; i < 3; i++) batch.append(Labels.fromRecord({ __name__: 'm', i: String(i) }), i, 1_700_000_000_000 + i);
  pipeline.write('job', batch);
  await waitFor('delivered', () => selfMetricValue(registry, 'tributary_remotewrite_samples_sent_total', { url: r.url }) === 3, 10_000);
  await rw.close();
  assert.ok(proxy.requests.length >= 1);
  assert.ok(proxy.requests.every((l) => l === `POST ${r.url}`), proxy.requests.join());
  assert.ok(proxy.auth.every((a) => a === basic('rw', 'secret')), JSON.stringify(proxy.auth));
  assert.deepEqual(proxy.tunnels, []);
  assert.equal(r.got[0].headers['proxy-authorization'], undefined);
});

/** An https target serving `secure 1` with a fresh self-signed certificate (`<dir>/t.pem`, its CA). */
async function tlsTarget(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-proxy-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 't.key'), '-out', join(dir, 't.pem'), '-days', '2', '-subj', '/CN=t', '-addext', 'subjectAltName=IP:127.0.0.1']);
  const target = await startTarget(undefined, { tls: { key: readFileSync(join(dir, 't.key')), cert: readFileSync(join(dir, 't.pem')) } });
  target.page('secure 1\n');
  t.after(() => target.close());
  return { dir, target };
}

test('an https target is still tunnelled (CONNECT host:port) with the proxy credentials', async (t) => {
  const { dir, target } = await tlsTarget(t);
  const proxy = await startProxy(t);
  const h = await startScraping(`global: {scrape_interval: 1h}
scrape_configs:
  - job_name: app
    scheme: https
    tls_config: {ca_file: ${join(dir, 't.pem')}}
    proxy_url: ${proxy.url}
    proxy_bearer_token: tok
    proxy_connect_header: {X-Team: [blue, green]}
    static_configs: [{targets: ['${target.address}']}]
`);
  t.after(() => h.close());
  const [loop] = await h.loops('app');
  await loop.scrapeOnce();
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  assert.deepEqual(proxy.tunnels, [target.address]);
  assert.deepEqual(proxy.requests, []);
  assert.deepEqual(proxy.auth, ['Bearer tok']);
  assert.equal(proxy.connectHeaders[0]['x-team'], 'blue, green', 'proxy_connect_header goes with CONNECT');
});

test('side by side with Prometheus 2.42: the same request line and Proxy-Authorization to the proxy', async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const target = await startTarget();
  target.page('a 1\n');
  t.after(() => target.close());
  const proxy = await startProxy(t, undefined, { refuseConnect: true });
  const proxyUrl = new URL(proxy.url);
  proxyUrl.username = 'u';
  proxyUrl.password = 'p';
  const yaml = `global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: app
    proxy_url: ${proxyUrl.href}
    proxy_connect_header: {X-Team: [a]}
    static_configs: [{targets: ['${target.address}']}]
`;
  const prom = await startPrometheus(yaml);
  t.after(() => prom.stop());
  const isProm = (i: number) => String(proxy.requestHeaders[i]['user-agent']).startsWith('Prometheus');
  await waitFor('Prometheus through the proxy', () => proxy.requestHeaders.some((_, i) => isProm(i)), 15_000)
    .catch((err: Error) => assert.fail(`${err.message}; tunnels ${proxy.tunnels.join()}; ${prom.log()}`));
  const h = await startScraping(yaml);
  t.after(() => h.close());
  const [loop] = await h.loops('app');
  await loop.scrapeOnce();
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  const at = (own: boolean) => proxy.requestHeaders.findIndex((_, i) => isProm(i) !== own);
  const [ours, theirs] = [at(true), at(false)];
  assert.ok(ours >= 0 && theirs >= 0);
  assert.equal(proxy.requests[ours], proxy.requests[theirs]);
  assert.equal(proxy.requests[ours], `GET http://${target.address}/metrics`);
  assert.equal(proxy.auth[ours], proxy.auth[theirs]);
  assert.equal(proxy.auth[ours], basic('u', 'p'));
  assert.equal(proxy.requestHeaders[ours].host, proxy.requestHeaders[theirs].host);
  // proxy_connect_header is for CONNECT only (Go's ProxyConnectHeader): neither sends it here
  assert.equal(proxy.requestHeaders[ours]['x-team'], proxy.requestHeaders[theirs]['x-team']);
  assert.equal(proxy.requestHeaders[ours]['x-team'], undefined);
  assert.deepEqual(proxy.tunnels, []);
});

test('side by side with Prometheus 2.42: an https target is tunnelled, CONNECT carrying proxy_connect_header and the credentials', async (t) => {
  if (!requirePeer(t, PROMETHEUS, 'prometheus')) return;
  const { dir, target } = await tlsTarget(t);
  const proxy = await startProxy(t);
  const proxyUrl = new URL(proxy.url);
  proxyUrl.username = 'u';
  proxyUrl.password = 'p';
  const yaml = `global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: app
    scheme: https
    tls_config: {ca_file: ${join(dir, 't.pem')}}
    proxy_url: ${proxyUrl.href}
    proxy_connect_header: {X-Team: [a]}
    static_configs: [{targets: ['${target.address}']}]
`;
  const prom = await startPrometheus(yaml);
  t.after(() => prom.stop());
  await waitFor('Prometheus through the proxy', () => proxy.tunnels.length > 0, 15_000).catch((err: Error) => assert.fail(`${err.message}; ${prom.log()}`));
  await prom.stop();
  const theirs = proxy.connectHeaders.length - 1;
  const h = await startScraping(yaml);
  t.after(() => h.close());
  const [loop] = await h.loops('app');
  await loop.scrapeOnce();
  assert.equal(loop.status().health, 'up', loop.status().lastError);
  const ours = proxy.connectHeaders.length - 1;
  assert.equal(ours, theirs + 1, 'one more tunnel, ours');
  assert.equal(proxy.tunnels[ours], proxy.tunnels[theirs]);
  for (const name of ['x-team', 'proxy-authorization', 'host']) {
    assert.equal(proxy.connectHeaders[ours][name], proxy.connectHeaders[theirs][name], name);
  }
  assert.equal(proxy.connectHeaders[ours]['x-team'], 'a');
  assert.deepEqual(proxy.requests, []);
});
