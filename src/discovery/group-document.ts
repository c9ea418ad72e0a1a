/**
 * The document file_sd and http_sd read: a list of `{targets: [...], labels: {...}}`, each
 * target a `host:port` string. Validated here so that both discoverers reject the same
 * things with messages that point at the offending entry, and tag groups the same way.
 */

import { ADDRESS_LABEL, type TargetGroup } from './target-group.js';

export class GroupDocumentError extends Error {}

/**
 * Groups from a parsed document. `sourcePrefix` names the origin (a path or URL); a group's
 * source becomes `<prefix>:<index>` and `metaLabels` are added to every group's labels.
 */
export function groupsFromDocument(
  doc: unknown,
  sourcePrefix: string,
  metaLabels: Record<string, string>,
  options: { rejectUnknownKeys: boolean },
): TargetGroup[] {
  // An empty YAML file parses to null: Prometheus treats it as no groups.
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new GroupDocumentError(`expected a list of target groups, got ${kind(doc)}`);
  return doc.map((entry: unknown, i: number): TargetGroup => {
    const where = `target group ${i}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new GroupDocumentError(`${where}: expected a mapping with targets and labels, got ${kind(entry)}`);
    }
    const { targets = [], labels = {}, ...rest } = entry as Record<string, unknown>;
    const unknownKeys = Object.keys(rest);
    // Prometheus decodes YAML strictly but JSON leniently (Go's encoding/json ignores extras).
    if (options.rejectUnknownKeys && unknownKeys.length > 0) {
      throw new GroupDocumentError(`${where}: unknown key ${JSON.stringify(unknownKeys[0])} (expected targets, labels)`);
    }
    return {
      source: `${sourcePrefix}:${i}`,
      targets: targetList(targets ?? [], where).map((t) => ({ [ADDRESS_LABEL]: t })),
      labels: { ...labelSet(labels ?? {}, where), ...metaLabels },
    };
  });
}

function targetList(v: unknown, where: string): string[] {
  if (!Array.isArray(v)) throw new GroupDocumentError(`${where}: targets must be a list, got ${kind(v)}`);
  return v.map((t: unknown, j: number) => {
    if (typeof t !== 'string' || t === '') {
      throw new GroupDocumentError(`${where}: target ${j} must be a non-empty string, got ${kind(t)}`);
    }
    return t;
  });
}

function labelSet(v: unknown, where: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new GroupDocumentError(`${where}: labels must be a mapping, got ${kind(v)}`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v)) {
    // Prometheus 3 accepts any UTF-8 label name; only the empty name is invalid.
    if (name === '') throw new GroupDocumentError(`${where}: empty label name`);
    if (typeof value !== 'string') {
      throw new GroupDocumentError(`${where}: label ${JSON.stringify(name)} must be a string, got ${kind(value)}`);
    }
    out[name] = value;
  }
  return out;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
