/**
 * Field types shared by every section of the configuration schema. Scalars reach the schema as
 * the text the author wrote (see document.ts), so each field type reads its own text the way
 * Prometheus' Go structs do: booleans in YAML 1.1 spelling (`true`, `yes`, `on`, ...), integers
 * in decimal, hex, octal or binary, durations and sizes in Prometheus' units. A string field
 * takes any scalar as written, which is how `job_name: 123` or a label value `1.0` behave in
 * Prometheus too.
 */

import * as z from 'zod';
import { isValidUtf8Name } from '../model/names.js';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { parseListenAddress } from '../server/listen-address.js';

/**
 * A scalar field read by `parse`, which throws an `Error` whose message is the complaint.
 * Numbers and booleans are accepted too, for configs built in code rather than read from YAML.
 */
export function scalar<T>(expected: string, parse: (text: string) => T) {
  return z.unknown().transform((v, ctx): T => {
    if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
    if (typeof v !== 'string') {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}, got ${describeValue(v)}` });
      return z.NEVER;
    }
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

/** How an unexpected value is named in messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty list item';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  return String(v);
}

const TRUE = new Set(['true', 'True', 'TRUE', 'yes', 'Yes', 'YES', 'y', 'Y', 'on', 'On', 'ON']);
const FALSE = new Set(['false', 'False', 'FALSE', 'no', 'No', 'NO', 'n', 'N', 'off', 'Off', 'OFF']);

export function parseBool(text: string): boolean {
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(text)}`);
}

const INTEGER = /^[-+]?(?:0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)$/;

export function parseInteger(text: string): number {
  if (!INTEGER.test(text)) throw new Error(`expected an integer, got ${JSON.stringify(text)}`);
  const neg = text.startsWith('-');
  const digits = text.replace(/^[-+]/, '').replaceAll('_', '');
  const n = digits.startsWith('0o') ? parseInt(digits.slice(2), 8) : Number(digits);
  if (!Number.isSafeInteger(n)) throw new Error(`integer out of range: ${text}`);
  return neg ? -n : n;
}

function parseUnsigned(text: string): number {
  const n = parseInteger(text);
  if (n < 0) throw new Error(`must not be negative, got ${text}`);
  return n;
}

const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?$/;

export function parseFloatText(text: string): number {
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return NaN;
  if (!FLOAT.test(text)) throw new Error(`expected a number, got ${JSON.stringify(text)}`);
  return Number(text.replaceAll('_', ''));
}

export const bool = scalar('true or false', parseBool);
/** Prometheus' `uint` limits and counts. */
export const uint = scalar('a non-negative integer', parseUnsigned);
export const float = scalar('a number', parseFloatText);
/** A Prometheus duration, in milliseconds. */
export const duration = scalar('a duration such as 30s or 1h30m', parseDuration);
/** A size in bytes (`512MB`). */
export const size = scalar('a size such as 512MB', parseSize);

export const text = z.string();
export const nonEmptyText = z.string().min(1);
export const textList = z.array(z.string());
export const textMap = z.record(z.string(), z.string());

/** A section Tributary accepts without looking inside: any mapping. */
export const opaqueMapping = z.record(z.string(), z.unknown());

/**
 * Where a custom issue about a mapping key should point: at the key itself rather than at its
 * value. Passed as the issue's `params`.
 */
export const AT_KEY = { at: 'key' } as const;

/**
 * `labels:` and `external_labels:` mappings: label name → value. Prometheus 3 accepts any
 * non-empty UTF-8 name; the legacy character set is checked by schema.ts when
 * `metric_name_validation_scheme: legacy` asks for it.
 */
export const labelSet = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const name of Object.keys(labels)) {
    if (!isValidUtf8Name(name)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `${JSON.stringify(name)} is not a valid label name`,
        params: AT_KEY,
      });
    }
  }
});

/** An absolute http(s) URL with a host. */
export const httpUrl = z.string().superRefine((s, ctx) => {
  const problem = urlProblem(s, ['http:', 'https:']);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export function urlProblem(s: string, schemes: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return `${JSON.stringify(s)} is not a valid URL`;
  }
  if (!schemes.includes(url.protocol)) {
    const allowed = schemes.map((p) => p.slice(0, -1)).join(' or ');
    return `URL scheme must be ${allowed}, got ${JSON.stringify(url.protocol.slice(0, -1))}`;
  }
  if (url.hostname === '') return `URL ${JSON.stringify(s)} has no host`;
  return undefined;
}

/** Checked with the server's own parser, so an address that loads is one the server can read. */
export const listenAddress = z.string().superRefine((s, ctx) => {
  try {
    parseListenAddress(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
