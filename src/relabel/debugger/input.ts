/**
 * Reading what a person typed into the debugger: a label set in Prometheus' notation and a YAML
 * list of relabel rules. Problems come back as `ConfigIssue`s, placed by line, column and key
 * path the way configuration errors are, using the configuration's own YAML reader (scalars as
 * written, duplicate keys refused) and rule schema, so the debugger accepts exactly what a
 * configuration file would.
 */

import type * as z from 'zod';
import { parseYaml } from '../../config/document.js';
import { type ConfigIssue, type KeyPath, formatPath } from '../../config/errors.js';
import { describeValue } from '../../config/fields.js';
import { type RelabelConfig, relabelConfigsSchema } from '../../config/relabel.js';
import type { Labels } from '../../model/labels.js';
import { parseLabelSet, SelectorSyntaxError } from '../../config/selector.js';

/** The names issues carry in place of a file name. */
const LABELS_FIELD = 'labels';
const RULES_FIELD = 'rules';

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

export function readLabels(text: string): Read<Labels> {
  try {
    return { ok: true, value: parseLabelSet(text) };
  } catch (err) {
    if (!(err instanceof SelectorSyntaxError)) throw err;
    return { ok: false, issues: [{ file: LABELS_FIELD, ...textPosition(text, err.offset), path: '', message: err.detail }] };
  }
}

const NOUNS: Readonly<Record<string, string>> = { array: 'a list', object: 'a mapping', string: 'a string' };

/**
 * A list of rules, or a mapping holding one under a `*relabel_configs` key, as copied out of a
 * scrape job. An empty text is an empty list.
 */
export function readRules(text: string): Read<RelabelConfig[]> {
  const doc = parseYaml(text);
  const at = (offset: number, path: KeyPath, message: string): ConfigIssue => ({
    file: RULES_FIELD,
    ...textPosition(text, offset),
    path: formatPath(path),
    message,
  });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => {
        const first = e.relatedOffset === undefined ? '' : ` (first defined on line ${textPosition(text, e.relatedOffset).line})`;
        return at(e.offset, e.path, e.message + first);
      }),
    };
  }

  let data: unknown = doc.data ?? [];
  let prefix: KeyPath = [];
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const keys = Object.keys(data);
    if (keys.length === 1 && keys[0].endsWith('relabel_configs')) {
      prefix = [keys[0]];
      data = (data as Record<string, unknown>)[keys[0]] ?? [];
    }
  }
  const placed = (path: KeyPath, message: string, atKey = false): ConfigIssue => {
    const full = [...prefix, ...path];
    const loc = doc.index.get(full) ?? doc.index.nearest(full).loc;
    return at(atKey ? (loc.keyStart ?? loc.start) : loc.start, full, message);
  };

  const result = relabelConfigsSchema.safeParse(data, {
    reportInput: true,
    error: (iss: z.core.$ZodRawIssue) =>
      iss.code === 'invalid_type' ? `expected ${NOUNS[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}` : undefined,
  });
  if (!result.success) {
    return {
      ok: false,
      issues: result.error.issues.flatMap((iss) => {
        const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
        if (iss.code === 'unrecognized_keys') {
          return iss.keys.map((key) => placed([...path, key], `unknown key ${JSON.stringify(key)}`, true));
        }
        return [placed(path, iss.message)];
      }),
    };
  }

  // The schema has parsed the `if:` selectors and their regexes too.
  return { ok: true, value: result.data };
}
