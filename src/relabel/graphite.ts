/**
 * vmagent's `graphite` action: a dotted-name template such as `foo.*.*.bar` where each `*`
 * captures one dot-free segment, and label templates (`$1`, `${1}`, `$0` for the whole name)
 * filled from those captures. A `$n` beyond the captures stays as written, as in vmagent.
 */

export class GraphiteMatch {
  /** Literal runs and `*` wildcards, empty runs left out. */
  private readonly parts: readonly string[];

  constructor(readonly template: string) {
    const parts: string[] = [];
    for (const [i, lit] of template.split('*').entries()) {
      if (i > 0) parts.push('*');
      if (lit !== '') parts.push(lit);
    }
    this.parts = parts;
  }

  /** `[name, capture1, capture2, ...]` when `name` fits the template. */
  match(name: string): string[] | undefined {
    const out = [name];
    const parts = this.parts;
    let s = name;
    let i = 0;
    while (i < parts.length) {
      const p = parts[i];
      if (p !== '*') {
        if (!s.startsWith(p)) return undefined;
        s = s.slice(p.length);
        i++;
        continue;
      }
      if (i + 1 >= parts.length) {
        if (s.includes('.')) return undefined;
        out.push(s);
        return out;
      }
      // The capture ends where the next literal first occurs, as in vmagent (no backtracking).
      const next = parts[i + 1];
      const n = s.indexOf(next);
      if (n < 0) return undefined;
      const captured = s.slice(0, n);
      if (captured.includes('.')) return undefined;
      out.push(captured);
      s = s.slice(n + next.length);
      i += 2;
    }
    return s === '' ? out : undefined;
  }
}

/** `raw` is the reference as written, kept when the index is out of range. */
type GraphitePart = { text: string } | { index: number; raw: string };

export class GraphiteLabelTemplate {
  private readonly parts: readonly GraphitePart[];

  constructor(readonly template: string) {
    const parts: GraphitePart[] = [];
    const re = /\$\{([^}]*)\}|\$([0-9]*)/g;
    let last = 0;
    for (let m = re.exec(template); m !== null; m = re.exec(template)) {
      if (m.index > last) parts.push({ text: template.slice(last, m.index) });
      const digits = m[1] ?? m[2];
      parts.push(/^[0-9]+$/.test(digits) ? { index: Number(digits), raw: m[0] } : { text: m[0] });
      last = re.lastIndex;
    }
    if (last < template.length) parts.push({ text: template.slice(last) });
    this.parts = parts;
  }

  expand(captures: readonly string[]): string {
    let out = '';
    for (const p of this.parts) {
      if ('text' in p) out += p.text;
      else out += p.index < captures.length ? captures[p.index] : p.raw;
    }
    return out;
  }
}
