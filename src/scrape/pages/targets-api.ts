/**
 * `/api/v1/targets` in the shape of Prometheus' HTTP API (web/api/v1 `targets`), so Grafana,
 * promtool-style scripts and anything else written against Prometheus read it unchanged: pools
 * sorted by name, `state=active|dropped|any` and `scrapePool=NAME` filters, times in Go's
 * RFC 3339 spelling, and `droppedTargetCounts` for every pool (null when dropped targets were
 * not asked for), as Prometheus answers. A target another member of the scrape cluster owns is
 * listed among the dropped ones with `ownedByMembers` (as a Prometheus sharded by hashmod
 * lists it dropped), so nothing disappears from the answer.
 */

import type { IncomingMessage } from 'node:http';
import { formatDuration } from '../../config/duration.js';
import type { TargetHealth, ScrapePoolStatus } from '../status.js';

export interface ApiActiveTarget {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: TargetHealth;
  scrapeInterval: string;
  scrapeTimeout: string;
}

export interface ApiDroppedTarget {
  discoveredLabels: Record<string, string>;
  scrapePool: string;
  /** Tributary's: the scrape-cluster members that scrape this target instead of this one. */
  ownedByMembers?: number[];
}

export interface TargetDiscovery {
  activeTargets: ApiActiveTarget[];
  droppedTargets: ApiDroppedTarget[];
  droppedTargetCounts: Record<string, number> | null;
}

/** Go's zero time.Time, which Prometheus reports for a target not scraped yet. */
const NEVER = '0001-01-01T00:00:00Z';

/** Go's RFC3339Nano for a UTC time: trailing zeros of the fraction left out. */
export function goTime(ms: number): string {
  if (ms === 0) return NEVER;
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

function byName(pools: readonly ScrapePoolStatus[]): ScrapePoolStatus[] {
  return [...pools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function targetDiscovery(pools: readonly ScrapePoolStatus[], query: URLSearchParams): TargetDiscovery {
  const state = (query.get('state') ?? '').toLowerCase();
  const pool = query.get('scrapePool') ?? '';
  // Like Prometheus, an unknown state shows neither kind.
  const showActive = state === '' || state === 'any' || state === 'active';
  const showDropped = state === '' || state === 'any' || state === 'dropped';
  const sorted = byName(pools);
  const selected = sorted.filter((p) => pool === '' || p.name === pool);
  return {
    activeTargets: showActive
      ? selected.flatMap((p) =>
          p.active.map((t) => ({
            discoveredLabels: t.discoveredLabels.toRecord(),
            labels: t.labels.toRecord(),
            scrapePool: p.name,
            scrapeUrl: t.scrapeUrl,
            globalUrl: t.scrapeUrl,
            lastError: t.lastError,
            lastScrape: goTime(t.lastScrapeMs),
            lastScrapeDuration: t.lastScrapeDurationSeconds,
            health: t.health,
            scrapeInterval: formatDuration(t.scrapeIntervalMs),
            scrapeTimeout: formatDuration(t.scrapeTimeoutMs),
          })),
        )
      : [],
    droppedTargets: showDropped
      ? selected.flatMap((p) => [
          ...p.dropped.map((t) => ({ discoveredLabels: t.discoveredLabels.toRecord(), scrapePool: p.name })),
          ...p.otherMembers.map((t) => ({ discoveredLabels: t.discoveredLabels.toRecord(), scrapePool: p.name, ownedByMembers: [...t.members] })),
        ])
      : [],
    // Prometheus counts every pool here, whatever scrapePool asks for.
    droppedTargetCounts: showDropped ? Object.fromEntries(sorted.map((p) => [p.name, p.droppedCount + p.otherMembers.length])) : null,
  };
}

export function targetsApiBody(pools: readonly ScrapePoolStatus[], req: IncomingMessage): { status: 'success'; data: TargetDiscovery } {
  return { status: 'success', data: targetDiscovery(pools, new URL(req.url ?? '/', 'http://localhost').searchParams) };
}
