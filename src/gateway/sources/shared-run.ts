/**
 * One execution shared by every scrape that wants it (reverse_exporter's `exec`): a scrape that
 * arrives while a run is under way waits for that run instead of starting another, and the run
 * is cancelled as soon as nobody is waiting for it any more, so an abandoned scrape never leaves
 * work running for no one.
 */

export type Outcome<T> = { readonly aborted: false; readonly value: T } | { readonly aborted: true };

interface Run<T> {
  readonly controller: AbortController;
  readonly waiters: Set<(o: Outcome<T>) => void>;
}

export class SharedRun<T> {
  private current: Run<T> | undefined;

  /** `start` must not reject; its result goes to every waiter still there when it ends. */
  constructor(private readonly start: (signal: AbortSignal) => Promise<T>) {}

  /** Whether a run is under way (with at least one waiter). */
  get active(): boolean {
    return this.current !== undefined;
  }

  join(signal: AbortSignal): Promise<Outcome<T>> {
    if (signal.aborted) return Promise.resolve({ aborted: true });
    let run = this.current;
    if (!run) {
      const fresh: Run<T> = { controller: new AbortController(), waiters: new Set() };
      this.current = run = fresh;
      void this.start(fresh.controller.signal).then((value) => {
        if (this.current === fresh) this.current = undefined;
        for (const w of [...fresh.waiters]) w({ aborted: false, value });
      });
    }
    const joined = run;
    return new Promise<Outcome<T>>((resolve) => {
      const waiter = (o: Outcome<T>): void => {
        signal.removeEventListener('abort', onAbort);
        joined.waiters.delete(waiter);
        resolve(o);
      };
      const onAbort = (): void => {
        waiter({ aborted: true });
        if (joined.waiters.size === 0) {
          // Detach first: a scrape arriving while the cancelled run winds down starts afresh
          // rather than joining a run that will only ever report its own cancellation.
          if (this.current === joined) this.current = undefined;
          joined.controller.abort();
        }
      };
      joined.waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Cancels the run under way; its waiters are told they were aborted. */
  cancel(): void {
    const run = this.current;
    if (!run) return;
    this.current = undefined;
    for (const w of [...run.waiters]) w({ aborted: true });
    run.controller.abort();
  }
}
