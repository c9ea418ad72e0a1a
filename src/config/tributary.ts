/**
 * Top-level sections that are Tributary's own rather than Prometheus': `server` (where to
 * listen, with what TLS and access rule, where to keep state), `log` and
 * `remote_write_options`. New sections
 * (`gateway:`, ...) join `tributarySections` and schema.ts picks them up.
 */

import * as z from 'zod';
import { LOG_FORMATS, LOG_LEVELS } from '../log/logger.js';
import { DEFAULT_LISTEN_ADDRESS } from '../server/listen-address.js';
import { CLIENT_AUTH_MODES, TLS_MIN_VERSIONS, effectiveClientAuth } from '../server/tls.js';
import { accessSchema } from './access.js';
import { gatewayConfigSchema } from './gateway.js';
import { ingestConfigSchema } from './ingest.js';
import { clusterConfigSchema } from './cluster.js';
import { AT_KEY, bool, labelSet, listenAddress, nonEmptyText, size, uint } from './fields.js';
import { relabelConfigsSchema } from './relabel.js';
import { streamAggrSchema } from './stream-aggr.js';

export const DEFAULT_DATA_DIR = './data';

/** HTTPS for the listener; relative file paths are relative to the configuration file. */
export const serverTlsConfigSchema = z
  .strictObject({
    cert_file: nonEmptyText,
    key_file: nonEmptyText,
    client_ca_file: nonEmptyText.optional(),
    /** Defaults to require_and_verify when client_ca_file is set, else none. */
    client_auth: z.enum(CLIENT_AUTH_MODES).optional(),
    min_version: z.enum(TLS_MIN_VERSIONS).default('TLS12'),
  })
  .superRefine((t, ctx) => {
    if (t.client_auth !== undefined && t.client_auth !== 'none' && t.client_ca_file === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_auth'],
        message: `client_auth ${t.client_auth} needs client_ca_file to verify client certificates against`,
        params: AT_KEY,
      });
    }
  })
  .transform((t) => ({ ...t, client_auth: effectiveClientAuth({ clientAuth: t.client_auth, clientCaFile: t.client_ca_file }) }));

export const serverConfigSchema = z.strictObject({
  listen: listenAddress.default(DEFAULT_LISTEN_ADDRESS),
  /** Relative to the configuration file's directory (to the working directory for the defaults and --data-dir). */
  data_dir: nonEmptyText.default(DEFAULT_DATA_DIR),
  tls: serverTlsConfigSchema.optional(),
  /** Guards the core routes and pages (and any route without its own rule); open when absent. */
  access: accessSchema.optional(),
});

export const logConfigSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info'),
  format: z.enum(LOG_FORMATS).default('logfmt'),
});

/**
 * What happens to every series before the per-URL stages (vmagent's global -remoteWrite.*
 * flags): relabeling, then `global.external_labels`, then `labels`; and whether each series
 * goes to every URL (the default) or to `shard_by_url_replicas` of them, chosen by a hash of its
 * labels (all of them, or only `shard_by_url_labels`). Replicas beyond the URL count mean all.
 */
export const remoteWriteOptionsSchema = z.strictObject({
  relabel_configs: relabelConfigsSchema.default([]),
  labels: labelSet.default({}),
  shard_by_url: bool.default(false),
  shard_by_url_replicas: uint.refine((n) => n >= 1, 'must be at least 1').default(1),
  shard_by_url_labels: z.array(nonEmptyText).default([]),
  /**
   * vmagent's cardinality limiter (-remoteWrite.maxHourlySeries / maxDailySeries): at most this
   * many distinct series in any hour / day; samples of more are dropped, logged and counted.
   * 0: no limit.
   */
  max_hourly_series: uint.default(0),
  max_daily_series: uint.default(0),
  /**
   * `POST /api/v1/write` (remote write 1.0 and 2.0, src/ingest/remote-write.ts): off by default,
   * as Prometheus' --web.enable-remote-write-receiver. `max_body_bytes` bounds the snappy body
   * and, separately, what it decompresses to (413 beyond).
   */
  receiver: z
    .strictObject({
      enabled: bool.default(false),
      max_body_bytes: size.refine((n) => n >= 1024, 'must be at least 1KiB').default(32 * 1024 * 1024),
    })
    .prefault({}),
});

export const tributarySections = {
  remote_write_options: remoteWriteOptionsSchema.prefault({}),
  /** vmagent's -streamAggr.*: aggregation and deduplication of every sample before it is routed to URLs. */
  stream_aggr: streamAggrSchema.optional(),
  server: serverConfigSchema.prefault({}),
  log: logConfigSchema.prefault({}),
  gateway: gatewayConfigSchema.prefault({}),
  ingest: ingestConfigSchema.prefault({}),
  /** vmagent's -promscrape.cluster.*: this member's share of the scrape targets. */
  cluster: clusterConfigSchema.prefault({}),
};

export type ServerConfig = z.output<typeof serverConfigSchema>;
export type ServerTlsConfig = z.output<typeof serverTlsConfigSchema>;
export type LogConfig = z.output<typeof logConfigSchema>;
export type RemoteWriteOptions = z.output<typeof remoteWriteOptionsSchema>;
