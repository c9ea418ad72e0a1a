/**
 * Where scrape targets come from. Static, file, HTTP, DNS, Consul and Kubernetes discovery (the
 * latter's rules in kubernetes-sd.ts) are validated key by key; every other `*_sd_configs` kind
 * Prometheus (or vmagent) knows is accepted as a list of mappings without looking inside, so
 * existing configs load, and the loader warns that those jobs discover nothing in Tributary yet.
 */

import * as z from 'zod';
import { consulApiUrl } from './consul-address.js';
import { checkHttpClient, httpClientShape, normalizeHttpClient } from './http-client-config.js';
import { AT_KEY, bool, duration, httpUrl, labelSet, opaqueMapping, text, textList, textMap, uint } from './fields.js';
import { kubernetesSdConfigSchema } from './kubernetes-sd.js';

export { kubernetesSdConfigSchema, type KubernetesSdConfig, type KubernetesRole } from './kubernetes-sd.js';

export const staticConfigSchema = z.strictObject({
  targets: z.array(text).default([]),
  labels: labelSet.default({}),
});

/** Prometheus' pattern: a directory, then at most one `*` in the file name, and a known extension. */
const FILE_SD_PATTERN = /^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$/;

export const fileSdConfigSchema = z.strictObject({
  files: z
    .array(
      z.string().refine((f) => FILE_SD_PATTERN.test(f), {
        error: (iss) =>
          `${JSON.stringify(iss.input)} is not a valid file_sd path: use a .json, .yml or .yaml file name, with at most one * in the file name`,
      }),
    )
    .min(1, { error: 'file_sd_configs needs at least one file' }),
  refresh_interval: duration.default(5 * 60_000),
});

export const httpSdConfigSchema = z
  .strictObject({
    url: httpUrl,
    refresh_interval: duration.default(60_000),
    ...httpClientShape({ enable_http2: true }),
  })
  .superRefine(checkHttpClient)
  .transform(normalizeHttpClient);

export const DNS_RECORD_TYPES = ['SRV', 'A', 'AAAA', 'MX', 'NS'] as const;

export const dnsSdConfigSchema = z
  .strictObject({
    names: z.array(text).min(1, { error: 'dns_sd_configs needs at least one name' }),
    // Prometheus accepts the type in any case.
    type: z
      .string()
      .transform((t) => t.toUpperCase())
      .pipe(z.enum(DNS_RECORD_TYPES))
      .default('SRV'),
    port: uint.optional(),
    refresh_interval: duration.default(30_000),
  })
  .superRefine((c, ctx) => {
    if (c.type !== 'SRV' && c.port === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `a port is required for ${c.type} records (only SRV records carry one)`,
      });
    }
  });

/**
 * Prometheus' consul_sd_config: its own keys and defaults, plus the HTTP client keys. The
 * deprecated `username`/`password` become `basic_auth` here (Prometheus folds them the same way
 * and refuses both at once), so the discoverer reads one form.
 */
export const consulSdConfigSchema = z
  .strictObject({
    server: text.default('localhost:8500'),
    path_prefix: text.default(''),
    token: text.optional(),
    datacenter: text.default(''),
    namespace: text.default(''),
    partition: text.default(''),
    tag_separator: text.default(','),
    scheme: text.default('http'),
    username: text.optional(),
    password: text.optional(),
    allow_stale: bool.default(true),
    refresh_interval: duration.default(30_000),
    services: textList.default([]),
    tags: textList.default([]),
    node_meta: textMap.default({}),
    filter: text.optional(),
    ...httpClientShape({ enable_http2: true }),
  })
  .superRefine((c, ctx) => {
    const server = (message: string) => ctx.addIssue({ code: 'custom', path: ['server'], message, params: AT_KEY });
    if (c.server.trim() === '') server('consul SD configuration requires a server address');
    else if (consulApiUrl(c, '/v1/agent/self') === undefined) {
      server(`${JSON.stringify(c.server)} with scheme ${JSON.stringify(c.scheme)} is not a valid Consul address`);
    }
    if ((c.username || c.password) && c.basic_auth) {
      ctx.addIssue({
        code: 'custom',
        path: ['basic_auth'],
        message: 'at most one of consul SD configuration username and password and basic auth can be configured',
        params: AT_KEY,
      });
    }
    if (c.token && (c.authorization || c.oauth2)) {
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: 'at most one of consul SD token, authorization, or oauth2 can be configured',
        params: AT_KEY,
      });
    }
    checkHttpClient(c, ctx);
  })
  .transform(({ username, password, ...c }) =>
    normalizeHttpClient(username || password ? { ...c, basic_auth: { username, password } } : c),
  );

/** Discovery kinds Tributary accepts but does not run yet. */
export const UNSUPPORTED_SD_KINDS = [
  'azure_sd_configs',
  'consulagent_sd_configs',
  'digitalocean_sd_configs',
  'docker_sd_configs',
  'dockerswarm_sd_configs',
  'ec2_sd_configs',
  'ecs_sd_configs',
  'eureka_sd_configs',
  'gce_sd_configs',
  'hetzner_sd_configs',
  'ionos_sd_configs',
  'kuma_sd_configs',
  'lightsail_sd_configs',
  'linode_sd_configs',
  'marathon_sd_configs',
  'nerve_sd_configs',
  'nomad_sd_configs',
  'openstack_sd_configs',
  'ovhcloud_sd_configs',
  'puppetdb_sd_configs',
  'scaleway_sd_configs',
  'serverset_sd_configs',
  'stackit_sd_configs',
  'triton_sd_configs',
  'uyuni_sd_configs',
  'vultr_sd_configs',
  'yandexcloud_sd_configs',
] as const;

export type UnsupportedSdKind = (typeof UNSUPPORTED_SD_KINDS)[number];

const unsupportedSdList = z.array(opaqueMapping).optional();

/** The discovery keys of a scrape config (and of an Alertmanager config, in Prometheus). */
export const discoveryShape = {
  static_configs: z.array(staticConfigSchema).default([]),
  file_sd_configs: z.array(fileSdConfigSchema).default([]),
  http_sd_configs: z.array(httpSdConfigSchema).default([]),
  dns_sd_configs: z.array(dnsSdConfigSchema).default([]),
  consul_sd_configs: z.array(consulSdConfigSchema).default([]),
  kubernetes_sd_configs: z.array(kubernetesSdConfigSchema).default([]),
  ...(Object.fromEntries(UNSUPPORTED_SD_KINDS.map((k) => [k, unsupportedSdList])) as Record<
    UnsupportedSdKind,
    typeof unsupportedSdList
  >),
};

export type StaticConfig = z.output<typeof staticConfigSchema>;
export type FileSdConfig = z.output<typeof fileSdConfigSchema>;
export type HttpSdConfig = z.output<typeof httpSdConfigSchema>;
export type DnsSdConfig = z.output<typeof dnsSdConfigSchema>;
export type ConsulSdConfig = z.output<typeof consulSdConfigSchema>;
