/**
 * Service discovery (Prometheus' discovery package, reduced to static, file, HTTP, DNS, Consul
 * and Kubernetes — the latter in kubernetes/, one file per role plus the API client and informers):
 * this folder owns the discoverers, which turn `*_sd_configs` entries into target groups and
 * report each discoverer's full current set whenever it may have changed, and the parsing of
 * the `[{targets, labels}]` documents file and HTTP discovery share. One discoverer runs per
 * config entry (all of a job's static_configs form one). Combining updates per job, relabeling
 * and deduplicating targets belong to the scrape side, not here.
 */

import type { ConsulSdConfig, DnsSdConfig, FileSdConfig, HttpSdConfig, KubernetesSdConfig, StaticConfig } from '../config/discovery.js';
import { ConsulDiscoverer } from './consul-sd.js';
import type { Logger } from '../log/logger.js';
import { DnsDiscoverer } from './dns-sd.js';
import { FileDiscoverer } from './file-sd.js';
import { HttpDiscoverer } from './http-sd.js';
import { KubernetesDiscoverer } from './kubernetes/discoverer.js';
import { StaticDiscoverer } from './static.js';
import type { Discoverer } from './target-group.js';

export type { Discoverer, TargetGroup, UpdateHandler } from './target-group.js';
export { ADDRESS_LABEL } from './target-group.js';
export { StaticDiscoverer } from './static.js';
export { FileDiscoverer, FILEPATH_LABEL } from './file-sd.js';
export { HttpDiscoverer, URL_LABEL } from './http-sd.js';
export { DnsDiscoverer, type DnsResolver } from './dns-sd.js';
export { ConsulDiscoverer } from './consul-sd.js';
export { KubernetesDiscoverer, type KubernetesDiscovererOptions } from './kubernetes/discoverer.js';

export interface DiscoveryConfigs {
  readonly static_configs: readonly StaticConfig[];
  readonly file_sd_configs: readonly FileSdConfig[];
  readonly http_sd_configs: readonly HttpSdConfig[];
  readonly dns_sd_configs: readonly DnsSdConfig[];
  readonly consul_sd_configs: readonly ConsulSdConfig[];
  readonly kubernetes_sd_configs: readonly KubernetesSdConfig[];
}

/** Discoverers for the supported kinds; other `*_sd_configs` kinds are ignored here. */
export function createDiscoverers(c: DiscoveryConfigs, logger: Logger): Discoverer[] {
  const out: Discoverer[] = [];
  if (c.static_configs.length > 0) out.push(new StaticDiscoverer(c.static_configs));
  for (const f of c.file_sd_configs) out.push(new FileDiscoverer(f, logger));
  for (const h of c.http_sd_configs) out.push(new HttpDiscoverer(h, logger));
  for (const d of c.dns_sd_configs) out.push(new DnsDiscoverer(d, logger));
  for (const s of c.consul_sd_configs) out.push(new ConsulDiscoverer(s, logger));
  for (const k of c.kubernetes_sd_configs) out.push(new KubernetesDiscoverer(k, logger));
  return out;
}
