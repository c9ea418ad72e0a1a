/**
 * Loading a configuration file: expand `%{ENV}` references, parse YAML into data and a position
 * index, validate with the schema, and turn every problem into a `ConfigIssue` with the file,
 * line, column and key path it is about. All problems of a stage are reported together; later
 * stages run only when earlier ones found nothing, since a missing variable or a syntax error
 * would make the schema's complaints misleading.
 */

import { readFile } from 'node:fs/promises';
import { LineCounter } from 'yaml';
import type * as z from 'zod';
import { parseYaml } from './document.js';
import type { LocationIndex } from './document.js';
import { expandEnv } from './env.js';
import type { Env } from './env.js';
import { ConfigError, formatPath } from './errors.js';
import type { ConfigIssue, ConfigWarning, KeyPath } from './errors.js';
import { describeValue } from './fields.js';
import { configSchema, configWarnings } from './schema.js';
import type { TributaryConfig } from './schema.js';

export interface LoadedConfig {
  config: TributaryConfig;
  warnings: ConfigWarning[];
}

/** Parses configuration text; `fileName` is only used in messages. Throws `ConfigError`. */
export function parseConfigText(text: string, fileName: string, env: Env = process.env): LoadedConfig {
  const expansion = expandEnv(text, env);
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);

  const at = (sourceOffset: number, path: KeyPath, message: string): ConfigIssue => {
    const { line, col } = lines.linePos(sourceOffset);
    return { file: fileName, line, column: col, path: formatPath(path), message };
  };
  const atExpanded = (offset: number, path: KeyPath, message: string) =>
    at(expansion.toSourceOffset(offset), path, message);

  const doc = parseYaml(expansion.text);
  const early: ConfigIssue[] = [];
  for (const p of expansion.problems)
    early.push(at(p.sourceOffset, doc.index.pathAt(p.expandedOffset), p.message));
  for (const e of doc.errors) {
    const first =
      e.relatedOffset === undefined
        ? ''
        : ` (first defined on line ${lines.linePos(expansion.toSourceOffset(e.relatedOffset)).line})`;
    early.push(atExpanded(e.offset, e.path, e.message + first));
  }
  if (early.length > 0) throw new ConfigError(sorted(early));

  const data = doc.data === undefined ? {} : doc.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError([
      atExpanded(
        0,
        [],
        `the file must hold a mapping of sections (global, scrape_configs, ...), not ${describeValue(data)}`,
      ),
    ]);
  }

  // Which keys the object rejecting an unknown key has, for "did you mean" hints.
  const knownKeys = new WeakMap<object, string[]>();
  const result = configSchema.safeParse(data, {
    reportInput: true,
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const shape = (iss.inst as { shape?: Record<string, unknown> } | undefined)?.shape;
        if (shape && iss.input && typeof iss.input === 'object') knownKeys.set(iss.input, Object.keys(shape));
        return undefined;
      }
      return zodMessage(iss);
    },
  });
  if (!result.success) {
    const issues = result.error.issues.flatMap((iss) => locateIssue(iss, doc.index, knownKeys, atExpanded));
    throw new ConfigError(sorted(issues));
  }

  const warnings: ConfigWarning[] = doc.warnings.map((w) => atExpanded(w.offset, w.path, w.message));
  for (const w of configWarnings(result.data)) {
    const loc = doc.index.nearest(w.path).loc;
    warnings.push(atExpanded(loc.keyStart ?? loc.start, w.path, w.message));
  }
  return { config: result.data, warnings: sorted(warnings) };
}

/** Reads and parses a configuration file. Throws `ConfigError`, or the file system's error. */
export async function loadConfigFile(path: string, env: Env = process.env): Promise<LoadedConfig> {
  return parseConfigText(await readFile(path, 'utf8'), path, env);
}

type Locate = (offset: number, path: KeyPath, message: string) => ConfigIssue;

function locateIssue(
  iss: z.core.$ZodIssue,
  index: LocationIndex,
  knownKeys: WeakMap<object, string[]>,
  at: Locate,
): ConfigIssue[] {
  const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (iss.code === 'unrecognized_keys') {
    const known = iss.input && typeof iss.input === 'object' ? knownKeys.get(iss.input) : undefined;
    return iss.keys.map((key) => {
      const keyPath = [...path, key];
      const loc = index.get(keyPath) ?? index.nearest(keyPath).loc;
      const hint = known ? closest(key, known) : undefined;
      return at(
        loc.keyStart ?? loc.start,
        keyPath,
        `unknown key ${JSON.stringify(key)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ''}`,
      );
    });
  }
  const loc = index.get(path);
  if (!loc) {
    const nearest = index.nearest(path);
    const last = path[path.length - 1];
    // Nothing was written at this path: a required key is missing (point at its mapping), or
    // the check is about a value a default filled in (point at the closest written ancestor).
    const missing = iss.input === undefined && nearest.depth === path.length - 1 && typeof last === 'string';
    const message =
      missing && isTypeComplaint(iss) ? `missing required key ${JSON.stringify(last)}` : iss.message;
    return [at(nearest.loc.start, path, message)];
  }
  const atKey = iss.code === 'custom' && (iss.params as { at?: string } | undefined)?.at === 'key';
  // Written but empty (`key:`): the data holds undefined, which the messages call "nothing".
  const message =
    iss.input === undefined ? iss.message.replace(/, got nothing$/, ', got an empty value') : iss.message;
  return [at(atKey ? (loc.keyStart ?? loc.start) : loc.start, path, message)];
}

/** A complaint that the value has the wrong type, which for an absent key means it is missing. */
function isTypeComplaint(iss: z.core.$ZodIssue): boolean {
  return iss.code === 'invalid_type' || (iss.code === 'custom' && iss.message.startsWith('expected '));
}

const NOUNS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Messages for zod's own issues, worded like the rest; `undefined` keeps zod's. */
function zodMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${NOUNS[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      if (iss.values.length === 1)
        return `expected ${JSON.stringify(iss.values[0])}, got ${describeValue(iss.input)}`;
      return `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}; got ${describeValue(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'string' && Number(iss.minimum) === 1) return 'must not be empty';
      if (iss.origin === 'array')
        return `needs at least ${iss.minimum} ${Number(iss.minimum) === 1 ? 'item' : 'items'}`;
      return undefined;
    case 'invalid_union':
      return `unexpected ${describeValue(iss.input)}`;
    default:
      return undefined;
  }
}

function sorted(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The known key closest to a misspelt one, if it is close enough to be the likely intent. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.min(3, Math.floor(key.length / 2) + 1);
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...new Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
