/**
 * One `remote_write` entry: the endpoint, its queue and metadata settings with Prometheus'
 * defaults, its relabeling, and the HTTP client keys (where, unlike scraping, HTTP/2 is off by
 * default). Of the cloud-specific authentication kinds, `sigv4` is implemented (outbound/
 * sigv4.ts) but for its keys that need calls to AWS; `azuread` and `google_iam` are accepted
 * unvalidated and warned about: their URL is sent nothing (the data stays queued) rather than
 * data without the authentication it asked for.
 */

import * as z from 'zod';
import { UNSUPPORTED_REMOTE_WRITE_AUTH } from '../outbound/client-settings.js';
import { formatPath, type KeyPath } from './errors.js';
import { checkHttpClient, httpClientShape, isReservedHeader, normalizeHttpClient, oauth2Warnings } from './http-client-config.js';
import { relabelConfigsSchema } from './relabel.js';
import { streamAggrSchema } from './stream-aggr.js';
import { AT_KEY, bool, duration, labelSet, opaqueMapping, size, text, textMap, uint, urlProblem } from './fields.js';
import { isNatsUrl, parseNatsUrl } from '../nats/address.js';

export const DEFAULT_MAX_DISK_USAGE = 1024 ** 3;
export const MAX_SENDERS = 64;

/**
 * Prometheus' keys, plus Tributary's `senders`, `max_disk_usage` and `compression`. Tributary sends with a
 * fixed number of senders (series sharded by label hash, so each series stays in order)
 * instead of resharding between min_shards and max_shards, which it reads but does not use.
 * `batch_send_deadline` bounds how long a sample is held only in memory (gathered, then
 * waiting to be sent) before it is written to the disk queue — the most a `kill -9` can lose —
 * so its default is vmagent's 1s, not 5s.
 * `capacity` is read and unused (the queue is on disk); 429 is always retried, as in later
 * Prometheus versions, so `retry_on_http_429` is read and unused too.
 */
export const queueConfigSchema = z.strictObject({
  capacity: uint.default(10_000),
  max_shards: uint.default(50),
  min_shards: uint.default(1),
  max_samples_per_send: uint.refine((n) => n >= 1, 'must be at least 1').default(2_000),
  batch_send_deadline: duration.refine((n) => n > 0, 'must be positive').default(1_000),
  senders: uint.refine((n) => n >= 1 && n <= MAX_SENDERS, `must be between 1 and ${MAX_SENDERS}`).default(4),
  /** Per URL; the oldest queued data is dropped (and counted) past it. */
  max_disk_usage: size.refine((n) => n >= 1024 * 1024, 'must be at least 1MiB').default(DEFAULT_MAX_DISK_USAGE),
  min_backoff: duration.default(30),
  max_backoff: duration.default(5_000),
  retry_on_http_429: bool.default(false),
  /** 0: no limit. */
  sample_age_limit: duration.default(0),
  /**
   * `fast`: each series' compressed record is cached across scrapes (formats/remotewrite/
   * snappy-writer.ts) — less CPU, larger requests; `small`: each request is compressed whole.
   * Every `fast` URL has its own cache (one table per sender).
   */
  compression: z.enum(['fast', 'small']).default('fast'),
});

export const metadataConfigSchema = z.strictObject({
  send: bool.default(true),
  send_interval: duration.default(60_000),
  max_samples_per_send: uint.default(2_000),
});

/** Remote write 1.0 and 2.0 message types, as Prometheus names them. */
export const PROTOBUF_MESSAGES = ['prometheus.WriteRequest', 'io.prometheus.write.v2.Request'] as const;

const CLOUD_AUTH = ['sigv4', ...UNSUPPORTED_REMOTE_WRITE_AUTH] as const;

/** prometheus/common's SigV4Config. */
const sigv4Schema = z
  .strictObject({
    region: text.optional(),
    access_key: text.optional(),
    secret_key: text.optional(),
    profile: text.optional(),
    role_arn: text.optional(),
    external_id: text.optional(),
    use_fips_sts_endpoint: bool.optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.access_key !== !c.secret_key) {
      ctx.addIssue({
        code: 'custom',
        path: [c.access_key ? 'secret_key' : 'access_key'],
        message: 'access_key and secret_key must be given together',
        params: AT_KEY,
      });
    }
  });

/** An HTTP(S) remote-write URL, or a NATS JetStream subject (src/nats/address.ts). */
const remoteWriteUrl = z.string().superRefine((s, ctx) => {
  if (isNatsUrl(s)) {
    try {
      parseNatsUrl(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
    return;
  }
  const problem = urlProblem(s, ['http:', 'https:']);
  if (problem) ctx.addIssue({ code: 'custom', message: problem.replace('must be http or https', 'must be http, https or nats') });
});

export const remoteWriteConfigSchema = z
  .strictObject({
    url: remoteWriteUrl,
    name: text.optional(),
    /** Tributary: labels added to every series sent to this URL (a series' own label wins). */
    labels: labelSet.default({}),
    remote_timeout: duration.default(30_000),
    headers: textMap.default({}),
    write_relabel_configs: relabelConfigsSchema.default([]),
    /** vmagent's -remoteWrite.streamAggr.*: aggregation and deduplication for this URL only, after its relabeling. */
    stream_aggr: streamAggrSchema.optional(),
    send_exemplars: bool.default(false),
    send_native_histograms: bool.default(false),
    round_robin_dns: bool.default(false),
    protobuf_message: z.enum(PROTOBUF_MESSAGES).default('prometheus.WriteRequest'),
    queue_config: queueConfigSchema.prefault({}),
    metadata_config: metadataConfigSchema.prefault({}),
    sigv4: sigv4Schema.optional(),
    azuread: opaqueMapping.optional(),
    google_iam: opaqueMapping.optional(),
    ...httpClientShape({ enable_http2: false }),
  })
  .superRefine((c, ctx) => {
    checkHttpClient(c, ctx);
    for (const name of Object.keys(c.headers)) {
      if (name.toLowerCase() === 'authorization') {
        ctx.addIssue({
          code: 'custom',
          path: ['headers', name],
          message: 'set the Authorization header with basic_auth, authorization or oauth2',
          params: AT_KEY,
        });
      } else if (isReservedHeader(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['headers', name],
          message: `header ${JSON.stringify(name)} is set by Tributary and cannot be configured`,
          params: AT_KEY,
        });
      }
    }
    const auths = (
      ['basic_auth', 'authorization', 'oauth2', ...CLOUD_AUTH] as const
    ).filter((k) => c[k] !== undefined);
    if (auths.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [auths[1]],
        message: `at most one of basic_auth, authorization, oauth2, sigv4, azuread and google_iam may be set (also set: ${auths[0]})`,
        params: AT_KEY,
      });
    }
    if (isNatsUrl(c.url)) {
      // what only an HTTP request carries would be dropped without a word
      const httpOnly = (['basic_auth', 'authorization', 'oauth2', 'tls_config', 'proxy_url', ...CLOUD_AUTH] as const).filter((k) => c[k] !== undefined);
      if (Object.keys(c.headers).length > 0) httpOnly.push('headers' as never);
      if (c.protobuf_message !== 'prometheus.WriteRequest') httpOnly.push('protobuf_message' as never);
      for (const k of httpOnly) {
        const message =
          k === 'tls_config'
            ? 'TLS to NATS is not supported yet (a nats:// URL is plain TCP, with its user and password in the URL)'
            : k === 'basic_auth'
              ? 'a nats:// URL takes its user and password in the URL (nats://user:password@host:port/subject)'
              : `${k} applies to HTTP URLs only, not to a nats:// URL`;
        ctx.addIssue({ code: 'custom', path: [k], message, params: AT_KEY });
      }
    }
    if (c.queue_config.min_shards > c.queue_config.max_shards) {
      ctx.addIssue({
        code: 'custom',
        path: ['queue_config', 'min_shards'],
        message: 'min_shards must not exceed max_shards',
      });
    }
    if (c.queue_config.min_backoff > c.queue_config.max_backoff) {
      ctx.addIssue({
        code: 'custom',
        path: ['queue_config', 'min_backoff'],
        message: 'min_backoff must not exceed max_backoff',
      });
    }
  })
  .transform(normalizeHttpClient);

export type RemoteWriteConfig = z.output<typeof remoteWriteConfigSchema>;
export type QueueConfig = z.output<typeof queueConfigSchema>;
export type MetadataConfig = z.output<typeof metadataConfigSchema>;

/**
 * What a remote_write entry's authentication keys load with but Tributary does not do; `at`
 * is the entry's path. Azure AD and Google IAM are refused loudly rather than dropped: their
 * URL gets nothing until the config changes.
 */
export function remoteWriteAuthWarnings(w: RemoteWriteConfig, at: KeyPath): { path: KeyPath; message: string }[] {
  const out: { path: KeyPath; message: string }[] = [];
  const where = formatPath(at);
  if (w.azuread !== undefined) {
    out.push({
      path: [...at, 'azuread'],
      message: `azuread: not supported; ${where} sends nothing (its data stays queued) — Azure AD client secrets work as oauth2 with token_url https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token and scopes [https://monitor.azure.com/.default]`,
    });
  }
  if (w.google_iam !== undefined) {
    out.push({ path: [...at, 'google_iam'], message: `google_iam: not supported; ${where} sends nothing (its data stays queued)` });
  }
  if (w.sigv4?.role_arn) {
    out.push({ path: [...at, 'sigv4', 'role_arn'], message: `STS AssumeRole is not supported; ${where} sends nothing (give the role's keys instead)` });
  }
  for (const key of ['external_id', 'use_fips_sts_endpoint'] as const) {
    if (w.sigv4?.[key] !== undefined) out.push({ path: [...at, 'sigv4', key], message: 'only used with role_arn, which is not supported; ignored' });
  }
  if (w.oauth2) out.push(...oauth2Warnings(w.oauth2, [...at, 'oauth2']));
  return out;
}
