/**
 * The polling loop behind HTTP and DNS discovery (Prometheus' discovery/refresh): refresh at
 * once, then every interval, never two refreshes at a time. A refresh that fails returns
 * `undefined` and the last groups stand; an unchanged result is not re-reported, so a steady
 * service does not make consumers rebuild their targets every interval.
 */

import type { Logger } from '../log/logger.js';
import { GroupReporter, type FailureHandler, type TargetGroup, type UpdateHandler } from './target-group.js';

export type RefreshFn = (signal: AbortSignal) => Promise<TargetGroup[] | undefined>;

export class Refresher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly reporter: GroupReporter;
  /** A part of the refresh running now failed: its result does not end the failure. */
  private failedNow = false;

  constructor(
    private readonly intervalMs: number,
    private readonly refresh: RefreshFn,
    private readonly log: Logger,
  ) {
    this.reporter = new GroupReporter(log);
  }

  start(onUpdate: UpdateHandler, onFailure?: FailureHandler): void {
    this.reporter.start(onUpdate, onFailure);
    this.tick();
  }

  private tick(): void {
    if (this.abort.signal.aborted) return;
    this.running = this.runOnce()
      .catch((err: unknown) => this.log.error('discovery refresh failed unexpectedly', { err: err as Error }))
      .finally(() => {
      this.running = undefined;
      if (!this.abort.signal.aborted) this.timer = setTimeout(() => this.tick(), this.intervalMs);
    });
  }

  private async runOnce(): Promise<void> {
    this.failedNow = false;
    const groups = await this.refresh(this.abort.signal);
    if (groups === undefined || this.abort.signal.aborted) return;
    this.reporter.report(groups, !this.failedNow);
  }

  /** A refresh (or a part of one) failed: see GroupReporter.failed. */
  failed(err: unknown, what?: string): void {
    this.failedNow = true;
    this.reporter.failed(err, what);
  }

  async close(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.running;
  }
}
