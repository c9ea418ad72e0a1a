/**
 * The scrape side's pages, rendered from the read-only `ScrapeStatusSource` view the scrape
 * loops keep: `/targets` (HTML, or a line per target for curl), `/api/v1/targets` (Prometheus'
 * API, exactly) and `/service-discovery` (discovered labels before and after relabeling, and
 * which rule dropped a target, traced when the page is asked for). They only read; nothing here
 * reaches into a running loop.
 */

import type { HttpServer } from '../../server/http-server.js';
import { requestedForm, sendHtml, sendJson, sendText } from '../../server/respond.js';
import { renderPage } from '../../ui/layout.js';
import type { PageRegistry } from '../../ui/pages.js';
import type { ScrapeStatusSource } from '../status.js';
import { targetDiscovery, targetsApiBody } from './targets-api.js';
import { filteredPools, renderTargetsBody, renderTargetsText, targetsFilter } from './targets-page.js';

export { goTime, targetDiscovery, targetsApiBody } from './targets-api.js';
export type { ApiActiveTarget, ApiDroppedTarget, TargetDiscovery } from './targets-api.js';
export { filteredPools, formatAgo, formatScrapeDuration, renderTargetsBody, renderTargetsText, targetsFilter } from './targets-page.js';
export type { TargetsFilter } from './targets-page.js';

export function registerScrapePages(server: HttpServer, pages: PageRegistry, status: ScrapeStatusSource): void {
  pages.add({ path: '/targets', title: 'Targets', description: 'Scrape targets by job: state, labels, last scrape, duration, samples, errors.' });
  pages.add({
    path: '/service-discovery',
    title: 'Service discovery',
    description: 'Discovered targets before and after relabeling, and the rule that dropped each dropped one.',
  });
  pages.add({
    path: '/api/v1/targets',
    title: 'Targets API',
    description: "Prometheus' /api/v1/targets: active and dropped targets as JSON (state=active|dropped|any, scrapePool=NAME).",
    nav: false,
  });

  server.get('/targets', (req, res) => {
    const pools = status.pools();
    const form = requestedForm(req);
    const filter = targetsFilter(new URL(req.url ?? '/', 'http://localhost').searchParams);
    if (form === 'json') {
      // The API's answer for what the page shows: its state filter names health, not active/dropped.
      const query = new URLSearchParams(filter.state === undefined ? {} : { state: 'active' });
      sendJson(res, 200, { status: 'success', data: targetDiscovery(filteredPools(pools, filter), query) });
      return;
    }
    const now = Date.now();
    if (form === 'text') {
      sendText(res, 200, renderTargetsText(pools, filter, now));
      return;
    }
    sendHtml(res, 200, renderPage({ title: 'Targets', body: renderTargetsBody(pools, filter, now), pages, active: '/targets' }));
  });

  server.get('/api/v1/targets', (req, res) => {
    sendJson(res, 200, targetsApiBody(status.pools(), req));
  });

  server.get('/service-discovery', async (req, res) => {
    // it shows rules as YAML and links to the relabel debugger: loaded on the first visit
    const { renderServiceDiscoveryBody } = await import('./service-discovery-page.js');
    const job = new URL(req.url ?? '/', 'http://localhost').searchParams.get('job') || undefined;
    const body = renderServiceDiscoveryBody(status.pools(), job);
    sendHtml(res, 200, renderPage({ title: 'Service discovery', body, pages, active: '/service-discovery' }));
  });
}
