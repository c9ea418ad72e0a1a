/**
 * Pulled gateway sources (HTTP exporters, files, scripts, and scrape jobs' latest samples):
 * everything the gateway fetches or reads rather than receives. `createSource` turns one validated config entry into a running source;
 * the caller owns it and must `close()` it (timers, watchers, connections, child processes).
 * Static labels and the source label are the merger's business and are not applied here.
 */

import type { GatewaySourceConfig } from '../../config/gateway-sources.js';
import type { Logger } from '../../log/logger.js';
import type { GatewaySource } from '../source.js';
import { FileSource } from './file-source.js';
import { HttpSource } from './http-source.js';
import { ScriptSource } from './script-source.js';
import { ScrapeJobSource } from './scrape-job-source.js';
import type { LatestSamples } from '../../pipeline/index.js';

export { FileSource } from './file-source.js';
export { HttpSource } from './http-source.js';
export { ScriptSource } from './script-source.js';
export { ScrapeJobSource } from './scrape-job-source.js';

/**
 * Starts the source `config` describes (polled and periodic sources begin at once). `scraped`
 * is the view of scrape jobs that `scrape` sources read; it must hold their jobs.
 */
export function createSource(config: GatewaySourceConfig, logger: Logger, scraped?: LatestSamples): GatewaySource {
  if (config.http) return new HttpSource(config.name, config.http, logger);
  if (config.file) return new FileSource(config.name, config.file, logger);
  if (config.script) return new ScriptSource(config.name, config.script, logger);
  if (config.scrape) {
    if (!scraped) throw new Error(`gateway source ${JSON.stringify(config.name)}: no scrape pipeline to read job ${config.scrape.job} from`);
    return new ScrapeJobSource(config.name, config.scrape.job, scraped);
  }
  // The schema guarantees one kind; this is reached only by configs built around it.
  throw new Error(`gateway source ${JSON.stringify(config.name)} has none of http, file, script or scrape`);
}
