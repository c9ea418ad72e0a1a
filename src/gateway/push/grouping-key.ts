/**
 * The Pushgateway's grouping key: the path after `/metrics/` — `job/<job>{/<label>/<value>}` —
 * decoded the way the Pushgateway decodes it (percent-escapes, `@base64` names whose value is
 * base64url with optional `=` padding, a lone `=` for the empty value), and rendered back into
 * the key an app is stored under.
 */

import { isLegacyLabelName } from '../../model/names.js';

export interface GroupingKey {
  job: string;
  /** Every grouping label, `job` included, in path order. */
  labels: Record<string, string>;
  /** `job="a",instance="b"`: labels sorted by name, so the same group always has one key. */
  key: string;
}

export class GroupingKeyError extends Error {}

const BASE64_SUFFIX = '@base64';

/** Decodes `job/<job>{/<label>/<value>}` (the path below `/metrics/`). */
export function parseGroupingPath(rest: string): GroupingKey {
  // Split before percent-decoding: an escaped `%2F` belongs to a value, not the structure.
  const parts = rest.split('/');
  if (parts.length < 2 || (parts[0] !== 'job' && parts[0] !== 'job' + BASE64_SUFFIX)) {
    throw new GroupingKeyError('the path must be /metrics/job/<job>{/<label>/<value>}');
  }
  // A trailing slash is a component too: `/a/1/` is odd, as the Pushgateway says.
  if (parts.length % 2 !== 0) {
    throw new GroupingKeyError(`odd number of components in label string ${JSON.stringify('/' + parts.slice(2).join('/'))}`);
  }
  const labels: Record<string, string> = {};
  for (let i = 0; i < parts.length; i += 2) {
    let name = percentDecode(parts[i]);
    let value = percentDecode(parts[i + 1]);
    if (name.endsWith(BASE64_SUFFIX)) {
      name = name.slice(0, -BASE64_SUFFIX.length);
      value = decodeBase64Value(name, value);
    }
    if (!isLegacyLabelName(name) || name.startsWith('__')) {
      throw new GroupingKeyError(`improper label name ${JSON.stringify(name)}`);
    }
    // A label given twice keeps its last value, except that the job of the path stays the job:
    // the Pushgateway's rules.
    if (i > 0 && name === 'job') continue;
    labels[name] = value;
  }
  if (labels.job === '') throw new GroupingKeyError('job name is required');
  return { job: labels.job, labels, key: renderGroupingKey(labels) };
}

export function renderGroupingKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((n) => `${n}=${JSON.stringify(labels[n])}`)
    .join(',');
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new GroupingKeyError(`invalid percent-encoding in ${JSON.stringify(s)}`);
  }
}

/** Base64url as the Pushgateway takes it; standard-alphabet `+` and `/` are accepted too. */
function decodeBase64Value(name: string, value: string): string {
  if (value === '=' || value === '') return '';
  const bare = value.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_\-+/]*$/.test(bare) || bare.length % 4 === 1) {
    throw new GroupingKeyError(`invalid base64 encoding for the value of label ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  }
  const buf = Buffer.from(bare, 'base64url');
  const text = new TextDecoder('utf-8', { fatal: true });
  try {
    return text.decode(buf);
  } catch {
    throw new GroupingKeyError(`the base64 value of label ${JSON.stringify(name)} is not valid UTF-8`);
  }
}
