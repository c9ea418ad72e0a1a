/**
 * The configuration a process runs with: the file (or the embedded defaults) with the command
 * line's flags laid over it. Runs in a child process at start and on reload (see isolated.ts),
 * so the schema library and the YAML parser are never loaded into the long-lived process.
 */

import { defaultConfig } from './defaults.js';
import type { ConfigWarning } from './errors.js';
import { loadConfigFile, loadStreamAggrFile } from './load.js';
import { remoteWriteConfigSchema } from './remote-write.js';
import { clusterConfigSchema, type ClusterConfig } from './cluster.js';
import type { TributaryConfig } from './schema.js';
import { INGEST_HTTP_PROTOCOLS, type IngestHttpProtocol } from './ingest-protocols.js';
import { parseListenAddress } from '../server/listen-address.js';

/** Where the configuration comes from: a file or the defaults, and the flags that override it. */
export interface ConfigSources {
  /** Configuration file; the embedded defaults when absent. */
  readonly configFile?: string | undefined;
  /** Overrides `server.listen`. */
  readonly listen?: string | undefined;
  /** Overrides `server.data_dir`. */
  readonly dataDir?: string | undefined;
  /** Added to `remote_write` as plain entries. */
  readonly remoteWriteUrls?: readonly string[] | undefined;
  /** A vmagent stream aggregation file for the global `stream_aggr` section. */
  readonly streamAggrConfig?: string | undefined;
  /** Override `ingest.*` (flags for quick use of a push protocol). */
  readonly ingest?: IngestFlags | undefined;
  /** Override `cluster.*`, each key as written on the command line. */
  readonly cluster?: ClusterFlags | undefined;
}

export type ClusterFlags = { readonly [K in keyof ClusterConfig]?: string | undefined };

export interface IngestFlags {
  /** Protocols whose HTTP paths are turned on (`all` for every one). */
  readonly http?: readonly string[] | undefined;
  readonly influxListenAddress?: string | undefined;
  readonly graphiteListenAddress?: string | undefined;
  readonly opentsdbListenAddress?: string | undefined;
  readonly opentsdbHttpListenAddress?: string | undefined;
}

export interface ResolvedConfig {
  config: TributaryConfig;
  warnings: ConfigWarning[];
}

/** Samples per request for a `--remote-write-url` URL: vmagent's block size. */
export const FLAG_URL_SAMPLES_PER_SEND = 10_000;

/** Loads the configuration the sources point at, flags over file over defaults. */
export async function resolveConfig(opts: ConfigSources): Promise<ResolvedConfig> {
  const loaded =
    opts.configFile === undefined ? { config: defaultConfig(), warnings: [] as ConfigWarning[] } : await loadConfigFile(opts.configFile, process.env, { streamAggrConfig: opts.streamAggrConfig });
  const config = loaded.config;
  if (opts.configFile === undefined && opts.streamAggrConfig !== undefined) {
    const file = await loadStreamAggrFile(opts.streamAggrConfig);
    config.stream_aggr = file.section;
    loaded.warnings.push(...file.warnings);
  }
  if (opts.listen !== undefined) config.server.listen = opts.listen;
  if (opts.dataDir !== undefined) config.server.data_dir = opts.dataDir;
  for (const url of opts.remoteWriteUrls ?? []) {
    // the same schema as the file's remote_write entries, so defaults and URL checks agree —
    // but for the batch size: a URL given the way vmagent's -remoteWrite.url is sends requests as
    // large as vmagent's (-remoteWrite.maxRowsPerBlock), a fifth as many as Prometheus'
    // default makes, which costs the sender and the receiver a fifth of the per-request work
    const parsed = remoteWriteConfigSchema.safeParse({ url, queue_config: { max_samples_per_send: FLAG_URL_SAMPLES_PER_SEND } });
    if (!parsed.success) throw new Error(`--remote-write-url ${JSON.stringify(url)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    config.remote_write.push(parsed.data);
  }
  applyIngestFlags(config, opts.ingest);
  loaded.warnings.push(...applyClusterFlags(config, opts.cluster));
  if (config.ingest.nats !== undefined && config.remote_write.length === 0) {
    // a work queue: what a consumer acknowledges is gone from the stream, so it must go somewhere
    throw new Error(`ingest.nats: no remote_write URL to send what is consumed to; a consumer acknowledges each message once remote write has its samples, and with none they would be dropped (add remote_write, or --remote-write-url)`);
  }
  return { config, warnings: loaded.warnings };
}

/** Lays the flags over the file's `cluster:`; warns where the file says otherwise (a reload keeps the flags). */
function applyClusterFlags(config: TributaryConfig, flags: ClusterFlags | undefined): ConfigWarning[] {
  const given = Object.entries(flags ?? {}).filter(([, v]) => v !== undefined);
  if (given.length === 0) return [];
  const fromFile = config.cluster;
  const defaults = clusterConfigSchema.parse({});
  // checked together with the file's keys: a member number is valid only against the count
  const parsed = clusterConfigSchema.safeParse({ ...config.cluster, ...Object.fromEntries(given) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? '').replaceAll('_', '-');
    throw new Error(`--cluster.${key}: ${issue?.message ?? 'invalid'}`);
  }
  config.cluster = parsed.data;
  const warnings: ConfigWarning[] = [];
  for (const [key] of given) {
    const k = key as keyof ClusterConfig;
    if (fromFile[k] !== defaults[k] && fromFile[k] !== parsed.data[k]) {
      warnings.push({
        file: '(command line)',
        line: 0,
        column: 0,
        path: `cluster.${k}`,
        message: `the file's ${JSON.stringify(fromFile[k])} is overridden by --cluster.${k.replaceAll('_', '-')} ${JSON.stringify(parsed.data[k])} (flags win, also on reload)`,
      });
    }
  }
  return warnings;
}

function applyIngestFlags(config: TributaryConfig, flags: IngestFlags | undefined): void {
  if (flags === undefined) return;
  const ingest = config.ingest;
  for (const item of flags.http ?? []) {
    for (const name of item.split(',').map((n) => n.trim()).filter((n) => n !== '')) {
      if (name === 'all') {
        for (const p of INGEST_HTTP_PROTOCOLS) ingest[p].http = true;
        continue;
      }
      if (!(INGEST_HTTP_PROTOCOLS as readonly string[]).includes(name)) {
        throw new Error(`--ingest-http ${JSON.stringify(name)}: expected all or some of ${INGEST_HTTP_PROTOCOLS.join(', ')}`);
      }
      ingest[name as IngestHttpProtocol].http = true;
    }
  }
  const address = (flag: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    try {
      parseListenAddress(value);
    } catch (err) {
      throw new Error(`--${flag}: ${(err as Error).message}`);
    }
    return value;
  };
  ingest.influx.listen_address = address('influx-listen-address', flags.influxListenAddress) ?? ingest.influx.listen_address;
  ingest.graphite.listen_address = address('graphite-listen-address', flags.graphiteListenAddress) ?? ingest.graphite.listen_address;
  ingest.opentsdb.listen_address = address('opentsdb-listen-address', flags.opentsdbListenAddress) ?? ingest.opentsdb.listen_address;
  ingest.opentsdb.http_listen_address = address('opentsdb-http-listen-address', flags.opentsdbHttpListenAddress) ?? ingest.opentsdb.http_listen_address;
}
