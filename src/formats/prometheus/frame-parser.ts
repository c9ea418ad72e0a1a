/**
 * Parsing the successive pages of one source into frames (model/frame.ts). An exporter serves
 * the same lines page after page with new values; once a page has been parsed in full, the
 * next one is read against it: every line but the values must be the same text as before —
 * each series' `name{labels}`, each HELP, TYPE, UNIT and comment — and then only the values
 * (and timestamps) are taken, with native string comparisons and no parser state: no label
 * set decoded, no family rule re-checked, no object built per sample, and the layout keeps
 * its id, so every consumer keyed on it keeps its work. Anything else — a series more or
 * less, other metadata, an exemplar, odd spacing, a line in error — goes to the full parse,
 * which builds a new layout (or finds the same one again).
 */

import type { MetricFamily } from '../../model/family.js';
import { frameFromFamilies, type PageFrame, type PageLayout } from '../../model/frame.js';
import { parseFamilies, SeriesLabelsCache, type PageTrace } from './families.js';
import type { TextFormat } from '../media-types.js';
import { parseIntegerMs, parseNumber, parseSecondsAsMs, type ExpositionError } from './lex.js';

export interface ParsedFrame {
  frame: PageFrame;
  /** Lines dropped by the lenient parse. */
  dropped: number;
  /** The first few errors of the lenient parse. */
  errors: ExpositionError[];
}

/** The last fully parsed page, as the text around its values. */
interface Template {
  readonly format: TextFormat;
  readonly layout: PageLayout;
  /** `fixed[k]` is the text before sample line k (whole lines), `fixed[n]` the text after the last. */
  readonly fixed: string[];
  /** Series text (`name{labels}`) of each sample line, in page order. */
  readonly keys: string[];
  /** Layout index of each sample line. */
  readonly slots: Int32Array;
}

export class FrameParser {
  private readonly labels = new SeriesLabelsCache();
  private layout: PageLayout | undefined;
  private template: Template | undefined;

  /** Parses `text` leniently (bad lines dropped and counted). */
  parse(text: string, format: TextFormat): ParsedFrame {
    const t = this.template;
    if (t !== undefined && t.format === format) {
      const frame = readAgainst(t, text);
      if (frame !== undefined) return { frame, dropped: 0, errors: [] };
    }
    return this.parseFull(text, format);
  }

  private parseFull(text: string, format: TextFormat): ParsedFrame {
    const trace = new TraceLog();
    const page = parseFamilies(text, { format, lenient: true, cache: this.labels, trace });
    const frame = frameFromFamilies(page.families, this.layout);
    this.layout = frame.layout;
    // A page with bad lines is always read in full: which lines a lenient parse drops is a
    // judgement the quick read does not repeat. (One with exemplars too: buildTemplate finds
    // no template, as its lines are more than a value and a timestamp.)
    this.template = page.dropped === 0 ? buildTemplate(text, format, frame.layout, page.families, trace) : undefined;
    return { frame, dropped: page.dropped, errors: page.errors };
  }
}

/** What the full parse kept, in page order. */
class TraceLog implements PageTrace {
  readonly keys: string[] = [];
  /** Family and index in it, per sample. */
  readonly placed: (MetricFamily | number)[] = [];

  sample(key: string, family: MetricFamily, index: number): void {
    this.keys.push(key);
    this.placed.push(family, index);
  }
}

function buildTemplate(text: string, format: TextFormat, layout: PageLayout, families: readonly MetricFamily[], trace: TraceLog): Template | undefined {
  const { keys, placed } = trace;
  // The layout's families are the parsed families, in the same order.
  const familyIndex = new Map<MetricFamily, number>();
  families.forEach((f, i) => familyIndex.set(f, i));
  const slots = new Int32Array(keys.length);
  const seen = new Set<string>();
  for (let i = 0; i < keys.length; i++) {
    // A page repeating a series would map two lines to one place; such a page is read in full.
    if (seen.has(keys[i])) return undefined;
    seen.add(keys[i]);
    const fi = familyIndex.get(placed[2 * i] as MetricFamily);
    if (fi === undefined) return undefined;
    slots[i] = layout.families[fi].offset + (placed[2 * i + 1] as number);
  }
  // Cut the page into the text around its sample lines; each sample line must be its key and
  // a value the quick read takes the same way, or no template is made.
  const fixed: string[] = [];
  let pos = 0;
  let from = 0;
  let k = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    end = end < 0 ? text.length : end + 1;
    if (k < keys.length && text.startsWith(keys[k], pos)) {
      const read = readSample(text, pos + keys[k].length, format === 'openmetrics');
      if (read < 0 || read !== end) return undefined;
      fixed.push(text.slice(from, pos));
      from = end;
      k++;
    }
    pos = end;
  }
  if (k !== keys.length) return undefined;
  fixed.push(text.slice(from));
  return { format, layout, fixed, keys, slots };
}

// What readSample found, for its caller (module state: one read at a time).
let sampleValue = 0;
let sampleTimestamp: number | undefined;

/**
 * Reads ` value[ timestamp]` and the line end at `p`, just after a series' text; returns the
 * position after the line, or -1 for anything but that simplest form.
 */
function readSample(s: string, p: number, om: boolean): number {
  if (s.charCodeAt(p) !== 0x20) return -1;
  p++;
  let lineEnd = s.indexOf('\n', p);
  const last = lineEnd < 0;
  if (last) {
    if (om) return -1;
    lineEnd = s.length;
  }
  let sp = s.indexOf(' ', p);
  if (sp < 0 || sp > lineEnd) sp = lineEnd;
  if (sp === p) return -1;
  const v = parseNumber(s, p, sp);
  if (v === undefined) return -1;
  sampleValue = v;
  sampleTimestamp = undefined;
  if (sp < lineEnd) {
    const ts = om ? parseSecondsAsMs(s, sp + 1, lineEnd) : parseIntegerMs(s, sp + 1, lineEnd);
    if (ts === undefined) return -1;
    sampleTimestamp = ts;
  }
  return last ? lineEnd : lineEnd + 1;
}

/** The page's values if it is the template's text with other values; undefined otherwise. */
function readAgainst(t: Template, text: string): PageFrame | undefined {
  const { fixed, keys, slots } = t;
  const om = t.format === 'openmetrics';
  const size = t.layout.size;
  const values = new Float64Array(size);
  let timestamps: Float64Array | undefined;
  let pos = 0;
  for (let k = 0; k < keys.length; k++) {
    // substring + === compares with memcmp; startsWith goes character by character, several
    // times slower on these lengths, allocation included.
    const f = fixed[k];
    if (f.length > 0) {
      if (text.substring(pos, pos + f.length) !== f) return undefined;
      pos += f.length;
    }
    const key = keys[k];
    if (text.substring(pos, pos + key.length) !== key) return undefined;
    pos = readSample(text, pos + key.length, om);
    if (pos < 0) return undefined;
    const slot = slots[k];
    values[slot] = sampleValue;
    if (sampleTimestamp !== undefined) {
      if (timestamps === undefined) timestamps = new Float64Array(size).fill(NaN);
      timestamps[slot] = sampleTimestamp;
    }
  }
  const trailer = fixed[keys.length];
  if (text.length - pos !== trailer.length || text.substring(pos) !== trailer) return undefined;
  return { layout: t.layout, values: { values, ...(timestamps ? { timestamps } : {}) } };
}
