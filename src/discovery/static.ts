/**
 * `static_configs`: the groups are the config itself, reported once. Sources are
 * `static/<index>` so that a reordered config changes identities the way Prometheus' does.
 */

import type { StaticConfig } from '../config/discovery.js';
import { ADDRESS_LABEL, type Discoverer, type TargetGroup, type UpdateHandler } from './target-group.js';

export class StaticDiscoverer implements Discoverer {
  private readonly groups: TargetGroup[];

  constructor(configs: readonly StaticConfig[]) {
    this.groups = configs.map((c, i) => ({
      source: `static/${i}`,
      targets: c.targets.map((t) => ({ [ADDRESS_LABEL]: t })),
      labels: { ...c.labels },
    }));
  }

  start(onUpdate: UpdateHandler): void {
    onUpdate(this.groups.map((g) => ({ ...g, targets: g.targets.map((t) => ({ ...t })), labels: { ...g.labels } })));
  }

  async close(): Promise<void> {}
}
