/**
 * The `ingest:` section: push protocols vmagent accepts, each off until turned on. `http: true`
 * mounts a protocol's paths on the main listener (vmagent's paths, so a client needs only a new
 * address); `listen_address` opens a TCP and UDP listener of its own (vmagent's
 * `-influxListenAddr`, `-graphiteListenAddr`, `-opentsdbListenAddr`). Limits are vmagent's
 * defaults. Every accepted sample goes through global relabeling to every remote-write URL.
 */

import * as z from 'zod';
import { accessSchema } from './access.js';
import { bool, duration, listenAddress as address, size, uint } from './fields.js';
import { parseListenAddress } from '../server/listen-address.js';
import { parseNatsUrl } from '../nats/address.js';

const MiB = 1024 * 1024;

const bodyLimit = (def: number) => size.refine((n) => n >= 1024, 'must be at least 1KiB').default(def);
const lineLimit = (def: number) => size.refine((n) => n >= 64, 'must be at least 64B').default(def);

export const ingestConfigSchema = z.strictObject({
  /** vmagent's -maxLabelsPerTimeseries; a series with more is refused (counted, quoted in the answer), not cut. */
  max_labels_per_series: uint.refine((n) => n >= 1, 'must be at least 1').default(30),
  /** Guards the ingestion HTTP paths; the server's rule when absent. */
  access: accessSchema.optional(),
  /** `POST /api/v1/write`: Prometheus remote write 1.0 and 2.0 (snappy; zstd too). */
  remote_write: z
    .strictObject({
      http: bool.default(false),
      max_body_bytes: bodyLimit(32 * MiB),
    })
    .prefault({}),
  /**
   * Influx line protocol: /write, /influx/write, /api/v2/write, /influx/api/v2/write (`db`, `precision`;
   * `bucket` with bucket_as_db), /query and /influx/query (SHOW DATABASES), /ping and /influx/ping;
   * TCP and UDP on listen_address. Names and limits as vmagent's -influx* flags.
   */
  influx: z
    .strictObject({
      http: bool.default(false),
      listen_address: address.optional(),
      max_body_bytes: bodyLimit(32 * MiB),
      max_line_bytes: lineLimit(256 * 1024),
      measurement_field_separator: z.string().default('_'),
      skip_single_field: bool.default(false),
      skip_measurement: bool.default(false),
      /** The label the `db` query arg becomes (unless a tag of that name exists); empty: none. */
      db_label: z.string().default('db'),
      /** What `/query` answers to `SHOW DATABASES` (vmagent's -influx.databaseNames; `_internal` when empty, as vmagent). */
      database_names: z.array(z.string()).default([]),
      /** vmagent's -influxTrimTimestamp: timestamps cut to a multiple of this (1ms: whole milliseconds only). */
      trim_timestamp: duration.default(1),
      /** On the v2 paths, a `bucket` query arg stands for `db` when there is no `db` (vmagent 1.79 ignores `bucket`). */
      bucket_as_db: bool.default(false),
    })
    .prefault({}),
  /** Graphite plaintext over TCP and UDP. */
  graphite: z
    .strictObject({
      listen_address: address.optional(),
      max_line_bytes: lineLimit(256 * 1024),
      /** Later vmagent's -graphite.sanitizeMetricName (1.79 has none): `a..b` → `a.b`, `[^a-zA-Z0-9:_.]` → `_`. */
      sanitize_metric_name: bool.default(false),
      /** -graphiteTrimTimestamp: timestamps are whole seconds; a longer duration trims them further. */
      trim_timestamp: duration.default(1000),
    })
    .prefault({}),
  /**
   * NATS JetStream: consumes the remote-write requests agents publish to a `nats://` remote_write
   * URL, with a durable pull consumer that several Tributaries share (a work queue). A message is
   * acknowledged only after its samples are sent or on disk for every remote_write URL here, so
   * a consumer needs at least one (resolve.ts refuses to start one without). Off when absent.
   */
  nats: z
    .strictObject({
      /** `nats://HOST:PORT[,HOST:PORT…]/SUBJECT[?stream=NAME]`, as the publishing agents have it. */
      url: z.string().superRefine((s, ctx) => {
        try {
          parseNatsUrl(s);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
      /** The durable consumer's name: consumers with the same name share the messages. */
      durable: z.string().regex(/^[^\s.*>]+$/, 'no spaces, dots or wildcards').default('tributary'),
      /** Messages taken per pull; they are acknowledged together once their samples are safe. */
      batch: uint.refine((n) => n >= 1 && n <= 10_000, 'must be 1 to 10000').default(256),
      /** Messages handed out and not acknowledged yet, across the consumers sharing the durable. */
      max_ack_pending: uint.refine((n) => n >= 1, 'must be at least 1').default(4096),
      /** A message not acknowledged for this long goes to another consumer (its agent died). */
      ack_wait: duration.refine((n) => n >= 1000, 'must be at least 1s').default(60_000),
    })
    .optional(),
  /** OpenTSDB: telnet `put` over TCP and UDP (the TCP port also answers HTTP /api/put), and HTTP /api/put. */
  opentsdb: z
    .strictObject({
      http: bool.default(false),
      listen_address: address.optional(),
      http_listen_address: address.optional(),
      /** -opentsdbhttp.maxInsertRequestSize: an /api/put body (decoded) is read whole up to this. */
      max_body_bytes: bodyLimit(32 * MiB),
      max_line_bytes: lineLimit(256 * 1024),
      /** -opentsdbTrimTimestamp: telnet timestamps trimmed to this when over 1s. */
      trim_timestamp: duration.default(1000),
      /** -opentsdbhttpTrimTimestamp: /api/put timestamps trimmed to this when over 1ms. */
      http_trim_timestamp: duration.default(1),
    })
    .prefault({}),
  /**
   * /api/v1/import (JSON lines), /api/v1/import/csv, /api/v1/import/prometheus. Bodies stream
   * (only a line is held), so the body cap is large — an export being moved between storages
   * is gigabytes, and vmagent has none; lines are held whole, so they have a cap of their own
   * (vmagent's -import.maxLineLen is 100MiB).
   */
  import: z
    .strictObject({
      http: bool.default(false),
      max_body_bytes: bodyLimit(4096 * MiB),
      max_line_bytes: lineLimit(10 * MiB),
    })
    .prefault({}),
  /**
   * DataDog: /datadog/api/v1/series, /datadog/api/v2/series (JSON, or the agent's protobuf), and
   * the agent's /datadog/api/v1/validate, check_run, metadata and /datadog/intake answered as vmagent.
   * `sanitize_metric_name`: DataDog's naming rules for metric names, as newer vmagents' (default on
   * there); off by default as vmagent 1.79.5, which has no such flag and keeps names as sent.
   */
  datadog: z
    .strictObject({
      http: bool.default(false),
      max_body_bytes: bodyLimit(64 * MiB),
      sanitize_metric_name: bool.default(false),
    })
    .prefault({}),
  /** OTLP/HTTP: /opentelemetry/v1/metrics (also /opentelemetry/api/v1/push), protobuf or JSON. */
  opentelemetry: z
    .strictObject({
      http: bool.default(false),
      max_body_bytes: bodyLimit(32 * MiB),
      /** Names as Prometheus' OTLP translator makes them (units, `_total`); false keeps them as sent, sanitized. */
      prometheus_naming: bool.default(true),
      /** Delta sums and histograms: refused with a reason (`reject`), or added up per series into cumulative values. */
      delta_temporality: z.enum(['reject', 'cumulative']).default('reject'),
      /** Scope name, version, schema URL and attributes as `otel_scope_*` labels (Prometheus' `promote_scope_metadata`, off there too). */
      promote_scope_metadata: bool.default(false),
      /** Resource attributes set as labels on every series of their resource too (Prometheus' `promote_resource_attributes`; `*` for all, as VictoriaMetrics does); they stay on `target_info`. */
      promote_resource_attributes: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
})
  .superRefine((c, ctx) => {
    // two listeners on one address would load and then fail at start; said here, with both keys
    const listeners: [string[], string | undefined][] = [
      [['influx', 'listen_address'], c.influx.listen_address],
      [['graphite', 'listen_address'], c.graphite.listen_address],
      [['opentsdb', 'listen_address'], c.opentsdb.listen_address],
      [['opentsdb', 'http_listen_address'], c.opentsdb.http_listen_address],
    ];
    const seen = new Map<string, string[]>();
    for (const [path, address] of listeners) {
      if (address === undefined) continue;
      const { host, port } = parseListenAddress(address);
      // port 0 asks the system for a free port: never a clash
      if (port === 0) continue;
      const key = `${host ?? '*'}:${port}`;
      const other = seen.get(key) ?? [...seen.entries()].find(([k]) => k.endsWith(`:${port}`) && (k.startsWith('*:') || key.startsWith('*:')))?.[1];
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path, message: `${address} is also ingest.${other.join('.')}'s address: each listener needs its own port` });
      } else seen.set(key, path);
    }
  });

export type IngestConfig = z.output<typeof ingestConfigSchema>;
