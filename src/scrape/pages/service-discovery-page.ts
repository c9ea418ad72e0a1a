/**
 * `/service-discovery`: per job, every discovered target with its labels before relabeling and
 * after, or, for one relabeling dropped, the rule that dropped it (its index in
 * `relabel_configs`, its action, the rule itself) and a link to the relabel debugger with the
 * target's labels and the job's rules filled in. Which rule dropped a target is not kept by the
 * scrape side; it is worked out here, when the page is asked for, by tracing the job's rules.
 */

import type { Labels } from '../../model/labels.js';
import { RELABEL_DEBUG_MAX_LINK_LENGTH, RELABEL_DEBUG_PATHS, relabelDebugHref } from '../../relabel/debugger/page.js';
import { formatRelabelRule } from '../../relabel/rule-text.js';
import { relabelOutcome, RelabelTracer } from '../../relabel/trace.js';
import { type Html, html } from '../../ui/html.js';
import { labelChips } from '../../ui/labels.js';
import type { ScrapePoolStatus } from '../status.js';
import { discoveryProblemText, filterLink, ownedBy } from './targets-page.js';

function debugLink(labels: Labels, pool: ScrapePoolStatus): Html {
  const href = relabelDebugHref('target', labels, pool.relabelConfigs);
  if (href.length <= RELABEL_DEBUG_MAX_LINK_LENGTH) return html`<a class="debug" href="${href}">Debug this target</a>`;
  const url = new URL(href, 'http://localhost');
  const fields = [...url.searchParams].map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return html`<form class="debug" method="post" action="${url.pathname}">${fields}<button type="submit">Debug this target</button></form>`;
}

/** Why a dropped target was dropped, traced through the rules as they are now. */
function dropReason(tracer: RelabelTracer, labels: Labels): Html {
  const outcome = relabelOutcome(labels, tracer.trace(labels));
  if (outcome.kind === 'dropped') {
    const { index, rule } = outcome.step;
    return html`<strong class="bad">Dropped</strong> by rule <code class="rule-index">[${index}]</code> (<code class="action">${rule.action}</code>)<br><code class="rule">${formatRelabelRule(rule)}</code>`;
  }
  if (outcome.kind === 'emptied') return html`<strong class="bad">Dropped</strong>: no label was left after relabeling`;
  // The pool's rules changed since the target was dropped, or something other than a rule dropped it.
  return html`<strong class="bad">Dropped</strong> <span class="muted">(the job's rules as they are now keep it)</span>`;
}

function poolSection(pool: ScrapePoolStatus): Html {
  let tracer: RelabelTracer | undefined;
  let traceError: string | undefined;
  try {
    tracer = RelabelTracer.compile(pool.relabelConfigs);
  } catch (err) {
    traceError = (err as Error).message;
  }
  const active = pool.active.map(
    (t) => html`<tr class="active"><td>${labelChips(t.discoveredLabels)}</td><td>${labelChips(t.labels)}</td></tr>`,
  );
  const dropped = pool.dropped.map(
    (t) =>
      html`<tr class="dropped"><td>${labelChips(t.discoveredLabels)}</td><td>${
        tracer === undefined ? html`<strong class="bad">Dropped</strong>` : dropReason(tracer, t.discoveredLabels)
      }<br>${debugLink(t.discoveredLabels, pool)}</td></tr>`,
  );
  const others = pool.otherMembers.map(
    (t) => html`<tr class="other-member"><td>${labelChips(t.discoveredLabels)}</td><td><span class="muted">${ownedBy(t)}</span> ${labelChips(t.labels)}</td></tr>`,
  );
  const total = pool.active.length + pool.droppedCount + others.length;
  const notShown = pool.droppedCount - pool.dropped.length;
  return html`<section class="pool" data-job="${pool.name}">
<h2>${pool.name} <span class="muted">(${pool.active.length} / ${total} active targets, ${pool.droppedCount} dropped${others.length > 0 ? `, ${others.length} on other cluster members` : ''})</span></h2>
${traceError === undefined ? '' : html`<p class="problem">The job's rules do not compile here: ${traceError}</p>`}
${pool.discoveryProblems.map((p) => html`<p class="problem">${discoveryProblemText(p, Date.now())}</p>`)}
${notShown > 0 ? html`<p class="muted">${notShown} dropped targets are not kept (keep_dropped_targets) and not listed.</p>` : ''}
<table class="data discovery">
<thead><tr><th>Discovered labels</th><th>Target labels</th></tr></thead>
<tbody>
${active.length + dropped.length + others.length === 0 ? html`<tr><td colspan="2" class="muted">No targets discovered.</td></tr>` : [active, others, dropped]}
</tbody>
</table>
</section>`;
}

export function renderServiceDiscoveryBody(pools: readonly ScrapePoolStatus[], job: string | undefined): Html {
  const links = [undefined, ...pools.map((p) => p.name)].map((j) =>
    filterLink(j === undefined ? '/service-discovery' : `/service-discovery?job=${encodeURIComponent(j)}`, j === job, j ?? 'all jobs'),
  );
  const shown = pools.filter((p) => job === undefined || p.name === job);
  return html`<p class="muted">Targets as discovered, before relabeling, and what <code>relabel_configs</code> made of them. · <a href="/targets">targets</a> · <a href="/api/v1/targets">JSON API</a> · <a href="${RELABEL_DEBUG_PATHS.target}">relabel debugger</a></p>
<nav class="filters" aria-label="Filter by job"><span class="muted">Job:</span> ${links}</nav>
${pools.length === 0 ? html`<p class="muted">No scrape jobs are configured.</p>` : shown.map(poolSection)}`;
}
