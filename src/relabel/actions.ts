/**
 * The table of relabel actions: each takes a compiled rule and the series being rewritten and
 * says whether the series lives on. Prometheus' actions follow model/relabel/relabel.go to the
 * letter; vmagent's extras follow lib/promrelabel.
 */

import { createHash } from 'node:crypto';
import type { RelabelAction } from '../config/relabel.js';
import type { SeriesEdit } from './series-edit.js';
import { isValidUtf8Name } from '../model/names.js';
import type { CompiledRule } from './rule.js';
import { GoTemplate, replaceAllGo } from './template.js';

/** Applies one rule; false drops the series. */
export type ActionFn = (rule: CompiledRule, lb: SeriesEdit) => boolean;

export const ACTIONS: Readonly<Record<RelabelAction, ActionFn>> = {
  replace,
  keep: (rule, lb) => rule.regex.test(sourceValue(rule, lb)),
  drop: (rule, lb) => !rule.regex.test(sourceValue(rule, lb)),
  keepequal: (rule, lb) => (lb.get(rule.targetLabel) ?? '') === sourceValue(rule, lb),
  dropequal: (rule, lb) => (lb.get(rule.targetLabel) ?? '') !== sourceValue(rule, lb),
  hashmod,
  labelmap,
  labeldrop: (rule, lb) => dropNames(lb, (name) => rule.regex.test(name)),
  labelkeep: (rule, lb) => dropNames(lb, (name) => !rule.regex.test(name)),
  lowercase: (rule, lb) => set(lb, rule.targetLabel, goCase(sourceValue(rule, lb), false)),
  uppercase: (rule, lb) => set(lb, rule.targetLabel, goCase(sourceValue(rule, lb), true)),

  replace_all: replaceAll,
  labelmap_all: labelmapAll,
  keep_if_equal: (rule, lb) => allEqual(rule, lb),
  drop_if_equal: (rule, lb) => !allEqual(rule, lb),
  keep_if_contains: (rule, lb) => containsAll(rule, lb),
  drop_if_contains: (rule, lb) => !containsAll(rule, lb),
  // Both read `__name__` (rule.ts puts it in sourceLabels) and then behave as keep and drop.
  keep_metrics: (rule, lb) => rule.regex.test(sourceValue(rule, lb)),
  drop_metrics: (rule, lb) => !rule.regex.test(sourceValue(rule, lb)),
  graphite,
};

/** The source label values joined by the separator; an absent label counts as ''. */
function sourceValue(rule: CompiledRule, lb: SeriesEdit): string {
  const names = rule.sourceLabels;
  if (names.length === 1) return lb.get(names[0]) ?? '';
  let out = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += rule.separator;
    out += lb.get(names[i]) ?? '';
  }
  return out;
}

function set(lb: SeriesEdit, name: string, value: string): true {
  lb.set(name, value);
  return true;
}

function replace(rule: CompiledRule, lb: SeriesEdit): boolean {
  const val = sourceValue(rule, lb);
  const m = rule.regex.exec(val);
  // No match, no replacement.
  if (m === null) return true;
  const target = rule.targetTemplate.expand(m);
  // Prometheus leaves the set unchanged when the expanded name is not a valid (UTF-8) name.
  if (!isValidUtf8Name(target)) return true;
  const template = rule.hasLabelRefs ? GoTemplate.parse(fillLabelRefs(rule.config.replacement, lb)) : rule.replacement;
  // An empty value deletes the target (SeriesEdit.set does that).
  lb.set(target, template.expand(m));
  return true;
}

/** vmagent's `{{name}}` → the label's current value; an unclosed `{{` stays as text. */
function fillLabelRefs(replacement: string, lb: SeriesEdit): string {
  let out = '';
  let s = replacement;
  for (;;) {
    const open = s.indexOf('{{');
    if (open < 0) return out + s;
    out += s.slice(0, open);
    s = s.slice(open + 2);
    const close = s.indexOf('}}');
    if (close < 0) return out + '{{' + s;
    out += lb.get(s.slice(0, close)) ?? '';
    s = s.slice(close + 2);
  }
}

function hashmod(rule: CompiledRule, lb: SeriesEdit): boolean {
  const sum = createHash('md5').update(sourceValue(rule, lb), 'utf8').digest();
  // Prometheus keeps only the last 8 bytes of the MD5 sum, read big-endian, for compatibility
  // with its earlier versions.
  const mod = sum.readBigUInt64BE(8) % rule.modulus;
  lb.set(rule.targetLabel, mod.toString());
  return true;
}

/** Name/value pairs as they are now, so a rule may add and delete while walking them. */
function snapshot(lb: SeriesEdit): string[] {
  const kv: string[] = [];
  lb.forEach((n, v) => kv.push(n, v));
  return kv;
}

function labelmap(rule: CompiledRule, lb: SeriesEdit): boolean {
  const kv = snapshot(lb);
  for (let i = 0; i < kv.length; i += 2) {
    const m = rule.regex.exec(kv[i]);
    if (m === null) continue;
    const name = rule.replacement.expand(m);
    // Prometheus would set an empty name; a label set here cannot hold one.
    if (name !== '') lb.set(name, kv[i + 1]);
  }
  return true;
}

function dropNames(lb: SeriesEdit, drop: (name: string) => boolean): boolean {
  const doomed: string[] = [];
  lb.forEach((name) => {
    if (drop(name)) doomed.push(name);
  });
  for (const name of doomed) lb.del(name);
  return true;
}

function replaceAll(rule: CompiledRule, lb: SeriesEdit): boolean {
  const val = sourceValue(rule, lb);
  const out = replaceAllGo(rule.unanchored!, val, rule.replacement);
  if (out !== val) lb.set(rule.targetLabel, out);
  return true;
}

/** Renames every label whose name contains a match (vmagent renames in place, no copy). */
function labelmapAll(rule: CompiledRule, lb: SeriesEdit): boolean {
  const kv = snapshot(lb);
  for (let i = 0; i < kv.length; i += 2) {
    const name = replaceAllGo(rule.unanchored!, kv[i], rule.replacement);
    if (name === kv[i]) continue;
    lb.del(kv[i]);
    if (name !== '') lb.set(name, kv[i + 1]);
  }
  return true;
}

function allEqual(rule: CompiledRule, lb: SeriesEdit): boolean {
  const first = lb.get(rule.sourceLabels[0]) ?? '';
  for (let i = 1; i < rule.sourceLabels.length; i++) {
    if ((lb.get(rule.sourceLabels[i]) ?? '') !== first) return false;
  }
  return true;
}

/** Whether the target label's value contains every source label's value as a substring. */
function containsAll(rule: CompiledRule, lb: SeriesEdit): boolean {
  const target = lb.get(rule.targetLabel) ?? '';
  return rule.sourceLabels.every((name) => target.includes(lb.get(name) ?? ''));
}

function graphite(rule: CompiledRule, lb: SeriesEdit): boolean {
  const g = rule.graphite!;
  const captures = g.match.match(lb.get('__name__') ?? '');
  if (captures === undefined) return true;
  for (const [name, template] of g.labels) lb.set(name, template.expand(captures));
  return true;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * Go's strings.ToLower/ToUpper map each code point on its own (simple case mapping), where
 * JavaScript applies full mappings: 'ß' upper-cases to 'SS' and a final 'Σ' lower-cases to 'ς'
 * in JavaScript, not in Go. Mapping code point by code point and keeping those whose mapping
 * is not a single code point gives Go's result.
 */
function goCase(s: string, upper: boolean): string {
  if (ASCII.test(s)) return upper ? s.toUpperCase() : s.toLowerCase();
  let out = '';
  for (const ch of s) {
    if (!upper && ch === '\u0130') {
      out += 'i'; // Go maps İ to i; JavaScript to i + combining dot
      continue;
    }
    const mapped = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += mapped.length === ch.length || [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}
