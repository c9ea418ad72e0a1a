/**
 * Resolves the configuration in a worker thread. Validating it takes the schema library and the
 * YAML parser, which stay resident once loaded (about 20 MB of a process that otherwise needs
 * little more than its series); in a worker they are freed with it. The resolved configuration
 * is plain data and crosses over by structured clone; a ConfigError comes back as one.
 */

import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { ConfigSources, ResolvedConfig } from './resolve.js';

export type { ConfigSources, ResolvedConfig } from './resolve.js';

/** What the worker posts. */
export type WorkerAnswer =
  | { readonly ok: true; readonly resolved: ResolvedConfig }
  | { readonly ok: false; readonly issues: ConfigIssue[] }
  | { readonly ok: false; readonly message: string };

/** As resolve.ts' `resolveConfig`; throws ConfigError for an invalid file, Error otherwise. */
export function resolveConfigIsolated(sources: ConfigSources): Promise<ResolvedConfig> {
  return new Promise((resolve, reject) => {
    // only the sources: callers pass their wider options, which hold things that cannot be cloned
    const data: ConfigSources = {
      configFile: sources.configFile,
      listen: sources.listen,
      dataDir: sources.dataDir,
      remoteWriteUrls: sources.remoteWriteUrls && [...sources.remoteWriteUrls],
    };
    const worker = new Worker(new URL('./resolve-worker.js', import.meta.url), { workerData: data });
    let answered = false;
    worker.once('message', (a: WorkerAnswer) => {
      answered = true;
      if (a.ok) resolve(a.resolved);
      else reject('issues' in a ? new ConfigError(a.issues) : new Error(a.message));
    });
    worker.once('error', (err) => {
      answered = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the configuration worker exited with code ${code}`));
    });
  });
}
