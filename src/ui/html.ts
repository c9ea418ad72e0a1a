/**
 * HTML escaping, in one place for the whole project. Every value interpolated into markup goes
 * through `escapeHtml`, usually by way of the `html` tagged template, whose result is marked
 * safe so that nesting templates never escapes twice and a plain string never skips escaping.
 */

/** Markup known to be safe: produced by `html` or vouched for with `raw`. */
export class Html {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Trusted markup that must not be escaped: constants of this codebase, never input. */
export function raw(markup: string): Html {
  return new Html(markup);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * Template literal tag: `html\`<td>${name}</td>\``. Strings and numbers are escaped, `Html`
 * values are inserted as they are, arrays are concatenated, and null, undefined and false
 * vanish so that conditionals read naturally.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}
