/**
 * The `tributary` command line: subcommands, long flags shared by all of them, help and version.
 * Flags keep one meaning across every subcommand and release (`--config`, `--listen`,
 * `--data-dir`, `--remote-write-url`, `--log-level`, `--log-format`); they override the same
 * settings in the configuration file. `run` is the default subcommand, so `npm start -- FLAGS`
 * and `tributary FLAGS` start the agent.
 */

import { parseArgs } from 'node:util';
import { ConfigError, formatIssue } from '../config/errors.js';
import { resolveConfigIsolated } from '../config/isolated.js';
import { LOG_FORMATS, LOG_LEVELS, Logger, type LogFormat, type LogLevel } from '../log/logger.js';
import { DEFAULT_LISTEN_ADDRESS } from '../server/index.js';
import { startRuntime, type Runtime } from '../runtime/runtime.js';
import { VERSION } from '../common/version.js';
import { INGEST_HTTP_PROTOCOLS } from '../config/ingest-protocols.js';

const FLAGS = {
  config: { type: 'string' },
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  'remote-write-url': { type: 'string', multiple: true },
  'stream-aggr-config': { type: 'string' },
  'ingest-http': { type: 'string', multiple: true },
  'influx-listen-address': { type: 'string' },
  'graphite-listen-address': { type: 'string' },
  'opentsdb-listen-address': { type: 'string' },
  'opentsdb-http-listen-address': { type: 'string' },
  'cluster.members-count': { type: 'string' },
  'cluster.member-num': { type: 'string' },
  'cluster.replication-factor': { type: 'string' },
  'cluster.name': { type: 'string' },
  // vmagent's spellings, so its command lines carry over
  'promscrape.cluster.membersCount': { type: 'string' },
  'promscrape.cluster.memberNum': { type: 'string' },
  'promscrape.cluster.replicationFactor': { type: 'string' },
  'promscrape.cluster.name': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export const HELP = `Tributary ${VERSION} — metrics agent and gateway

Usage:
  tributary [run] [flags]            start Tributary (the default subcommand)
  tributary check-config FILE...     validate configuration files (and vmagent stream aggregation files);
                                     exit 0 when all are valid, 1 otherwise
  tributary gather [flags]           export series from VictoriaMetrics or Prometheus into an obfuscated
                                     ZIP bundle: the web wizard, or one export with --url
                                     (tributary gather --help; its flags are its own)
  tributary import INPUT --url URL   load a gather/vmgather bundle or JSON lines into VictoriaMetrics or a
                                     remote-write receiver: preflight, chunks, resume, verification
                                     (tributary import --help; its flags are its own)
  tributary help                     show this help
  tributary version                  print the version

Flags (every subcommand; flags override the configuration file):
  --config FILE             configuration file: a superset of prometheus.yml (default: embedded defaults)
  --listen HOST:PORT        HTTP listen address (default ${DEFAULT_LISTEN_ADDRESS}; [::1]:PORT for IPv6)
  --data-dir DIR            directory for persistent state (default ./data)
  --remote-write-url URL    send to this remote-write URL; repeat for several
  --stream-aggr-config FILE a vmagent stream aggregation file (vmagent -streamAggr.config) for the
                            global stream_aggr section
  --ingest-http LIST        accept pushes on the HTTP listener: all, or some of
                            ${INGEST_HTTP_PROTOCOLS.join(',')}
  --influx-listen-address HOST:PORT    Influx line protocol over TCP and UDP (vmagent -influxListenAddr)
  --graphite-listen-address HOST:PORT  Graphite plaintext over TCP and UDP (vmagent -graphiteListenAddr)
  --opentsdb-listen-address HOST:PORT  OpenTSDB telnet put over TCP and UDP, HTTP /api/put on the same TCP port
  --opentsdb-http-listen-address HOST:PORT  OpenTSDB HTTP /api/put (vmagent -opentsdbHTTPListenAddr)
  --cluster.members-count N        scrape cluster: how many members share the targets (default 1)
  --cluster.member-num N|POD-N     this member's number, 0…N-1, or a StatefulSet pod name ending in -N
  --cluster.replication-factor R   how many members scrape each target (default 1)
  --cluster.name NAME              tells clusters that scrape the same targets apart (shifts scrape times)
                                   (vmagent's -promscrape.cluster.* spellings are accepted too)
  --log-level LEVEL         ${LOG_LEVELS.join(', ')} (default info)
  --log-format FORMAT       ${LOG_FORMATS.join(', ')} (default logfmt)
  -h, --help                show this help
  -v, --version             print the version

Endpoints: / (status page), /metrics, /health, /ready, /targets, /api/v1/targets,
/service-discovery, /relabel-debug, POST /-/reload; push paths (/api/v1/write, /write, /api/v1/import,
/datadog/..., /opentelemetry/v1/metrics) when turned on in the ingest: section or by --ingest-http.
Signals: SIGTERM and SIGINT stop gracefully (requests in flight finish); a second one exits at once;
SIGHUP reloads the configuration file (an invalid one is refused and the running one stays).
`;

type Values = {
  config?: string;
  listen?: string;
  'data-dir'?: string;
  'remote-write-url'?: string[];
  'stream-aggr-config'?: string;
  'ingest-http'?: string[];
  'influx-listen-address'?: string;
  'graphite-listen-address'?: string;
  'opentsdb-listen-address'?: string;
  'opentsdb-http-listen-address'?: string;
  'cluster.members-count'?: string;
  'cluster.member-num'?: string;
  'cluster.replication-factor'?: string;
  'cluster.name'?: string;
  'promscrape.cluster.membersCount'?: string;
  'promscrape.cluster.memberNum'?: string;
  'promscrape.cluster.replicationFactor'?: string;
  'promscrape.cluster.name'?: string;
  'log-level'?: string;
  'log-format'?: string;
  help?: boolean;
  version?: boolean;
};

class UsageError extends Error {}

function parse(argv: string[]): { command: string; positionals: string[]; values: Values } {
  let parsed;
  // vmagent's command lines spell its flags with one dash
  argv = argv.map((a) => (/^-promscrape\.cluster\./.test(a) ? `-${a}` : a));
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (err) {
    // node's messages go on about positionals; the first sentence is the useful part
    throw new UsageError((err as Error).message.split(/\.\s/)[0]);
  }
  const [command = 'run', ...positionals] = parsed.positionals;
  return { command, positionals, values: parsed.values as Values };
}

function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag} ${JSON.stringify(value)}: expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** Runs the command line; resolves with the exit code (undefined: keep running until signalled). */
export async function main(argv: string[]): Promise<number | undefined> {
  // gather has flags of its own (parsed there): the shared ones mean nothing to it
  if (argv[0] === 'gather') {
    const { gatherMain } = await import('./gather.js');
    return gatherMain(argv.slice(1));
  }
  if (argv[0] === 'import') {
    const { importMain } = await import('./import.js');
    return importMain(argv.slice(1));
  }
  let cmd;
  try {
    cmd = parse(argv);
    if (cmd.values.help || cmd.command === 'help') {
      process.stdout.write(HELP);
      return 0;
    }
    if (cmd.values.version || cmd.command === 'version') {
      process.stdout.write(`tributary ${VERSION}\n`);
      return 0;
    }
    if (cmd.command === 'check-config') return await checkConfig(cmd.positionals, cmd.values);
    if (cmd.command !== 'run') throw new UsageError(`unknown subcommand ${JSON.stringify(cmd.command)}`);
    if (cmd.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(cmd.positionals[0])}`);
    choice<LogLevel>('log-level', cmd.values['log-level'], LOG_LEVELS);
    choice<LogFormat>('log-format', cmd.values['log-format'], LOG_FORMATS);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`tributary: ${err.message}\nRun 'tributary --help' for usage.\n`);
    return 2;
  }
  return run(cmd.values);
}

async function checkConfig(files: string[], values: Values): Promise<number> {
  if (values.config !== undefined) files = [values.config, ...files];
  const aggrFile = values['stream-aggr-config'];
  if (files.length === 0 && aggrFile === undefined) throw new UsageError('check-config needs a FILE');
  // a one-shot command: the loader runs here rather than in a child process
  const { loadConfigFile, loadStreamAggrFile } = await import('../config/load.js');
  const { fileSdProblems } = await import('../discovery/file-sd-check.js');
  // a file that is a YAML list is a vmagent stream aggregation file (its -streamAggr.config)
  const load = async (file: string) => {
    try {
      return await loadConfigFile(file, process.env, { jobProblems: fileSdProblems, streamAggrConfig: file === values.config ? aggrFile : undefined });
    } catch (err) {
      if (err instanceof ConfigError && err.issues.length === 1 && / not a list$/.test(err.issues[0].message)) return loadStreamAggrFile(file);
      throw err;
    }
  };
  if (aggrFile !== undefined && values.config === undefined) files = [...files, aggrFile];
  let failed = false;
  for (const file of files) {
    try {
      const { warnings } = await load(file);
      for (const w of warnings) process.stdout.write(`warning: ${formatIssue(w)}\n`);
      process.stdout.write(`${file}: OK\n`);
    } catch (err) {
      failed = true;
      if (err instanceof ConfigError) process.stderr.write(`${err.message}\n${file}: FAILED (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'})\n`);
      else process.stderr.write(`${file}: FAILED: ${(err as Error).message}\n`);
    }
  }
  return failed ? 1 : 0;
}

async function run(values: Values): Promise<number | undefined> {
  const level = choice<LogLevel>('log-level', values['log-level'], LOG_LEVELS);
  const format = choice<LogFormat>('log-format', values['log-format'], LOG_FORMATS);
  // Flags win over the file's log section; a file that fails to load is reported with the flags'.
  let logger = new Logger(level ?? 'info', format ?? 'logfmt');
  let runtime: Runtime;
  try {
    const opts = {
      configFile: values.config,
      listen: values.listen,
      dataDir: values['data-dir'],
      remoteWriteUrls: values['remote-write-url'],
      streamAggrConfig: values['stream-aggr-config'],
      ingest: {
        http: values['ingest-http'],
        influxListenAddress: values['influx-listen-address'],
        graphiteListenAddress: values['graphite-listen-address'],
        opentsdbListenAddress: values['opentsdb-listen-address'],
        opentsdbHttpListenAddress: values['opentsdb-http-listen-address'],
      },
      cluster: {
        members_count: values['cluster.members-count'] ?? values['promscrape.cluster.membersCount'],
        member_num: values['cluster.member-num'] ?? values['promscrape.cluster.memberNum'],
        replication_factor: values['cluster.replication-factor'] ?? values['promscrape.cluster.replicationFactor'],
        name: values['cluster.name'] ?? values['promscrape.cluster.name'],
      },
    };
    const resolved = await resolveConfigIsolated(opts);
    logger = new Logger(level ?? resolved.config.log.level, format ?? resolved.config.log.format);
    runtime = await startRuntime({ ...opts, resolved, logger });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof ConfigError) {
      for (const issue of err.issues) logger.error('invalid configuration', { where: formatIssue({ ...issue, message: '' }).replace(/: $/, ''), problem: issue.message });
    } else {
      logger.error(msg);
    }
    return 1;
  }

  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    logger.info('shutting down', { signal });
    runtime.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // reload() reports its own outcome (log, metric); a failed reload keeps the process running
  process.on('SIGHUP', () => void runtime.reload());
  return undefined;
}
