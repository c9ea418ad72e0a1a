/**
 * Resolves the configuration in a short-lived child process. Validating it takes the schema
 * library and the YAML parser, which stay resident once loaded (about 20 MB of a process that
 * otherwise needs little more than its series), and booting a second Node environment touches
 * megabytes of the node binary that stay counted in the agent's resident memory for its whole
 * life; a child process takes both away when it exits, where a worker thread left the second.
 * The resolved configuration is plain data and crosses over by Node's structured-clone IPC; a
 * ConfigError comes back as one. The relabel debugger's rule lists are read there too, with
 * the same schema, so that the agent never holds it.
 */

import { fork } from 'node:child_process';
import { ConfigError, type ConfigIssue, type Read } from './errors.js';
import type { RelabelConfig } from './relabel.js';
import type { ConfigSources, ResolvedConfig } from './resolve.js';

export type { ConfigSources, ResolvedConfig } from './resolve.js';

/** What the child is asked: a configuration to resolve, or a relabel rule list to read. */
export type ResolverQuestion = { readonly config: ConfigSources } | { readonly rules: string };

/** What the child sends back. */
export type ResolverAnswer =
  | { readonly ok: true; readonly resolved: ResolvedConfig }
  | { readonly ok: true; readonly rules: Read<RelabelConfig[]> }
  | { readonly ok: false; readonly issues: ConfigIssue[] }
  | { readonly ok: false; readonly message: string };

/** As resolve.ts' `resolveConfig`; throws ConfigError for an invalid file, Error otherwise. */
export async function resolveConfigIsolated(sources: ConfigSources): Promise<ResolvedConfig> {
  // only the sources: callers pass their wider options, which hold things that cannot be cloned
  const config: ConfigSources = {
    configFile: sources.configFile,
    listen: sources.listen,
    dataDir: sources.dataDir,
    remoteWriteUrls: sources.remoteWriteUrls && [...sources.remoteWriteUrls],
  };
  const a = await ask({ config });
  if (!('resolved' in a)) throw new Error('the configuration resolver answered another question');
  return a.resolved;
}

/** The rule list being read now: one child at a time, however many debugger requests come at once. */
let rulesTurn: Promise<unknown> = Promise.resolve();

/** As relabel-rules-text.ts' `readRulesText`, in the child; an empty text needs no child. */
export async function readRulesIsolated(text: string): Promise<Read<RelabelConfig[]>> {
  if (text.trim() === '') return { ok: true, value: [] };
  const turn = rulesTurn.then(() => ask({ rules: text }));
  rulesTurn = turn.catch(() => {});
  const a = await turn;
  if (!('rules' in a)) throw new Error('the configuration resolver answered another question');
  return a.rules;
}

function ask(question: ResolverQuestion): Promise<ResolverAnswer & { ok: true }> {
  return new Promise((resolve, reject) => {
    // no inherited V8 flags (an inspector port would clash); the environment is the parent's,
    // for %{ENV} references in the file
    const child = fork(new URL('./resolve-child.js', import.meta.url), [], {
      serialization: 'advanced',
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answered = false;
    child.once('message', (a: ResolverAnswer) => {
      answered = true;
      if (a.ok) resolve(a);
      else reject('issues' in a ? new ConfigError(a.issues) : new Error(a.message));
    });
    child.once('error', (err) => {
      answered = true;
      reject(err);
    });
    child.once('exit', (code, signal) => {
      if (!answered) reject(new Error(`the configuration resolver exited with ${signal ?? `code ${code}`}`));
    });
    child.send(question);
  });
}
