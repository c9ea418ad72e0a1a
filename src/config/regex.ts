/**
 * Relabeling regexes are written for Go's RE2 (Prometheus and vmagent compile them with Go's
 * regexp), and Tributary runs them as JavaScript RegExps. This module translates the RE2
 * syntax a config can contain into an equivalent `u`-mode RegExp and refuses what RE2 would
 * refuse (backreferences, lookaround), so a config valid here is valid in Prometheus and means
 * the same thing. The config loader uses it to reject bad regexes at load time; the relabeling
 * engine uses it to build the regexes it runs, so both agree on every pattern.
 *
 * Covered: leading flag groups `(?i)` `(?s)` `(?m)` (as RegExp flags), `(?P<name>...)`, `\A`,
 * `\z`, `\Q...\E`, `\x{...}`, `\pL` / `\p{Greek}`, POSIX classes such as `[[:alpha:]]`, RE2's
 * permissive escaping of any punctuation, and literal `{`, `}` and `]`. Not covered: flag groups
 * after the start (`a(?i)b`, `(?i:...)`) and `(?U)`, which JavaScript cannot express in Node 20;
 * they are rejected with a message saying so. Remaining differences are in what `\s` and `\b`
 * count as whitespace and word characters outside ASCII.
 */

export interface TranslatedRegex {
  source: string;
  flags: string;
}

const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));
const SIMPLE_ESCAPES = new Set('dDwWsSbBfnrtv'.split(''));

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`\\{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** RE2 caps repetition counts at 1000. */
const MAX_REPEAT = 1000;

/** Translates RE2 syntax to JavaScript; throws a `SyntaxError` for what cannot be expressed. */
export function translateRegex(expr: string): TranslatedRegex {
  let i = 0;
  let flags = 'u';
  // Leading flag groups become RegExp flags.
  for (;;) {
    const m = /^\(\?([a-zA-Z]+)\)/.exec(expr.slice(i));
    if (!m) break;
    for (const f of m[1]) {
      if (f === 'i' || f === 'm' || f === 's') {
        if (!flags.includes(f)) flags += f;
      } else if (f === 'U') {
        throw new SyntaxError('the ungreedy flag (?U) is not supported');
      } else {
        throw new SyntaxError(`unknown flag ${JSON.stringify(f)} in ${m[0]}`);
      }
    }
    i += m[0].length;
  }

  let out = '';
  let inClass = false;
  let classStart = false; // right after `[` or `[^`, where `]` is a literal
  let afterClassEscape = false; // the last class item was \d, \w, \pL, ...: a `-` next is literal
  while (i < expr.length) {
    const c = expr[i];
    if (c === '\\') {
      const [text, len] = escape(expr, i, inClass);
      out += text;
      i += len;
      classStart = false;
      afterClassEscape = inClass && /^\\[dDwWsSpP]/.test(text);
      continue;
    }
    if (inClass) {
      if (c === '-' && (afterClassEscape || /^\\[dDwWsSpP]/.test(expr.slice(i + 1)))) {
        // RE2 reads `[\w-.]` as \w, '-' and '.'; in u mode that `-` must be escaped.
        out += '\\-';
        i++;
        afterClassEscape = false;
        continue;
      }
      afterClassEscape = false;
      if (c === ']' && !classStart) {
        inClass = false;
        out += ']';
        i++;
        continue;
      }
      if (c === '[' && expr[i + 1] === ':') {
        const end = expr.indexOf(':]', i + 2);
        if (end >= 0) {
          const name = expr.slice(i + 2, end);
          if (name.startsWith('^')) throw new SyntaxError(`negated POSIX class [:${name}:] is not supported`);
          const range = POSIX_CLASSES[name];
          if (range === undefined) throw new SyntaxError(`unknown POSIX class [:${name}:]`);
          out += range;
          i = end + 2;
          classStart = false;
          continue;
        }
      }
      out += c === ']' ? '\\]' : c === '[' ? '\\[' : c;
      i++;
      classStart = false;
      continue;
    }
    switch (c) {
      case '[':
        inClass = true;
        classStart = true;
        out += '[';
        i++;
        if (expr[i] === '^') {
          out += '^';
          i++;
        }
        continue;
      case ']':
        out += '\\]';
        i++;
        continue;
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(expr.slice(i));
        if (m && out !== '' && !out.endsWith('(') && !out.endsWith('|')) {
          const min = Number(m[1]);
          const max = m[3] === undefined || m[3] === '' ? min : Number(m[3]);
          if (min > MAX_REPEAT || max > MAX_REPEAT)
            throw new SyntaxError(`repetition count above ${MAX_REPEAT} in ${m[0]}`);
          out += m[0];
          i += m[0].length;
        } else {
          out += '\\{';
          i++;
        }
        continue;
      }
      case '}':
        out += '\\}';
        i++;
        continue;
      case '.':
        // Go's `.` excludes only \n; JavaScript's also excludes \r, U+2028 and U+2029.
        out += flags.includes('s') ? '.' : '[^\\n]';
        i++;
        continue;
      case '(': {
        if (expr[i + 1] !== '?') {
          out += '(';
          i++;
          continue;
        }
        const rest = expr.slice(i);
        if (rest.startsWith('(?:')) {
          out += '(?:';
          i += 3;
        } else if (rest.startsWith('(?P<') || /^\(\?<[A-Za-z_]/.test(rest)) {
          const start = rest.startsWith('(?P<') ? 4 : 3;
          const m = /^[A-Za-z_][A-Za-z0-9_]*>/.exec(rest.slice(start));
          if (!m) throw new SyntaxError(`invalid group name at ${JSON.stringify(rest.slice(0, 20))}`);
          out += '(?<' + m[0];
          i += start + m[0].length;
        } else if (/^\(\?(=|!|<=|<!)/.test(rest)) {
          throw new SyntaxError('lookahead and lookbehind are not supported (RE2 syntax)');
        } else if (/^\(\?[a-zA-Z-]*[:)]/.test(rest)) {
          throw new SyntaxError('flags are only supported at the start of the regex, e.g. (?i)abc');
        } else {
          throw new SyntaxError(`invalid group ${JSON.stringify(rest.slice(0, 4))}`);
        }
        continue;
      }
      default:
        out += c;
        i++;
    }
  }
  if (inClass) throw new SyntaxError('missing closing ]');
  return { source: out, flags };
}

/** Translates the escape at `expr[i]` (a backslash): returns the JavaScript text and its length. */
function escape(expr: string, i: number, inClass: boolean): [string, number] {
  const c = expr[i + 1];
  if (c === undefined) throw new SyntaxError('trailing backslash');
  if (SIMPLE_ESCAPES.has(c)) return ['\\' + c, 2];
  if (c >= '1' && c <= '9') throw new SyntaxError(`backreferences are not supported (RE2 syntax): \\${c}`);
  switch (c) {
    case '0':
      return ['\\x00', 2];
    case 'a':
      return ['\\x07', 2];
    case 'A':
      if (inClass) throw new SyntaxError('\\A is not allowed inside [...]');
      return ['(?<![\\s\\S])', 2];
    case 'z':
      if (inClass) throw new SyntaxError('\\z is not allowed inside [...]');
      return ['(?![\\s\\S])', 2];
    case 'Q': {
      const end = expr.indexOf('\\E', i + 2);
      const literal = expr.slice(i + 2, end < 0 ? expr.length : end);
      let text = '';
      for (const ch of literal) text += literalChar(ch, inClass);
      return [text, (end < 0 ? expr.length : end + 2) - i];
    }
    case 'E':
      return ['', 2];
    case 'x': {
      const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(expr.slice(i + 2));
      if (braced) return [`\\u{${braced[1]}}`, 2 + braced[0].length];
      const short = /^[0-9A-Fa-f]{2}/.exec(expr.slice(i + 2));
      if (short) return ['\\x' + short[0], 4];
      throw new SyntaxError('invalid \\x escape');
    }
    case 'p':
    case 'P': {
      const m = /^(?:\{(\^?)([A-Za-z_]+)\}|([A-Za-z]))/.exec(expr.slice(i + 2));
      if (!m) throw new SyntaxError(`invalid \\${c} escape`);
      const name = m[2] ?? m[3];
      const negated = (c === 'P') !== (m[1] === '^');
      // One- and two-letter names are general categories (L, Lu); longer ones are scripts.
      const prop = name.length <= 2 || name === 'Any' ? name : 'Script=' + name;
      return [`\\${negated ? 'P' : 'p'}{${prop}}`, 2 + m[0].length];
    }
    default:
      if (/[A-Za-z]/.test(c)) throw new SyntaxError(`invalid escape \\${c}`);
      return [literalChar(c, inClass), 2];
  }
}

/** A character as a literal in `u` mode, where only syntax characters may be escaped. */
function literalChar(ch: string, inClass: boolean): string {
  if (JS_SYNTAX.has(ch) || (inClass && ch === '-')) return '\\' + ch;
  if (/[A-Za-z0-9_\s]/.test(ch) || ch.codePointAt(0)! > 0x7e) return ch;
  return '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
}

/**
 * Compiles a relabeling regex as Prometheus does: anchored at both ends (`^(?:expr)$`), so
 * `regex: foo` matches the value `foo` and not `foobar`. Throws a `SyntaxError` whose message
 * is fit for a config error.
 */
export function compileAnchoredRegex(expr: string): RegExp {
  const { source, flags } = translateRegex(expr);
  try {
    return new RegExp(`^(?:${source})$`, flags);
  } catch (err) {
    // V8 says "Invalid regular expression: /<source>/<flags>: <reason>"; the reason is the news.
    const reason = String((err as Error).message).replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    throw new SyntaxError(reason);
  }
}
