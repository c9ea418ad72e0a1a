/**
 * What the scrape side shows about itself: the read-only view the pages (/targets,
 * /api/v1/targets, /service-discovery) and the API render. Plain data, copied out of the live
 * loops on each call, so a page never holds a loop's state.
 */

import { createHash } from 'node:crypto';
import type { RelabelConfig } from '../config/relabel.js';
import type { Labels } from '../model/labels.js';
import type { BodyConsumer, StreamResult } from '../outbound/index.js';

export type TargetHealth = 'up' | 'down' | 'unknown';

export interface ActiveTargetStatus {
  /** The job name (Prometheus calls the per-job pool a scrape pool). */
  readonly scrapePool: string;
  /** The URL scraped, credentials removed. */
  readonly scrapeUrl: string;
  /** Labels as discovered (group + target labels and Prometheus' defaults), before relabeling. */
  readonly discoveredLabels: Labels;
  /** The target's labels after relabeling: job, instance and the rest, no `__` labels. */
  readonly labels: Labels;
  readonly health: TargetHealth;
  /** Empty when the last scrape succeeded. */
  readonly lastError: string;
  /** Start of the last scrape, ms since the epoch; 0 = not scraped yet. */
  readonly lastScrapeMs: number;
  /** Seconds the last scrape took. */
  readonly lastScrapeDurationSeconds: number;
  /** Samples the last scrape added after metric relabeling. */
  readonly lastSamples: number;
  /** Samples in the last page, before metric relabeling. */
  readonly lastSamplesScraped: number;
  /** Scrapes this target's loop has done since it started (a reload that changes the job starts anew), as vmagent counts them. */
  readonly scrapesTotal: number;
  /** Of those, the ones that failed. */
  readonly scrapesFailed: number;
  readonly scrapeIntervalMs: number;
  readonly scrapeTimeoutMs: number;
}

export interface DroppedTargetStatus {
  readonly scrapePool: string;
  readonly discoveredLabels: Labels;
}

/** A target of the job that other members of the scrape cluster scrape, not this one. */
export interface OtherMemberTargetStatus {
  readonly scrapeUrl: string;
  readonly discoveredLabels: Labels;
  readonly labels: Labels;
  /** The members that scrape it (member_num), by rendezvous weight. */
  readonly members: readonly number[];
}

/** A discoverer of the job whose refreshes fail: its last targets stand meanwhile. */
export interface DiscoveryProblem {
  /** The last failure. */
  readonly message: string;
  /** When the failures began, ms since the epoch. */
  readonly sinceMs: number;
}

export interface ScrapePoolStatus {
  readonly name: string;
  /** Target relabeling of the pool, so a page can show which rule dropped a target. */
  readonly relabelConfigs: readonly RelabelConfig[];
  readonly active: readonly ActiveTargetStatus[];
  /** At most `keep_dropped_targets` when set (Prometheus' semantics); all otherwise. */
  readonly dropped: readonly DroppedTargetStatus[];
  /** All targets dropped by relabeling, including those not kept in `dropped`. */
  readonly droppedCount: number;
  /** Targets other members of the scrape cluster own (empty outside a cluster). */
  readonly otherMembers: readonly OtherMemberTargetStatus[];
  /** One per discoverer failing now. */
  readonly discoveryProblems: readonly DiscoveryProblem[];
}

export interface ScrapeStatusSource {
  /** Pools in configuration order. */
  pools(): readonly ScrapePoolStatus[];
  /**
   * Sends the request the scrapes of the target whose `targetId` is `id` send, once more, now,
   * its body to `consumer` only; undefined when no running target has that id. Absent where
   * there are no live loops to ask (pages fed with plain data).
   */
  fetchTargetResponse?(id: string, consumer: BodyConsumer, signal: AbortSignal): Promise<StreamResult | undefined>;
}

/**
 * A target's name in links (/target_response?id=...): the same for the target while it runs,
 * from its job, URL and labels, hashed so a link stays short however many labels it has.
 */
export function targetId(t: Pick<ActiveTargetStatus, 'scrapePool' | 'scrapeUrl' | 'labels'>): string {
  return createHash('sha256').update(`${t.scrapePool}\n${t.scrapeUrl}\n${t.labels.key}`).digest('hex').slice(0, 16);
}
