/**
 * `/targets`: every scrape target by job, with its state, labels, scrapes and failed scrapes
 * (vmagent's counts), last scrape, duration, samples and last error, and a link to its
 * response (target-response.ts). HTML for browsers, filtered by `?state=up|down|unknown|any`
 * and `?job=NAME`, with `?collapse=healthy` folding jobs whose targets are all up; one line per
 * target for curl (`?format=text` or no HTML in Accept), as vmagent's /targets prints it; the
 * JSON form is the /api/v1/targets answer, in Prometheus' shape, so without the counts.
 *
 * The page uses the window's whole width, and every job's table has the same fixed column
 * widths (one `<colgroup>`), so columns line up down the page whatever each job holds; below
 * the table's minimum width it scrolls sideways inside its own box, not the page.
 */

import { type Html, html, raw } from '../../ui/html.js';
import { formatUptime } from '../../ui/index-page.js';
import { labelChips } from '../../ui/labels.js';
import { type ActiveTargetStatus, type DiscoveryProblem, type OtherMemberTargetStatus, type ScrapePoolStatus, targetId, type TargetHealth } from '../status.js';
import { TARGET_RESPONSE_PATH } from './target-response.js';

const STATES: readonly TargetHealth[] = ['up', 'down', 'unknown'];

export interface TargetsFilter {
  /** Undefined: every state. */
  readonly state: TargetHealth | undefined;
  /** Undefined: every job. */
  readonly job: string | undefined;
  readonly collapseHealthy: boolean;
}

export function targetsFilter(query: URLSearchParams): TargetsFilter {
  const state = STATES.find((s) => s === query.get('state'));
  const job = query.get('job') || undefined;
  return { state, job, collapseHealthy: query.get('collapse') === 'healthy' };
}

/** The pools the filter selects, each holding only the active targets it lets through. */
export function filteredPools(pools: readonly ScrapePoolStatus[], filter: TargetsFilter): ScrapePoolStatus[] {
  return pools
    .filter((p) => filter.job === undefined || p.name === filter.job)
    .map((p) => (filter.state === undefined ? p : { ...p, active: p.active.filter((t) => t.health === filter.state) }));
}

interface JobView {
  readonly pool: ScrapePoolStatus;
  readonly up: number;
  /** The job's targets the filter lets through. */
  readonly shown: readonly ActiveTargetStatus[];
}

/** The jobs to show, each with its targets that pass; a job with none is left out when filtering by state. */
function jobViews(pools: readonly ScrapePoolStatus[], filter: TargetsFilter): JobView[] {
  const selected = filteredPools(pools, filter);
  return pools
    .filter((p) => filter.job === undefined || p.name === filter.job)
    .map((pool, i) => ({ pool, up: pool.active.filter((t) => t.health === 'up').length, shown: selected[i].active }))
    .filter((v) => filter.state === undefined || v.shown.length > 0);
}

/** `3.2s`, `4m 5s`, `2h 3m 4s`: how long ago, to a tenth of a second while it is recent. */
export function formatAgo(seconds: number): string {
  const s = Math.max(0, seconds);
  return s < 60 ? `${s.toFixed(1)}s` : formatUptime(s);
}

/** A scrape's duration: milliseconds below a second, seconds above. */
export function formatScrapeDuration(seconds: number): string {
  return seconds < 1 ? `${(seconds * 1000).toFixed(1)}ms` : `${seconds.toFixed(3)}s`;
}

/** `discovery failing for 2m 5s: <what failed>`, for a job whose service discovery fails now. */
export function discoveryProblemText(p: DiscoveryProblem, nowMs: number): string {
  return `discovery failing for ${formatAgo((nowMs - p.sinceMs) / 1000)} (its last targets stand): ${p.message}`;
}

/** `member 2`, `members 0, 3`. */
export function ownedBy(t: OtherMemberTargetStatus): string {
  return `owned by member${t.members.length === 1 ? '' : 's'} ${[...t.members].sort((a, b) => a - b).join(', ')}`;
}

export function renderTargetsText(pools: readonly ScrapePoolStatus[], filter: TargetsFilter, nowMs: number): string {
  let out = '';
  for (const v of jobViews(pools, filter)) {
    out += `job=${JSON.stringify(v.pool.name)} (${v.up}/${v.pool.active.length} up)\n`;
    for (const p of v.pool.discoveryProblems) out += `\t${discoveryProblemText(p, nowMs)}\n`;
    for (const t of v.shown) {
      const last = t.lastScrapeMs === 0 ? 'never' : `${(Math.max(0, nowMs - t.lastScrapeMs) / 1000).toFixed(3)}s ago`;
      out +=
        `\tstate=${t.health}, endpoint=${t.scrapeUrl}, labels=${t.labels.toString()}, ` +
        `scrapes_total=${t.scrapesTotal}, scrapes_failed=${t.scrapesFailed}, last_scrape=${last}, ` +
        `scrape_duration=${t.lastScrapeDurationSeconds.toFixed(3)}s, samples=${t.lastSamples}, ` +
        `error=${t.lastError.replace(/\s+/g, ' ')}\n`;
    }
    if (filter.state === undefined) {
      for (const t of v.pool.otherMembers) out += `\tstate=${ownedBy(t)}, endpoint=${t.scrapeUrl}, labels=${t.labels.toString()}\n`;
    }
  }
  return out;
}

/** `/targets?…` with the filter changed as given. */
function filterHref(filter: TargetsFilter, change: Partial<TargetsFilter>, format?: 'text'): string {
  const f = { ...filter, ...change };
  const q = new URLSearchParams();
  if (format !== undefined) q.set('format', format);
  if (f.state !== undefined) q.set('state', f.state);
  if (f.job !== undefined) q.set('job', f.job);
  if (f.collapseHealthy) q.set('collapse', 'healthy');
  const query = q.toString();
  return query === '' ? '/targets' : `/targets?${query}`;
}

/** One link of a `.filters` row; the one in force is marked. */
export function filterLink(href: string, current: boolean, label: Html | string): Html {
  return html`<a href="${href}"${current ? raw(' aria-current="true"') : ''}>${label}</a>`;
}

const STATE_CLASS: Readonly<Record<TargetHealth, string>> = { up: 'ok', down: 'bad', unknown: 'muted' };

/** Scrape URLs come from configuration and discovery; only web ones become links. */
function endpointCell(t: ActiveTargetStatus, responseLinks: boolean): Html {
  const url = t.scrapeUrl;
  const endpoint = /^https?:\/\//i.test(url) ? html`<a href="${url}">${url}</a>` : html`${url}`;
  if (!responseLinks) return endpoint;
  const href = `${TARGET_RESPONSE_PATH}?id=${targetId(t)}`;
  return html`${endpoint} <span class="muted">(<a class="response" href="${href}" title="fetch the target now, as its scrapes do, and show what it answers">response</a>)</span>`;
}

/**
 * One set of column widths for every job's table (the tables are `table-layout: fixed`), so
 * the columns line up across jobs: numbers and states get the room their header needs, the
 * endpoint and the error a share of the width, the labels whatever is left.
 */
const COLUMNS: readonly { readonly head: string; readonly width?: string; readonly num?: boolean; readonly title?: string }[] = [
  { head: 'Endpoint', width: '16%' },
  { head: 'State', width: '4rem' },
  { head: 'Labels', title: 'target labels, after relabeling' },
  { head: 'Scrapes', width: '5.25rem', num: true, title: 'scrapes since the target (or its job) last started' },
  { head: 'Errors', width: '4.75rem', num: true, title: 'of those, the scrapes that failed' },
  { head: 'Last scrape', width: '6rem' },
  { head: 'Duration', width: '5.5rem', num: true, title: 'how long the last scrape took' },
  { head: 'Samples', width: '5.5rem', num: true, title: 'samples the last scrape kept, after metric relabeling' },
  { head: 'Error', width: '17%', title: "the last scrape's error, if it failed" },
];

const TABLE_HEAD = html`<colgroup>${COLUMNS.map((c) => (c.width === undefined ? html`<col>` : html`<col style="width: ${c.width}">`))}</colgroup>
<thead><tr>${COLUMNS.map((c) => html`<th${c.num ? raw(' class="num"') : ''}${c.title === undefined ? '' : html` title="${c.title}"`}>${c.head}</th>`)}</tr></thead>`;

function targetRow(t: ActiveTargetStatus, nowMs: number, responseLinks: boolean): Html {
  const scraped = t.lastScrapeMs !== 0;
  const last = scraped
    ? html`<span title="${new Date(t.lastScrapeMs).toISOString()}">${formatAgo((nowMs - t.lastScrapeMs) / 1000)} ago</span>`
    : html`<span class="muted">never</span>`;
  return html`<tr class="target state-${t.health}"><td class="endpoint break">${endpointCell(t, responseLinks)}${t.lastError === '' ? '' : html`<div class="narrow-only bad">${t.lastError}</div>`}</td><td><strong class="${STATE_CLASS[t.health]}">${t.health}</strong></td><td>${labelChips(t.labels)}</td><td class="num">${t.scrapesTotal}</td><td class="num">${t.scrapesFailed === 0 ? t.scrapesFailed : html`<span class="bad">${t.scrapesFailed}</span>`}</td><td>${last}</td><td class="num">${scraped ? formatScrapeDuration(t.lastScrapeDurationSeconds) : ''}</td><td class="num">${scraped ? t.lastSamples : ''}</td><td class="error break">${t.lastError === '' ? '' : html`<span class="bad">${t.lastError}</span>`}</td></tr>`;
}

/** A target another member scrapes: where and what, nothing of scrapes this member does not do. */
function otherMemberRow(t: OtherMemberTargetStatus): Html {
  return html`<tr class="target other-member"><td class="endpoint break">${t.scrapeUrl}</td><td colspan="8"><span class="muted">${ownedBy(t)}</span> ${labelChips(t.labels)}</td></tr>`;
}

/** `responseLinks`: the source can fetch a target on demand, so each target links to its response. */
export function renderTargetsBody(pools: readonly ScrapePoolStatus[], filter: TargetsFilter, nowMs: number, responseLinks = false): Html {
  const inJob = pools.filter((p) => filter.job === undefined || p.name === filter.job);
  const count = (state: TargetHealth | undefined) =>
    inJob.reduce((n, p) => n + p.active.filter((t) => state === undefined || t.health === state).length, 0);
  const stateLinks = [undefined, ...STATES].map((s) =>
    filterLink(filterHref(filter, { state: s }), filter.state === s, `${s ?? 'any'} (${count(s)})`),
  );
  const jobLinks = [undefined, ...pools.map((p) => p.name)].map((j) =>
    filterLink(filterHref(filter, { job: j }), filter.job === j, j ?? 'all jobs'),
  );
  const collapse = filterLink(
    filterHref(filter, { collapseHealthy: !filter.collapseHealthy }),
    false,
    filter.collapseHealthy ? 'Expand healthy jobs' : 'Collapse healthy jobs',
  );

  const views = jobViews(pools, filter);
  const jobs = views.map((v) => {
    const healthy = v.up === v.pool.active.length;
    const others = filter.state === undefined ? v.pool.otherMembers : [];
    const rows =
      v.shown.length + others.length === 0
        ? html`<tr><td colspan="${COLUMNS.length}" class="muted">No targets.</td></tr>`
        : [...v.shown.map((t) => targetRow(t, nowMs, responseLinks)), ...others.map(otherMemberRow)];
    return html`<section class="job" data-job="${v.pool.name}">
<details${filter.collapseHealthy && healthy ? '' : raw(' open')}>
<summary><h2>${v.pool.name} <span class="${healthy ? 'muted' : 'bad'}">(${v.up}/${v.pool.active.length} up)</span>${v.pool.otherMembers.length > 0 ? html` <span class="muted">+ ${v.pool.otherMembers.length} on other members</span>` : ''}</h2></summary>
${v.pool.discoveryProblems.map((p) => html`<p class="problem">${discoveryProblemText(p, nowMs)}</p>`)}
<div class="scroll"><table class="data fixed targets">
${TABLE_HEAD}
<tbody>
${rows}
</tbody>
</table></div>
</details>
</section>`;
  });
  const empty =
    pools.length === 0
      ? html`<p class="muted">No scrape jobs are configured.</p>`
      : views.length === 0
        ? html`<p class="muted">No targets match.</p>`
        : '';
  return html`<p class="muted">Current time: ${new Date(nowMs).toISOString()} · <a href="${filterHref(filter, {}, 'text')}">text</a> · <a href="/api/v1/targets">JSON API</a> · <a href="/service-discovery">service discovery</a></p>
<nav class="filters" aria-label="Filter by state"><span class="muted">State:</span> ${stateLinks}</nav>
<nav class="filters" aria-label="Filter by job"><span class="muted">Job:</span> ${jobLinks} <span class="muted">·</span> ${collapse}</nav>
${empty}${jobs}`;
}
