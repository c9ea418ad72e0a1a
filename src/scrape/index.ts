/**
 * Scraping, Prometheus' way: jobs from `scrape_configs` (manager.ts, one pool per job),
 * targets from service discovery through target relabeling (target.ts), one loop per target
 * on a fixed phase of its interval (scrape-loop.ts) streaming the page through the parser
 * (page-reader.ts) and a per-target series cache that attaches target labels and runs metric
 * relabeling once per distinct series (series-cache.ts). Every scrape ends as one batch —
 * samples, staleness markers and the per-target auto series — handed to the sample pipeline.
 * A member of a scrape cluster keeps only its share of each job's targets (cluster.ts). The
 * read-only status for pages lives in status.ts, the pages in pages/.
 */
export { ScrapeManager, DEFAULT_BODY_SIZE_LIMIT, type ScrapeManagerDeps } from './manager.js';
export { ScrapePool, type DiscovererFactory } from './scrape-pool.js';
export { ClusterMembership, SINGLE_MEMBER } from './cluster.js';
export { ScrapeLoop, nextScrapeTime, type JobContext } from './scrape-loop.js';
export { targetsFromGroup, type ScrapeTarget, type PopulateResult } from './target.js';
export { acceptHeader } from '../formats/media-types.js';
export { targetId } from './status.js';
export type { ScrapeStatusSource, ScrapePoolStatus, ActiveTargetStatus, DroppedTargetStatus, OtherMemberTargetStatus, TargetHealth } from './status.js';
