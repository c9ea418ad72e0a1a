/**
 * The front page (`/`): what is running — version, uptime, listen address, configuration
 * source, Node.js version — a directory of every page and endpoint, so an operator who
 * lands on the port finds everything from one place, and for a first-time user the few lines
 * that add a target, a remote-write URL and a gateway source.
 */

import type { HttpServer } from '../server/http-server.js';
import { sendHtml } from '../server/respond.js';
import { html } from './html.js';
import { renderPage } from './layout.js';
import type { PageEntry, PageRegistry } from './pages.js';

/** Served by the core routes on every instance, so listed whether or not anyone registers them. */
export const CORE_ENDPOINTS: readonly PageEntry[] = [
  { path: '/metrics', title: 'Metrics', description: "Tributary's own metrics, in Prometheus or OpenMetrics text format.", nav: false },
  { path: '/health', title: 'Health', description: 'Answers 200 while the process is up.', nav: false },
  { path: '/ready', title: 'Ready', description: 'Answers 200 once Tributary is ready to serve, 503 with the reason before.', nav: false },
];

export interface IndexPageOptions {
  pages: PageRegistry;
  version: string;
  /** When the process started; defaults to the start of this process. */
  startTime?: Date;
  /** Path of the configuration file; undefined means the embedded defaults are in use. */
  configFile?: string;
}

export interface IndexPageInfo extends IndexPageOptions {
  listenAddress: string;
  /** For tests; defaults to the present. */
  now?: Date;
}

function processStart(): Date {
  return new Date(Date.now() - process.uptime() * 1000);
}

/** `3d 4h 5m 6s`, leading zero units left out. */
export function formatUptime(seconds: number): string {
  let s = Math.max(0, Math.floor(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size || parts.length > 0) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.join(' ');
}

export function renderIndexPage(info: IndexPageInfo): string {
  const start = info.startTime ?? processStart();
  const now = info.now ?? new Date();
  const listed = [...info.pages.list()];
  for (const e of CORE_ENDPOINTS) if (!listed.some((p) => p.path === e.path)) listed.push(e);
  const rows = listed.map(
    (p) => html`<tr><td><a href="${p.path}">${p.title}</a></td><td><code>${p.path}</code></td><td>${p.description}</td></tr>`,
  );
  const body = html`<h2>Status</h2>
<dl class="facts">
<dt>Version</dt><dd>${info.version}</dd>
<dt>Started</dt><dd>${start.toISOString()} <span class="muted">(up ${formatUptime((now.getTime() - start.getTime()) / 1000)})</span></dd>
<dt>Listening on</dt><dd><code>${info.listenAddress}</code></dd>
<dt>Configuration</dt><dd>${info.configFile === undefined ? html`<span class="muted">embedded defaults</span>` : html`<code>${info.configFile}</code>`}</dd>
<dt>Node.js</dt><dd>${process.version}</dd>
</dl>
<h2>Getting started</h2>
<p>${info.configFile === undefined ? html`Running on the embedded defaults, which scrape Tributary's own <a href="/metrics">/metrics</a> (job <code>tributary</code>). Write a configuration file (any <code>prometheus.yml</code> works) and start with <code>--config FILE</code>;` : html`Edit the configuration file, then reload it (<code>SIGHUP</code> or <code>POST /-/reload</code>);`} <code>tributary check-config FILE</code> checks it first.</p>
<dl class="help">
<dt>Add a scrape target</dt>
<dd><pre>scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['localhost:9100']</pre></dd>
<dt>Send to a remote-write URL</dt>
<dd><code>--remote-write-url http://localhost:8428/api/v1/write</code>, or in the file:<pre>remote_write:
  - url: http://localhost:8428/api/v1/write</pre></dd>
<dt>Serve another exporter on the gateway page</dt>
<dd><pre>gateway:
  sources:
    - name: node
      http:
        url: http://localhost:9100/metrics</pre>(also <code>file: {path: ...}</code>, <code>script: {command: ...}</code>, <code>scrape: {job: ...}</code>; pushes go to <code>/metrics/job/&lt;job&gt;</code>)</dd>
</dl>
<h2>Pages and endpoints</h2>
<table class="data">
<thead><tr><th>Page</th><th>Path</th><th>Description</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return renderPage({ title: 'Overview', body, pages: info.pages, active: '/' });
}

/** Serves the index page at `/`; the listen address is read from `server` at request time. */
export function registerIndexPage(server: HttpServer, opts: IndexPageOptions): void {
  const startTime = opts.startTime ?? processStart();
  server.get('/', (_req, res) => {
    sendHtml(res, 200, renderIndexPage({ ...opts, startTime, listenAddress: `${server.scheme}://${server.address()}` }));
  });
}
