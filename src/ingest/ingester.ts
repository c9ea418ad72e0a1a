/**
 * The one path every pushed sample takes, whatever its protocol: a protocol's parser hands rows
 * to an `IngestRequest` (a `RowSink`), which applies the request's extra labels (`extra_label`
 * query args, the tenant of `/insert/<tenant>/...`), enforces `max_labels_per_series`, batches
 * the samples into `SampleBatch`es for the pipeline (global relabeling, remote write, gateway
 * views — as scraped samples) and counts rows, refusals and requests under one set of
 * self-metrics. A request's first few refusals are kept, with their line numbers, for the answer.
 */

import { Labels, LabelsBuilder } from '../model/labels.js';
import { SampleBatch } from '../model/samples.js';
import type { Logger } from '../log/logger.js';
import type { RowFault, RowSink } from '../formats/rows/index.js';
import type { SampleSink } from '../pipeline/index.js';
import type { Counter, Registry } from '../selfmetrics/registry.js';

/** Samples handed to the pipeline at once while a large request streams in. */
const FLUSH_ROWS = 4096;
/** Refusals quoted in an answer; the rest are counted. */
const QUOTED_REFUSALS = 5;
/** Distinct extra-label sets whose per-series results are kept (each request's query args). */
const MAX_EXTRA_SETS = 64;
/** Batches kept for reuse: about the requests that stream in at once. */
const MAX_FREE_BATCHES = 16;

/** What `Retry-After` says when the remote-write queues are full (seconds). */
export const RETRY_AFTER_SECONDS = 10;

export class IngestMetrics {
  readonly rows: Counter;
  readonly invalid: Counter;
  readonly requests: Counter;

  constructor(registry: Registry) {
    this.rows = registry.counter({
      name: 'tributary_ingest_rows_total',
      help: 'Samples accepted from pushes, by protocol, and handed to the pipeline.',
      labelNames: ['protocol'],
    });
    this.invalid = registry.counter({
      name: 'tributary_ingest_rows_invalid_total',
      help: 'Pushed rows refused, by protocol and reason (syntax, value, too_long, too_many_labels, unsupported); the sender is told in the answer (HTTP) or the log (TCP, UDP).',
      labelNames: ['protocol', 'reason'],
    });
    this.requests = registry.counter({
      name: 'tributary_ingest_requests_total',
      help: 'Push requests answered, by protocol and HTTP status code (TCP connections and UDP datagrams as "tcp" and "udp").',
      labelNames: ['protocol', 'code'],
    });
  }
}

export interface IngesterOptions {
  readonly protocol: string;
  /** The pipeline (a `SinkFanout`). */
  readonly sink: SampleSink;
  readonly metrics: IngestMetrics;
  readonly logger: Logger;
  readonly maxLabelsPerSeries: number;
  /** The `job` the pipeline's consumers see these samples under; the protocol's name by default. */
  readonly job?: string;
}

/** One protocol's entry into the pipeline; a request (or connection) at a time goes through `begin`. */
export class Ingester {
  readonly protocol: string;
  readonly job: string;
  readonly log: Logger;
  /** `tributary_ingest_rows_total{protocol}`, looked up once rather than per request. */
  readonly rowsCounter: { inc(n?: number): void };
  private readonly extraSets = new Map<string, ExtraLabels>();
  // Batches of finished requests, for the next ones: a batch per request (a TCP chunk, an HTTP
  // body) was allocated and then grown to FLUSH_ROWS each time, a measurable part of the cost.
  private readonly freeBatches: SampleBatch[] = [];

  constructor(readonly opts: IngesterOptions) {
    this.protocol = opts.protocol;
    this.job = opts.job ?? opts.protocol;
    this.log = opts.logger.child({ component: 'ingest', protocol: opts.protocol });
    this.rowsCounter = opts.metrics.rows.labels(opts.protocol);
  }

  /** A batch of FLUSH_ROWS capacity, empty; given back with `releaseBatch` when the request is done. */
  takeBatch(): SampleBatch {
    return this.freeBatches.pop() ?? new SampleBatch(FLUSH_ROWS);
  }

  releaseBatch(b: SampleBatch): void {
    b.reset();
    if (this.freeBatches.length < MAX_FREE_BATCHES) this.freeBatches.push(b);
  }

  /** The remote-write queues are full: the sender should wait (429, or stop reading) rather than have data dropped. */
  overloaded(): boolean {
    return this.opts.sink.overloaded?.() ?? false;
  }

  /** A request's sink; `extra` are set on every series (overriding a label of the same name). */
  begin(extra?: Readonly<Record<string, string>>, now = Date.now()): IngestRequest {
    return new IngestRequest(this, this.extraFor(extra), now);
  }

  counted(code: string): void {
    this.opts.metrics.requests.labels(this.protocol, code).inc();
  }

  private extraFor(extra: Readonly<Record<string, string>> | undefined): ExtraLabels | undefined {
    if (extra === undefined) return undefined;
    const names = Object.keys(extra);
    if (names.length === 0) return undefined;
    const key = JSON.stringify(names.sort().map((n) => [n, extra[n]]));
    let set = this.extraSets.get(key);
    if (set === undefined) {
      if (this.extraSets.size >= MAX_EXTRA_SETS) this.extraSets.clear();
      set = new ExtraLabels(extra);
      this.extraSets.set(key, set);
    }
    return set;
  }
}

/** Labels set on every series of a request, cached per series object (parsers hand out the same one). */
class ExtraLabels {
  private readonly pairs: [string, string][];
  private readonly lb = new LabelsBuilder();
  private readonly done = new WeakMap<Labels, Labels>();

  constructor(extra: Readonly<Record<string, string>>) {
    this.pairs = Object.entries(extra);
  }

  apply(labels: Labels): Labels {
    let out = this.done.get(labels);
    if (out === undefined) {
      this.lb.reset(labels);
      for (const [n, v] of this.pairs) this.lb.set(n, v);
      out = this.lb.build();
      this.done.set(labels, out);
    }
    return out;
  }
}

export interface IngestSummary {
  readonly rows: number;
  readonly invalid: number;
  /** The first refusals, `line N: reason`. */
  readonly refusals: readonly string[];
}

export class IngestRequest implements RowSink {
  /** Taken from the ingester at the first sample, given back by `finish` (a request may go on after it). */
  private batch: SampleBatch | undefined;
  private rows = 0;
  private invalidRows = 0;
  private readonly refusals: string[] = [];
  private readonly maxLabels: number;

  constructor(
    private readonly ingester: Ingester,
    private readonly extra: ExtraLabels | undefined,
    readonly now: number,
  ) {
    this.maxLabels = ingester.opts.maxLabelsPerSeries;
  }

  sample(labels: Labels, value: number, timestampMs: number): void {
    if (this.extra !== undefined) labels = this.extra.apply(labels);
    if (labels.size > this.maxLabels) {
      this.invalid(0, `series ${labels.metricName} has ${labels.size} labels, more than max_labels_per_series (${this.maxLabels})`, 'too_many_labels');
      return;
    }
    const b = (this.batch ??= this.ingester.takeBatch());
    b.append(labels, value, timestampMs);
    if (b.length >= FLUSH_ROWS) this.flush();
  }

  /** A staleness marker (remote write in passes them through). */
  stale(labels: Labels, timestampMs: number): void {
    if (this.extra !== undefined) labels = this.extra.apply(labels);
    const b = (this.batch ??= this.ingester.takeBatch());
    b.appendStale(labels, timestampMs);
    if (b.length >= FLUSH_ROWS) this.flush();
  }

  invalid(line: number, reason: string, fault: RowFault = 'syntax'): void {
    this.invalidRows++;
    this.ingester.opts.metrics.invalid.labels(this.ingester.protocol, fault).inc();
    if (this.refusals.length < QUOTED_REFUSALS) this.refusals.push(line > 0 ? `line ${line}: ${reason}` : reason);
  }

  /** Hands what is batched to the pipeline. */
  flush(): void {
    const b = this.batch;
    if (b === undefined || b.length === 0) return;
    this.rows += b.length;
    this.ingester.rowsCounter.inc(b.length);
    try {
      this.ingester.opts.sink.write(this.ingester.job, b);
    } finally {
      b.reset();
    }
  }

  /** Flushes and says what the request came to; refusals are logged (debug) once per request. */
  finish(): IngestSummary {
    try {
      this.flush();
    } finally {
      const b = this.batch;
      this.batch = undefined;
      if (b !== undefined) this.ingester.releaseBatch(b);
    }
    if (this.invalidRows > 0) {
      this.ingester.log.debug('pushed rows refused', { refused: this.invalidRows, accepted: this.rows, first: this.refusals[0] });
    }
    return { rows: this.rows, invalid: this.invalidRows, refusals: this.refusals };
  }
}

/** The answer's text for a request with refused rows. */
export function describeRefusals(s: IngestSummary): string {
  const more = s.invalid - s.refusals.length;
  return `${s.invalid} row${s.invalid === 1 ? '' : 's'} refused, ${s.rows} accepted:\n${s.refusals.join('\n')}${more > 0 ? `\n… and ${more} more` : ''}`;
}
