/**
 * The configuration Tributary runs with when no file is given. It is kept as YAML text and
 * loaded through the same path as any file, so it cannot drift from what the schema accepts
 * and can be shown to users as a valid starting point. Like Prometheus' default configuration
 * it scrapes itself (self-scrape.ts), so a first start has one target, up.
 */

import { parseConfigText } from './load.js';
import { SELF_SCRAPE_JOB } from './self-scrape.js';
import type { TributaryConfig } from './schema.js';

export const DEFAULT_CONFIG_TEXT = `# Tributary's built-in configuration, used when no configuration file is given.
# Any prometheus.yml is also a valid Tributary configuration.

global:
  scrape_interval: 1m
  scrape_timeout: 10s

# Tributary's own metrics; the target follows the address Tributary listens on.
# Add your targets as further jobs, e.g.
#   - job_name: node
#     static_configs:
#       - targets: ['localhost:9100']
scrape_configs:
  - job_name: ${SELF_SCRAPE_JOB}
    scrape_interval: 15s
    static_configs:
      - targets: ['127.0.0.1:9190']

server:
  listen: 127.0.0.1:9190
  data_dir: ./data

log:
  level: info
  format: logfmt
`;

/** The built-in configuration, freshly parsed (callers may modify it). */
export function defaultConfig(): TributaryConfig {
  return parseConfigText(DEFAULT_CONFIG_TEXT, '<built-in>', {}).config;
}
