/**
 * What every discoverer produces and how consumers receive it, shaped like Prometheus'
 * targetgroup.Group and Discoverer so that relabeling and target building can follow
 * Prometheus' semantics without translation.
 */

import type { Logger } from '../log/logger.js';

/** Prometheus' targetgroup.Group. */
export interface TargetGroup {
  /** Unique within its discoverer; lets consumers match an updated group to its predecessor. */
  source: string;
  /** One label set per target; each has `__address__`, plus the target's own labels. */
  targets: Record<string, string>[];
  /** Labels shared by every target of the group (a target's own label wins). */
  labels: Record<string, string>;
}

export const ADDRESS_LABEL = '__address__';

export type UpdateHandler = (groups: TargetGroup[]) => void;

/**
 * Hands groups to the consumer from a timer or watcher callback, where a throw would become an
 * unhandled error and stop the process: a consumer's failure is logged and discovery goes on.
 */
function deliver(onUpdate: UpdateHandler | undefined, groups: TargetGroup[], log: Logger): void {
  try {
    onUpdate?.(groups);
  } catch (err) {
    log.error('a discovery consumer failed on an update', { err: err as Error });
  }
}

/**
 * Where a discoverer sends its groups: the consumer, given them only when they differ from what
 * it was given last, so a steady source does not make consumers rebuild their targets.
 */
export class GroupReporter {
  private onUpdate: UpdateHandler | undefined;
  private last: string | undefined;

  constructor(private readonly log: Logger) {}

  start(onUpdate: UpdateHandler): void {
    this.onUpdate = onUpdate;
  }

  report(groups: TargetGroup[]): void {
    const key = JSON.stringify(groups);
    if (key === this.last) return;
    this.last = key;
    deliver(this.onUpdate, groups, this.log);
  }
}

export interface Discoverer {
  /**
   * Begins discovery. `onUpdate` receives the discoverer's complete current set each time
   * (never a delta), so a consumer can replace what it had; a group that vanished is simply
   * absent. Call once.
   */
  start(onUpdate: UpdateHandler): void;
  /** Stops timers, watchers and requests; no update is delivered after it resolves. */
  close(): Promise<void>;
}
