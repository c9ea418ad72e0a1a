/**
 * One target's scrape loop, after Prometheus' scrapeLoop: scrapes at a fixed phase of the
 * interval (so targets spread over it, and a target keeps its phase across restarts and
 * reloads), streams the page through the parser into the target's series cache, and hands
 * one batch per scrape to the sink — the page's samples, staleness markers for series that
 * went away, and the five series Prometheus adds per target (up, scrape_duration_seconds,
 * scrape_samples_scraped, scrape_samples_post_metric_relabeling, scrape_series_added; vmagent's
 * scrape_samples_limit when a sample_limit is set; with extra_scrape_metrics, Prometheus'
 * scrape_timeout_seconds, scrape_sample_limit, scrape_body_size_bytes and vmagent's
 * scrape_response_size_bytes). A
 * scrape that fails (network, HTTP status, content type, parse error, a limit) keeps none of
 * its samples: it counts as an empty page, so everything from the previous scrape goes stale.
 */

import type { MetadataStore } from './metadata.js';
import type { ScrapeProtocol } from '../config/scrape.js';
import type { Logger } from '../log/logger.js';
import { Labels, LabelsBuilder, METRIC_NAME } from '../model/labels.js';
import { SampleBatchPool, type SampleBatch } from '../model/samples.js';
import { type BodyConsumer, type FetchSpec, fetchStream, type HttpClient, type StreamResult } from '../outbound/index.js';
import type { ClusterMembership } from './cluster.js';
import type { SampleSink } from '../pipeline/index.js';
import type { CounterChild } from '../selfmetrics/registry.js';
import { PageReader, type SampleSource } from './page-reader.js';
import { SeriesCache, type SeriesRules } from './series-cache.js';
import type { ActiveTargetStatus, TargetHealth } from './status.js';
import { SeriesLimiter } from './series-limit.js';
import { scrapePhase, type ScrapeTarget } from './target.js';

/**
 * Metadata (TYPE, HELP, UNIT) is read from every this many scrapes of a target, starting with
 * the first: it is sent once a minute and rarely changes, and reading it costs a string per
 * family and page.
 */
const METADATA_EVERY = 10;

/** What all loops of one job share. */
export interface JobContext {
  readonly name: string;
  readonly client: HttpClient;
  readonly rules: SeriesRules;
  readonly metadata: MetadataStore;
  readonly honorTimestamps: boolean;
  readonly trackTimestampsStaleness: boolean;
  readonly accept: string;
  readonly fallbackProtocol: ScrapeProtocol | undefined;
  /** Infinity: no limit. */
  readonly bodySizeLimit: number;
  readonly extraMetrics: boolean;
  readonly compression: boolean;
  /** vmagent's no_stale_markers: the job writes no staleness markers. */
  readonly noStaleMarkers?: boolean;
  readonly sink: SampleSink;
  readonly log: Logger;
  readonly counters: JobCounters;
  /** Which targets are this member's in a scrape cluster, and its phase shift. */
  readonly cluster: ClusterMembership;
}

export interface JobCounters {
  readonly scrapes: CounterChild;
  readonly failed: CounterChild;
  readonly samplesScraped: CounterChild;
  readonly samplesAdded: CounterChild;
  readonly staleMarkers: CounterChild;
  readonly duplicates: CounterChild;
  readonly fallbackContentType: CounterChild;
  /** Failed refreshes of the job's service discovery. */
  readonly discoveryFailures: CounterChild;
}

const AUTO_NAMES = [
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
] as const;
/** vmagent writes it only for targets with a limit. */
const LIMIT_NAME = 'scrape_samples_limit';
/**
 * Prometheus' extra scrape metrics (2.42: a feature flag; 3: `extra_scrape_metrics`) and
 * vmagent's response size, in the order written.
 */
const EXTRA_NAMES = ['scrape_timeout_seconds', 'scrape_sample_limit', 'scrape_body_size_bytes', 'scrape_response_size_bytes'] as const;

/** The first time after `now` at `phase` within the interval (epoch-aligned, like Prometheus). */
export function nextScrapeTime(now: number, intervalMs: number, phase: number): number {
  let t = now - (now % intervalMs) + (phase % intervalMs);
  if (t <= now) t += intervalMs;
  return t;
}

/** Shared by all loops: only scrapes in flight hold a batch. */
const batches = new SampleBatchPool();

export class ScrapeLoop {
  private cache: SeriesCache;
  private readonly autoSeries: Labels[];
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires; 0 when none is pending. */
  private nextAt = 0;
  /** Aborts the scrape in flight when the loop stops: one per loop, since a controller per scrape cost ~2% of the agent's CPU. */
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private stopped = false;
  private handingOver = false;
  private stopCalled = false;
  private autoWritten = false;
  /** When the target's scrapes fall within the interval (its hash, or vmagent's offset/alignment). */
  private readonly phase: number;
  private readonly limiter: SeriesLimiter | undefined;
  /** A page with duplicate lines is logged once per target, not every scrape. */
  private duplicatesLogged = false;

  health: TargetHealth = 'unknown';
  lastError = '';
  lastScrapeMs = 0;
  lastDurationSeconds = 0;
  lastSamples = 0;
  lastScraped = 0;
  /** Scrapes done; lets tests and the reload logic wait for progress. */
  scrapes = 0;
  /** Of those, the ones that failed (vmagent's scrapes_failed on /targets). */
  scrapesFailed = 0;

  constructor(
    readonly target: ScrapeTarget,
    private readonly job: JobContext,
  ) {
    this.cache = new SeriesCache(target.labels, job.rules);
    const lb = new LabelsBuilder();
    const names: string[] = [...AUTO_NAMES];
    if (target.sampleLimit > 0) names.push(LIMIT_NAME);
    if (job.extraMetrics) names.push(...EXTRA_NAMES);
    this.autoSeries = names.map((name) => lb.reset(target.labels).set(METRIC_NAME, name).build());
    this.phase = scrapePhase(target, Date.now(), job.cluster.phaseSeed);
    if (target.seriesLimit > 0) this.limiter = new SeriesLimiter(target.seriesLimit, target.labels, job.log, target.shownUrl);
    if (this.limiter) this.autoSeries.push(...this.limiter.autoSeries);
  }

  /**
   * Starts scraping; `firstAt` (a predecessor's pending slot) is kept even when just past,
   * unless this loop's own schedule (a new interval or phase) comes sooner: either way no gap
   * is longer than the old or the new interval.
   */
  start(firstAt = 0): void {
    this.schedule(firstAt);
  }

  /** Series this loop last wrote, for a successor that replaces it on reload. */
  private liveSeries(): Labels[] {
    const out = this.written();
    if (this.autoWritten) out.push(...this.autoSeries);
    return out;
  }

  /**
   * Takes over from the loop this one replaces: its series are marked stale after the first
   * scrape unless seen again, and its series_limit window goes on.
   */
  inherit(from: ScrapeLoop): void {
    this.limiter?.continueFrom(from.limiter, from.written());
    // its auto series are this loop's too (same target labels): written again, not stale
    const own = new Set(this.autoSeries.map((l) => l.key));
    const theirAuto = from.autoWritten ? from.autoSeries : [];
    let series: readonly Labels[];
    if (from.job.rules === this.job.rules && from.scrapes > 0) {
      // the same rules make the same series of each line: the cache carries on as is (as
      // Prometheus reuses its scrape cache), so continuing lines are not "added" again
      this.cache = from.cache;
      series = theirAuto;
    } else {
      series = from.liveSeries();
    }
    this.cache.inherit(series.filter((l) => !own.has(l.key)));
    // the predecessor wrote them; this loop writes them again at its first scrape
    if (theirAuto.some((l) => own.has(l.key))) this.autoWritten = true;
  }

  /**
   * Stops scheduling for a successor: a scrape in flight is finished (and written), so the
   * successor, which keeps the phase, continues with the next tick and nothing is skipped.
   */
  async handOver(): Promise<number> {
    clearTimeout(this.timer);
    // a slot whose time came while the reload ran, before its timer could fire, is the
    // successor's to scrape: computing the next slot afresh would skip it
    const pending = this.running === undefined ? this.nextAt : 0;
    this.nextAt = 0;
    this.handingOver = true;
    await this.running;
    this.stopped = true;
    return pending;
  }

  /**
   * Stops scraping; an in-flight scrape is abandoned. With `stale`, every series the target
   * had goes stale now (the target is gone); without, a successor takes them over or the
   * process is shutting down (Prometheus writes no markers on shutdown either).
   */
  async stop(stale: boolean): Promise<void> {
    if (this.stopCalled) return;
    this.stopCalled = true;
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.running;
    if (!stale || this.job.noStaleMarkers) return;
    const b = batches.take();
    const now = Date.now();
    for (const l of this.written()) b.appendStale(l, now);
    if (this.autoWritten) for (const l of this.autoSeries) b.appendStale(l, now);
    if (b.length > 0) {
      this.write(b);
      this.job.counters.staleMarkers.inc(b.length);
    }
    batches.give(b);
  }

  status(): ActiveTargetStatus {
    const t = this.target;
    return {
      scrapePool: this.job.name,
      scrapeUrl: t.shownUrl,
      discoveredLabels: t.discovered,
      labels: t.labels,
      health: this.health,
      lastError: this.lastError,
      lastScrapeMs: this.lastScrapeMs,
      lastScrapeDurationSeconds: this.lastDurationSeconds,
      lastSamples: this.lastSamples,
      lastSamplesScraped: this.lastScraped,
      scrapesTotal: this.scrapes,
      scrapesFailed: this.scrapesFailed,
      scrapeIntervalMs: t.intervalMs,
      scrapeTimeoutMs: t.timeoutMs,
    };
  }

  private schedule(firstAt = 0): void {
    if (this.stopped || this.handingOver) return;
    const now = Date.now();
    let at = nextScrapeTime(now, this.target.intervalMs, this.phase);
    if (firstAt > 0 && firstAt < at) at = firstAt;
    this.nextAt = at;
    this.timer = setTimeout(() => {
      this.nextAt = 0;
      this.running = this.scrapeOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, Math.max(0, at - now));
  }

  /** One scrape, start to sink. Never rejects. */
  async scrapeOnce(): Promise<void> {
    const job = this.job;
    const target = this.target;
    const batch = batches.take();
    const cache = this.cache;
    const start = Date.now();
    // the duration to the microsecond, as Prometheus reports it; `start` stays the samples' millisecond timestamp
    const began = performance.now();
    cache.begin();
    const limiter = this.limiter;
    limiter?.begin(start);

    let scraped = 0;
    let added = 0;
    /** sample_limit was exceeded: the rest of the page is counted, not kept (the scrape fails). */
    let overLimit = false;
    const honorTimestamps = job.honorTimestamps;
    const sampleLimit = target.sampleLimit;
    /** A series line's sample: `ref` is what the cache made of the line, `s` holds the value. */
    const sample = (ref: Labels | undefined | null, s: SampleSource): void => {
      if (ref === undefined) return;
      // Prometheus counts a duplicate in scrape_samples_post_metric_relabeling and against the limit
      if (++added > sampleLimit && sampleLimit > 0) {
        // as Prometheus and vmagent: the page is read to its end, so scrape_samples_scraped
        // says what the target exposed
        overLimit = true;
        return;
      }
      if (ref === null) return;
      let ts = start;
      if (honorTimestamps && s.timestamp !== undefined) {
        ts = s.timestamp;
        cache.markTimestamped();
      }
      if (limiter === undefined || limiter.admit(ref)) batch.append(ref, s.value, ts);
    };
    const reader = new PageReader(
      (p) => {
        scraped++;
        if (overLimit) {
          if (cache.passes(p)) added++;
          return;
        }
        sample(cache.lookup(p), p);
      },
      job.fallbackProtocol,
      this.scrapes % METADATA_EVERY === 0 ? job.metadata : undefined,
      {
        // past the limit lines are only counted, not recorded: the parser takes them
        expectedKey: () => (overLimit ? undefined : cache.expectedLine()),
        onExpected: (r) => {
          scraped++;
          sample(cache.lookupExpected(), r);
        },
      },
    );

    let error: string | undefined;
    /** The body did not arrive whole: nothing of it counts. */
    let transferFailed = false;
    /** Uncompressed body size; -1 when it passed body_size_limit (Prometheus' scrape_body_size_bytes). */
    let bodyBytes = 0;
    const headers = await job.client.headers().catch((err: Error) => {
      error = err.message;
      return undefined;
    });
    if (headers !== undefined) {
      const result = await fetchStream(this.request(headers), this.stopping.signal, reader);
      if (!result.ok) {
        error = result.error;
        // Prometheus reads the whole body before parsing, so a failed transfer counts nothing
        // (while a page that fails to parse reports what was read up to the bad line)
        transferFailed = !reader.parseFailed;
        if (result.tooLarge) bodyBytes = -1;
      } else {
        bodyBytes = result.bytes;
        try {
          reader.end();
        } catch (err) {
          error = (err as Error).message;
        }
        if (error === undefined && overLimit) error = `sample_limit exceeded (limit: ${sampleLimit})`;
      }
    } else transferFailed = true;
    if (this.stopped) {
      batches.give(batch);
      return;
    }

    // whole microseconds (the clock's resolution): a short decimal, which storages keep exactly
    const duration = Math.round((performance.now() - began) * 1000) / 1e6;
    const ok = error === undefined;
    let seriesAdded = cache.added;
    if (!ok) {
      batch.reset();
      if (transferFailed) scraped = added = seriesAdded = 0;
      job.counters.failed.inc();
      if (this.health !== 'down' || this.lastError !== error) {
        job.log.debug('scrape failed', { target: target.shownUrl, err: error });
      }
    }
    if (reader.fellBack) job.counters.fallbackContentType.inc();
    const duplicates = cache.duplicates;
    if (duplicates > 0) this.duplicates(duplicates, ok);
    const before = batch.length;
    cache.finish(ok, job.trackTimestampsStaleness, (labels) => {
      if (!job.noStaleMarkers && (limiter === undefined || limiter.knows(labels))) batch.appendStale(labels, start);
    });
    const stale = batch.length - before;

    const auto = this.autoSeries;
    batch.append(auto[0], ok ? 1 : 0, start);
    batch.append(auto[1], duration, start);
    batch.append(auto[2], scraped, start);
    batch.append(auto[3], added, start);
    batch.append(auto[4], seriesAdded, start);
    let next = 5;
    if (sampleLimit > 0) batch.append(auto[next++], sampleLimit, start);
    if (job.extraMetrics) {
      batch.append(auto[next++], target.timeoutMs / 1000, start);
      batch.append(auto[next++], sampleLimit, start);
      batch.append(auto[next++], bodyBytes, start);
      batch.append(auto[next], Math.max(bodyBytes, 0), start);
    }
    limiter?.appendAuto(batch, start);
    this.autoWritten = true;
    this.write(batch);
    batches.give(batch);

    job.counters.scrapes.inc();
    job.counters.samplesScraped.inc(scraped);
    if (ok) job.counters.samplesAdded.inc(added - duplicates);
    if (stale > 0) job.counters.staleMarkers.inc(stale);
    this.health = ok ? 'up' : 'down';
    this.lastError = error ?? '';
    this.lastScrapeMs = start;
    this.lastDurationSeconds = duration;
    this.lastSamples = added;
    this.lastScraped = scraped;
    this.scrapes++;
    if (!ok) this.scrapesFailed++;
  }

  /**
   * The request a scrape sends, sent once more now with its body to `consumer` only: what
   * /targets' "response" link shows, fetched on demand as vmagent's target_response does.
   */
  async fetchNow(consumer: BodyConsumer, signal: AbortSignal): Promise<StreamResult> {
    const headers = await this.job.client.headers().catch((err: Error) => err);
    if (headers instanceof Error) return { ok: false, error: headers.message };
    return fetchStream(this.request(headers), signal, consumer);
  }

  private request(headers: Record<string, string | string[]>): FetchSpec {
    const { job, target } = this;
    return {
      url: target.url,
      shownUrl: target.shownUrl,
      client: job.client,
      headers,
      timeoutMs: target.timeoutMs,
      maxBodyBytes: job.bodySizeLimit,
      accept: job.accept,
      limitName: 'body_size_limit',
      compression: job.compression,
    };
  }

  /** The cache's live series less those series_limit refused (they were never written). */
  private written(): Labels[] {
    const live = this.cache.live();
    const limiter = this.limiter;
    return limiter === undefined ? live : live.filter((l) => limiter.knows(l));
  }

  /**
   * The page had the same series line more than once. Prometheus 2.42 keeps the first value
   * (the later ones are refused as a duplicate sample for the timestamp when its appender
   * commits) and the scrape stays up; so does Tributary, counting the ones dropped and
   * logging once per target.
   */
  private duplicates(count: number, ok: boolean): void {
    if (ok) this.job.counters.duplicates.inc(count);
    if (this.duplicatesLogged) return;
    this.duplicatesLogged = true;
    this.job.log.warn('Duplicate sample for timestamp: the page has the same series more than once; the first value is kept', {
      target: this.target.shownUrl,
      series: this.cache.firstDuplicate ?? '',
      duplicates: count,
    });
  }

  private write(batch: SampleBatch): void {
    try {
      this.job.sink.write(this.job.name, batch);
    } catch (err) {
      this.job.log.error('the sample pipeline failed on a batch', { err: err as Error });
    }
  }
}
