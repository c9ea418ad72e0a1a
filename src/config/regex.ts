/**
 * Relabeling regexes are written for Go's regexp (RE2 syntax): Prometheus and vmagent compile
 * them with it. Tributary accepts exactly what Go accepts and gives each pattern Go's meaning,
 * with two engines behind one interface:
 *
 * - re2js (a port of RE2/J) parses every pattern first. It is the judge of validity, so a
 *   pattern refused here is refused with Go's own message ("error parsing regexp: ...: `(?<`"),
 *   and it runs the patterns that JavaScript cannot express exactly.
 * - A translator turns the parsed pattern into a `u`-mode JavaScript RegExp when it can prove
 *   the translation exact, because V8's native engine is 7 to 39 times faster on the hot
 *   relabeling path (bench/regex.ts). "Exact" is deliberately narrow: a case-insensitive part
 *   next to a case-sensitive one, `\b` or negated Unicode classes under `(?i)`, a repetition
 *   whose operand can repeat or branch (JavaScript resets captures per iteration and may
 *   backtrack exponentially where RE2 is linear), a capture name JavaScript refuses, or
 *   anything the translator does not know all go to re2js.
 *
 * Known residual difference on the native path: V8's Unicode tables (`\p{...}`, case folding)
 * may be of a newer Unicode version than Go's.
 */

import { RE2JS } from 're2js';

/** One match: group texts by number (undefined when the group did not take part) and by name. */
export interface RegexMatch {
  readonly [group: number]: string | undefined;
  readonly groups?: { readonly [name: string]: string | undefined };
  readonly index: number;
}

/** A compiled RE2 pattern, whichever engine runs it. */
export interface Regex {
  /** The RE2 pattern as compiled (for anchored ones, with Prometheus' `^(?s:...)$` around it). */
  readonly source: string;
  readonly engine: 'native' | 're2js';
  /** Whether the pattern matches somewhere in `s` (everywhere, for an anchored pattern). */
  test(s: string): boolean;
  /** The leftmost-first match in `s`, as Go's FindStringSubmatch, or null. */
  exec(s: string): RegexMatch | null;
  /** The leftmost-first match starting at or after `from` (a UTF-16 index), with its end. */
  execFrom(s: string, from: number): { match: RegexMatch; end: number } | null;
}

/**
 * Compiles a relabeling regex as Prometheus does, `^(?s:expr)$`: anchored at both ends, and `.`
 * matches newlines. The text is pasted in as Prometheus pastes it, so its limits (nesting depth
 * counts the added group) and its oddities (`a)|(b` is valid) are Prometheus' too. Throws a
 * `SyntaxError` with Go's message for what Go refuses.
 */
export function compileAnchoredRegex(expr: string, options: CompileOptions = {}): Regex {
  return compileRegex(`^(?s:${expr})$`, { shown: expr, ...options });
}

export interface CompileOptions {
  /** The text the user wrote, for offsets in error messages (default: the pattern). */
  shown?: string;
  /** Run on re2js even when the translation is exact (the tests compare both engines). */
  engine?: 're2js';
}

/** Compiles an RE2 pattern as written, unanchored (vmagent's `*_all` actions search with it). */
export function compileRegex(pattern: string, options: CompileOptions = {}): Regex {
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(pattern);
  } catch (err) {
    // Go accepts a name given to several groups (RE2/J does not): re2js gets them renamed.
    const renamed = /duplicate capture group name/.test(String(err)) ? renameDuplicateGroups(pattern) : undefined;
    if (renamed === undefined) throw new SyntaxError(describeError(err, options.shown ?? pattern));
    try {
      return new Re2jsRegex(pattern, RE2JS.compile(renamed.pattern), renamed.aliases);
    } catch (err2) {
      throw new SyntaxError(describeError(err2, options.shown ?? pattern));
    }
  }
  const native = options.engine === 're2js' ? undefined : translateRegex(pattern);
  if (native !== undefined) {
    try {
      return new NativeRegex(pattern, new RegExp(native.source, native.flags), native.startAnchored);
    } catch {
      // A Unicode property V8 does not know, say: re2js runs it.
    }
  }
  return new Re2jsRegex(pattern, re2);
}

/** Go's message, plus where in the pattern the offending text starts and what RE2 lacks. */
function describeError(err: unknown, shown: string): string {
  const e = err as { message?: string; input?: string | null };
  let msg = String(e.message ?? err);
  // Go quotes the text from the offending part to the end, which may run into the `)$` that
  // anchoring added: that part is not in what the user wrote.
  const fragment = (e.input ?? '').replace(/\)\$$/, (m) => (shown.endsWith(m) ? m : ''));
  const at = fragment === '' ? -1 : shown.indexOf(fragment);
  // Only where the offending text occurs once: an offset must not point at the wrong place.
  if (at >= 0 && shown.indexOf(fragment, at + 1) < 0) msg += ` (at offset ${at})`;
  if (/\(\?<?[=!]/.test(fragment)) msg += '; RE2 has no lookahead or lookbehind';
  else if (/^\\[1-9]$/.test(fragment)) msg += '; RE2 has no backreferences';
  return msg;
}

/**
 * V8 tries empty matches between the two halves of a surrogate pair even in `u` mode (`\B` or a
 * lookbehind can succeed there); Go only stops at whole code points, so such a match is skipped.
 */
function midPair(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  const before = s.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && before >= 0xd800 && before <= 0xdbff;
}

class NativeRegex implements Regex {
  readonly engine = 'native';
  private readonly global: RegExp;
  constructor(
    readonly source: string,
    private readonly re: RegExp,
    /** Every match starts at 0 (`^` first, no top-level `|`): never inside a pair. */
    private readonly startAnchored: boolean,
  ) {
    this.global = new RegExp(re.source, re.flags + 'g');
  }
  test(s: string): boolean {
    return this.startAnchored ? this.re.test(s) : this.execFrom(s, 0) !== null;
  }
  exec(s: string): RegexMatch | null {
    return this.startAnchored ? this.re.exec(s) : (this.execFrom(s, 0)?.match ?? null);
  }
  execFrom(s: string, from: number): { match: RegexMatch; end: number } | null {
    let at = from;
    for (;;) {
      this.global.lastIndex = at;
      const m = this.global.exec(s);
      if (m === null) return null;
      if (!midPair(s, m.index)) return { match: m, end: m.index + m[0].length };
      at = m.index + 1;
    }
  }
  toJSON(): string {
    return this.source;
  }
}

class Re2jsRegex implements Regex {
  readonly engine = 're2js';
  /** Each group name and the groups that bear it, in order. */
  private readonly names = new Map<string, number[]>();
  constructor(
    readonly source: string,
    private readonly re: RE2JS,
    aliases: ReadonlyMap<string, string> = new Map(),
  ) {
    for (const [name, i] of Object.entries(re.namedGroups()).sort((a, b) => a[1] - b[1])) {
      const shown = aliases.get(name) ?? name;
      this.names.set(shown, [...(this.names.get(shown) ?? []), i]);
    }
  }
  test(s: string): boolean {
    return this.re.test(s);
  }
  exec(s: string): RegexMatch | null {
    const m = this.re.exec(s) as (string | undefined)[] | null;
    return m === null ? null : this.named(m, (m as unknown as RegexMatch).index);
  }
  execFrom(s: string, from: number): { match: RegexMatch; end: number } | null {
    const m = this.re.matcher(s);
    if (!m.find(from)) return null;
    const groups: (string | undefined)[] = [];
    for (let i = 0; i <= this.re.groupCount(); i++) groups.push(m.group(i) ?? undefined);
    return { match: this.named(groups, m.start()), end: m.end() };
  }
  /** Go's Expand reads `$name` from the first group of that name that took part in the match. */
  private named(groups: (string | undefined)[], index: number): RegexMatch {
    let named: Record<string, string | undefined> | undefined;
    if (this.names.size > 0) {
      named = Object.create(null) as Record<string, string | undefined>;
      for (const [name, indices] of this.names) named[name] = groups[indices.find((i) => groups[i] !== undefined) ?? indices[0]];
    }
    return Object.assign(groups, { index, groups: named });
  }
  toJSON(): string {
    return this.source;
  }
}

/** The pattern with every repeated group name made unique, and the new names' originals. */
function renameDuplicateGroups(pattern: string): { pattern: string; aliases: Map<string, string> } {
  const seen = new Set<string>();
  const aliases = new Map<string, string>();
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const rest = pattern.slice(i);
    // Skip what cannot hold a group: escapes, \Q...\E, and classes.
    const skip = /^(?:\\Q[^]*?(?:\\E|$)|\\[^]|\[\^?\]?(?:\[:[^\]]*:\]|\\[^]|[^\]])*\]?)/.exec(rest);
    if (skip) {
      out += skip[0];
      i += skip[0].length;
      continue;
    }
    const group = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(rest);
    if (group) {
      let name = group[1];
      if (seen.has(name)) {
        let k = aliases.size;
        while (pattern.includes(`${name}_${k}_`)) k++;
        const unique = `${name}_${k}_`;
        aliases.set(unique, name);
        name = unique;
      }
      seen.add(name);
      out += group[0].replace(group[1], name);
      i += group[0].length;
      continue;
    }
    out += pattern[i++];
  }
  return { pattern: out, aliases };
}

// ---------------------------------------------------------------------------------------------
// The translator. It runs only on patterns re2js accepted, so it need not diagnose errors: on
// anything it does not understand it throws, and the pattern goes to re2js.

export interface TranslatedRegex {
  source: string;
  flags: string;
  /** Begins with `^` outside any alternation, so matches can only start at 0. */
  startAnchored: boolean;
}

class Inexact extends Error {}

const MAX_CP = 0x10ffff;
type Ranges = [number, number][];

const DIGIT: Ranges = [[0x30, 0x39]];
const SPACE: Ranges = [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]]; // Go's \s: no \v
const WORD: Ranges = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];

const POSIX_CLASSES: Readonly<Record<string, Ranges>> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: DIGIT,
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: WORD,
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

/** Go's general categories that mean the same in JavaScript (Go's `C` leaves out Cn; JS's does not). */
const CATEGORIES = new Set(
  'L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs Cc Cf Co Cs'.split(' '),
);

function complement(r: Ranges): Ranges {
  const sorted = [...r].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

/** Whether no character of the ranges has a case (ASCII, no letters), so `i` cannot change them. */
function caseless(r: Ranges): boolean {
  return r.every(([lo, hi]) => hi < 0x80 && !(lo <= 0x7a && hi >= 0x41 && !(lo > 0x5a && hi < 0x61)));
}

function cp(c: number): string {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f
    ? String.fromCharCode(c)
    : `\\u{${c.toString(16)}}`;
}

function rangesText(r: Ranges): string {
  return r.map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('');
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

/** One translated item: its text, whether it consumes input, and what it contains. */
interface Node {
  text: string;
  /** Cannot match the empty string. */
  consumes: boolean;
  /** Contains a repetition or an alternation (unsafe to repeat: see the header). */
  complex: boolean;
  /** An assertion, which JavaScript's `u` mode does not let a quantifier follow directly. */
  assertion: boolean;
}

/**
 * Translates an RE2 pattern (already known valid) into an equivalent JavaScript RegExp, or
 * returns undefined when the translation would not be exact.
 */
export function translateRegex(pattern: string): TranslatedRegex | undefined {
  try {
    return new Translator(pattern).run();
  } catch {
    return undefined;
  }
}

class Translator {
  private i = 0;
  private flags: Flags = { i: false, m: false, s: false, U: false };
  private casedInsensitive = false;
  private casedSensitive = false;
  /** Used \b, \B, \p, \P, \W or a negated POSIX class: exact only without `i`. */
  private foldSensitive = false;
  private depth = 0;
  private dotAll = false;
  private topLevelBranches = false;

  constructor(private readonly p: string) {}

  run(): TranslatedRegex {
    const node = this.alternation();
    if (this.i !== this.p.length) throw new Inexact('unbalanced )');
    if (this.casedInsensitive && this.casedSensitive) throw new Inexact('mixed case sensitivity');
    if (this.casedInsensitive && this.foldSensitive) throw new Inexact('case folding differs');
    const flags = 'u' + (this.casedInsensitive ? 'i' : '') + (this.dotAll ? 's' : '');
    return { source: node.text, flags, startAnchored: node.text.startsWith('^') && !this.topLevelBranches };
  }

  private cased(isCased: boolean): void {
    if (!isCased) return;
    if (this.flags.i) this.casedInsensitive = true;
    else this.casedSensitive = true;
  }

  /** alternation := concat ('|' concat)*, up to a `)` or the end. */
  private alternation(): Node {
    const branches = [this.concat()];
    while (this.p[this.i] === '|') {
      if (this.depth === 0) this.topLevelBranches = true;
      this.i++;
      branches.push(this.concat());
    }
    if (branches.length === 1) return branches[0];
    return {
      text: branches.map((b) => b.text).join('|'),
      consumes: branches.every((b) => b.consumes),
      complex: true,
      assertion: false,
    };
  }

  private concat(): Node {
    const items: Node[] = [];
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      for (const atom of this.atom()) items.push(atom);
      // After `(?i)` or `\Q\E`, which add nothing, a repetition applies to the item before.
      if (items.length > 0) items[items.length - 1] = this.repeat(items[items.length - 1]);
    }
    return {
      text: items.map((n) => n.text).join(''),
      consumes: items.some((n) => n.consumes),
      complex: items.some((n) => n.complex),
      assertion: false,
    };
  }

  /** Applies the repetition operators after an atom, if any. */
  private repeat(atom: Node): Node {
    let node = atom;
    for (;;) {
      const rest = this.p.slice(this.i);
      let op: string;
      const counted = /^\{(\d+)(?:(,)(\d*))?\}/.exec(rest);
      if (rest[0] === '*' || rest[0] === '+' || rest[0] === '?') op = rest[0];
      else if (counted) op = counted[0];
      else return node;
      this.i += op.length;
      let lazy = false;
      if (this.p[this.i] === '?') {
        lazy = true;
        this.i++;
      }
      if (this.flags.U) lazy = !lazy;
      let max = op === '?' ? 1 : Infinity;
      if (counted) {
        const min = Number(counted[1]);
        max = counted[2] === undefined ? min : counted[3] === '' ? Infinity : Number(counted[3]);
        op = max === Infinity ? `{${min},}` : min === max ? `{${min}}` : `{${min},${max}}`;
      }
      // JavaScript skips an iteration that matches empty (Go does not) and resets captures per
      // iteration; nested repetition can also backtrack exponentially. Once at most, over an
      // operand that consumes, none of that shows in what relabeling sees.
      if (!node.consumes || (node.complex && max > 1)) throw new Inexact('repetition RE2 runs differently');
      const operand = node.assertion ? `(?:${node.text})` : node.text;
      node = { text: operand + op + (lazy ? '?' : ''), consumes: false, complex: true, assertion: false };
    }
  }

  /** Zero or more atoms (a `\Q...\E` is several; a flag group is none). */
  private atom(): Node[] {
    const p = this.p;
    const c = p[this.i];
    switch (c) {
      case '(':
        return this.group();
      case '[':
        return [this.charClass()];
      case '.':
        this.i++;
        // `.` with the `s` flag is what V8 runs fastest; `[^\n]` means the same with or without it.
        if (!this.flags.s) return [char('[^\\n]')];
        this.dotAll = true;
        return [char('.')];
      case '^':
        this.i++;
        return [assertion(this.flags.m ? '(?:^|(?<=\\n))' : '^')];
      case '$':
        this.i++;
        return [assertion(this.flags.m ? '(?=\\n|$)' : '$')];
      case '\\':
        return this.escapeAtom();
      case '{': {
        // A `{` that does not start a valid repetition is literal in RE2.
        this.i++;
        return [this.literal(0x7b)];
      }
      default: {
        const code = p.codePointAt(this.i)!;
        this.i += code > 0xffff ? 2 : 1;
        return [this.literal(code)];
      }
    }
  }

  private literal(code: number): Node {
    const ch = String.fromCodePoint(code);
    this.cased(ch.toLowerCase() !== ch || ch.toUpperCase() !== ch || code >= 0x80);
    return char(cp(code));
  }

  private group(): Node[] {
    const p = this.p;
    const saved = { ...this.flags };
    let open = '(';
    if (p[this.i + 1] === '?') {
      const named = /^\(\?P?<([^>]*)>/.exec(p.slice(this.i));
      if (named) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(named[1])) throw new Inexact('capture name JavaScript refuses');
        open = `(?<${named[1]}>`;
        this.i += named[0].length;
      } else {
        const m = /^\(\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(p.slice(this.i));
        if (!m) throw new Inexact('unknown group syntax');
        for (const f of m[1]) this.flags[f as keyof Flags] = true;
        for (const f of m[2] ?? '') this.flags[f as keyof Flags] = false;
        this.i += m[0].length;
        // `(?flags)` changes the flags until the end of the enclosing group.
        if (m[3] === ')') return [];
        open = '(?:';
      }
    } else {
      this.i++;
    }
    this.depth++;
    const inner = this.alternation();
    this.depth--;
    if (p[this.i] !== ')') throw new Inexact('missing )');
    this.i++;
    this.flags = saved;
    return [{ text: `${open}${inner.text})`, consumes: inner.consumes, complex: inner.complex, assertion: false }];
  }

  private escapeAtom(): Node[] {
    const p = this.p;
    const c = p[this.i + 1];
    switch (c) {
      case 'A':
        this.i += 2;
        return [assertion('^')];
      case 'z':
        this.i += 2;
        return [assertion('$')];
      case 'b':
      case 'B':
        this.i += 2;
        this.foldSensitive = true;
        return [assertion('\\' + c)];
      case 'Q': {
        const end = p.indexOf('\\E', this.i + 2);
        const text = p.slice(this.i + 2, end < 0 ? p.length : end);
        this.i = end < 0 ? p.length : end + 2;
        return [...text].map((ch) => this.literal(ch.codePointAt(0)!));
      }
    }
    const cls = this.classEscape();
    if (cls !== undefined) return [char(cls)];
    return [this.literal(this.escapeChar())];
  }

  /** `\d \s \w \D \S \W \pX \p{Name} \PX \P{Name}` as class text (brackets included), if one is next. */
  private classEscape(): string | undefined {
    const p = this.p;
    const c = p[this.i + 1];
    const perl: Record<string, Ranges> = { d: DIGIT, s: SPACE, w: WORD };
    const base = perl[c.toLowerCase()];
    if (base !== undefined) {
      this.i += 2;
      const negated = c !== c.toLowerCase();
      if (c === 'w') this.cased(true);
      if (c === 'W') {
        this.cased(true);
        this.foldSensitive = true;
      }
      return `[${rangesText(negated ? complement(base) : base)}]`;
    }
    if (c === 'p' || c === 'P') {
      const m = /^(?:\{(\^?)([A-Za-z_]+)\}|([A-Za-z]))/.exec(p.slice(this.i + 2));
      if (!m) throw new Inexact('bad \\p');
      this.i += 2 + m[0].length;
      const name = m[2] ?? m[3];
      const negated = (c === 'P') !== (m[1] === '^');
      this.cased(true);
      this.foldSensitive = true;
      let prop: string;
      if (name === 'Any') prop = 'Any';
      else if (CATEGORIES.has(name)) prop = name;
      else if (name.length > 2) prop = 'Script=' + name;
      else throw new Inexact(`category ${name}`);
      return `\\${negated ? 'P' : 'p'}{${prop}}`;
    }
    return undefined;
  }

  /** A single-character escape (`\n`, `\x{263a}`, `\123`, `\.`): its code point. */
  private escapeChar(): number {
    const p = this.p;
    const c = p[this.i + 1];
    const simple: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    if (c in simple) {
      this.i += 2;
      return simple[c];
    }
    if (c >= '0' && c <= '7') {
      const m = /^[0-7]{1,3}/.exec(p.slice(this.i + 1))!;
      this.i += 1 + m[0].length;
      return parseInt(m[0], 8);
    }
    if (c === 'x') {
      const m = /^x(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2}))/.exec(p.slice(this.i + 1));
      if (!m) throw new Inexact('bad \\x');
      this.i += 1 + m[0].length;
      return parseInt(m[1] ?? m[2], 16);
    }
    if (/[!-/:-@[-`{-~]/.test(c)) {
      this.i += 2;
      return c.charCodeAt(0);
    }
    throw new Inexact(`escape \\${c}`);
  }

  private charClass(): Node {
    const p = this.p;
    this.i++;
    let negated = false;
    if (p[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const ranges: Ranges = [];
    const escapes: string[] = [];
    let first = true;
    while (p[this.i] !== ']' || first) {
      if (this.i >= p.length) throw new Inexact('missing ]');
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(this.i));
      if (posix) {
        const base = POSIX_CLASSES[posix[2]];
        if (base === undefined) throw new Inexact('unknown POSIX class');
        this.i += posix[0].length;
        if (posix[1] === '^') {
          this.foldSensitive = true;
          ranges.push(...complement(base));
        } else {
          ranges.push(...base);
        }
        continue;
      }
      if (p[this.i] === '\\') {
        const cls = this.classEscape();
        if (cls !== undefined) {
          // Perl classes come back bracketed; inside a class only their contents are wanted.
          escapes.push(cls.startsWith('[') ? cls.slice(1, -1) : cls);
          continue;
        }
      }
      const lo = this.classChar();
      let hi = lo;
      if (p[this.i] === '-' && p[this.i + 1] !== ']' && this.i + 1 < p.length) {
        this.i++;
        hi = this.classChar();
      }
      ranges.push([lo, hi]);
    }
    this.i++;
    this.cased(!caseless(ranges) || escapes.length > 0);
    return char(`[${negated ? '^' : ''}${rangesText(ranges)}${escapes.join('')}]`);
  }

  private classChar(): number {
    if (this.p[this.i] === '\\') return this.escapeChar();
    const code = this.p.codePointAt(this.i)!;
    this.i += code > 0xffff ? 2 : 1;
    return code;
  }
}

function char(text: string): Node {
  return { text, consumes: true, complex: false, assertion: false };
}

function assertion(text: string): Node {
  return { text, consumes: false, complex: false, assertion: true };
}
