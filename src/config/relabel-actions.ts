/**
 * The relabel actions and Prometheus' defaults for a rule's keys, apart from the schema
 * (relabel.ts) so that the relabeling engine and the pages that write rules back read them
 * without loading the schema library.
 */

export const PROMETHEUS_RELABEL_ACTIONS = [
  'replace',
  'keep',
  'drop',
  'keepequal',
  'dropequal',
  'hashmod',
  'labelmap',
  'labeldrop',
  'labelkeep',
  'lowercase',
  'uppercase',
] as const;

export const VMAGENT_RELABEL_ACTIONS = [
  'replace_all',
  'labelmap_all',
  'keep_if_equal',
  'drop_if_equal',
  'keep_if_contains',
  'drop_if_contains',
  'keep_metrics',
  'drop_metrics',
  'graphite',
] as const;

export const RELABEL_ACTIONS = [...PROMETHEUS_RELABEL_ACTIONS, ...VMAGENT_RELABEL_ACTIONS] as const;
export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

export const DEFAULT_SEPARATOR = ';';
export const DEFAULT_REGEX = '(.*)';
export const DEFAULT_REPLACEMENT = '$1';
