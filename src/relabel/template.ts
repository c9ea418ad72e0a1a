/**
 * Go's `Regexp.Expand` template language, which relabeling inherits from Prometheus: `$1`,
 * `${1}`, `$name`, `${name}`, `$$` for a dollar. Templates are parsed once per rule so that
 * expanding one costs a walk over a few parts, not a re-scan of the text per series.
 */

import type { Regex, RegexMatch } from '../config/regex.js';

/** A literal run, a group number, or a group name. */
type Part = { text: string } | { index: number } | { name: string };

/** Go's `extract` takes letters, digits and `_` as the name: `$1x` is the group named `1x`. */
const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

export class GoTemplate {
  private constructor(
    private readonly parts: readonly Part[],
    /** The template text when it references no group at all. */
    readonly literal: string | undefined,
  ) {}

  static parse(template: string): GoTemplate {
    const parts: Part[] = [];
    let text = '';
    let i = 0;
    while (i < template.length) {
      const c = template[i];
      if (c !== '$') {
        text += c;
        i++;
        continue;
      }
      if (template[i + 1] === '$') {
        text += '$';
        i += 2;
        continue;
      }
      const ref = extractRef(template, i + 1);
      if (ref === undefined) {
        // Go keeps a malformed reference's `$` as text and reads on after it.
        text += '$';
        i++;
        continue;
      }
      if (text !== '') parts.push({ text });
      text = '';
      parts.push(ref.part);
      i = ref.end;
    }
    if (text !== '') parts.push({ text });
    const literal = parts.every((p) => 'text' in p) ? parts.map((p) => (p as { text: string }).text).join('') : undefined;
    return new GoTemplate(parts, literal);
  }

  /** The template with `m`'s groups filled in; a group that is unknown or did not take part expands to ''. */
  expand(m: RegexMatch): string {
    if (this.literal !== undefined) return this.literal;
    let out = '';
    for (const p of this.parts) {
      if ('text' in p) out += p.text;
      else if ('index' in p) out += m[p.index] ?? '';
      else out += m.groups?.[p.name] ?? '';
    }
    return out;
  }
}

/** Reads the reference after a `$` at `start`, as Go's `extract` does. */
function extractRef(t: string, start: number): { part: Part; end: number } | undefined {
  let i = start;
  const brace = t[i] === '{';
  if (brace) i++;
  const nameStart = i;
  while (i < t.length) {
    const cp = t.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === nameStart) return undefined;
  const name = t.slice(nameStart, i);
  if (brace) {
    if (t[i] !== '}') return undefined;
    i++;
  }
  // Only plain decimals without leading zeros (and below 1e8, as in Go) are group numbers.
  const isNumber = /^(?:0|[1-9][0-9]{0,7})$/.test(name);
  return { part: isNumber ? { index: Number(name) } : { name }, end: i };
}

/**
 * Go's `ReplaceAllString`: every non-overlapping match of the unanchored `re` replaced by the expanded template. It differs from `String.replace` in one rule:
 * an empty match right after a previous match is not replaced (`b*` on `abc` gives `-a-c-`,
 * where JavaScript gives `-a--c-`).
 */
export function replaceAllGo(re: Regex, src: string, template: GoTemplate): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    const found = re.execFrom(src, searchPos);
    if (found === null) break;
    const { match: m, end } = found;
    const start = m.index;
    out += src.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += template.expand(m);
    lastMatchEnd = end;
    // Always advance at least one character (a whole code point, as Go advances a rune).
    const width = searchPos < src.length ? String.fromCodePoint(src.codePointAt(searchPos)!).length : 0;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastMatchEnd);
}
