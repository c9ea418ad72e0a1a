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

import { fork, type ChildProcess } from 'node:child_process';
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
    streamAggrConfig: sources.streamAggrConfig,
    ingest: sources.ingest && { ...sources.ingest, http: sources.ingest.http && [...sources.ingest.http] },
    cluster: sources.cluster && { ...sources.cluster },
  };
  const a = await ask({ config });
  if (!('resolved' in a)) throw new Error('the configuration resolver answered another question');
  return a.resolved;
}

/**
 * How long the rule reader's child waits for the next rule list: a debugging session sends
 * many in a row, and a child's start (Node, the schema library) costs most of a second.
 */
const RULES_CHILD_IDLE_MS = 60_000;

/** The relabel debugger's reader: one child, asked one rule list at a time, ended when idle. */
let rulesChild: ChildProcess | undefined;
let rulesIdle: NodeJS.Timeout | undefined;
let rulesTurn: Promise<unknown> = Promise.resolve();

/** As relabel-rules-text.ts' `readRulesText`, in the child; an empty text needs no child. */
export async function readRulesIsolated(text: string): Promise<Read<RelabelConfig[]>> {
  if (text.trim() === '') return { ok: true, value: [] };
  const turn = rulesTurn.then(() => askRules(text));
  rulesTurn = turn.catch(() => {});
  return turn;
}

function askRules(text: string): Promise<Read<RelabelConfig[]>> {
  return new Promise((resolve, reject) => {
    clearTimeout(rulesIdle);
    if (rulesChild === undefined || !rulesChild.connected) {
      const started = forkResolver();
      started.once('exit', () => {
        if (rulesChild === started) rulesChild = undefined;
      });
      rulesChild = started;
    }
    const child = rulesChild;
    // held only while a question is out: an idle reader must not keep the agent from exiting
    child.ref();
    child.channel?.ref();
    const done = (): void => {
      child.off('message', onAnswer);
      child.off('error', onError);
      child.off('exit', onExit);
      child.unref();
      child.channel?.unref();
      rulesIdle = setTimeout(() => child.connected && child.disconnect(), RULES_CHILD_IDLE_MS).unref();
    };
    const onAnswer = (a: ResolverAnswer): void => {
      done();
      if (a.ok && 'rules' in a) resolve(a.rules);
      else reject(new Error(a.ok ? 'the configuration resolver answered another question' : 'issues' in a ? new ConfigError(a.issues).message : a.message));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      done();
      reject(new Error(`the configuration resolver exited with ${signal ?? `code ${code}`}`));
    };
    child.once('message', onAnswer);
    child.once('error', onError);
    child.once('exit', onExit);
    child.send({ rules: text } satisfies ResolverQuestion);
  });
}

/** A resolver child: asked one configuration, or any number of rule lists until disconnected. */
function forkResolver(): ChildProcess {
  // no inherited V8 flags (an inspector port would clash); the environment is the parent's,
  // for %{ENV} references in the file
  return fork(new URL('./resolve-child.js', import.meta.url), [], {
    serialization: 'advanced',
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function ask(question: ResolverQuestion): Promise<ResolverAnswer & { ok: true }> {
  return new Promise((resolve, reject) => {
    const child = forkResolver();
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
