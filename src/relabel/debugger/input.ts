/**
 * Reading what a person typed into the debugger: a label set in Prometheus' notation and a YAML
 * list of relabel rules. Problems come back as `ConfigIssue`s, placed by line, column and key
 * path the way configuration errors are. The rules are read by the configuration's own YAML
 * reader and rule schema, so the debugger accepts exactly what a configuration file would —
 * in the configuration resolver's child process (config/isolated.ts), so the agent never
 * loads the schema library for a debugging session.
 */

import { type Read, textPosition } from '../../config/errors.js';
import { readRulesIsolated } from '../../config/isolated.js';
import type { RelabelConfig } from '../../config/relabel.js';
import type { Labels } from '../../model/labels.js';
import { parseLabelSet, SelectorSyntaxError } from '../../config/selector.js';

export type { Read } from '../../config/errors.js';
export { textPosition } from '../../config/errors.js';

/** The name issues carry in place of a file name. */
const LABELS_FIELD = 'labels';

export function readLabels(text: string): Read<Labels> {
  try {
    return { ok: true, value: parseLabelSet(text) };
  } catch (err) {
    if (!(err instanceof SelectorSyntaxError)) throw err;
    return { ok: false, issues: [{ file: LABELS_FIELD, ...textPosition(text, err.offset), path: '', message: err.detail }] };
  }
}

/**
 * A list of rules, or a mapping holding one under a `*relabel_configs` key, as copied out of a
 * scrape job. An empty text is an empty list.
 */
export function readRules(text: string): Promise<Read<RelabelConfig[]>> {
  return readRulesIsolated(text);
}
