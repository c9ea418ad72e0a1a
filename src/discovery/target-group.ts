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
 * Told what failed when a refresh fails (the last groups stand, and the discoverer has logged
 * it), and `undefined` at the next success: so the consumer can show that a job's discovery is
 * failing rather than leave it to the log.
 */
export type FailureHandler = (problem: string | undefined) => void;

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
  private onFailure: FailureHandler | undefined;
  private last: string | undefined;
  private failing = false;

  constructor(private readonly log: Logger) {}

  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void {
    this.onUpdate = onUpdate;
    this.onFailure = onFailure;
  }

  /** A refresh failed, for `what` (a file, a name, a service; empty for the whole source). */
  failed(err: unknown, what = ''): void {
    this.failing = true;
    const text = err instanceof Error ? err.message : String(err);
    this.tell(what === '' ? text : `${what}: ${text}`);
  }

  /** The current groups; `recovered`: no part of the refresh that made them failed. */
  report(groups: TargetGroup[], recovered = true): void {
    if (this.failing && recovered) {
      this.failing = false;
      this.tell(undefined);
    }
    const key = JSON.stringify(groups);
    if (key === this.last) return;
    this.last = key;
    deliver(this.onUpdate, groups, this.log);
  }

  private tell(problem: string | undefined): void {
    try {
      this.onFailure?.(problem);
    } catch (err) {
      this.log.error('a discovery consumer failed on a failure report', { err: err as Error });
    }
  }
}

export interface Discoverer {
  /**
   * Begins discovery. `onUpdate` receives the discoverer's complete current set each time
   * (never a delta), so a consumer can replace what it had; a group that vanished is simply
   * absent. Call once.
   */
  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void;
  /** Stops timers, watchers and requests; no update is delivered after it resolves. */
  close(): Promise<void>;
}
