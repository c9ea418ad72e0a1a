/**
 * Merging many sources into one exposition page. Each source's families are labelled (the
 * source label and static labels added, colliding backend labels kept as `exported_<name>`),
 * then families with the same name from different sources become one family with one
 * HELP/TYPE, and the page is rendered sorted and deterministic.
 *
 * Rules, documented for operators:
 * - Order: contributions come in a fixed order (configured sources in file order, then pushed
 *   apps sorted by key, then Tributary's own metrics). Within a family, series are grouped by
 *   contribution in that order and sorted by labels inside each group.
 * - TYPE conflict: the first contribution that has the family decides its type; a later one
 *   with another type has that family left out of the page, counted and reported as the
 *   source's error. Mixing types under one TYPE line would make Prometheus misread them.
 * - HELP and UNIT conflict: the first wins; later ones are counted, their samples kept.
 * - Duplicates: series identical after labelling are exposed once, the first kept, counted.
 *
 * Cost: everything is cached by source version. A contribution's labelled families and their
 * rendered sample lines (as UTF-8 bytes) are computed once per version and format; a merged
 * family is rebuilt only when one of its contributors changed; the page is a concatenation of
 * cached byte chunks, so no large string is ever flattened.
 */

import { Labels, METRIC_NAME } from '../model/labels.js';
import type { MetricFamily, MetricPoint } from '../model/family.js';
import { PageWriter, SeriesTextCache } from '../formats/prometheus/writer.js';
import type { TextFormat } from '../formats/prometheus/negotiate.js';
import type { SourceSnapshot } from './source.js';

/** One source's part of a page. */
export interface Contribution {
  /** Stable identity across scrapes (`source:<name>`, `app:<key>`, `self`). */
  readonly id: string;
  /** Source label to add (`exporter_name="<source>"`), or none. */
  readonly sourceLabel?: { readonly name: string; readonly value: string };
  /** Labels added to every series; a backend label of the same name becomes `exported_<name>`. */
  readonly staticLabels: Readonly<Record<string, string>>;
  readonly snapshot: SourceSnapshot;
}

export interface MergeStats {
  /** Families left out because their TYPE differed from the first source's, by contribution id. */
  typeConflicts: Map<string, string[]>;
  /** Families whose HELP differed between contributions (the first was kept), by contribution id. */
  helpConflicts: Map<string, string[]>;
  duplicateSeries: number;
  series: number;
}

interface LabelledSource {
  version: number;
  labelKey: string;
  /** Backend label set → labelled set, for this label configuration; survives versions. */
  relabelled: WeakMap<Labels, Labels>;
  families: Map<string, MetricFamily>;
  /** Rendered sample lines per family, per format variant, encoded. */
  rendered: Map<string, Map<string, Buffer>>;
  duplicates: number;
}

interface MergedFamily {
  /** Contributor ids and versions this text was built from. */
  signature: string;
  chunks: Buffer[];
  series: number;
  duplicates: number;
  helpConflicts: [string, string][];
  typeConflicts: [string, string][];
}

export interface RenderOptions {
  format: TextFormat;
  utf8Names: boolean;
}

const EOF_LINE = Buffer.from('# EOF\n');

export class PageMerger {
  private readonly labelled = new Map<string, LabelledSource>();
  private readonly merged = new Map<string, Map<string, MergedFamily>>();
  private readonly textCache = new SeriesTextCache();

  /**
   * Renders the page for these contributions. Unchanged parts come from the caches; the
   * returned stats describe the whole page.
   */
  render(contributions: readonly Contribution[], opts: RenderOptions): { page: Buffer; stats: MergeStats } {
    const variant = opts.format + (opts.utf8Names ? '+utf8' : '');
    const writer = new PageWriter({ format: opts.format, utf8Names: opts.utf8Names, cache: this.textCache });
    const stats: MergeStats = { typeConflicts: new Map(), helpConflicts: new Map(), duplicateSeries: 0, series: 0 };

    // Which contributions have which family, in contribution order.
    const byFamily = new Map<string, { c: Contribution; src: LabelledSource; fam: MetricFamily }[]>();
    const live = new Set<string>();
    for (const c of contributions) {
      const src = this.labelledSource(c);
      live.add(c.id);
      stats.duplicateSeries += src.duplicates;
      for (const fam of src.families.values()) {
        let list = byFamily.get(fam.name);
        if (!list) byFamily.set(fam.name, (list = []));
        list.push({ c, src, fam });
      }
    }
    for (const id of this.labelled.keys()) if (!live.has(id)) this.labelled.delete(id);

    let cache = this.merged.get(variant);
    if (!cache) this.merged.set(variant, (cache = new Map()));
    const names = [...byFamily.keys()].sort();
    const pageNames = opts.format === 'openmetrics' ? new Set(names) : undefined;
    const omWriter = pageNames ? new PageWriter({ format: opts.format, utf8Names: opts.utf8Names, cache: this.textCache }, pageNames) : writer;
    const parts: Buffer[] = [];
    for (const name of names) {
      const list = byFamily.get(name)!;
      let signature = '';
      for (const { c, src } of list) signature += c.id + '@' + src.version + ';';
      let m = cache.get(name);
      if (!m || m.signature !== signature) {
        m = this.mergeFamily(name, list, signature, variant, omWriter);
        cache.set(name, m);
      }
      for (const chunk of m.chunks) parts.push(chunk);
      stats.series += m.series;
      stats.duplicateSeries += m.duplicates;
      addConflicts(stats.typeConflicts, m.typeConflicts);
      addConflicts(stats.helpConflicts, m.helpConflicts);
    }
    for (const name of cache.keys()) if (!byFamily.has(name)) cache.delete(name);
    if (opts.format === 'openmetrics') parts.push(EOF_LINE);
    return { page: Buffer.concat(parts), stats };
  }

  private mergeFamily(
    name: string,
    list: { c: Contribution; src: LabelledSource; fam: MetricFamily }[],
    signature: string,
    variant: string,
    writer: PageWriter,
  ): MergedFamily {
    const first = list[0].fam;
    const result: MergedFamily = { signature, chunks: [], series: 0, duplicates: 0, helpConflicts: [], typeConflicts: [] };
    const kept: { c: Contribution; src: LabelledSource; fam: MetricFamily }[] = [];
    for (const entry of list) {
      if (entry.fam.type !== first.type) {
        result.typeConflicts.push([entry.c.id, `${name} is ${entry.fam.type} here but ${first.type} in ${list[0].c.id}`]);
        continue;
      }
      if (entry !== list[0] && entry.fam.help !== undefined && first.help !== undefined && entry.fam.help !== first.help) {
        result.helpConflicts.push([entry.c.id, `${name} has another HELP than in ${list[0].c.id}`]);
      }
      kept.push(entry);
    }
    // Series of different contributions can only coincide when some of them carry no source
    // label; only then is the cross-source check worth its cost.
    const crossCheck = kept.length > 1 && kept.some((e) => e.c.sourceLabel === undefined);
    const seen = crossCheck ? new Set<string>() : undefined;
    const chunks: Buffer[] = [];
    for (const { src, fam } of kept) {
      if (seen) {
        const unique = fam.metrics.filter((m) => {
          if (seen.has(m.labels.key)) return false;
          seen.add(m.labels.key);
          return true;
        });
        result.duplicates += fam.metrics.length - unique.length;
        result.series += unique.length;
        chunks.push(unique.length === fam.metrics.length ? this.samplesOf(src, fam, variant, writer) : Buffer.from(writer.samples({ ...fam, metrics: unique })));
      } else {
        result.series += fam.metrics.length;
        chunks.push(this.samplesOf(src, fam, variant, writer));
      }
    }
    // The header takes HELP/UNIT from the first contribution that has them.
    const help = kept.find((e) => e.fam.help !== undefined)?.fam.help;
    const unit = kept.find((e) => e.fam.unit !== undefined)?.fam.unit;
    const header: MetricFamily = { name, type: first.type, metrics: first.metrics };
    if (help !== undefined) header.help = help;
    if (unit !== undefined) header.unit = unit;
    result.chunks = [Buffer.from(writer.header(header)), ...chunks];
    return result;
  }

  private samplesOf(src: LabelledSource, fam: MetricFamily, variant: string, writer: PageWriter): Buffer {
    let perFamily = src.rendered.get(variant);
    if (!perFamily) src.rendered.set(variant, (perFamily = new Map()));
    let bytes = perFamily.get(fam.name);
    if (bytes === undefined) {
      bytes = Buffer.from(writer.samples(fam));
      perFamily.set(fam.name, bytes);
    }
    return bytes;
  }

  /** The contribution's families with its labels applied, cached per version and label set. */
  private labelledSource(c: Contribution): LabelledSource {
    const labelKey = labelConfigKey(c);
    const prev = this.labelled.get(c.id);
    if (prev && prev.version === c.snapshot.version && prev.labelKey === labelKey) return prev;
    // Series that kept their Labels object (the source's parse cache) keep their labelling.
    const relabelled = prev && prev.labelKey === labelKey ? prev.relabelled : new WeakMap<Labels, Labels>();
    const added: [string, string][] = Object.entries(c.staticLabels);
    if (c.sourceLabel) added.push([c.sourceLabel.name, c.sourceLabel.value]);
    const families = new Map<string, MetricFamily>();
    let duplicates = 0;
    for (const fam of c.snapshot.families) {
      const seen = new Set<string>();
      const metrics: MetricPoint[] = [];
      for (const m of fam.metrics) {
        let labels = added.length === 0 ? m.labels : relabelled.get(m.labels);
        if (labels === undefined) {
          labels = relabel(m.labels, added);
          relabelled.set(m.labels, labels);
        }
        if (seen.has(labels.key)) {
          duplicates++;
          continue;
        }
        seen.add(labels.key);
        metrics.push(labels === m.labels ? m : { ...m, labels });
      }
      if (!isSorted(metrics)) metrics.sort((a, b) => a.labels.compare(b.labels));
      // A family a page repeats (split apart) was merged by the lenient parser already.
      const existing = families.get(fam.name);
      if (existing) existing.metrics.push(...metrics);
      else families.set(fam.name, { ...fam, metrics });
    }
    const src: LabelledSource = { version: c.snapshot.version, labelKey, relabelled, families, rendered: new Map(), duplicates };
    this.labelled.set(c.id, src);
    return src;
  }
}

function addConflicts(into: Map<string, string[]>, found: readonly [string, string][]): void {
  for (const [id, what] of found) {
    let l = into.get(id);
    if (!l) into.set(id, (l = []));
    l.push(what);
  }
}

/** Exporters mostly write series in order already; checking is cheaper than sorting. */
function isSorted(metrics: readonly MetricPoint[]): boolean {
  for (let i = 1; i < metrics.length; i++) if (metrics[i - 1].labels.compare(metrics[i].labels) > 0) return false;
  return true;
}

function labelConfigKey(c: Contribution): string {
  return JSON.stringify([c.sourceLabel ?? null, c.staticLabels]);
}

/**
 * Adds `added` to a label set; a backend label of the same name is kept as
 * `exported_<name>` (prefixed again while that name is taken too), as Prometheus does for
 * honor_labels: false.
 */
export function relabel(labels: Labels, added: readonly (readonly [string, string])[]): Labels {
  const kv = labels.kv;
  const out: [string, string][] = [];
  const taken = new Set<string>();
  for (let i = 0; i < kv.length; i += 2) taken.add(kv[i]);
  for (let i = 0; i < kv.length; i += 2) {
    const n = kv[i];
    if (n !== METRIC_NAME && added.some(([a]) => a === n)) {
      let renamed = 'exported_' + n;
      while (taken.has(renamed) || added.some(([a]) => a === renamed)) renamed = 'exported_' + renamed;
      taken.add(renamed);
      out.push([renamed, kv[i + 1]]);
    } else {
      out.push([n, kv[i + 1]]);
    }
  }
  for (const pair of added) out.push([pair[0], pair[1]]);
  return Labels.fromPairs(out);
}
