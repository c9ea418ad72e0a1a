/**
 * What every gateway source offers the merger: a named producer of metric families with a
 * version that changes exactly when its families do. Pulled sources (HTTP exporters, files,
 * scripts) and pushed apps all take this shape, so merging, labelling, health and the /apps
 * page treat them alike.
 *
 * The version is the cache key of everything downstream: a source whose version did not change
 * since the last scrape is neither re-parsed nor re-labelled nor re-rendered; one whose frame
 * layout did not change only has its values written again.
 */

import { EMPTY_FRAME, type PageFrame } from '../model/frame.js';

export type SourceKind = 'http' | 'file' | 'script' | 'push' | 'scrape';

/** What a source has to show at one moment. */
export interface SourceSnapshot {
  /**
   * The families, parsed (leniently) and not yet labelled; never mutated after being handed
   * out. Its layout stays the same object while only values change.
   */
  readonly frame: PageFrame;
  /** Same version ⇒ same frame. Unique per source across its lifetime; 0 = never had data. */
  readonly version: number;
  /** The last attempt succeeded (families are fresh); false: families are the last good ones, or none. */
  readonly ok: boolean;
  /** Why the last attempt failed (or what was dropped from an accepted page). */
  readonly error?: string;
  /** Lines dropped by the lenient parser in the page these families came from. */
  readonly droppedLines: number;
  /** Duration of the last attempt, seconds. */
  readonly durationSeconds: number;
  /** When the families were last obtained successfully, ms since the epoch; 0 = never. */
  readonly lastSuccessMs: number;
}

export const EMPTY_SNAPSHOT: SourceSnapshot = {
  frame: EMPTY_FRAME,
  version: 0,
  ok: false,
  droppedLines: 0,
  durationSeconds: 0,
  lastSuccessMs: 0,
};

/** Context of one scrape of an exposition path. */
export interface ScrapeContext {
  /** Aborted when the scraper goes away or the path's deadline passes. */
  readonly signal: AbortSignal;
  /** Query parameters of the scrape, for sources that forward them. */
  readonly params: URLSearchParams;
}

export interface GatewaySource {
  readonly name: string;
  readonly kind: SourceKind;
  /** Where the data comes from, for /apps: URL, file path, command, socket path or peer. */
  readonly origin: string;
  /**
   * The current snapshot. On-scrape sources fetch (respecting `ctx.signal` and their own
   * timeout) and never reject: failures come back as `ok: false` with the last good families
   * or none. Polled, watched and pushed sources answer from what they hold.
   */
  snapshot(ctx: ScrapeContext): Promise<SourceSnapshot>;
  /** Stops timers, watchers and child processes. */
  close(): Promise<void>;
}

/** Version numbers shared by all sources: a fresh number can never repeat an old one. */
let lastVersion = 0;
export function nextVersion(): number {
  return ++lastVersion;
}
