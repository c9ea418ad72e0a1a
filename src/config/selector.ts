/**
 * Series selectors for vmagent's `if:` key: `foo`, `foo{a="b"}`, `{__name__=~"x.*", job!="y"}`,
 * `{"utf8.name", a="b"}`, and MetricsQL's `{a="1" or b="2"}`. A label that is absent reads as
 * '', as in PromQL, so `a=""` matches series without `a`. Regex matchers are RE2, anchored like
 * relabeling regexes. The configuration schema parses every selector, so a bad one is an error
 * at its key when the file loads.
 *
 * A label set written out (`metric{a="b"}`, `{__name__="x", a="b"}`) is the same notation with
 * only `=`, as PromQL's ParseMetric shares its lexer with selectors; `parseLabelSet` reads it
 * with the same parser, for the relabel debugger.
 */

import { compileAnchoredRegex, type Regex } from './regex.js';
import { Labels, LabelsBuilder, METRIC_NAME } from '../model/labels.js';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

/** Reads a label's current value; undefined when absent. */
export type LabelGetter = (name: string) => string | undefined;

interface CompiledMatcher extends LabelMatcher {
  readonly re?: Regex;
}

export class SeriesSelector {
  private constructor(
    readonly text: string,
    /** Alternatives (joined by `or`); each is a conjunction of matchers. */
    private readonly alternatives: readonly (readonly CompiledMatcher[])[],
  ) {}

  static parse(text: string): SeriesSelector {
    return new SeriesSelector(text, new SelectorParser(text).parse());
  }

  get matchers(): readonly (readonly LabelMatcher[])[] {
    return this.alternatives;
  }

  matches(get: LabelGetter): boolean {
    for (const alt of this.alternatives) {
      let ok = true;
      for (const m of alt) {
        const v = get(m.name) ?? '';
        let hit: boolean;
        switch (m.op) {
          case '=':
            hit = v === m.value;
            break;
          case '!=':
            hit = v !== m.value;
            break;
          case '=~':
            hit = m.re!.test(v);
            break;
          case '!~':
            hit = !m.re!.test(v);
            break;
        }
        if (!hit) {
          ok = false;
          break;
        }
      }
      if (ok) return true;
    }
    return false;
  }
}

/** Matches when any of the selectors matches (vmagent's list form of `if:`). */
export function anySelector(selectors: readonly SeriesSelector[]): (get: LabelGetter) => boolean {
  if (selectors.length === 1) {
    const s = selectors[0];
    return (get) => s.matches(get);
  }
  return (get) => selectors.some((s) => s.matches(get));
}

/** Where `text` goes wrong: `offset` is a UTF-16 index into it, `detail` the message alone. */
export class SelectorSyntaxError extends SyntaxError {
  constructor(
    what: string,
    readonly text: string,
    readonly detail: string,
    readonly offset: number,
  ) {
    super(`invalid ${what} ${JSON.stringify(text)}: ${detail}`);
    this.name = 'SelectorSyntaxError';
  }
}

/**
 * Reads a label set in Prometheus' notation: `metric{a="b"}`, `{__name__="metric", a="b"}`,
 * `{"utf8.metric", "a.b"="c"}` or a bare `metric`. Throws a `SelectorSyntaxError` pointing at
 * the offending character; a matcher other than `=`, an `or`, or a name given twice is an error.
 */
export function parseLabelSet(text: string): Labels {
  const parser = new SelectorParser(text, 'label set');
  const [pairs] = parser.parse();
  const lb = new LabelsBuilder();
  for (const m of pairs) lb.set(m.name, m.value);
  return lb.build();
}

const IDENT_START = /[a-zA-Z_:]/;
const IDENT_CHAR = /[a-zA-Z0-9_:]/;

class SelectorParser {
  private i = 0;
  /** In a label set: where each name was first given, to point at a repeat. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly s: string,
    private readonly what: 'series selector' | 'label set' = 'series selector',
  ) {}

  private get labelSet(): boolean {
    return this.what === 'label set';
  }

  parse(): CompiledMatcher[][] {
    this.ws();
    let metric: string | undefined;
    if (this.i < this.s.length && IDENT_START.test(this.s[this.i])) {
      this.note(METRIC_NAME, this.i);
      metric = this.ident(true);
    }
    this.ws();
    let alternatives: CompiledMatcher[][] = [[]];
    if (this.s[this.i] === '{') {
      this.i++;
      alternatives = this.groups();
    }
    this.ws();
    if (this.i < this.s.length) this.fail(`unexpected ${JSON.stringify(this.s.slice(this.i, this.i + 10))}`);
    if (metric === undefined && this.s.trim() === '') this.fail(`an empty ${this.what}`, 0);
    if (metric !== undefined) {
      const byName = compileMatcher({ name: METRIC_NAME, op: '=', value: metric });
      alternatives = alternatives.map((alt) => [byName, ...alt]);
    }
    return alternatives;
  }

  /** Matchers up to the closing `}`, split into `or` alternatives. */
  private groups(): CompiledMatcher[][] {
    const groups: CompiledMatcher[][] = [[]];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return groups;
    }
    for (;;) {
      groups[groups.length - 1].push(this.matcher());
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
        if (this.s[this.i] !== '}') continue;
      }
      if (this.s[this.i] === '}') {
        this.i++;
        return groups;
      }
      if (/^or\b/i.test(this.s.slice(this.i))) {
        if (this.labelSet) this.fail('a label set has no "or" alternatives');
        this.i += 2;
        this.ws();
        groups.push([]);
        continue;
      }
      this.fail(this.i >= this.s.length ? 'missing closing }' : `expected , or } at ${JSON.stringify(this.s.slice(this.i, this.i + 10))}`);
    }
  }

  private matcher(): CompiledMatcher {
    let name: string;
    const start = this.i;
    const c = this.s[this.i];
    if (c === '"' || c === "'" || c === '`') {
      name = this.string();
      this.ws();
      // A quoted name alone is the metric name (Prometheus 3's `{"my.metric"}`).
      if (this.s[this.i] === ',' || this.s[this.i] === '}' || /^or\b/i.test(this.s.slice(this.i))) {
        this.note(METRIC_NAME, start);
        return compileMatcher({ name: METRIC_NAME, op: '=', value: name });
      }
    } else {
      name = this.ident(false);
    }
    this.note(name, start);
    this.ws();
    const op = (['=~', '!~', '!=', '='] as const).find((o) => this.s.startsWith(o, this.i));
    if (op === undefined) this.fail(`expected ${this.labelSet ? '"="' : 'a match operator'} after ${JSON.stringify(name)}`);
    if (op !== '=' && this.labelSet) this.fail(`a label set takes only "=", not ${JSON.stringify(op)}`);
    this.i += op.length;
    this.ws();
    const valueAt = this.i;
    const value = this.string();
    try {
      return compileMatcher({ name, op, value });
    } catch (err) {
      // Go's reason, and where the regex starts in the selector.
      this.fail(`invalid regex ${JSON.stringify(value)}: ${(err as Error).message}`, valueAt);
    }
  }

  private ident(metric: boolean): string {
    const start = this.i;
    const first = this.s[this.i];
    if (first === undefined || !(metric ? IDENT_START : /[a-zA-Z_]/).test(first)) {
      this.fail(`expected a label name at ${JSON.stringify(this.s.slice(this.i, this.i + 10))}`);
    }
    this.i++;
    const chars = metric ? IDENT_CHAR : /[a-zA-Z0-9_]/;
    while (this.i < this.s.length && chars.test(this.s[this.i])) this.i++;
    return this.s.slice(start, this.i);
  }

  /** A PromQL string: double or single quotes with Go escapes, or backticks, raw. */
  private string(): string {
    const q = this.s[this.i];
    if (q !== '"' && q !== "'" && q !== '`') this.fail('expected a quoted string');
    const open = this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i++];
      if (c === q) return out;
      if (c !== '\\' || q === '`') {
        out += c;
        continue;
      }
      out += this.escape(q);
    }
    return this.fail('unterminated string', open);
  }

  private escape(quote: string): string {
    const backslash = this.i - 1;
    const c = this.s[this.i++];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (c in simple) return simple[c];
    if (c === quote) return c;
    const hexLen = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const hex = this.s.slice(this.i, this.i + hexLen);
      const code = parseInt(hex, 16);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex) || code > 0x10ffff) this.fail(`invalid \\${c} escape`, backslash);
      this.i += hexLen;
      return String.fromCodePoint(code);
    }
    if (c >= '0' && c <= '7') {
      const oct = this.s.slice(this.i - 1, this.i + 2);
      if (!/^[0-7]{3}$/.test(oct)) this.fail('invalid octal escape', backslash);
      this.i += 2;
      return String.fromCharCode(parseInt(oct, 8));
    }
    return this.fail(`invalid escape \\${c ?? ''}`, backslash);
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  /** A label set names each label once; selectors may repeat one (`a!="x", a!="y"`). */
  private note(name: string, at: number): void {
    if (!this.labelSet) return;
    if (this.seen.has(name)) this.fail(`${JSON.stringify(name)} is given twice`, at);
    this.seen.set(name, at);
  }

  private fail(detail: string, at = this.i): never {
    throw new SelectorSyntaxError(this.what, this.s, detail, Math.min(at, this.s.length));
  }
}

function compileMatcher(m: LabelMatcher): CompiledMatcher {
  if (m.op === '=' || m.op === '!=') return m;
  // PromQL anchors matcher regexes as `^(?s:...)$`, like relabeling regexes.
  return { ...m, re: compileAnchoredRegex(m.value) };
}
