/**
 * Relative file system paths in a configuration file are relative to that file's directory, as
 * in Prometheus (its SetDirectory), so a configuration means the same files whatever directory
 * Tributary is started from. The loader applies this once, to the parsed configuration, when it
 * loaded a file; configurations parsed from text alone (the embedded defaults) have no
 * directory and keep their paths as written.
 *
 * Paths become absolute rather than joined to a possibly relative directory: resolving is then
 * idempotent, so a value a job inherits from the main file's already resolved `global` stays
 * put when the job's own file lives in another directory. Sections Tributary accepts without
 * reading (alerting, unsupported service discovery kinds, remote write cloud auth) are left as
 * they are.
 */

import { isAbsolute, resolve } from 'node:path';
import type { HttpClientConfig } from './http-client-config.js';
import type { AccessSchemaOutput } from './access.js';
import type { ScrapeConfig, TributaryConfig } from './schema.js';

type Resolve = (path: string) => string;

/**
 * Resolves the paths of a configuration loaded from a file in `dir`, in place: the loader has
 * just built the object and nothing else holds it yet. Scrape jobs of other files are resolved
 * separately, against their own directories, with `resolveScrapeConfigPaths`.
 */
export function resolveConfigPaths(config: TributaryConfig, dir: string): void {
  const to = against(dir);
  setPaths(config.global, ['query_log_file', 'scrape_failure_log_file'], to);
  if (config.rule_files) config.rule_files = config.rule_files.map(to);
  if (config.scrape_config_files) config.scrape_config_files = config.scrape_config_files.map(to);
  for (const job of config.scrape_configs) resolveScrapeConfigPaths(job, dir);
  for (const w of config.remote_write) {
    httpClientPaths(w, to);
    setPaths(w.stream_aggr, ['config'], to);
  }
  setPaths(config.stream_aggr, ['config'], to);

  const { server, gateway } = config;
  setPaths(server, ['data_dir'], to);
  setPaths(server.tls, ['cert_file', 'key_file', 'client_ca_file'], to);
  accessPaths(server.access, to);
  for (const source of gateway.sources) {
    setPaths(source.file, ['path'], to);
    if (source.http) httpClientPaths(source.http, to);
    // A bare command name is looked up in PATH; only a command written as a path is a file here.
    if (source.script?.command.includes('/')) source.script.command = to(source.script.command);
  }
  for (const l of gateway.push.listeners) setPaths(l, ['unix'], to);
  for (const p of gateway.paths) accessPaths(p.access, to);
}

/** Resolves one scrape job's paths, in place, against the directory of the file defining it. */
export function resolveScrapeConfigPaths(job: ScrapeConfig, dir: string): void {
  const to = against(dir);
  setPaths(job, ['scrape_failure_log_file'], to);
  httpClientPaths(job, to);
  for (const sd of job.file_sd_configs) sd.files = sd.files.map(to);
  for (const sd of job.http_sd_configs) httpClientPaths(sd, to);
  for (const sd of job.consul_sd_configs) httpClientPaths(sd, to);
  for (const sd of job.kubernetes_sd_configs) {
    setPaths(sd, ['kubeconfig_file'], to);
    httpClientPaths(sd, to);
  }
}

function against(dir: string): Resolve {
  return (path) => (path === '' || isAbsolute(path) ? path : resolve(dir, path));
}

/** Keys left unset stay unset, so the configuration keeps the shape the schema gave it. */
function setPaths<K extends string>(
  obj: Partial<Record<K, string>> | undefined,
  keys: readonly K[],
  to: Resolve,
): void {
  if (!obj) return;
  for (const k of keys) {
    const v = obj[k];
    if (v !== undefined) obj[k] = to(v);
  }
}

/** Every file prometheus/common's HTTP client reads (after `bearer_token_file` became `authorization`). */
function httpClientPaths(c: HttpClientConfig, to: Resolve): void {
  setPaths(c.basic_auth, ['username_file', 'password_file'], to);
  setPaths(c.authorization, ['credentials_file'], to);
  setPaths(c.tls_config, ['ca_file', 'cert_file', 'key_file'], to);
  if (c.oauth2) {
    setPaths(c.oauth2, ['client_secret_file', 'client_certificate_key_file'], to);
    setPaths(c.oauth2.tls_config, ['ca_file', 'cert_file', 'key_file'], to);
    headerFilePaths(c.oauth2.http_headers, to);
  }
  headerFilePaths(c.http_headers, to);
}

function headerFilePaths(headers: HttpClientConfig['http_headers'], to: Resolve): void {
  for (const h of Object.values(headers ?? {})) if (h.files) h.files = h.files.map(to);
}

function accessPaths(access: AccessSchemaOutput | undefined, to: Resolve): void {
  if (access?.bearer_token_files) access.bearer_token_files = access.bearer_token_files.map(to);
}
