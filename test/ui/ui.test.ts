import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Registry } from '../../src/selfmetrics/index.js';
import { HttpServer, parseListenAddress } from '../../src/server/index.js';
import {
  PageRegistry,
  escapeHtml,
  formatUptime,
  html,
  raw,
  registerIndexPage,
  renderIndexPage,
  renderPage,
} from '../../src/ui/index.js';

const HOSTILE = `<script>alert("x")</script>&'"`;

test('escapeHtml covers the five special characters', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(escapeHtml('plain text'), 'plain text');
});

test('html template escapes values, keeps nested Html, joins arrays, drops null/undefined/false', () => {
  const items = ['<b>', 'c&d'].map((s) => html`<li>${s}</li>`);
  const out = html`<ul>${items}</ul>${null}${undefined}${false}${0}${raw('<hr>')}`;
  assert.equal(out.toString(), '<ul><li>&lt;b&gt;</li><li>c&amp;d</li></ul>0<hr>');
  assert.equal(html`<a title="${'"onmouseover="x'}">`.value, '<a title="&quot;onmouseover=&quot;x">');
});

test('renderPage escapes the title and builds navigation from the registry', () => {
  const pages = new PageRegistry();
  pages.add({ path: '/targets', title: 'Targets', description: 'Scrape targets.' });
  pages.add({ path: '/apps', title: 'Apps', description: 'Pushing applications.' });
  pages.add({ path: '/api/v1/write', title: 'Remote write', description: 'Receiver.', nav: false });
  const doc = renderPage({ title: HOSTILE, body: html`<p>${HOSTILE}</p>`, pages, active: '/apps' });
  assert.ok(doc.startsWith('<!DOCTYPE html>'));
  assert.doesNotMatch(doc, /<script>/);
  assert.ok(doc.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;'));
  assert.match(doc, /<a class="brand" href="\/">Tributary<\/a>/);
  assert.match(doc, /<li><a href="\/targets">Targets<\/a><\/li>/);
  assert.match(doc, /<li><a href="\/apps" aria-current="page">Apps<\/a><\/li>/);
  assert.doesNotMatch(doc, /href="\/api\/v1\/write"/);
  assert.match(doc, /<style>/);
  assert.doesNotMatch(doc, /<script|<link|src="http/i);
});

test('PageRegistry rejects duplicates and relative paths', () => {
  const pages = new PageRegistry();
  pages.add({ path: '/x', title: 'X', description: '' });
  assert.throws(() => pages.add({ path: '/x', title: 'Y', description: '' }), /already registered/);
  assert.throws(() => pages.add({ path: 'x', title: 'Y', description: '' }), /must start with/);
});

test('index page shows runtime facts and lists pages and core endpoints, all escaped', () => {
  const pages = new PageRegistry();
  pages.add({ path: '/targets', title: 'Targets', description: HOSTILE });
  const doc = renderIndexPage({
    pages,
    version: '0.1.0',
    startTime: new Date('2026-01-01T00:00:00Z'),
    now: new Date('2026-01-02T03:04:05Z'),
    listenAddress: '127.0.0.1:9190',
    configFile: '/etc/tributary/<evil>.yml',
  });
  assert.doesNotMatch(doc, /<script>|<evil>/);
  assert.ok(doc.includes('/etc/tributary/&lt;evil&gt;.yml'));
  assert.ok(doc.includes('0.1.0'));
  assert.ok(doc.includes('2026-01-01T00:00:00.000Z'));
  assert.ok(doc.includes('up 1d 3h 4m 5s'));
  assert.ok(doc.includes('127.0.0.1:9190'));
  assert.ok(doc.includes(process.version));
  for (const path of ['/targets', '/metrics', '/health', '/ready']) {
    assert.ok(doc.includes(`<a href="${path}">`), `${path} listed`);
  }
  const defaults = renderIndexPage({ pages, version: '0.1.0', listenAddress: 'x:1' });
  assert.ok(defaults.includes('embedded defaults'));
});

test('formatUptime', () => {
  assert.equal(formatUptime(0), '0s');
  assert.equal(formatUptime(59.9), '59s');
  assert.equal(formatUptime(3600), '1h 0m 0s');
  assert.equal(formatUptime(90061), '1d 1h 1m 1s');
});

test('index page is served at / with HTML headers', async (t) => {
  const registry = new Registry();
  const server = new HttpServer({ registry });
  const pages = new PageRegistry();
  pages.add({ path: '/targets', title: 'Targets', description: 'Scrape targets.' });
  registerIndexPage(server, { pages, version: '9.9.9' });
  const address = await server.listen('127.0.0.1:0');
  t.after(() => server.close());
  const { port } = parseListenAddress(address);
  const reply = await new Promise<{ status: number; type: string; csp: string; body: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          csp: String(res.headers['content-security-policy']),
          body,
        }),
      );
    })
      .on('error', reject)
      .end();
  });
  assert.equal(reply.status, 200);
  assert.equal(reply.type, 'text/html; charset=utf-8');
  assert.match(reply.csp, /default-src 'none'/);
  assert.ok(reply.body.includes(address));
  assert.ok(reply.body.includes('9.9.9'));
  assert.ok(reply.body.includes('href="/targets"'));
});
