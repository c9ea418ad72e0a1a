/**
 * One resource kind in one namespace (or all), kept current the way client-go's reflector
 * does: LIST, then WATCH from the list's resourceVersion with bookmarks, applying each event
 * to the store. A watch the server ends normally resumes at once from the last resourceVersion
 * seen; a broken one (connection refused or reset, server errors) resumes from it after a
 * back-off; 410 Gone (as the HTTP status or as a watch ERROR event) means that version has left
 * the server's window, so the resource is listed afresh. Nothing is removed from the store
 * because of a failure: while the API server is unreachable, the last known objects stand.
 */

import type { Logger } from '../../log/logger.js';
import { ApiError, type KubeClient, type WatchEvent } from './client.js';
import { objectKey, type KubeObject, type ObjectMeta } from './objects.js';

/** An API resource: where its objects are listed. */
export interface Resource {
  /** `/api/v1` or `/apis/<group>/<version>`. */
  readonly prefix: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export const RESOURCES = {
  pods: { prefix: '/api/v1', plural: 'pods', namespaced: true },
  services: { prefix: '/api/v1', plural: 'services', namespaced: true },
  endpoints: { prefix: '/api/v1', plural: 'endpoints', namespaced: true },
  nodes: { prefix: '/api/v1', plural: 'nodes', namespaced: false },
  endpointslices: { prefix: '/apis/discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true },
  ingresses: { prefix: '/apis/networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
} as const satisfies Record<string, Resource>;

export interface InformerTiming {
  /** First wait after a failure, doubled up to `maxBackoffMs` (client-go: 800ms to 30s). */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Asked of the server per watch; client-go picks 5 to 10 minutes at random, so clients spread. */
  readonly watchTimeoutSeconds: () => number;
}

export const DEFAULT_TIMING: InformerTiming = {
  initialBackoffMs: 800,
  maxBackoffMs: 30_000,
  watchTimeoutSeconds: () => Math.floor(300 * (1 + Math.random())),
};

/** A watch that ends this soon without an event is treated as a failure (no hot loop). */
const SHORT_WATCH_MS = 1000;

export class Informer<T extends KubeObject> {
  readonly store = new Map<string, T>();
  private listed = false;
  private resourceVersion: string | undefined;
  private running: Promise<void> | undefined;
  private readonly path: string;
  private readonly query = new URLSearchParams();

  constructor(
    private readonly api: KubeClient,
    resource: Resource,
    namespace: string | undefined,
    selector: { readonly label?: string | undefined; readonly field?: string | undefined } | undefined,
    private readonly timing: InformerTiming,
    private readonly signal: AbortSignal,
    private readonly log: Logger,
    /** Called after the first list and after every change of the store. */
    private readonly onChange: () => void,
    /** Called when a list fails (the store is kept). */
    private readonly onListFailed: (err: unknown) => void = () => {},
  ) {
    const ns = resource.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    this.path = `${resource.prefix}${ns}/${resource.plural}`;
    if (selector?.label) this.query.set('labelSelector', selector.label);
    if (selector?.field) this.query.set('fieldSelector', selector.field);
  }

  /** True once the first LIST has filled the store. */
  get synced(): boolean {
    return this.listed;
  }

  start(): void {
    this.running = this.run().catch((err: unknown) => this.log.error('kubernetes informer stopped unexpectedly', { path: this.path, err: err as Error }));
  }

  /** Resolves when the loop has stopped; the caller aborts the signal first. */
  async stopped(): Promise<void> {
    await this.running;
  }

  private async run(): Promise<void> {
    let backoff = this.timing.initialBackoffMs;
    const wait = async (): Promise<void> => {
      await sleep(backoff, this.signal);
      backoff = Math.min(backoff * 2, this.timing.maxBackoffMs);
    };
    while (!this.signal.aborted) {
      let listing = this.resourceVersion === undefined;
      const listedNow = listing;
      let watchStarted = Date.now();
      try {
        if (listing) {
          await this.list();
          listing = false;
        }
        watchStarted = Date.now();
        const events = await this.watch();
        if (events > 0 || Date.now() - watchStarted >= SHORT_WATCH_MS) backoff = this.timing.initialBackoffMs;
        else await wait();
      } catch (err) {
        if (this.signal.aborted) break;
        const e = err as ApiError;
        // the back-off grows only while failures follow each other closely
        if (!listing && Date.now() - watchStarted >= SHORT_WATCH_MS) backoff = this.timing.initialBackoffMs;
        if (e.status === 410) {
          // the version left the server's window: list again at once, unless a fresh list's
          // version was refused too (a server or proxy that answers 410 to everything)
          this.log.info('kubernetes watch expired; listing again', { path: this.path, err: e });
          this.resourceVersion = undefined;
          if (listedNow && Date.now() - watchStarted < SHORT_WATCH_MS) await wait();
          continue;
        }
        if (listing) this.onListFailed(e);
        this.log.warn(
          listing
            ? 'kubernetes list failed; keeping the current targets and retrying'
            : 'kubernetes watch failed; keeping the current targets and resuming',
          { path: this.path, err: e, retry_in_ms: backoff },
        );
        await wait();
      }
    }
  }

  private async list(): Promise<void> {
    const { items, resourceVersion } = await this.api.list(this.path, this.query, this.signal);
    if (this.signal.aborted) return;
    this.store.clear();
    for (const item of items) this.store.set(objectKey(item), slim(item) as T);
    this.resourceVersion = resourceVersion;
    this.listed = true;
    this.onChange();
  }

  private watch(): Promise<number> {
    return this.api.watch(this.path, this.query, this.resourceVersion!, this.timing.watchTimeoutSeconds(), this.signal, (e) => this.apply(e));
  }

  private apply(e: WatchEvent): void {
    if (this.signal.aborted) return;
    const o = e.object;
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.store.set(objectKey(o), slim(o) as T);
        break;
      case 'DELETED':
        this.store.delete(objectKey(o));
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        // a Status object; other errors (500s, 403s) end the watch, then a back-off and a fresh list
        if (o.code !== 410) this.resourceVersion = undefined;
        throw new ApiError(`watch error from the API server: ${o.message ?? o.reason ?? 'unknown'}`, o.code);
      default:
        return;
    }
    if (o.metadata?.resourceVersion) this.resourceVersion = o.metadata.resourceVersion;
    if (e.type !== 'BOOKMARK') this.onChange();
  }
}

/**
 * The object without `metadata.managedFields`, which no role reads and which is often the
 * larger part of an object (server-side apply records every field's manager): a cluster's
 * pods are held for as long as discovery runs.
 */
function slim(o: KubeObject): KubeObject {
  if (o.metadata === undefined || !('managedFields' in o.metadata)) return o;
  const { managedFields: _, ...metadata } = o.metadata as ObjectMeta & { managedFields?: unknown };
  return { ...o, metadata };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
