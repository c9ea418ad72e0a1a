/**
 * The metric metadata (TYPE, HELP, UNIT) a job's targets expose, one entry per family name,
 * kept for remote write's metadata requests. Read from the page as it is parsed (every tenth
 * scrape, see scrape-loop.ts); a text is copied only when it differs from what is held, so
 * the page it came from is never pinned and a steady page stores nothing new.
 */

import { Entry, type ExpositionParser } from '../formats/prometheus/parser.js';
import type { MetricMetadata } from '../formats/remotewrite/index.js';
import { copyString } from './series-cache.js';

/** Families held per job; past it, new families are not recorded (the page is not affected). */
const MAX_FAMILIES = 50_000;

interface Held {
  type: MetricMetadata['type'];
  help: string;
  unit: string;
}

export class MetadataStore {
  private readonly byFamily = new Map<string, Held>();

  /** For every metadata entry of a page (the parser positioned on it). */
  observe(e: Entry, p: ExpositionParser): void {
    const name = p.metricName();
    let held = this.byFamily.get(name);
    if (held === undefined) {
      if (this.byFamily.size >= MAX_FAMILIES) return;
      held = { type: 'unknown', help: '', unit: '' };
      this.byFamily.set(copyString(name), held);
    }
    if (e === Entry.Type) held.type = p.type();
    else if (e === Entry.Help) {
      const help = p.help();
      if (help !== held.help) held.help = copyString(help);
    } else if (e === Entry.Unit) {
      const unit = p.unit();
      if (unit !== held.unit) held.unit = copyString(unit);
    }
  }

  list(): MetricMetadata[] {
    return [...this.byFamily].map(([family, h]) => ({ family, type: h.type, help: h.help || undefined, unit: h.unit || undefined }));
  }
}
