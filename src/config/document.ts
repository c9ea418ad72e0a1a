/**
 * YAML text to plain data, plus an index from every key path to where it was written.
 *
 * Scalars are kept as the text the author wrote (YAML's failsafe schema): the schema decides
 * what a scalar means from the field it lands in, the way Go's yaml.v2 decodes Prometheus'
 * config into typed structs. So `version: 1.0` under `labels` stays "1.0", and `yes` is a
 * boolean only where a boolean is expected. A null scalar (`key:`, `~`, `null`) becomes
 * `undefined` as a mapping value, which reads as "not set", and `null` as a list item, which
 * the schema rejects.
 *
 * Also handled here because the plain data cannot show them: duplicate keys (an error), aliases
 * and `<<` merge keys (expanded, as yaml.v2 does), and non-scalar keys (an error).
 */

import { isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Scalar, YAMLMap } from 'yaml';
import type { KeyPath } from './errors.js';

export interface Location {
  /** Offset of the key, when the path ends in a mapping key. */
  keyStart?: number;
  /** Offset where the value starts (for an empty value: where it would have been). */
  start: number;
  end: number;
}

export class LocationIndex {
  private readonly byPath = new Map<string, Location>();

  set(path: KeyPath, loc: Location): void {
    const k = pathKey(path);
    if (!this.byPath.has(k)) this.byPath.set(k, loc);
  }

  get(path: KeyPath): Location | undefined {
    return this.byPath.get(pathKey(path));
  }

  /** The location of the longest prefix of `path` that was written, and that prefix's length. */
  nearest(path: KeyPath): { loc: Location; depth: number } {
    for (let n = path.length; n > 0; n--) {
      const loc = this.get(path.slice(0, n));
      if (loc) return { loc, depth: n };
    }
    return { loc: this.get([]) ?? { start: 0, end: 0 }, depth: 0 };
  }

  /** The deepest written path whose value spans `offset`. */
  pathAt(offset: number): KeyPath {
    let best: KeyPath = [];
    for (const [k, loc] of this.byPath) {
      const start = loc.keyStart ?? loc.start;
      if (start <= offset && offset <= loc.end) {
        const path = JSON.parse(k) as KeyPath;
        if (path.length >= best.length) best = path;
      }
    }
    return best;
  }
}

function pathKey(path: KeyPath): string {
  return JSON.stringify(path);
}

export interface DocumentProblem {
  offset: number;
  path: KeyPath;
  message: string;
  /** A second offset the message refers to (the first occurrence of a duplicate key). */
  relatedOffset?: number;
}

export interface ParsedDocument {
  /** The document as plain data; `undefined` for an empty document. */
  data: unknown;
  index: LocationIndex;
  errors: DocumentProblem[];
  warnings: DocumentProblem[];
}

/**
 * A `\uD800`-style escape yields half of a surrogate pair, which has no UTF-8 encoding: sent
 * on, it would be an invalid label or header. Prometheus refuses such escapes too.
 */
const LONE_SURROGATE = /\p{Cs}/u;
const NOT_UTF8 = 'not valid UTF-8: an escape names half of a UTF-16 surrogate pair';

const NULL_SCALARS = new Set(['', '~', 'null', 'Null', 'NULL']);
const MERGE_KEY = '<<';
/** Guards against alias bombs (a few lines of anchors expanding to millions of nodes). */
const MAX_NODES = 1_000_000;

export function parseYaml(text: string): ParsedDocument {
  const doc = parseDocument(text, {
    schema: 'failsafe',
    uniqueKeys: false, // reported below, with the key path
    prettyErrors: false,
    merge: false, // expanded below, so merged keys keep their positions
  });
  const index = new LocationIndex();
  const errors: DocumentProblem[] = [];
  const warnings: DocumentProblem[] = [];
  for (const e of doc.errors)
    errors.push({ offset: e.pos[0], path: [], message: yamlMessage(e.code, e.message) });
  for (const w of doc.warnings) warnings.push({ offset: w.pos[0], path: [], message: w.message });

  const converter = new Converter(doc, index, errors);
  const contents = doc.contents as YamlNode | null;
  const data = contents ? converter.convert(contents, []) : undefined;
  if (!contents) index.set([], { start: 0, end: 0 });

  // Syntax errors carry no path; give them the deepest one around them.
  for (const e of errors) {
    if (e.path.length > 0) continue;
    e.path = index.pathAt(e.offset);
    // An unclosed quote is noticed where the text ends; the author needs where it opens.
    if (e.message.startsWith(UNCLOSED_QUOTE)) e.offset = index.get(e.path)?.start ?? e.offset;
  }
  for (const w of warnings) w.path = index.pathAt(w.offset);
  return { data: data === null ? undefined : data, index, errors, warnings };
}

const UNCLOSED_QUOTE = 'YAML syntax error: a quoted string is not closed';

function yamlMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'the file holds more than one YAML document';
  const quote = /^Missing closing (["'])quote/.exec(message);
  if (code === 'MISSING_CHAR' && quote) return `${UNCLOSED_QUOTE} (missing ${quote[1]})`;
  return 'YAML syntax error: ' + message.replace(/\s+/g, ' ').trim();
}

class Converter {
  private nodes = 0;
  private readonly expanding = new Set<YamlNode>();

  constructor(
    private readonly doc: Document,
    private readonly index: LocationIndex,
    private readonly errors: DocumentProblem[],
  ) {}

  convert(node: YamlNode, path: KeyPath, keyStart?: number): unknown {
    const [start, end] = range(node);
    this.index.set(path, { keyStart, start, end });
    if (++this.nodes > MAX_NODES) {
      if (this.nodes === MAX_NODES + 1)
        this.error(start, path, 'the document is too large once aliases are expanded');
      return undefined;
    }
    if (isAlias(node)) {
      const target = node.resolve(this.doc) as YamlNode | undefined;
      if (!target) return this.error(start, path, `unknown alias *${node.source}`);
      if (this.expanding.has(target))
        return this.error(start, path, `alias *${node.source} refers to itself`);
      this.expanding.add(target);
      try {
        return this.convert(target, path, keyStart);
      } finally {
        this.expanding.delete(target);
      }
    }
    if (isScalar(node)) {
      const text = scalarText(node);
      if (text !== null && LONE_SURROGATE.test(text)) return this.error(start, path, NOT_UTF8);
      return text;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        if (item == null) return null;
        const v = this.convert(item as YamlNode, [...path, i]);
        return v === undefined ? null : v;
      });
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const firstSeen = new Map<string, number>();
      const merges: YamlNode[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const keyAt = keyNode ? range(keyNode)[0] : start;
        if (!keyNode || !isScalar(keyNode)) {
          this.error(keyAt, path, 'mapping keys must be plain strings');
          continue;
        }
        const key = String(keyNode.value);
        if (LONE_SURROGATE.test(key)) {
          this.error(keyAt, [...path, key], NOT_UTF8);
          continue;
        }
        if (key === MERGE_KEY && keyNode.type === 'PLAIN') {
          if (pair.value) merges.push(pair.value as YamlNode);
          continue;
        }
        const first = firstSeen.get(key);
        if (first !== undefined) {
          this.errors.push({
            offset: keyAt,
            path: [...path, key],
            message: `duplicate key ${JSON.stringify(key)}`,
            relatedOffset: first,
          });
          continue;
        }
        firstSeen.set(key, keyAt);
        define(out, key, this.value(pair.value as YamlNode | null, [...path, key], keyAt));
      }
      // Merged keys never override keys written in the mapping itself, nor earlier merges.
      for (const m of merges) {
        for (const source of this.mergeSources(m, path)) {
          for (const pair of source.items) {
            const keyNode = pair.key as YamlNode | null;
            if (!keyNode || !isScalar(keyNode)) continue;
            const key = String(keyNode.value);
            if (key in out) continue;
            define(out, key, this.value(pair.value as YamlNode | null, [...path, key], range(keyNode)[0]));
          }
        }
      }
      return out;
    }
    return this.error(start, path, 'unsupported YAML node');
  }

  private value(node: YamlNode | null, path: KeyPath, keyStart: number): unknown {
    if (node == null) {
      this.index.set(path, { keyStart, start: keyStart, end: keyStart });
      return undefined;
    }
    const v = this.convert(node, path, keyStart);
    return v === null ? undefined : v;
  }

  /** The mappings a `<<` value names: one mapping, an alias to one, or a list of them. */
  private mergeSources(node: YamlNode, path: KeyPath): YAMLMap[] {
    const resolve = (n: YamlNode): YamlNode | undefined =>
      isAlias(n) ? (n.resolve(this.doc) as YamlNode | undefined) : n;
    const target = resolve(node);
    const list = target && isSeq(target) ? target.items.map((n) => resolve(n as YamlNode)) : [target];
    const maps: YAMLMap[] = [];
    for (const n of list) {
      if (n && isMap(n)) maps.push(n);
      else this.error(range(node)[0], path, 'a << merge key needs a mapping or a list of mappings');
    }
    return maps;
  }

  private error(offset: number, path: KeyPath, message: string): undefined {
    this.errors.push({ offset, path, message });
    return undefined;
  }
}

function scalarText(node: Scalar): string | null {
  if (node.type === 'PLAIN' && NULL_SCALARS.has(String(node.source ?? node.value))) return null;
  return String(node.value);
}

function range(node: YamlNode): [number, number] {
  const r = node.range;
  return r ? [r[0], r[1]] : [0, 0];
}

/** Sets a key without invoking setters, so a key named `__proto__` is just a key. */
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
