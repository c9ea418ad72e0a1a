/**
 * An export's batches: the batch window (chosen by the range's length, or given within
 * 30 s – 24 h), how an automatic one grows, and the aligned `[start, end)` windows the range
 * is read in, one request each.
 * Batches split further at run time (jobs.ts) when the source times out or refuses for too
 * many series; this module only says where the first cut lies.
 */

export const MIN_BATCH_WINDOW_MS = 30_000;
export const MAX_BATCH_WINDOW_MS = 24 * 3600_000;

export interface Batch {
  readonly startMs: number;
  readonly endMs: number;
}

/** The window for a range: 30 s up to 15 min, 1 min up to 6 h, 5 min beyond (as vmgather). */
export function autoBatchWindow(rangeMs: number): number {
  if (rangeMs <= 15 * 60_000) return 30_000;
  if (rangeMs <= 6 * 3600_000) return 60_000;
  return 5 * 60_000;
}

/**
 * An automatic window grows towards batches of about this many samples: VictoriaMetrics spends
 * some 0.2 s of CPU on each export request of 10k series whatever its window, so small batches
 * cost more in requests than in data (at 8 M samples the request's own cost is ~10% of the
 * batch's). Samples, not bytes, are projected: a line's labels cost the same in a short batch as
 * in a long one. 8 M samples are ~150 MiB of export lines, a second or two of the source's work;
 * not more: a resume redoes at most one batch, and the fsync of the last one is not overlapped.
 */
export const GROW_BATCH_SAMPLES = 8_000_000;
/** And of at most this many bytes (series with long labels). */
export const GROW_BATCH_BYTES = 512 << 20;
/** A batch slower than this stops an automatic window from growing. */
export const GROW_MAX_SECONDS = 5;
/** At most this many times wider per step (a probe of a sparse stretch says little about the rest). */
const GROW_MAX_FACTOR = 256;

/**
 * The next automatic window after a whole batch of `windowMs` took `seconds` and held `samples`
 * in `bytes`: undefined when it stays (slow, large enough, or at 24 h); `settled` when, by the
 * same measure, the new window will not grow again (its batches may then be requested ahead).
 * Powers of two: the windows stay multiples of the first, aligned as planBatches aligns them.
 */
export function growWindow(windowMs: number, seconds: number, samples: number, bytes: number): { windowMs: number; settled: boolean } | undefined {
  if (seconds >= GROW_MAX_SECONDS) return undefined;
  const fits = (f: number) => Math.max(samples, 1) * f <= GROW_BATCH_SAMPLES && bytes * f <= GROW_BATCH_BYTES;
  let factor = 1;
  while (factor < GROW_MAX_FACTOR && windowMs * factor < MAX_BATCH_WINDOW_MS && fits(factor * 2)) factor *= 2;
  if (factor === 1) return undefined;
  const next = Math.min(MAX_BATCH_WINDOW_MS, windowMs * factor);
  return { windowMs: next, settled: next >= MAX_BATCH_WINDOW_MS || !fits(factor * 2) };
}

/** Why a custom window is refused, or undefined when it is fine. */
export function batchWindowProblem(windowMs: number): string | undefined {
  if (!Number.isFinite(windowMs) || !Number.isInteger(windowMs)) return `batch window ${windowMs}: not a whole number of milliseconds`;
  if (windowMs < MIN_BATCH_WINDOW_MS || windowMs > MAX_BATCH_WINDOW_MS) {
    return `batch window ${formatDuration(windowMs)}: must be between 30s and 24h`;
  }
  return undefined;
}

/** Why a range is refused, or undefined. */
export function rangeProblem(startMs: number, endMs: number): string | undefined {
  if (!Number.isSafeInteger(startMs) || !Number.isSafeInteger(endMs)) return 'start and end must be whole Unix milliseconds';
  if (startMs < 0) return `start ${startMs}: before 1970`;
  if (endMs <= startMs) return `end (${new Date(endMs).toISOString()}) must be after start (${new Date(startMs).toISOString()})`;
  return undefined;
}

/**
 * The batches of `[startMs, endMs)`: cut at multiples of the window (so the batches of two
 * exports of overlapping ranges line up), the first and last clipped to the range.
 * Throws on a refused window or range (the callers check first and say where).
 */
export function planBatches(startMs: number, endMs: number, windowMs?: number): Batch[] {
  const rp = rangeProblem(startMs, endMs);
  if (rp) throw new Error(rp);
  const w = windowMs ?? autoBatchWindow(endMs - startMs);
  const wp = batchWindowProblem(w);
  if (wp) throw new Error(wp);
  const out: Batch[] = [];
  let s = startMs;
  while (s < endMs) {
    const next = Math.min(endMs, (Math.floor(s / w) + 1) * w);
    out.push({ startMs: s, endMs: next });
    s = next;
  }
  return out;
}

/** `90000` → `1m30s`, as the flags take durations (not whole seconds: `29999ms`). */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  let s = ms / 1000;
  const parts: string[] = [];
  for (const [unit, n] of [['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${unit}`);
      s %= n;
    }
  }
  return parts.join('');
}
