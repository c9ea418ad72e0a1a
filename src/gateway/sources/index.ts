/**
 * Pulled gateway sources (HTTP exporters, files, scripts): everything the gateway fetches
 * rather than receives. `createSource` turns one validated config entry into a running source;
 * the caller owns it and must `close()` it (timers, watchers, connections, child processes).
 * Static labels and the source label are the merger's business and are not applied here.
 */

import type { GatewaySourceConfig } from '../../config/gateway-sources.js';
import type { Logger } from '../../log/logger.js';
import type { GatewaySource } from '../source.js';
import { FileSource } from './file-source.js';
import { HttpSource } from './http-source.js';
import { ScriptSource } from './script-source.js';

export { FileSource } from './file-source.js';
export { HttpSource } from './http-source.js';
export { ScriptSource } from './script-source.js';
export { ACCEPT_HEADER } from './http-fetch.js';

/** Starts the source `config` describes (polled and periodic sources begin at once). */
export function createSource(config: GatewaySourceConfig, logger: Logger): GatewaySource {
  if (config.http) return new HttpSource(config.name, config.http, logger);
  if (config.file) return new FileSource(config.name, config.file, logger);
  if (config.script) return new ScriptSource(config.name, config.script, logger);
  // The schema guarantees one kind; this is reached only by configs built around it.
  throw new Error(`gateway source ${JSON.stringify(config.name)} has none of http, file or script`);
}
