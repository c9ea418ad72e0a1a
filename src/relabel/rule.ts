/**
 * One relabel config compiled for the engine: regexes translated and compiled once, templates
 * parsed once, `if:` selectors parsed once, so processing a series does no parsing at all.
 */

import { compileAnchoredRegex, compileRegex, type Regex } from '../config/regex.js';
import type { RelabelAction, RelabelConfig } from '../config/relabel.js';
import { GraphiteLabelTemplate, GraphiteMatch } from './graphite.js';
import { anySelector, SeriesSelector, type LabelGetter } from '../config/selector.js';
import { GoTemplate } from './template.js';

export interface CompiledRule {
  readonly config: RelabelConfig;
  readonly action: RelabelAction;
  readonly sourceLabels: readonly string[];
  readonly separator: string;
  readonly targetLabel: string;
  readonly targetTemplate: GoTemplate;
  /** Anchored like Prometheus' `^(?s:regex)$`. */
  readonly regex: Regex;
  /** vmagent's `*_all` actions replace every match, so they need the regex unanchored. */
  readonly unanchored: Regex | undefined;
  readonly replacement: GoTemplate;
  /** vmagent's `{{label}}` references in `replacement`, filled per series before `$` expansion. */
  readonly hasLabelRefs: boolean;
  readonly modulus: bigint;
  readonly graphite: GraphiteRule | undefined;
  /** vmagent's `if:`; undefined when the rule applies to every series. */
  readonly when: ((get: LabelGetter) => boolean) | undefined;
}

export interface GraphiteRule {
  readonly match: GraphiteMatch;
  readonly labels: readonly (readonly [string, GraphiteLabelTemplate])[];
}

/** Regexes Prometheus compiles `^(?s:...)$`: `.` matches newlines in label values too. */
export function compileRelabelRegex(expr: string): Regex {
  return compileAnchoredRegex(expr);
}

export function compileRule(config: RelabelConfig): CompiledRule {
  const action = config.action;
  const sourceLabels =
    action === 'keep_metrics' || action === 'drop_metrics' ? ['__name__'] : config.source_labels;
  let unanchored: Regex | undefined;
  if (action === 'replace_all' || action === 'labelmap_all') unanchored = compileRegex(config.regex);
  let graphite: GraphiteRule | undefined;
  if (action === 'graphite') {
    graphite = {
      match: new GraphiteMatch(config.match ?? ''),
      labels: Object.entries(config.labels ?? {}).map(([name, t]) => [name, new GraphiteLabelTemplate(t)] as const),
    };
  }
  const selectors = config.if?.map((s) => SeriesSelector.parse(s));
  return {
    config,
    action,
    sourceLabels,
    separator: config.separator,
    targetLabel: config.target_label,
    targetTemplate: GoTemplate.parse(config.target_label),
    regex: compileRelabelRegex(config.regex),
    unanchored,
    replacement: GoTemplate.parse(config.replacement),
    hasLabelRefs: config.replacement.includes('{{'),
    modulus: BigInt(config.modulus),
    graphite,
    when: selectors && selectors.length > 0 ? anySelector(selectors) : undefined,
  };
}
