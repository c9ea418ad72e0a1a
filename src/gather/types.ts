/**
 * The contracts between gather's parts: what a source (VictoriaMetrics or Prometheus) answers
 * (`source.ts`), what an export is asked for and reports (`jobs.ts`), and what the wizard's API
 * (`api.ts`) and the CLI (`cli/gather.ts`) hand between them. Kept apart so that each part can
 * be built and tested against the others' shapes, not their code.
 *
 * Times are Unix milliseconds; a range `[startMs, endMs)` includes its start and not its end.
 * Credentials live in these objects in memory only: a job's state on disk keeps the connection
 * without them (`withoutSecrets`), and a resume after a restart is given them again.
 */

/** How a source is reached: what the wizard's connect step and the CLI's flags fill in. */
export interface ConnectionConfig {
  /** As typed: `http://vm:8428`, `http://vmselect:8481/select/0/prometheus`, `https://vmauth/…`, `http://prometheus:9090`. */
  readonly url: string;
  /** VictoriaMetrics cluster tenant `accountID[:projectID]`, used when the URL names none. */
  readonly tenant?: string;
  readonly auth?: AuthConfig;
  readonly tls?: TlsConfig;
  /** Per request, default 60 s. */
  readonly timeoutMs?: number;
}

export type AuthConfig =
  | { readonly type: 'none' }
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | { readonly type: 'bearer'; readonly token: string }
  | { readonly type: 'header'; readonly name: string; readonly value: string };

export interface TlsConfig {
  /** PEM of the CA that signs the source's certificate (the wizard uploads it; the CLI reads `--ca-file`). */
  readonly ca?: string;
  readonly insecureSkipVerify?: boolean;
}

/** The connection as it may be written to disk or shown: every secret replaced by `<secret>`. */
export function withoutSecrets(c: ConnectionConfig): ConnectionConfig {
  const a = c.auth;
  const auth: AuthConfig | undefined =
    a === undefined || a.type === 'none'
      ? a
      : a.type === 'basic'
        ? { ...a, password: SECRET }
        : a.type === 'bearer'
          ? { ...a, token: SECRET }
          : { ...a, value: SECRET };
  return { ...c, auth };
}

/** What stands for a secret that was not kept. */
export const SECRET = '<secret>';

/** The secrets a connection carries: its auth's, and a password written into its URL (as typed and decoded). */
export function secretsOf(c: ConnectionConfig): string[] {
  const out: string[] = [];
  const a = c.auth;
  // a server may quote the Authorization header it refused (vmauth does): its base64 is a secret too
  if (a?.type === 'basic') out.push(a.password, Buffer.from(`${a.username}:${a.password}`).toString('base64'));
  else if (a?.type === 'bearer') out.push(a.token);
  else if (a?.type === 'header') out.push(a.value);
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/@]*?:([^/@]*)@/i.exec(c.url);
  if (m !== null) {
    out.push(m[1]);
    try {
      out.push(decodeURIComponent(m[1]));
    } catch {
      // a malformed escape: the raw form is all there is to hide
    }
  }
  return out.filter((x) => x !== '' && x !== SECRET);
}

/** `text` with every occurrence of each secret replaced by `<secret>`: what an error may quote before it is shown or logged. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(SECRET);
  return out;
}

export type Flavour = 'victoriametrics-single' | 'victoriametrics-cluster' | 'prometheus';

/** What validation found: the kind of server, its version and the API base every later request uses. */
export interface SourceInfo {
  readonly flavour: Flavour;
  /** `v1.93.4`, `2.42.0`, or `unknown`. */
  readonly version: string;
  /** The Prometheus-compatible API root, no trailing slash: `http://vm:8428`, `http://vmselect:8481/select/0/prometheus`, `http://prom:9090`. */
  readonly apiBase: string;
  /** `/api/v1/export` answers (VictoriaMetrics); false: raw samples are read with range-vector queries. */
  readonly exportApi: boolean;
}

export interface ValidateAttempt {
  readonly url: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly error?: string;
}

export interface ValidateResult {
  readonly ok: boolean;
  readonly source?: SourceInfo;
  /** Every URL tried, in order, with what it answered. */
  readonly attempts: readonly ValidateAttempt[];
  /** On failure, what the user most likely has to change ("vmselect requires /select/<tenant>/prometheus"). */
  readonly hint?: string;
  readonly error?: string;
}

export interface DiscoveredJob {
  readonly job: string;
  /** The VictoriaMetrics component (`vmstorage`, `vmagent`, …), or `unknown`; Prometheus sources: `unknown`. */
  readonly component: string;
  readonly instances: number;
  readonly series: number;
}

export interface DiscoverResult {
  readonly components: readonly { readonly component: string; readonly jobs: number; readonly instances: number; readonly series: number }[];
  readonly jobs: readonly DiscoveredJob[];
  readonly totalSeries: number;
  /**
   * Series counts are estimates: counting them over the range hit the source's series limit, so
   * they come from its per-day statistics (VictoriaMetrics `/api/v1/status/tsdb`, the range's last day).
   */
  readonly estimated?: boolean;
}

/** What is exported: series selectors (raw samples) or one query (evaluated at `stepMs`). */
export type Selection = { readonly selectors: readonly string[] } | { readonly query: string; readonly stepMs: number };

const SELECTOR = /^\s*([a-zA-Z_:][a-zA-Z0-9_:.]*\s*)?(\{[\s\S]*\})?\s*$/;

/** Why `selectors` cannot be series selectors (a shape check: the source's parser has the last word), or undefined. */
export function selectorsProblem(selectors: readonly string[]): string | undefined {
  if (selectors.length === 0) return 'no series selector given';
  for (const s of selectors) {
    if (s.trim() === '' || !SELECTOR.test(s)) return `${JSON.stringify(s)} is not a series selector (metric{label="value",…}); use query mode for an expression`;
  }
  return undefined;
}

/** One series of a preview, as parsed (the export itself streams lines). */
export interface SeriesSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  readonly timestamps: readonly number[];
}

/** Why a request to the source failed; `timeout` and `too_many_series` make an export split its batch. */
export type SourceErrorKind = 'timeout' | 'too_many_series' | 'auth' | 'not_found' | 'http' | 'network' | 'canceled';

export class SourceError extends Error {
  constructor(
    readonly kind: SourceErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** A validated source. */
export interface Source {
  readonly info: SourceInfo;
  /** Whether `selection` parses and how many series it matches over the range (an estimate where the source gives one). */
  validateQuery(selection: Selection, startMs: number, endMs: number): Promise<{ readonly ok: boolean; readonly error?: string; readonly series?: number }>;
  /** Components, jobs, instances and series over the range. */
  discover(startMs: number, endMs: number): Promise<DiscoverResult>;
  /** Of `discover`, only each job's component (what names obfuscated jobs): none where the source does not tell. */
  jobComponents(startMs: number, endMs: number): Promise<Record<string, string>>;
  /**
   * The values `label` takes in the selection's series over the range, sorted (selectors only;
   * a query selection gives none). Obfuscation numbers them up front, so a stand-in does not
   * hang on the order the source sends series in.
   */
  labelValues(label: string, selection: Selection, startMs: number, endMs: number): Promise<string[]>;
  /** The label names of the selection's series over the range, sorted (every series' for a query selection): what may be obfuscated or dropped. */
  labelNames(selection: Selection, startMs: number, endMs: number): Promise<string[]>;
  /** At most `limit` series of the selection over the range, parsed (the preview). */
  sample(selection: Selection, startMs: number, endMs: number, limit: number): Promise<SeriesSample[]>;
  /**
   * Every sample of the selection in `[startMs, endMs)`, as VictoriaMetrics export lines
   * (`{"metric":{...},"values":[...],"timestamps":[...]}\n`): chunks of whole lines, streamed
   * as the source sends them. Throws SourceError.
   */
  exportLines(selection: Selection, startMs: number, endMs: number, signal: AbortSignal): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

/** What is obfuscated; off, the bundle holds the series as they are. */
export interface ObfuscationConfig {
  readonly enabled: boolean;
  /** `instance` hosts → `777.777.c.d`, ports kept. */
  readonly instance: boolean;
  /** `job` → `<component>-job-<n>`. */
  readonly job: boolean;
  /** Other labels whose values become `<label>-<n>`. */
  readonly labels: readonly string[];
  /** Labels removed from every series (also when obfuscation is off). */
  readonly drop: readonly string[];
}

export interface ExportRequest {
  readonly connection: ConnectionConfig;
  readonly selection: Selection;
  readonly startMs: number;
  readonly endMs: number;
  /** Batch window; absent: 30 s for ranges up to 15 min, 1 min up to 6 h, 5 min beyond. Custom: 30 s – 24 h. */
  readonly batchWindowMs?: number;
  readonly obfuscation: ObfuscationConfig;
  /** `job` → component, from discovery: names the obfuscated job. A job not in it is `unknown-job-<n>`. */
  readonly jobComponents?: Readonly<Record<string, string>>;
  /** An obfuscation session of the preview (`/api/sample`) whose map the export continues. */
  readonly obfuscationSession?: string;
}

export type ExportState = 'pending' | 'running' | 'completed' | 'failed' | 'canceled' | 'interrupted';

export interface ExportResult {
  /** The bundle, inside the output folder. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly series: number;
  readonly samples: number;
}

export interface ExportStatus {
  readonly id: string;
  readonly state: ExportState;
  readonly batchesDone: number;
  readonly batchesTotal: number;
  /** 0–1. */
  readonly progress: number;
  readonly samples: number;
  readonly series: number;
  readonly averageBatchSeconds: number;
  readonly etaSeconds: number | undefined;
  readonly currentRange?: { readonly startMs: number; readonly endMs: number };
  readonly error?: string;
  readonly result?: ExportResult;
  readonly startedAt: number;
  readonly finishedAt?: number;
  /** Whether a resume needs the credentials again (they were not kept across a restart). */
  readonly needsCredentials?: boolean;
}

/** The export jobs of one process (`jobs.ts`): at most 3 running, finished ones kept 30 minutes. */
export interface ExportJobs {
  start(req: ExportRequest): ExportStatus;
  status(id: string): ExportStatus | undefined;
  list(): ExportStatus[];
  cancel(id: string): ExportStatus | undefined;
  /** Goes on from the last completed batch; `connection` gives back the secrets a restart lost. */
  resume(id: string, connection?: ConnectionConfig): ExportStatus;
  /** Called on each status change (the CLI's progress bar). */
  onChange(listener: (s: ExportStatus) => void): () => void;
  close(): Promise<void>;
}
