/**
 * Micro-benchmark plumbing shared by `npm run bench` suites: interleaved rounds so that load
 * from other processes hits every contender alike, CPU time (user+system) rather than wall
 * time, and the best round reported, which is the least disturbed one.
 */

export interface Contender {
  name: string;
  /** One unit of work; returns something so the engine cannot drop it. */
  run: () => unknown;
}

export interface Result {
  name: string;
  /** CPU nanoseconds per run, best round. */
  nsPerRun: number;
}

let sink: unknown;

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Runs each contender `rounds` times for about `roundMs` each, interleaved. */
export function compare(contenders: readonly Contender[], rounds = 7, roundMs = 300): Result[] {
  const best = new Map<string, number>();
  for (const c of contenders) {
    // warm-up: let the optimising compiler settle
    const until = performance.now() + roundMs;
    while (performance.now() < until) sink = c.run();
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      let n = 0;
      const start = cpuNs();
      const until = performance.now() + roundMs;
      while (performance.now() < until) {
        sink = c.run();
        n++;
      }
      const ns = (cpuNs() - start) / n;
      const prev = best.get(c.name);
      if (prev === undefined || ns < prev) best.set(c.name, ns);
    }
  }
  void sink;
  return contenders.map((c) => ({ name: c.name, nsPerRun: best.get(c.name) ?? NaN }));
}
