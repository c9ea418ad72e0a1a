/**
 * The scrape side's pages, rendered from the read-only `ScrapeStatusSource` view the scrape
 * loops keep: `/targets` (HTML, or a line per target for curl), `/api/v1/targets` (Prometheus'
 * API, exactly), `/service-discovery` (discovered labels before and after relabeling, and
 * which rule dropped a target, traced when the page is asked for) and `/target_response` (what
 * a target answers, fetched on demand through the source). Nothing here reaches into a loop.
 */

import type { HttpServer } from '../../server/http-server.js';
import { requestedForm, sendHtml, sendJson, sendText } from '../../server/respond.js';
import { renderPage } from '../../ui/layout.js';
import type { PageRegistry } from '../../ui/pages.js';
import type { ScrapeStatusSource } from '../status.js';
import { targetDiscovery, targetsApiBody } from './targets-api.js';
import { registerTargetResponse, TARGET_RESPONSE_PATH } from './target-response.js';
import { filteredPools, renderTargetsBody, renderTargetsText, targetsFilter } from './targets-page.js';

export { goTime, targetDiscovery, targetsApiBody } from './targets-api.js';
export type { ApiActiveTarget, ApiDroppedTarget, TargetDiscovery } from './targets-api.js';
export { filteredPools, formatAgo, formatScrapeDuration, renderTargetsBody, renderTargetsText, targetsFilter } from './targets-page.js';
export type { TargetsFilter } from './targets-page.js';
export { BodyHead, RESPONSE_SHOWN_BYTES, TARGET_RESPONSE_PATH } from './target-response.js';

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

  if (status.fetchTargetResponse !== undefined) {
    pages.add({
      path: TARGET_RESPONSE_PATH,
      title: 'Target response',
      description: "What a target answers now (?id= from /targets' response links): its scrape request sent once more, the first 64 KiB shown as text.",
      nav: false,
    });
    registerTargetResponse(server, status);
  }

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
    const body = renderTargetsBody(pools, filter, now, status.fetchTargetResponse !== undefined);
    sendHtml(res, 200, renderPage({ title: 'Targets', body, pages, active: '/targets', wide: true }));
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
