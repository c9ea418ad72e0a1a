/**
 * Groups a parsed page into metric families and enforces the rules that span lines: one HELP,
 * TYPE and UNIT per family, metadata before samples, a family's samples kept together, sample
 * names that fit the family's type, exemplars only where OpenMetrics allows them.
 *
 * Strict mode throws the first violation with its line and column. Lenient mode (the gateway)
 * keeps what it can: a repeated or conflicting HELP/TYPE is dropped (the first wins), and each
 * dropped line is counted. Samples of a family that was split apart are merged back into it in
 * the text format (as Prometheus reads such pages) and in lenient mode; strict OpenMetrics
 * refuses them.
 */

import { Labels } from '../../model/labels.js';
import {
  OPENMETRICS_SUFFIXES,
  TEXT_SUFFIXES,
  type MetricFamily,
  type MetricPoint,
  type MetricType,
} from '../../model/family.js';
import { Entry, ExpositionError, newExpositionParser, type ExpositionParser, type ParserOptions } from './parser.js';

/**
 * Raw series text → label set, kept across the pages of one source: a series seen in the
 * previous page costs a map lookup instead of decoding and sorting its labels, and keeps its
 * `Labels` object, so everything cached downstream by label set (relabelling, rendered text)
 * stays valid. Series missing from a page are forgotten at the next one.
 */
export class SeriesLabelsCache {
  private current = new Map<string, Labels>();
  private previous = new Map<string, Labels>();

  get(key: string): Labels | undefined {
    let labels = this.current.get(key);
    if (labels === undefined) {
      labels = this.previous.get(key);
      if (labels !== undefined) this.current.set(key, labels);
    }
    return labels;
  }

  set(key: string, labels: Labels): void {
    this.current.set(key, labels);
  }

  /** Ends a page: what it did not mention is dropped after the next one. */
  endPage(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

export interface FamilyParseOptions extends ParserOptions {
  /** The source's cache of label sets by raw series text (see SeriesLabelsCache). */
  cache?: SeriesLabelsCache;
  /** Told of every sample kept, for callers that read the next page against this one. */
  trace?: PageTrace;
}

/** What `parseFamilies` reports sample by sample, in page order (see frame-parser.ts). */
export interface PageTrace {
  /** A sample that was kept: its raw series text, its family and its index in the family. */
  sample(key: string, family: MetricFamily, index: number): void;
}

export interface ParsedPage {
  families: MetricFamily[];
  /** Lines dropped in lenient mode. */
  dropped: number;
  /** The first few errors of lenient mode, with line and column. */
  errors: ExpositionError[];
}

interface FamilyState {
  family: MetricFamily;
  /** Line of the family's first entry, for messages. */
  line: number;
  typeLine: number;
  helpLine: number;
  unitLine: number;
}

/** Parses a whole page into families, in page order. */
export function parseFamilies(text: string, opts: FamilyParseOptions): ParsedPage {
  const parser = newExpositionParser(text, opts);
  const cache = opts.cache;
  const trace = opts.trace;
  const om = opts.format === 'openmetrics';
  const lenient = opts.lenient ?? false;
  const suffixes = om ? OPENMETRICS_SUFFIXES : TEXT_SUFFIXES;
  const families: MetricFamily[] = [];
  const byName = new Map<string, FamilyState>();
  let current: FamilyState | undefined;

  const fail = (err: ExpositionError): void => {
    if (!lenient) throw err;
    parser.recordError(err);
  };

  const open = (name: string, line: number): FamilyState => {
    const family: MetricFamily = { name, type: 'unknown', metrics: [] };
    const state: FamilyState = { family, line, typeLine: 0, helpLine: 0, unitLine: 0 };
    families.push(family);
    byName.set(name, state);
    return state;
  };

  /** The family a sample name belongs to given the types declared so far. */
  const familyOf = (name: string): FamilyState | undefined => {
    if (current && belongs(current.family, name, suffixes)) return current;
    const exact = byName.get(name);
    if (exact && belongs(exact.family, name, suffixes)) return exact;
    for (const suffix of ['_total', '_bucket', '_sum', '_count', '_created', '_gsum', '_gcount', '_info']) {
      if (!name.endsWith(suffix)) continue;
      const st = byName.get(name.slice(0, -suffix.length));
      if (st && belongs(st.family, name, suffixes)) return st;
    }
    return undefined;
  };

  for (let e = parser.next(); e !== Entry.End; e = parser.next()) {
    if (e === Entry.Comment) continue;
    const line = parser.line;
    if (e === Entry.Series) {
      let labels: Labels | undefined;
      try {
        // The raw text of a series seen before maps to its checked, decoded label set.
        const key = cache === undefined ? undefined : parser.seriesKey();
        labels = key === undefined ? undefined : cache!.get(key);
        if (labels === undefined) {
          labels = parser.labels(); // checks names the fast pass skipped
          if (key !== undefined) cache!.set(key, labels);
        }
      } catch (err) {
        if (!lenient || !(err instanceof ExpositionError)) throw err;
        parser.recordError(err);
        continue;
      }
      const name = labels.metricName;
      let st = familyOf(name);
      if (st === undefined) {
        const declared = byName.get(name);
        if (declared !== undefined) {
          // `# TYPE c counter` then `c 1`: the sample fits no suffix of its family's type
          const allowed = suffixes[declared.family.type].map((x) => JSON.stringify(declared.family.name + x)).join(', ');
          fail(parser.errorAt(parser.lineStartPos, `sample ${JSON.stringify(name)} does not fit the ${declared.family.type} family ${JSON.stringify(declared.family.name)} (line ${declared.line}): expected ${allowed}`));
          continue;
        }
        st = open(name, line);
      } else if (st !== current && st.family.metrics.length > 0 && om && !lenient) {
        // OpenMetrics requires a family's samples together. The text format does not: Prometheus
        // and the Pushgateway read such pages by name, and so does every lenient reader here —
        // the sample joins its family, nothing is lost or reported.
        throw parser.errorAt(
          parser.lineStartPos,
          `samples of ${JSON.stringify(st.family.name)} are split apart: its family started on line ${st.line} and another family came in between`,
        );
      }
      current = st;
      const point: MetricPoint = { labels, value: parser.value };
      if (parser.timestamp !== undefined) point.timestamp = parser.timestamp;
      const ex = parser.exemplar();
      if (ex !== undefined) {
        if (exemplarAllowed(st.family.type, name, st.family.name)) point.exemplar = ex;
        else fail(parser.errorAt(parser.lineStartPos, `exemplars are only allowed on counter _total and histogram _bucket samples, not on ${JSON.stringify(name)}`));
      }
      const problem = om ? checkOpenMetricsSample(st.family, name, labels) : undefined;
      if (problem !== undefined) {
        fail(parser.errorAt(parser.lineStartPos, problem));
        if (lenient) continue;
      }
      if (trace !== undefined) trace.sample(parser.seriesKey(), st.family, st.family.metrics.length);
      st.family.metrics.push(point);
      continue;
    }

    // HELP, TYPE, UNIT
    let name: string;
    try {
      name = parser.metricName();
    } catch (err) {
      if (!lenient || !(err instanceof ExpositionError)) throw err;
      parser.recordError(err);
      continue;
    }
    const what = e === Entry.Help ? 'HELP' : e === Entry.Type ? 'TYPE' : 'UNIT';
    // a TYPE right after its HELP (the usual page) needs no map lookup
    let st = current !== undefined && current.family.name === name ? current : byName.get(name);
    if (st === undefined) {
      st = open(name, line);
    } else if (st !== current || st.family.metrics.length > 0) {
      if (lenient && repeatsSame(st, e, parser)) continue;
      const err = parser.errorAt(
        parser.lineStartPos,
        st.family.metrics.length > 0
          ? `${what} for ${JSON.stringify(name)} after its samples (family started on line ${st.line})`
          : `${what} for ${JSON.stringify(name)} is separated from the family's other metadata (line ${st.line})`,
      );
      if (!lenient || st.family.metrics.length > 0 || metaLine(st, e) > 0) {
        fail(err);
        continue;
      }
    }
    current = st;
    const first = metaLine(st, e);
    if (first > 0) {
      if (!lenient || !repeatsSame(st, e, parser)) {
        fail(parser.errorAt(parser.lineStartPos, `second ${what} line for ${JSON.stringify(name)} (first on line ${first})`));
      }
      continue;
    }
    if (e === Entry.Help) {
      st.helpLine = line;
      const help = parser.help();
      // OpenMetrics: an empty HELP is as if there were none
      if (help !== '' || !om) st.family.help = help;
    } else if (e === Entry.Type) {
      st.typeLine = line;
      st.family.type = parser.type();
    } else {
      const unit = parser.unit();
      if (unit !== '' && !name.endsWith('_' + unit)) {
        fail(parser.errorAt(parser.lineStartPos, `unit ${JSON.stringify(unit)} must be the suffix of the family name ${JSON.stringify(name)}`));
        continue;
      }
      st.unitLine = line;
      if (unit !== '') st.family.unit = unit;
    }
  }
  cache?.endPage();
  return { families, dropped: parser.dropped, errors: parser.errors };
}

function metaLine(st: FamilyState, e: Entry): number {
  return e === Entry.Help ? st.helpLine : e === Entry.Type ? st.typeLine : st.unitLine;
}

function repeatsSame(st: FamilyState, e: Entry, parser: ExpositionParser): boolean {
  const f = st.family;
  if (e === Entry.Help) return st.helpLine > 0 && f.help === parser.help();
  if (e === Entry.Type) return st.typeLine > 0 && f.type === parser.type();
  return st.unitLine > 0 && (f.unit ?? '') === parser.unit();
}

function belongs(f: MetricFamily, sampleName: string, suffixes: Readonly<Record<MetricType, readonly string[]>>): boolean {
  // slice and === instead of startsWith: several times cheaper in V8 for non-literal prefixes
  const n = f.name.length;
  if (sampleName.length === n) return sampleName === f.name && suffixes[f.type].includes('');
  if (sampleName.length < n || sampleName.slice(0, n) !== f.name) return false;
  return suffixes[f.type].includes(sampleName.slice(n));
}

export function exemplarAllowed(type: MetricType, sampleName: string, familyName: string): boolean {
  if (type === 'counter') return sampleName === familyName + '_total' || (sampleName === familyName && familyName.endsWith('_total'));
  if (type === 'histogram' || type === 'gaugehistogram') return sampleName === familyName + '_bucket';
  return false;
}

/** OpenMetrics rules a single sample must meet inside its family. */
function checkOpenMetricsSample(f: MetricFamily, sampleName: string, labels: Labels): string | undefined {
  const suffix = sampleName.slice(f.name.length);
  switch (f.type) {
    case 'histogram':
    case 'gaugehistogram':
      if (suffix === '_bucket' && labels.get('le') === undefined) return `histogram bucket ${JSON.stringify(sampleName)} has no "le" label`;
      break;
    case 'summary':
      if (suffix === '' && labels.get('quantile') === undefined) return `summary sample ${JSON.stringify(sampleName)} has no "quantile" label`;
      break;
    case 'stateset':
      if (labels.get(f.name) === undefined) return `stateset sample ${JSON.stringify(sampleName)} has no label named after its family`;
      break;
    default:
      break;
  }
  return undefined;
}
