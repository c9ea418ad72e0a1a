/**
 * `%{ENV_VAR}` references, replaced in the raw file text before YAML sees it, as vmagent does,
 * so a variable may supply any part of the file: a scalar, a list, even a key. The expansion
 * remembers where every substitution came from, so positions found in the expanded text map
 * back to the line and column the author wrote (a position inside a substituted value maps to
 * the `%{` that produced it).
 *
 * Lines that are only a comment are left alone: a commented-out example may name a variable
 * that is not set. (Inside a block scalar such a line is content, not a comment, and is left
 * alone too.) An undefined variable is an error; a variable set to '' expands to ''.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface EnvProblem {
  /** Offset of the `%{` in the original text. */
  sourceOffset: number;
  /** Where the reference landed in the expanded text (it expanded to ''). */
  expandedOffset: number;
  message: string;
}

export interface EnvExpansion {
  text: string;
  problems: EnvProblem[];
  /** Maps an offset in `text` back to the offset in the original text. */
  toSourceOffset(expandedOffset: number): number;
}

interface Substitution {
  srcStart: number;
  srcEnd: number;
  outStart: number;
  outEnd: number;
}

const REFERENCE = /%\{([^}\r\n]*)\}/g;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COMMENT_LINE = /^[ \t]*#/;

export function expandEnv(text: string, env: Env): EnvExpansion {
  const subs: Substitution[] = [];
  const problems: EnvProblem[] = [];
  let out = '';
  let lineStart = 0;
  while (lineStart < text.length) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl < 0 ? text.length : nl + 1;
    const line = text.slice(lineStart, lineEnd);
    if (COMMENT_LINE.test(line) || !line.includes('%{')) {
      out += line;
    } else {
      let copied = 0;
      for (const m of line.matchAll(REFERENCE)) {
        const at = m.index;
        out += line.slice(copied, at);
        const name = m[1];
        let value = '';
        if (!VAR_NAME.test(name)) {
          problems.push({
            sourceOffset: lineStart + at,
            expandedOffset: out.length,
            message: `invalid environment variable reference ${m[0]}: a name is letters, digits and _`,
          });
        } else {
          const v = env[name];
          if (v === undefined) {
            problems.push({
              sourceOffset: lineStart + at,
              expandedOffset: out.length,
              message: `environment variable ${name} is not defined (referenced as ${m[0]})`,
            });
          } else {
            value = v;
          }
        }
        subs.push({
          srcStart: lineStart + at,
          srcEnd: lineStart + at + m[0].length,
          outStart: out.length,
          outEnd: out.length + value.length,
        });
        out += value;
        copied = at + m[0].length;
      }
      out += line.slice(copied);
    }
    lineStart = lineEnd;
  }

  return {
    text: out,
    problems,
    toSourceOffset(offset: number): number {
      // Last substitution starting at or before `offset`.
      let lo = 0;
      let hi = subs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (subs[mid].outStart <= offset) lo = mid + 1;
        else hi = mid;
      }
      if (lo === 0) return offset;
      const s = subs[lo - 1];
      // A value that expanded to '' still owns its start, so a node left empty by it points at the reference.
      return offset < s.outEnd || offset === s.outStart ? s.srcStart : s.srcEnd + (offset - s.outEnd);
    },
  };
}
