/**
 * Relabel rules written back as YAML for people: only the keys that differ from Prometheus'
 * defaults, in the order its documentation lists them, so a page can show a rule in one line
 * and hand a whole list to the relabel debugger as text that reads back to the same configs.
 */

import { Document, stringify, visit } from 'yaml';
import type { RelabelConfig } from '../config/relabel.js';
import { DEFAULT_REGEX, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR } from '../config/relabel-actions.js';

/** The rule as a plain object without its defaults; `action` is always there. */
export function compactRule(rule: RelabelConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { action: rule.action };
  if (rule.source_labels.length > 0) out.source_labels = rule.source_labels;
  if (rule.separator !== DEFAULT_SEPARATOR) out.separator = rule.separator;
  if (rule.regex !== DEFAULT_REGEX) out.regex = rule.regex;
  if (rule.target_label !== '') out.target_label = rule.target_label;
  if (rule.replacement !== DEFAULT_REPLACEMENT) out.replacement = rule.replacement;
  if (rule.modulus !== 0) out.modulus = rule.modulus;
  if (rule.if !== undefined) out.if = rule.if;
  if (rule.match !== undefined) out.match = rule.match;
  if (rule.labels !== undefined) out.labels = rule.labels;
  return out;
}

/** One line of flow YAML: `{action: drop, source_labels: [a], regex: x.*}`. */
export function formatRelabelRule(rule: RelabelConfig): string {
  const compact = compactRule(rule);
  const flow = stringify(compact, { collectionStyle: 'flow', lineWidth: 0, flowCollectionPadding: false }).trim();
  // A value with a line break folds flow YAML over lines; JSON, also YAML, stays on one.
  return flow.includes('\n') ? JSON.stringify(compact) : flow;
}

/**
 * A block YAML list of the rules, as it would stand under `relabel_configs:`; lists inside a
 * rule (`source_labels`, `if`) in flow style, the way configurations are usually written.
 */
export function formatRelabelRules(rules: readonly RelabelConfig[]): string {
  if (rules.length === 0) return '[]\n';
  const doc = new Document(rules.map(compactRule));
  visit(doc, {
    Seq(_key, node) {
      if (node !== doc.contents) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
