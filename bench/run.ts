/**
 * `npm run bench`: every benchmark suite of the repository, one after another, each in a
 * process of its own — in one process a suite's figures depended on the suites before it (the
 * code they share is optimised for what ran first: the protobuf parser measured 5× slower after
 * the exposition suite than alone). `npm run bench -- gateway` runs only the named suites.
 */
import { spawnSync } from 'node:child_process';
import { NODE_EXPORTER_PAGE } from './fixtures.js';

const page = JSON.stringify(NODE_EXPORTER_PAGE);

/**
 * Suite → module (relative to this file: end-to-end suites here, micro-benchmarks beside
 * their code as `src/<area>/*.bench.ts`) and the call that runs it. One line per suite.
 */
const SUITES: Record<string, [module: string, call: string]> = {
  exposition: ['../src/formats/prometheus/exposition.bench.js', `runExpositionBench(${page})`],
  'text-parser': ['../src/formats/prometheus/text-parser.bench.js', `runTextParserBench(${page})`],
  'openmetrics-parser': ['../src/formats/prometheus/openmetrics-parser.bench.js', `runOpenMetricsParserBench(${page})`],
  protobuf: ['../src/formats/protobuf/protobuf.bench.js', `runProtobufBench(${page})`],
  'datadog-parser': ['../src/formats/datadog/datadog.bench.js', 'runDatadogBench()'],
  'otlp-parser': ['../src/formats/otlp/otlp.bench.js', 'runOtlpBench()'],
  'graphite-parser': ['../src/formats/graphite/graphite.bench.js', 'runGraphiteParserBench()'],
  'opentsdb-parser': ['../src/formats/opentsdb/opentsdb.bench.js', 'runOpenTsdbParserBench()'],
  relabel: ['../src/relabel/relabel.bench.js', 'runRelabelBench()'],
  regex: ['../src/config/regex.bench.js', 'runRegexBench()'],
  gateway: ['./gateway.js', 'runGatewayBench()'],
  scrape: ['./scrape.js', `runScrapeBench(${page})`],
  remotewrite: ['../src/remotewrite/remotewrite.bench.js', 'runRemoteWriteBench()'],
  'remotewrite-receive': ['../src/formats/remotewrite/receive.bench.js', 'runRemoteWriteReceiveBench()'],
  'import-parser': ['../src/formats/jsonline/jsonline.bench.js', 'runJsonLineBench()'],
  'series-memory': ['./series-memory.js', `runSeriesMemoryBench(${page})`],
  'queue-lag': ['./queue-lag.js', 'runQueueLagBench()'],
  'influx-parser': ['../src/formats/influx/influx.bench.js', 'runInfluxBench()'],
  'keyed-labels': ['../src/model/keyed-labels.bench.js', 'runKeyedLabelsBench()'],
  streamaggr: ['./streamaggr.js', 'runStreamAggrBench()'],
  'streamaggr-engine': ['../src/streamaggr/streamaggr.bench.js', 'runStreamAggrEngineBench()'],
  cluster: ['./cluster.js', 'runClusterBench()'],
};

/** Suites that run only when named: they take minutes (queue-lag runs the real process until its queue overflows; streamaggr runs it three times, with and without rules side by side; cluster runs five agents, then three, at 1,000 targets). */
const ON_REQUEST = new Set(['queue-lag', 'streamaggr', 'cluster']);

const chosen = process.argv.slice(2);
for (const [name, [module, call]] of Object.entries(SUITES)) {
  if (chosen.length > 0 ? !chosen.includes(name) : ON_REQUEST.has(name)) continue;
  const url = new URL(module, import.meta.url).href;
  // --expose-gc: a suite that measures the memory it holds collects first
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); await m.${call};`], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
