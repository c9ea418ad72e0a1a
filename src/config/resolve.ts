/**
 * The configuration a process runs with: the file (or the embedded defaults) with the command
 * line's flags laid over it. Runs in a child process at start and on reload (see isolated.ts),
 * so the schema library and the YAML parser are never loaded into the long-lived process.
 */

import { defaultConfig } from './defaults.js';
import type { ConfigWarning } from './errors.js';
import { loadConfigFile } from './load.js';
import { remoteWriteConfigSchema } from './remote-write.js';
import type { TributaryConfig } from './schema.js';

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
}

export interface ResolvedConfig {
  config: TributaryConfig;
  warnings: ConfigWarning[];
}

/** Loads the configuration the sources point at, flags over file over defaults. */
export async function resolveConfig(opts: ConfigSources): Promise<ResolvedConfig> {
  const loaded = opts.configFile === undefined ? { config: defaultConfig(), warnings: [] } : await loadConfigFile(opts.configFile);
  const config = loaded.config;
  if (opts.listen !== undefined) config.server.listen = opts.listen;
  if (opts.dataDir !== undefined) config.server.data_dir = opts.dataDir;
  for (const url of opts.remoteWriteUrls ?? []) {
    // the same schema as the file's remote_write entries, so defaults and URL checks agree
    const parsed = remoteWriteConfigSchema.safeParse({ url });
    if (!parsed.success) throw new Error(`--remote-write-url ${JSON.stringify(url)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    config.remote_write.push(parsed.data);
  }
  return { config, warnings: loaded.warnings };
}
