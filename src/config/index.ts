/**
 * Configuration: one YAML file that is a strict superset of Prometheus' configuration format,
 * so any prometheus.yml loads unchanged, plus Tributary's own sections (`server`, `log`).
 * Loading expands `%{ENV}` references, validates every key (an unknown key or a wrong type is
 * an error naming file, line, column and key path), applies Prometheus' defaults and
 * inheritance from `global`, and warns about the parts Tributary accepts but does not act on
 * (rules, alerting, most service discovery kinds). Loading from a file also reads the files its
 * `scrape_config_files` name and resolves relative paths against the directory of the file they
 * are written in. Durations come out as milliseconds, sizes as bytes; keys keep their YAML names.
 */

export { parseConfigText, loadConfigFile } from './load.js';
export type { LoadedConfig } from './load.js';
export { DEFAULT_CONFIG_TEXT, defaultConfig } from './defaults.js';
export { ConfigError, formatIssue, formatPath } from './errors.js';
export type { ConfigIssue, ConfigWarning, KeyPath } from './errors.js';
export type { Env } from './env.js';

export {
  configSchema,
  configWarnings,
  IGNORED_SECTIONS,
  DEFAULT_SCRAPE_INTERVAL,
  DEFAULT_SCRAPE_TIMEOUT,
  DEFAULT_EVALUATION_INTERVAL,
} from './schema.js';
export type { TributaryConfig, GlobalConfig, ScrapeConfig, SchemaWarning } from './schema.js';
export { SCRAPE_PROTOCOLS, DEFAULT_SCRAPE_PROTOCOLS, PROTO_FIRST_SCRAPE_PROTOCOLS } from './scrape.js';
export type { ScrapeProtocol, NameValidationScheme, NameEscapingScheme } from './scrape.js';
export { RELABEL_ACTIONS, PROMETHEUS_RELABEL_ACTIONS, VMAGENT_RELABEL_ACTIONS } from './relabel.js';
export type { RelabelConfig, RelabelAction } from './relabel.js';
export { UNSUPPORTED_SD_KINDS } from './discovery.js';
export type { StaticConfig, FileSdConfig, HttpSdConfig, DnsSdConfig, ConsulSdConfig } from './discovery.js';
export type { RemoteWriteConfig, QueueConfig, MetadataConfig } from './remote-write.js';
export type {
  HttpClientConfig,
  TlsConfig,
  BasicAuthConfig,
  AuthorizationConfig,
  OAuth2Config,
} from './http-client-config.js';
export { DEFAULT_DATA_DIR } from './tributary.js';
export type { ServerConfig, LogConfig } from './tributary.js';

export { parseDuration, formatDuration, MAX_DURATION_MS } from './duration.js';
export { parseSize } from './size.js';
export { compileAnchoredRegex, compileRegex } from './regex.js';
export type { Regex, RegexMatch } from './regex.js';
