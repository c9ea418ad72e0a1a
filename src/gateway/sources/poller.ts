/**
 * The schedule of a source refreshed in the background (HTTP `poll`, script `periodic`): the
 * first attempt at start, then one every interval, never two at once. Scrapes that arrive
 * before the first attempt has finished can wait for it, bounded by their own deadline, so a
 * freshly started gateway does not answer its first scrape with nothing.
 */

import type { SourceSnapshot } from '../source.js';
import type { PageState } from './page-state.js';

export type Refresh = (signal: AbortSignal) => Promise<void>;

export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private readonly closing = new AbortController();
  private running: Promise<void> | undefined;
  private firstDone = false;
  private readonly firstWaiters = new Set<() => void>();

  constructor(
    private readonly intervalMs: number,
    private readonly refresh: Refresh,
  ) {}

  start(): void {
    if (!this.closing.signal.aborted && !this.running && !this.timer) this.tick();
  }

  /** Resolves once the first attempt has finished, `timeoutMs` has passed, or `signal` aborts. */
  waitFirst(signal: AbortSignal, timeoutMs: number): Promise<void> {
    if (this.firstDone || signal.aborted || this.closing.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.firstWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.firstWaiters.add(done);
    });
  }

  /** What a scrape gets from a background-refreshed page: the latest, after the first attempt if none finished yet. */
  async latest(page: PageState, signal: AbortSignal, timeoutMs: number): Promise<SourceSnapshot> {
    if (page.attemptCount === 0) await this.waitFirst(signal, timeoutMs);
    return page.snapshot;
  }

  async close(): Promise<void> {
    this.closing.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of [...this.firstWaiters]) w();
    await this.running;
  }

  private tick(): void {
    this.timer = undefined;
    const started = Date.now();
    this.running = this.refresh(this.closing.signal)
      .catch(() => {
        // Refresh functions record their own failures; a throw here is a bug upstream, and
        // must not stop the schedule.
      })
      .finally(() => {
        this.running = undefined;
        if (!this.firstDone) {
          this.firstDone = true;
          for (const w of [...this.firstWaiters]) w();
        }
        if (this.closing.signal.aborted) return;
        // Keep the cadence from attempt start to attempt start; a slow attempt delays the next
        // one rather than stacking up behind it.
        const wait = Math.max(0, this.intervalMs - (Date.now() - started));
        this.timer = setTimeout(() => this.tick(), wait);
        this.timer.unref();
      });
  }
}
