/**
 * A scrape job as a gateway source (federation-style): the series the job's targets last
 * produced, with their timestamps, as the sample pipeline's `LatestSamples` view holds them.
 * The scrape loops run on their own schedule; a gateway scrape only reads the view, and the
 * version changes only when a scrape of the job wrote something.
 */

import type { LatestSamples } from '../../pipeline/index.js';
import { frameFromFamilies, type PageFrame } from '../../model/frame.js';
import { nextVersion, type GatewaySource, type SourceKind, type SourceSnapshot } from '../source.js';

export class ScrapeJobSource implements GatewaySource {
  readonly kind: SourceKind = 'scrape';
  readonly origin: string;
  private seen = -1;
  private version = 0;
  private frame: PageFrame | undefined;

  constructor(
    readonly name: string,
    readonly job: string,
    private readonly latest: LatestSamples,
  ) {
    this.origin = `scrape job ${job}`;
  }

  async snapshot(): Promise<SourceSnapshot> {
    const t0 = performance.now();
    if (this.latest.version !== this.seen || this.frame === undefined) {
      this.seen = this.latest.version;
      this.version = nextVersion();
      this.frame = frameFromFamilies(this.latest.families(), this.frame?.layout);
    }
    return {
      frame: this.frame,
      version: this.version,
      ok: true,
      droppedLines: 0,
      durationSeconds: (performance.now() - t0) / 1000,
      lastSuccessMs: Date.now(),
    };
  }

  async close(): Promise<void> {}
}
