/**
 * A relabel rule list typed into the relabel debugger, read as a configuration file's rules
 * are: the configuration's YAML reader (scalars as written, duplicate keys refused) and rule
 * schema, problems placed by line, column and key path. It runs where the schema may be
 * loaded: in the resolver's child process (isolated.ts), never in the agent.
 */

import type * as z from 'zod';
import { parseYaml } from './document.js';
import { type ConfigIssue, type KeyPath, type Read, formatPath, textPosition } from './errors.js';
import { describeValue } from './fields.js';
import { type RelabelConfig, relabelConfigsSchema } from './relabel.js';

/** The name issues carry in place of a file name. */
export const RULES_FIELD = 'rules';

const NOUNS: Readonly<Record<string, string>> = { array: 'a list', object: 'a mapping', string: 'a string' };

/**
 * A list of rules, or a mapping holding one under a `*relabel_configs` key, as copied out of a
 * scrape job. An empty text is an empty list.
 */
export function readRulesText(text: string): Read<RelabelConfig[]> {
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
