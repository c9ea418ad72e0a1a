/**
 * A page of metric families split in two: its layout — the families, their metadata and the
 * label sets of their samples, in order — and its values. Between two fetches of an exporter,
 * or two pushes of an app, usually only the values change; a consumer that keyed its work on
 * the layout (labelling, sorting, rendering the series text) then redoes only what depends on
 * the values. A layout's `id` is fresh whenever anything but the values differs, so equal ids
 * mean equal layouts.
 *
 * `familiesOf` turns a frame back into `MetricFamily` objects for the consumers that want
 * them (APIs, persistence); it is not on the path of a page.
 */

import type { Exemplar, MetricFamily, MetricPoint, MetricType } from './family.js';
import type { Labels } from './labels.js';

export interface LayoutFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help?: string;
  readonly unit?: string;
  /** Label sets of the family's samples (`__name__` with its suffix), in page order. */
  readonly series: readonly Labels[];
  /** Index of the family's first sample in the frame's value arrays. */
  readonly offset: number;
}

export interface PageLayout {
  /** Unique across all layouts of the process; 0 only for the empty layout. */
  readonly id: number;
  readonly families: readonly LayoutFamily[];
  /** Samples in all families. */
  readonly size: number;
}

export interface PageValues {
  /** One per sample of the layout, in layout order. */
  readonly values: Float64Array;
  /** Milliseconds since the epoch, NaN for a sample without one; absent when none has one. */
  readonly timestamps?: Float64Array;
  /** By sample index; absent when no sample has one. */
  readonly exemplars?: ReadonlyMap<number, Exemplar>;
}

export interface PageFrame {
  readonly layout: PageLayout;
  readonly values: PageValues;
}

let lastLayoutId = 0;

/** A fresh layout id; layouts built elsewhere (parsers) take theirs from here. */
export function nextLayoutId(): number {
  return ++lastLayoutId;
}

export const EMPTY_LAYOUT: PageLayout = { id: 0, families: [], size: 0 };
export const EMPTY_FRAME: PageFrame = { layout: EMPTY_LAYOUT, values: { values: new Float64Array(0) } };

/**
 * The frame of `families`. When `previous` describes the same families with the same label
 * sets in the same order, it is reused (same id), so consumers keep what they derived from it.
 */
export function frameFromFamilies(families: readonly MetricFamily[], previous?: PageLayout): PageFrame {
  let size = 0;
  for (const f of families) size += f.metrics.length;
  const values = new Float64Array(size);
  let timestamps: Float64Array | undefined;
  let exemplars: Map<number, Exemplar> | undefined;
  let i = 0;
  for (const f of families) {
    for (const m of f.metrics) {
      values[i] = m.value;
      if (m.timestamp !== undefined) {
        if (timestamps === undefined) timestamps = new Float64Array(size).fill(NaN);
        timestamps[i] = m.timestamp;
      }
      if (m.exemplar !== undefined) (exemplars ??= new Map()).set(i, m.exemplar);
      i++;
    }
  }
  const layout = previous !== undefined && sameLayout(previous, families) ? previous : buildLayout(families, size);
  return { layout, values: { values, ...(timestamps ? { timestamps } : {}), ...(exemplars ? { exemplars } : {}) } };
}

function buildLayout(families: readonly MetricFamily[], size: number): PageLayout {
  if (size === 0 && families.length === 0) return EMPTY_LAYOUT;
  let offset = 0;
  const out: LayoutFamily[] = [];
  for (const f of families) {
    out.push({
      name: f.name,
      type: f.type,
      ...(f.help !== undefined ? { help: f.help } : {}),
      ...(f.unit !== undefined ? { unit: f.unit } : {}),
      series: f.metrics.map((m) => m.labels),
      offset,
    });
    offset += f.metrics.length;
  }
  return { id: nextLayoutId(), families: out, size };
}

function sameLayout(layout: PageLayout, families: readonly MetricFamily[]): boolean {
  if (layout.families.length !== families.length) return false;
  for (let i = 0; i < families.length; i++) {
    const a = layout.families[i];
    const b = families[i];
    if (a.name !== b.name || a.type !== b.type || a.help !== b.help || a.unit !== b.unit) return false;
    if (a.series.length !== b.metrics.length) return false;
    for (let j = 0; j < a.series.length; j++) {
      const x = a.series[j];
      const y = b.metrics[j].labels;
      if (x !== y && !x.equals(y)) return false;
    }
  }
  return true;
}

const materialized = new WeakMap<PageValues, MetricFamily[]>();

/** The frame as families of points (built once per frame values). */
export function familiesOf(frame: PageFrame): MetricFamily[] {
  let out = materialized.get(frame.values);
  if (out !== undefined) return out;
  const { values, timestamps, exemplars } = frame.values;
  out = frame.layout.families.map((f) => {
    const metrics: MetricPoint[] = f.series.map((labels, j) => {
      const i = f.offset + j;
      const p: MetricPoint = { labels, value: values[i] };
      if (timestamps !== undefined && !Number.isNaN(timestamps[i])) p.timestamp = timestamps[i];
      const ex = exemplars?.get(i);
      if (ex !== undefined) p.exemplar = ex;
      return p;
    });
    const fam: MetricFamily = { name: f.name, type: f.type, metrics };
    if (f.help !== undefined) fam.help = f.help;
    if (f.unit !== undefined) fam.unit = f.unit;
    return fam;
  });
  materialized.set(frame.values, out);
  return out;
}
