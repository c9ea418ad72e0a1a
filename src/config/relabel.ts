/**
 * Relabeling rules (`relabel_configs`, `metric_relabel_configs`, `write_relabel_configs`): every
 * Prometheus action plus vmagent's extensions (`replace_all`, `keep_if_equal`, `graphite`, ...,
 * and the `if`, `match` and `labels` keys), with Prometheus' defaults filled in and the rules
 * Prometheus enforces on which keys each action needs or forbids. Regexes are compiled at load
 * time with the same translation the relabeling engine uses (regex.ts), so a bad pattern is a
 * config error with a line number, not a runtime surprise.
 */

import * as z from 'zod';
import { compileAnchoredRegex } from './regex.js';
import { DEFAULT_REGEX, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR, RELABEL_ACTIONS, type RelabelAction } from './relabel-actions.js';
import { SelectorSyntaxError, SeriesSelector } from './selector.js';
import { text, textList, textMap, uint } from './fields.js';

export {
  DEFAULT_REGEX,
  DEFAULT_REPLACEMENT,
  DEFAULT_SEPARATOR,
  PROMETHEUS_RELABEL_ACTIONS,
  RELABEL_ACTIONS,
  VMAGENT_RELABEL_ACTIONS,
  type RelabelAction,
} from './relabel-actions.js';

const stringOrList = z.union([z.string(), z.array(z.string())], {
  error: 'expected a string or a list of strings',
});

const relabelObject = z.strictObject({
  source_labels: textList.optional(),
  separator: text.optional(),
  /** A string, or (vmagent) a list of alternatives. */
  regex: stringOrList.optional(),
  modulus: uint.optional(),
  target_label: text.optional(),
  replacement: text.optional(),
  action: text.optional(),
  /** vmagent: apply the rule only to series matching these selectors. */
  if: stringOrList.optional(),
  /** vmagent `graphite` action: the dotted-name template. */
  match: text.optional(),
  /** vmagent `graphite` action: labels to set from the template's captures. */
  labels: textMap.optional(),
});

type RawRelabel = z.output<typeof relabelObject>;

/** Actions that write `target_label`, so cannot do without it. */
const NEEDS_TARGET = new Set<RelabelAction>([
  'replace',
  'hashmod',
  'lowercase',
  'uppercase',
  'keepequal',
  'dropequal',
  'replace_all',
  'keep_if_contains',
  'drop_if_contains',
]);

function checkRelabel(r: RawRelabel, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  const action = (r.action ?? 'replace').toLowerCase() as RelabelAction;
  if (!(RELABEL_ACTIONS as readonly string[]).includes(action)) {
    issue(
      ['action'],
      `unknown relabel action ${JSON.stringify(r.action)}; expected one of ${RELABEL_ACTIONS.join(', ')}`,
    );
    return;
  }

  if (Array.isArray(r.regex)) {
    if (r.regex.length === 0) issue(['regex'], 'a regex list needs at least one entry');
    r.regex.forEach((re, i) => checkRegex(re, ['regex', i], issue));
  } else if (r.regex !== undefined) {
    checkRegex(r.regex, ['regex'], issue);
  }

  if (NEEDS_TARGET.has(action) && !r.target_label) issue([], `the ${action} action needs target_label`);
  if (action === 'hashmod' && !r.modulus) issue(['modulus'], 'the hashmod action needs a non-zero modulus');

  const nonDefault = {
    source_labels: r.source_labels !== undefined && r.source_labels.length > 0,
    separator: r.separator !== undefined && r.separator !== DEFAULT_SEPARATOR,
    regex: r.regex !== undefined && r.regex !== DEFAULT_REGEX,
    modulus: r.modulus !== undefined && r.modulus !== 0,
    target_label: r.target_label !== undefined && r.target_label !== '',
    replacement: r.replacement !== undefined && r.replacement !== DEFAULT_REPLACEMENT,
  };
  const onlyAllowed = (allowed: readonly (keyof typeof nonDefault)[], what: string) => {
    for (const [key, set] of Object.entries(nonDefault)) {
      if (set && !allowed.includes(key as keyof typeof nonDefault))
        issue([key], `the ${action} action takes only ${what}`);
    }
  };
  if (action === 'labeldrop' || action === 'labelkeep') onlyAllowed(['regex'], 'regex');
  // Prometheus refuses it: the action writes the source value case-changed, never a replacement.
  if ((action === 'lowercase' || action === 'uppercase') && nonDefault.replacement)
    issue(['replacement'], `replacement cannot be set for the ${action} action`);
  if (action === 'keepequal' || action === 'dropequal')
    onlyAllowed(['source_labels', 'target_label'], 'source_labels and target_label');

  const sources = r.source_labels?.length ?? 0;
  if ((action === 'keep_if_equal' || action === 'drop_if_equal') && sources < 2) {
    issue([], `the ${action} action needs at least two source_labels`);
  }
  if (
    (action === 'keep_if_contains' || action === 'drop_if_contains' || action === 'replace_all') &&
    sources === 0
  ) {
    issue([], `the ${action} action needs source_labels`);
  }
  if ((action === 'keep_metrics' || action === 'drop_metrics') && r.regex === undefined) {
    issue([], `the ${action} action needs regex`);
  }
  if (action === 'graphite') {
    if (r.match === undefined) issue([], 'the graphite action needs match');
    if (r.labels === undefined) issue([], 'the graphite action needs labels');
  } else {
    if (r.match !== undefined) issue(['match'], 'match is only used by the graphite action');
    if (r.labels !== undefined) issue(['labels'], 'labels is only used by the graphite action');
  }

  checkSelectors(r.if, 'if', issue);
}

function checkRegex(
  re: string,
  path: (string | number)[],
  issue: (path: (string | number)[], message: string) => void,
): void {
  try {
    compileAnchoredRegex(re);
  } catch (err) {
    issue(path, `invalid regex ${JSON.stringify(re)}: ${(err as Error).message}`);
  }
}

export const relabelConfigSchema = relabelObject.superRefine(checkRelabel).transform((r) => {
  const regexList =
    r.regex === undefined ? [DEFAULT_REGEX] : typeof r.regex === 'string' ? [r.regex] : r.regex;
  return {
    source_labels: r.source_labels ?? [],
    separator: r.separator ?? DEFAULT_SEPARATOR,
    /** vmagent's list form is joined into one alternation. */
    regex: regexList.join('|'),
    modulus: r.modulus ?? 0,
    target_label: r.target_label ?? '',
    replacement: r.replacement ?? DEFAULT_REPLACEMENT,
    action: (r.action ?? 'replace').toLowerCase() as RelabelAction,
    ...(r.if !== undefined ? { if: typeof r.if === 'string' ? [r.if] : r.if } : {}),
    ...(r.match !== undefined ? { match: r.match } : {}),
    ...(r.labels !== undefined ? { labels: r.labels } : {}),
  };
});

export type RelabelConfig = z.output<typeof relabelConfigSchema>;

/** A relabel rule list; `null` items (`- ` with nothing after it) are rejected like Prometheus does. */
export const relabelConfigsSchema = z.array(relabelConfigSchema);

/**
 * A key holding a series selector or a list of them (`if:`, a stream aggregation rule's
 * `match:`): each parsed here, not only when the rule is compiled, so check-config finds a bad one.
 */
export function checkSelectors(value: string | readonly string[] | undefined, key: string, issue: (path: (string | number)[], message: string) => void): void {
  const list = typeof value === 'string' ? [value] : (value ?? []);
  list.forEach((sel, i) => {
    const path = typeof value === 'string' ? [key] : [key, i];
    if (sel.trim() === '') return issue(path, 'an empty series selector');
    try {
      SeriesSelector.parse(sel);
    } catch (err) {
      issue(path, err instanceof SelectorSyntaxError ? `invalid series selector: ${err.detail}` : (err as Error).message);
    }
  });
}
