/**
 * What the loader reports back: problems that stop a configuration from loading (`ConfigError`,
 * carrying every `ConfigIssue` found, not just the first) and warnings about parts that load but
 * that Tributary does not act on. Both point at a file, a 1-based line and column, and a key
 * path written the way a user would navigate the file (`scrape_configs[0].scrape_interval`).
 */

export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted key path with `[i]` for list items; '' when the problem has no place in the tree. */
  path: string;
  message: string;
}

export type ConfigWarning = ConfigIssue;

/** `FILE:LINE:COLUMN: PATH: MESSAGE`, the path part left out when there is none. */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}: `;
  return where + (issue.path === '' ? '' : issue.path + ': ') + issue.message;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** A key path as zod and the position index see it: keys and list indexes. */
export type KeyPath = readonly (string | number)[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `["scrape_configs", 0, "labels", "app.kubernetes.io/name"]` becomes
 * `scrape_configs[0].labels["app.kubernetes.io/name"]`.
 */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += (out === '' ? '' : '.') + seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** What reading a user's text gives: its value, or every problem found, placed. */
export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: ConfigIssue[] };

/** 1-based line and column of a UTF-16 offset, as the configuration loader counts them. */
export function textPosition(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < offset; nl = text.indexOf('\n', nl + 1)) {
    line++;
    lineStart = nl + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
