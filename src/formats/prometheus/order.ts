/**
 * The order of a family's samples on an exposition page. OpenMetrics requires the samples of
 * one label set — a histogram's buckets, `_sum`, `_count` and `_created`, a summary's
 * quantiles and the rest — to stand together, buckets in increasing `le` and quantiles in
 * increasing `quantile` as numbers, not as text (`le="10"` after `le="5"`); strict readers
 * such as the Python client refuse anything else. The text format does not require it, but
 * client libraries write it so and it reads best. Label sets ("groups") are ordered by their
 * labels as Prometheus orders label sets.
 */

import { METRIC_NAME, type Labels } from '../../model/labels.js';
import type { MetricType } from '../../model/family.js';
import { parseNumber } from './lex.js';

/** Rank of a sample within its group, by its name's suffix; the number breaks ties (le, quantile). */
interface SortKey {
  group: string;
  rank: number;
  num: number;
  index: number;
}

/**
 * The group of a sample: its labels without the metric name and without the label that tells
 * the samples of one group apart (`le` of a bucket, `quantile` of a summary's quantile sample,
 * the stateset's own label), as one string that orders like the label pairs.
 */
export function sampleGroup(familyName: string, type: MetricType, labels: Labels): string {
  const name = labels.metricName;
  let inner: string | undefined;
  if ((type === 'histogram' || type === 'gaugehistogram') && name === familyName + '_bucket') inner = 'le';
  else if (type === 'summary' && name === familyName) inner = 'quantile';
  else if (type === 'stateset') inner = familyName;
  const kv = labels.kv;
  let out = '';
  for (let i = 0; i < kv.length; i += 2) {
    const n = kv[i];
    if (n === METRIC_NAME || n === inner) continue;
    // \u0000 sorts below every other character: a shorter name or value sorts first, as in
    // a pairwise comparison.
    out += n + '\u0000' + kv[i + 1] + '\u0001';
  }
  return out;
}

function sortKey(familyName: string, type: MetricType, labels: Labels, index: number): SortKey {
  const name = labels.metricName;
  const suffix = name.startsWith(familyName) ? name.slice(familyName.length) : name;
  let rank = 9;
  let num = 0;
  switch (suffix) {
    case '':
    case '_total':
    case '_info':
      rank = 0;
      if (type === 'summary') num = numberOf(labels.get('quantile'));
      break;
    case '_bucket':
      rank = 0;
      num = numberOf(labels.get('le'));
      break;
    case '_sum':
    case '_gsum':
      rank = 1;
      break;
    case '_count':
    case '_gcount':
      rank = 2;
      break;
    case '_created':
      rank = 3;
      break;
    default:
      break;
  }
  return { group: sampleGroup(familyName, type, labels), rank, num, index };
}

function numberOf(text: string | undefined): number {
  if (text === undefined) return Infinity;
  const v = parseNumber(text, 0, text.length);
  return v === undefined || Number.isNaN(v) ? Infinity : v;
}

function compareKeys(a: SortKey, b: SortKey): number {
  if (a.group !== b.group) return a.group < b.group ? -1 : 1;
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.num !== b.num) return a.num < b.num ? -1 : 1;
  return a.index - b.index;
}

/**
 * The order in which to write `series` (the label sets of one family's samples): a permutation
 * of their indexes. Pages mostly come ordered already; then it is the identity.
 */
export function expositionOrder(familyName: string, type: MetricType, series: readonly Labels[]): Int32Array {
  const keys = series.map((l, i) => sortKey(familyName, type, l, i));
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) sorted = compareKeys(keys[i - 1], keys[i]) <= 0;
  if (!sorted) keys.sort(compareKeys);
  return Int32Array.from(keys, (k) => k.index);
}
