/**
 * `kubernetes_sd_configs`: one discoverer per config entry, running the informers its role
 * needs (the role's own resource in each namespace; services and pods for endpoints and
 * endpointslice; nodes for `attach_metadata`) and, once all have listed, rebuilding the role's
 * groups from their stores whenever one changes. Changes are coalesced: the first event after
 * a delivery starts a short timer and everything that arrives meanwhile goes into one update,
 * so a rollout's burst of pod events is one delivery (Prometheus' discovery manager throttles
 * the same way, every 5s). Groups are sorted by source, and an unchanged set is not re-sent.
 */

import type { KubernetesRole, KubernetesSdConfig } from '../../config/discovery.js';
import type { Logger } from '../../log/logger.js';
import { GroupReporter, type Discoverer, type FailureHandler, type TargetGroup, type UpdateHandler } from '../target-group.js';
import { KubeClient } from './client.js';
import { connect, ownNamespace, type ConnectionOptions } from './connection.js';
import { endpointsGroup, type EndpointLookups } from './endpoints.js';
import { endpointSliceGroup } from './endpointslice.js';
import { ingressGroup } from './ingress.js';
import { DEFAULT_TIMING, Informer, RESOURCES, sleep, type InformerTiming, type Resource } from './informer.js';
import { nodeGroup } from './node.js';
import type { Endpoints, EndpointSlice, Ingress, KubeObject, Lookup, Node, Pod, Service } from './objects.js';
import { podGroup } from './pod.js';
import { serviceGroup } from './service.js';

export interface KubernetesDiscovererOptions {
  /** Default process.env: the in-cluster variables and TRIBUTARY_KUBERNETES_SERVICE_ACCOUNT_DIR. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the service account's token, ca.crt and namespace are; see connection.ts. */
  readonly serviceAccountDir?: string;
  readonly timing?: Partial<InformerTiming>;
  /** How long changes are collected before one delivery. */
  readonly coalesceMs?: number;
}

const COALESCE_MS = 200;

/** Informers of one resource, one per namespace, read as one store. */
class Informers<T extends KubeObject> implements Lookup<T> {
  constructor(readonly all: Informer<T>[]) {}
  get(key: string): T | undefined {
    for (const i of this.all) {
      const o = i.store.get(key);
      if (o !== undefined) return o;
    }
    return undefined;
  }
  *values(): Iterable<T> {
    for (const i of this.all) yield* i.store.values();
  }
}

export class KubernetesDiscoverer implements Discoverer {
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private readonly informers: Pick<Informer<KubeObject>, 'synced' | 'start' | 'stopped'>[] = [];
  private build: (() => TargetGroup[]) | undefined;
  private readonly reporter: GroupReporter;
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private readonly timing: InformerTiming;
  private readonly connection: ConnectionOptions;

  constructor(
    private readonly config: KubernetesSdConfig,
    logger: Logger,
    private readonly options: KubernetesDiscovererOptions = {},
  ) {
    this.log = logger.child({ discovery: 'kubernetes', role: config.role });
    this.reporter = new GroupReporter(this.log);
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.connection = { env: options.env ?? process.env, serviceAccountDir: options.serviceAccountDir };
  }

  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void {
    this.reporter.start(onUpdate, onFailure);
    this.starting = this.setUp();
  }

  /** Connects, retrying with the longest back-off while that fails (a kubeconfig still being written). */
  private async setUp(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const conn = await connect(this.config, this.connection);
        const namespaces = await this.namespaces();
        if (signal.aborted) return void (await conn.client.close());
        signal.addEventListener('abort', () => void conn.client.close(), { once: true });
        this.build = this.createInformers(new KubeClient(conn.server, conn.client), namespaces);
        for (const i of this.informers) i.start();
        return;
      } catch (err) {
        this.log.error('cannot set up Kubernetes discovery; retrying', { err: err as Error });
        this.reporter.failed(err);
        await sleep(this.timing.maxBackoffMs, signal);
      }
    }
  }

  /** The namespaces to watch; `[undefined]` for all of them. */
  private async namespaces(): Promise<(string | undefined)[]> {
    const names = [...this.config.namespaces.names];
    if (this.config.namespaces.own_namespace) names.push(await ownNamespace(this.connection));
    return names.length === 0 ? [undefined] : [...new Set(names)];
  }

  /** Starts nothing: makes the informers of the role and returns how groups are built from them. */
  private createInformers(api: KubeClient, namespaces: (string | undefined)[]): () => TargetGroup[] {
    const make = <T extends KubeObject>(role: KubernetesRole, resource: Resource): Informers<T> => {
      const selector = this.config.selectors.find((s) => s.role === role);
      const spaces = resource.namespaced ? namespaces : [undefined];
      const made = spaces.map(
        (ns) => new Informer<T>(api, resource, ns, selector, this.timing, this.abort.signal, this.log, () => this.changed(), (err) => this.reporter.failed(err)),
      );
      this.informers.push(...made);
      return new Informers(made);
    };
    const nodesIfAttached = (): Informers<Node> | undefined => (this.config.attach_metadata.node ? make<Node>('node', RESOURCES.nodes) : undefined);
    const each = <T>(store: Lookup<T>, group: (o: T) => TargetGroup | undefined): TargetGroup[] => [...store.values()].flatMap((o) => group(o) ?? []);

    switch (this.config.role) {
      case 'pod': {
        const pods = make<Pod>('pod', RESOURCES.pods);
        const nodes = nodesIfAttached();
        return () => each(pods, (p) => podGroup(p, nodes));
      }
      case 'node': {
        const nodes = make<Node>('node', RESOURCES.nodes);
        return () => each(nodes, nodeGroup);
      }
      case 'service': {
        const services = make<Service>('service', RESOURCES.services);
        return () => each(services, serviceGroup);
      }
      case 'ingress': {
        const ingresses = make<Ingress>('ingress', RESOURCES.ingresses);
        return () => each(ingresses, ingressGroup);
      }
      case 'endpoints': {
        const endpoints = make<Endpoints>('endpoints', RESOURCES.endpoints);
        const lookups: EndpointLookups = { services: make('service', RESOURCES.services), pods: make('pod', RESOURCES.pods), nodes: nodesIfAttached() };
        return () => each(endpoints, (e) => endpointsGroup(e, lookups));
      }
      case 'endpointslice': {
        const slices = make<EndpointSlice>('endpointslice', RESOURCES.endpointslices);
        const lookups: EndpointLookups = { services: make('service', RESOURCES.services), pods: make('pod', RESOURCES.pods), nodes: nodesIfAttached() };
        return () => each(slices, (s) => endpointSliceGroup(s, lookups));
      }
    }
  }

  /** An informer's store changed: deliver once the burst is over, and only when every informer has listed. */
  private changed(): void {
    if (this.timer !== undefined || this.abort.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.report();
    }, this.options.coalesceMs ?? COALESCE_MS);
  }

  private report(): void {
    if (this.abort.signal.aborted || this.build === undefined) return;
    if (!this.informers.every((i) => i.synced)) return;
    const groups = this.build().sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
    this.reporter.report(groups);
  }

  async close(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.starting;
    await Promise.all(this.informers.map((i) => i.stopped()));
  }
}
