/**
 * Metric families: what an exposition page is made of. A family has one name, one type and at
 * most one HELP and UNIT, and holds its samples (`MetricPoint`s) in page order. Sample names
 * carry the type's suffixes (`_total`, `_bucket`, `_sum`, ...) inside their labels' `__name__`,
 * exactly as they appear on the wire, so a page parses and writes back without loss.
 */

import type { Labels } from './labels.js';

/** OpenMetrics' types; the text format's `untyped` is `unknown` here. */
export type MetricType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'gaugehistogram'
  | 'summary'
  | 'info'
  | 'stateset'
  | 'unknown';

export const METRIC_TYPES: readonly MetricType[] = [
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'info',
  'stateset',
  'unknown',
];

/** OpenMetrics caps an exemplar's label names and values at 128 characters in all. */
export const MAX_EXEMPLAR_LABEL_CHARS = 128;

export interface Exemplar {
  labels: Labels;
  value: number;
  /** Milliseconds, when the exemplar has a timestamp. */
  timestamp?: number;
}

export interface MetricPoint {
  /** Full label set of the sample, `__name__` (with suffix) included. */
  labels: Labels;
  value: number;
  /** Milliseconds since the epoch, when the page gave one. */
  timestamp?: number;
  exemplar?: Exemplar;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  unit?: string;
  metrics: MetricPoint[];
}

/**
 * Sample-name suffixes each type allows in OpenMetrics, '' meaning the bare family name. The
 * text format 0.0.4 uses the same table except that a counter's samples carry the family name
 * as it is (the `_total` is part of the family name there) and `_created` does not exist.
 */
export const OPENMETRICS_SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['', '_sum', '_count', '_created'],
  info: ['_info'],
  stateset: [''],
  unknown: [''],
};

export const TEXT_SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: [''],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count'],
  gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  summary: ['', '_sum', '_count'],
  info: [''],
  stateset: [''],
  unknown: [''],
};
