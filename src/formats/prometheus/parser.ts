/**
 * The pull interface of the exposition text parsers, in the shape of Prometheus'
 * `model/textparse`: `next()` advances one line and says what it was; accessors read the current
 * entry. One parser per format — `TextParser` (text 0.0.4 and 1.0.0, text-parser.ts) and
 * `OpenMetricsParser` (OpenMetrics 1.0, openmetrics-parser.ts), over what they share
 * (line-parser.ts: entry state and label sets; lex.ts: characters and numbers) —
 * chosen by `newExpositionParser`, as `textparse.New` chooses by media type. They check syntax
 * only: grouping samples into families and the rules between lines live in `families.ts`.
 *
 * Speed: per-character JavaScript costs several nanoseconds, native string search far less, so a
 * line is first taken apart by a fast pass built on `indexOf` (line ends, `=` and quotes of
 * label pairs) that checks punctuation, values and timestamps but not the characters of names.
 * Anything unusual (quoted names, escapes, tabs, exemplars, any doubt) goes to the exact
 * character-level parser, which also produces the precise error. Name characters are checked
 * when a name is first read — `metricName()` / `labels()` — which the scrape pipeline does only
 * for series it has not seen: `seriesKey()` is the raw `name{labels}` text and serves as a
 * cache key, so a series seen in the last scrape costs one map lookup and one number parse.
 * Both parsers share one base class, so a call site that sees both stays polymorphic over two
 * shapes, not megamorphic.
 */

import type { Labels } from '../../model/labels.js';
import type { Exemplar, MetricType } from '../../model/family.js';
import type { TextFormat } from '../media-types.js';
import { Entry, ExpositionError } from './lex.js';
import { OpenMetricsParser } from './openmetrics-parser.js';
import { TextParser } from './text-parser.js';

export { Entry, ExpositionError };

export interface ParserOptions {
  format: TextFormat;
  /**
   * Skip bad lines instead of throwing: each is counted in `dropped` and the first few are
   * kept in `errors`. The gateway uses this to keep a page's good lines.
   */
  lenient?: boolean;
  /**
   * For a page parsed in pieces (a streamed scrape body cut at line ends): lines before this
   * piece, so errors carry the page's line numbers.
   */
  startLine?: number;
  /** OpenMetrics: false for every piece but the last, as "# EOF" may still come. Default true. */
  final?: boolean;
  /** OpenMetrics: a previous piece ended with "# EOF": anything in this one is an error. */
  afterEof?: boolean;
  /**
   * Take a series line's labels apart only when they are asked for (`labels()`, `labelName`,
   * ...). `next()` then finds the end of `name{...}` with one search and parses the value; a
   * caller that recognises `seriesKey()` from an earlier page never pays for the labels. A
   * label syntax error is then thrown by the accessor, not by `next()`. Not with `lenient`.
   */
  lazyLabels?: boolean;
}

/** A pull parser over one page (or one piece of a page) of exposition text. */
export interface ExpositionParser {
  /** Advances to the next entry; `Entry.End` when the input is exhausted. */
  next(): Entry;

  /** The current sample's value. */
  readonly value: number;
  /** The current sample's timestamp in milliseconds since the epoch, or undefined when it has none. */
  readonly timestamp: number | undefined;
  /** The series exactly as written, `name{labels}`: a cache key (equal keys, equal series). */
  seriesKey(): string;
  /** The series' label set, `__name__` included, sorted; checks the names the fast pass skipped. */
  labels(): Labels;
  /** Number of labels written on the line (the metric name not counted). */
  readonly labelsWritten: number;
  labelName(i: number): string;
  labelValue(i: number): string;
  /** The current sample's exemplar (OpenMetrics only). */
  exemplar(): Exemplar | undefined;

  /** The family name of a HELP/TYPE/UNIT entry, or the metric name of a series. */
  metricName(): string;
  help(): string;
  type(): MetricType;
  unit(): string;

  /** The 1-based line number of the current entry. */
  readonly line: number;
  /** Where the current entry's line starts, for errors about the whole line. */
  readonly lineStartPos: number;
  /** Whether "# EOF" has been read (OpenMetrics). */
  readonly sawEof: boolean;
  /** A parse error at `pos` on the current line. */
  errorAt(pos: number, detail: string): ExpositionError;

  /** Bad lines skipped in lenient mode. */
  readonly dropped: number;
  /** The first bad lines' errors in lenient mode. */
  readonly errors: ExpositionError[];
  /** Lets a consumer that rejects an entry after parsing (e.g. a family rule) count it as a lenient drop. */
  recordError(err: ExpositionError): void;
}

/** The parser for `opts.format`. */
export function newExpositionParser(text: string, opts: ParserOptions): ExpositionParser {
  return opts.format === 'openmetrics' ? new OpenMetricsParser(text, opts) : new TextParser(text, opts);
}
