/**
 * `consul_sd_configs`: Prometheus' Consul discovery (discovery/consul, 2.42 on). The catalog's
 * service list is watched with blocking queries and every wanted service gets a watch of its
 * own on the health endpoint, which yields one group per service (source: its name) with a
 * target per instance. When `services` names them all and no `tags` are set, the catalog is
 * not read: those services are watched directly, as Prometheus does.
 *
 * Each watch asks again at most once per refresh_interval (Prometheus' throttle against
 * Consul's spurious wake-ups), blocks up to two minutes on the last X-Consul-Index, and after a
 * failure waits a retry interval with the targets it had; only the catalog dropping a service
 * removes its group. The token goes in the X-Consul-Token header, never in a URL or a log.
 */

import { setTimeout as delay } from 'node:timers/promises';
import type { ConsulSdConfig } from '../config/discovery.js';
import { consulApiUrl } from '../config/consul-address.js';
import { MEDIA_JSON } from '../formats/media-types.js';
import type { Logger } from '../log/logger.js';
import { fetchPage, HttpClient } from '../outbound/index.js';
import { ADDRESS_LABEL, GroupReporter, type Discoverer, type FailureHandler, type TargetGroup, type UpdateHandler } from './target-group.js';

const META = '__meta_consul_';
export const CONSUL_SERVICE_LABEL = `${META}service`;
export const CONSUL_DC_LABEL = `${META}dc`;

/** Prometheus' constants; tests shorten them. */
export interface ConsulTiming {
  /** How long Consul may hold a blocking query (`wait`). */
  readonly waitMs: number;
  /** The pause after a failed request, before the next refresh_interval tick. */
  readonly retryMs: number;
}
const PROMETHEUS_TIMING: ConsulTiming = { waitMs: 120_000, retryMs: 15_000 };
/** Beyond `wait`: Consul adds up to wait/16 of jitter (Prometheus' client allows 15 s). */
const TIMEOUT_MARGIN_MS = 15_000;
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

interface ServiceWatch {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

export class ConsulDiscoverer implements Discoverer {
  private readonly client: HttpClient;
  private readonly log: Logger;
  private readonly closing = new AbortController();
  private readonly watches = new Map<string, ServiceWatch>();
  private readonly groups = new Map<string, TargetGroup>();
  private running: Promise<void> | undefined;
  private datacenter: string;
  private readonly reporter: GroupReporter;

  constructor(
    private readonly config: ConsulSdConfig,
    logger: Logger,
    private readonly timing: ConsulTiming = PROMETHEUS_TIMING,
  ) {
    this.client = new HttpClient(config);
    this.datacenter = config.datacenter;
    // the origin alone: a `server` written with userinfo must not reach the log
    this.log = logger.child({ discovery: 'consul', server: consulApiUrl(config, '')!.origin });
    this.reporter = new GroupReporter(this.log);
  }

  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void {
    this.reporter.start(onUpdate, onFailure);
    this.running = this.run().catch((err: unknown) => this.log.error('consul_sd stopped unexpectedly', { err: err as Error }));
  }

  async close(): Promise<void> {
    this.closing.abort();
    // once the catalog loop has ended no watch can start; then every watch is stopped
    await this.running;
    for (const w of this.watches.values()) w.stop.abort();
    await Promise.all([...this.watches.values()].map((w) => w.done));
    await this.client.close();
  }

  private async run(): Promise<void> {
    const signal = this.closing.signal;
    if (this.datacenter === '') this.datacenter = await this.agentDatacenter(signal);
    if (signal.aborted) return;
    const { services, tags } = this.config;
    if (services.length > 0 && tags.length === 0) {
      for (const name of services) this.watch(name);
      return;
    }
    let index = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const r = await this.get('/v1/catalog/services', index, {}, signal);
        const next = nextIndex(index, r.index);
        if (next !== undefined) {
          index = next;
          this.followCatalog(catalogServices(r.body));
        }
      } catch (err) {
        if (signal.aborted) return;
        this.log.error('consul_sd cannot refresh the service list; keeping the current services', { err: err as Error });
        this.reporter.failed(err, 'the service list');
        await pause(this.timing.retryMs, signal);
      }
      await pause(this.config.refresh_interval - (Date.now() - started), signal);
    }
  }

  /** New wanted services get a watch; services gone from the catalog lose theirs and their group. */
  private followCatalog(catalog: Map<string, string[]>): void {
    for (const [name, tags] of catalog) {
      if (!this.watches.has(name) && this.wanted(name, tags)) this.watch(name);
    }
    let removed = false;
    for (const [name, w] of this.watches) {
      if (catalog.has(name)) continue;
      w.stop.abort();
      this.watches.delete(name);
      removed = this.groups.delete(name) || removed;
    }
    // an empty catalog is reported too, so that the job's first sync need not wait for a timeout
    if (removed || this.watches.size === 0) this.report();
  }

  /** Prometheus' shouldWatch: a listed name (or any, with no list) carrying every configured tag. */
  /** Public for tests. */
  wanted(name: string, tags: readonly string[]): boolean {
    const { services, tags: required } = this.config;
    return (services.length === 0 || services.includes(name)) && required.every((t) => tags.includes(t));
  }

  private watch(name: string): void {
    if (this.closing.signal.aborted) return;
    const stop = new AbortController();
    this.watches.set(name, { stop, done: this.watchService(name, stop.signal) });
  }

  private async watchService(name: string, signal: AbortSignal): Promise<void> {
    const path = `/v1/health/service/${encodeURIComponent(name)}`;
    let index = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const r = await this.get(path, index, { tag: this.config.tags }, signal);
        const next = nextIndex(index, r.index);
        if (next !== undefined && !signal.aborted) {
          index = next;
          this.groups.set(name, this.group(name, r.body));
          this.report();
        }
      } catch (err) {
        if (signal.aborted) return;
        this.log.error('consul_sd cannot refresh a service; keeping its targets', { service: name, err: err as Error });
        this.reporter.failed(err, `service ${name}`);
        await pause(this.timing.retryMs, signal);
      }
      await pause(this.config.refresh_interval - (Date.now() - started), signal);
    }
  }

  private report(): void {
    if (this.closing.signal.aborted) return;
    const groups = [...this.groups.keys()].sort().map((n) => this.groups.get(n)!);
    this.reporter.report(groups);
  }

  /** The local agent's datacenter, which labels every group: asked until it answers (or close). */
  private async agentDatacenter(signal: AbortSignal): Promise<string> {
    while (!signal.aborted) {
      try {
        const { body } = await this.get('/v1/agent/self', undefined, {}, signal);
        const dc = (body as { Config?: { Datacenter?: unknown } } | null)?.Config?.Datacenter;
        if (typeof dc === 'string') return dc;
        throw new Error(`invalid value ${JSON.stringify(dc) ?? 'undefined'} for Config.Datacenter`);
      } catch (err) {
        if (!signal.aborted) {
          this.log.error('consul_sd cannot learn the local datacenter from the agent (/v1/agent/self); retrying', { err: err as Error });
          this.reporter.failed(err, 'the local agent (/v1/agent/self)');
        }
        await pause(this.timing.retryMs, signal);
      }
    }
    return '';
  }

  /**
   * One GET with the query parameters hashicorp/consul/api sends, in its (sorted) order; a
   * blocking query when `index` is given.
   */
  private async get(
    path: string,
    index: number | undefined,
    extra: { tag?: readonly string[] },
    signal: AbortSignal,
  ): Promise<{ body: unknown; index: number }> {
    const c = this.config;
    const q: [string, string][] = [];
    if (c.datacenter) q.push(['dc', c.datacenter]);
    if (index !== undefined) {
      if (c.filter) q.push(['filter', c.filter]);
      if (index > 0) q.push(['index', String(index)]);
      for (const [k, v] of Object.entries(c.node_meta).sort(([a], [b]) => (a < b ? -1 : 1))) q.push(['node-meta', `${k}:${v}`]);
    }
    if (c.namespace) q.push(['ns', c.namespace]);
    if (c.partition) q.push(['partition', c.partition]);
    if (index !== undefined) {
      if (c.allow_stale) q.push(['stale', '']);
      for (const t of extra.tag ?? []) q.push(['tag', t]);
      q.push(['wait', `${this.timing.waitMs}ms`]);
    }
    const url = consulApiUrl(c, path)!;
    url.search = new URLSearchParams(q).toString();
    const shownUrl = `${url.origin}${url.pathname}`;
    const headers = await this.client.headers();
    if (c.token) headers['x-consul-token'] = c.token;
    const res = await fetchPage(
      {
        url,
        shownUrl,
        client: this.client,
        headers,
        accept: MEDIA_JSON,
        timeoutMs: this.timing.waitMs + TIMEOUT_MARGIN_MS,
        timeoutHeader: null,
        maxBodyBytes: MAX_RESPONSE_BYTES,
        limitName: 'the Consul response limit',
        responseHeader: 'x-consul-index',
      },
      signal,
    );
    if (!res.ok) throw new Error(res.error);
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new Error(`invalid JSON from ${shownUrl}: ${(err as Error).message}`);
    }
    if (index === undefined) return { body, index: 0 };
    // hashicorp/consul/api refuses an answer without it as well
    if (res.header === undefined || !/^\d+$/.test(res.header.trim())) {
      throw new Error(`no valid X-Consul-Index from ${shownUrl}: ${JSON.stringify(res.header)}`);
    }
    return { body, index: Number(res.header.trim()) };
  }

  /** One service's instances as Prometheus labels them. */
  private group(name: string, body: unknown): TargetGroup {
    if (!Array.isArray(body)) throw new Error(`expected a list of service instances for ${name}`);
    const sep = this.config.tag_separator;
    const targets = body.map((entry: HealthEntry | null) => {
      const node = entry?.Node ?? {};
      const svc = entry?.Service ?? {};
      const port = String(svc.Port ?? 0);
      const labels: Record<string, string> = {
        [ADDRESS_LABEL]: joinHostPort(svc.Address || node.Address || '', port),
        [`${META}address`]: node.Address ?? '',
        [`${META}node`]: node.Node ?? '',
        [`${META}namespace`]: svc.Namespace ?? '',
        [`${META}partition`]: svc.Partition ?? '',
        // separators at both ends, so relabeling regexes need not care where a tag sits
        [`${META}tags`]: sep + (svc.Tags ?? []).join(sep) + sep,
        [`${META}service_address`]: svc.Address ?? '',
        [`${META}service_port`]: port,
        [`${META}service_id`]: svc.ID ?? '',
        [`${META}health`]: aggregatedStatus(entry?.Checks ?? []),
      };
      for (const [k, v] of Object.entries(node.Meta ?? {})) labels[`${META}metadata_${sanitizeLabelName(k)}`] = v;
      for (const [k, v] of Object.entries(svc.Meta ?? {})) labels[`${META}service_metadata_${sanitizeLabelName(k)}`] = v;
      for (const [k, v] of Object.entries(node.TaggedAddresses ?? {})) labels[`${META}tagged_address_${sanitizeLabelName(k)}`] = v;
      return labels;
    });
    return { source: name, targets, labels: { [CONSUL_SERVICE_LABEL]: name, [CONSUL_DC_LABEL]: this.datacenter } };
  }
}

/** The fields of a /v1/health/service entry that become labels. */
interface HealthEntry {
  Node?: { Node?: string; Address?: string; Meta?: Record<string, string>; TaggedAddresses?: Record<string, string> };
  Service?: {
    ID?: string;
    Tags?: string[] | null;
    Address?: string;
    Port?: number;
    Meta?: Record<string, string>;
    Namespace?: string;
    Partition?: string;
  };
  Checks?: { CheckID?: string; Status?: string }[];
}

/**
 * The index to wait on after an answer with `got`, or undefined when nothing changed (the wait
 * ran out). Consul's rules for blocking queries: an index that went backwards starts over from
 * 0, and one below 1 (a Consul bug) is taken as 1 so the next query still blocks.
 */
export function nextIndex(last: number, got: number): number | undefined {
  if (got === last && last > 0) return undefined;
  if (got < last) return 0;
  return Math.max(got, 1);
}

function catalogServices(body: unknown): Map<string, string[]> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('expected a mapping of service names to tags');
  return new Map(Object.entries(body as Record<string, string[] | null>).map(([n, tags]) => [n, tags ?? []]));
}

/** hashicorp/consul/api's HealthChecks.AggregatedStatus: maintenance > critical > warning > passing. */
export function aggregatedStatus(checks: readonly { CheckID?: string; Status?: string }[]): string {
  let maintenance = false;
  let critical = false;
  let warning = false;
  for (const c of checks) {
    const id = c.CheckID ?? '';
    if (id === '_node_maintenance' || id.startsWith('_service_maintenance:')) {
      maintenance = true;
      continue;
    }
    if (c.Status === 'critical') critical = true;
    else if (c.Status === 'warning') warning = true;
    else if (c.Status !== 'passing') return '';
  }
  return maintenance ? 'maintenance' : critical ? 'critical' : warning ? 'warning' : 'passing';
}

/** Prometheus' strutil.SanitizeLabelName (one `_` per character, as Go's regexp works on runes). */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/gu, '_');
}

/** Go's net.JoinHostPort: IPv6 literals get brackets. */
function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Waits `ms` (nothing when ≤ 0), or less when `signal` aborts; never rejects. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  await delay(ms, undefined, { signal }).catch(() => {});
}
