/**
 * Self-metrics of push ingestion, shared by the HTTP API and every socket listener: one set
 * per registry, since a registry refuses a second metric of the same name.
 */

import type { Counter, Gauge, Registry } from '../../selfmetrics/registry.js';

export interface PushMetrics {
  /** `{listener, protocol}`: payloads accepted into the store. */
  pushes: Counter;
  /** `{listener, reason}`: payloads, connections or requests refused, and why. */
  errors: Counter;
  /** `{listener, state}`: socket connections being read (`active`) and waiting for a slot (`waiting`). */
  connections: Gauge;
  /** What `connections` reads at each collection: one entry per listening socket listener, by name. */
  connectionCounts: Map<string, () => { active: number; waiting: number }>;
}

/** Why a push failed, as the `reason` label; a closed set so clients cannot mint series. */
export type PushErrorReason =
  | 'parse'
  | 'invalid'
  | 'bad_lines'
  | 'decode'
  | 'too_large'
  | 'timeout'
  | 'too_many_connections'
  | 'make_room'
  | 'limit'
  | 'bad_request';

const byRegistry = new WeakMap<Registry, PushMetrics>();

export function pushMetrics(registry: Registry): PushMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    const connectionCounts = new Map<string, () => { active: number; waiting: number }>();
    m = {
      pushes: registry.counter({
        name: 'tributary_gateway_pushes_total',
        help: 'Pushed payloads accepted, by listener and protocol.',
        labelNames: ['listener', 'protocol'],
      }),
      errors: registry.counter({
        name: 'tributary_gateway_push_errors_total',
        help: 'Pushes, messages and connections refused, by listener and reason.',
        labelNames: ['listener', 'reason'],
      }),
      connections: registry.gauge({
        name: 'tributary_gateway_push_connections',
        help: 'Socket listener connections being read (state="active") and waiting, unread, for a slot (state="waiting").',
        labelNames: ['listener', 'state'],
        collect: (g) => {
          for (const [listener, counts] of connectionCounts) {
            const { active, waiting } = counts();
            g.labels(listener, 'active').set(active);
            g.labels(listener, 'waiting').set(waiting);
          }
        },
      }),
      connectionCounts,
    };
    byRegistry.set(registry, m);
  }
  return m;
}
