/**
 * Merging many sources into one exposition page. Each source's families are labelled (the
 * source label and static labels added, colliding backend labels kept as `exported_<name>`),
 * then families with the same name from different sources become one family with one
 * HELP/TYPE, and the page is rendered sorted and deterministic.
 *
 * Rules, documented for operators:
 * - Order: contributions come in a fixed order (configured sources in file order, then pushed
 *   apps sorted by key, then Tributary's own metrics). Within a family, series are grouped by
 *   contribution in that order; inside each, the samples of one label set stand together
 *   (buckets by numeric `le`, then `_sum`, `_count`, `_created`) and label sets are sorted
 *   (formats/prometheus/order.ts), as OpenMetrics requires.
 * - TYPE conflict: the first contribution that has the family decides its type; a later one
 *   with another type has that family left out of the page, counted and reported as the
 *   source's error. Mixing types under one TYPE line would make Prometheus misread them.
 * - HELP and UNIT conflict: the first wins; later ones are counted, their samples kept.
 * - Duplicates: series identical after labelling are exposed once, the first kept, counted;
 *   across contributions whole label sets are compared, so a histogram is never assembled
 *   from the buckets of two sources.
 * - A family none of whose samples is written in the page's format (say, only `_created`
 *   samples in the text format) is left out, HELP and TYPE included.
 *
 * Cost: work is keyed on what it depends on. Labelling, de-duplication, ordering and the
 * rendered series text (`name{labels} `, as bytes) depend on a contribution's frame layout
 * and are done once per layout; a new page with the same layout only has its values written
 * after the cached series text, into one buffer per family and contribution; a contribution
 * whose version did not change costs nothing; the page is a concatenation of those buffers.
 */

import { Labels, LabelsBuilder } from '../model/labels.js';
import { attachExportingClashes } from '../model/attach-labels.js';
import type { PageLayout, PageValues } from '../model/frame.js';
import { formatSeconds, formatValue, PageWriter, SeriesTextCache, type FamilyMeta } from '../formats/prometheus/writer.js';
import { expositionOrder, sampleGroup } from '../formats/prometheus/order.js';
import type { TextFormat } from '../formats/media-types.js';
import type { SourceSnapshot } from './source.js';

/** One source's part of a page. */
export interface Contribution {
  /** Stable identity across scrapes (`source:<name>`, `app:<key>`, `self`). */
  readonly id: string;
  /** Source label to add (`exporter_name="<source>"`), or none. */
  readonly sourceLabel?: { readonly name: string; readonly value: string };
  /** Labels added to every series; a backend label of the same name becomes `exported_<name>`. */
  readonly staticLabels: Readonly<Record<string, string>>;
  /**
   * Labels a series without them gets with an empty value (a Pushgateway group's `instance`,
   * and grouping labels pushed empty: see pushgateway-families.ts), sorted.
   */
  readonly blankLabels?: readonly string[];
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

export interface RenderOptions {
  format: TextFormat;
  utf8Names: boolean;
}

/** One family of one contribution, labelled, for one layout. */
interface LabelledFamily {
  readonly meta: FamilyMeta;
  /** Labelled series without duplicates, in exposition order. */
  readonly series: Labels[];
  /** Index of each series' value in the contribution's frame. */
  readonly index: Int32Array;
  /** Per page variant: the rendered series text and the last written chunk. */
  readonly variants: Map<string, RenderedFamily>;
  /** Group of each series (order.ts), computed when a cross-contribution check needs it. */
  groups?: string[];
}

/** A family's series text in one variant, and its samples as last written. */
interface RenderedFamily {
  /** `name{labels} ` of every series, back to back, UTF-8. */
  readonly prefixes: Buffer;
  /** End of each series' text in `prefixes`; a series of zero length is not written in this variant. */
  readonly ends: Int32Array;
  /** Series written in this variant. */
  readonly written: number;
  /** Where its samples were last written: values, page generation, range in that page. */
  values?: PageValues;
  generation: number;
  at: number;
  length: number;
  /**
   * Where each series' value text (with its timestamp) starts in that range, and its length: a
   * new value of the same length is written over the old one in a copy of the range.
   */
  valueAt: Int32Array;
  valueLength: Uint8Array;
}

/** A contribution's families with its labels applied, for one layout and label configuration. */
interface LabelledSource {
  /** Unique per build, for signatures. */
  readonly serial: number;
  readonly layout: PageLayout;
  readonly labelKey: string;
  /** Backend label set → labelled set, for this label configuration; survives layouts. */
  readonly labelledOf: WeakMap<Labels, Labels>;
  readonly families: Map<string, LabelledFamily>;
  /** The families as an OpenMetrics page shows them, when that differs (`_created` gauges joined to their family). */
  readonly omFamilies?: Map<string, LabelledFamily>;
  readonly duplicates: number;
}

interface Part {
  readonly c: Contribution;
  readonly src: LabelledSource;
  readonly fam: LabelledFamily;
}

/** The merge of one family, valid while its contributors keep their layouts. */
interface MergedFamily {
  readonly signature: string;
  readonly kept: Part[];
  /** Where each kept part is in the family's list of parts (the same in every render with this signature). */
  readonly keptAt: number[];
  /** Per kept part: which series to write (cross-contribution duplicates removed); undefined: all. */
  readonly masks: (Uint8Array | undefined)[];
  readonly header: FamilyMeta;
  readonly duplicates: number;
  readonly helpConflicts: [string, string][];
  readonly typeConflicts: [string, string][];
  /** Rendered header (its variant's), by whether `foo` is taken: that changes an OpenMetrics counter's header. */
  readonly headers: Map<boolean, Buffer>;
  /** Where the header was written on the variant's last page, to copy it from there. */
  placed?: { generation: number; at: number; header: Buffer };
}

const EOF_LINE = Buffer.from('# EOF\n');
/** Page buffers kept per variant: the last page, one being written, one or two being sent. */
const MAX_POOLED = 4;
let serials = 0;

export class PageMerger {
  private readonly labelled = new Map<string, LabelledSource>();
  private readonly merged = new Map<string, Map<string, MergedFamily>>();
  private readonly textCache = new SeriesTextCache();
  /** The last page of each variant: parts whose values did not change are copied from it. */
  private readonly pages = new Map<string, { page: Buffer; generation: number }>();
  /**
   * Buffers pages were written into, per variant, for the next pages: a page of megabytes
   * allocated anew at every scrape costs page faults, and the garbage collections that
   * external memory triggers, more than writing it. A buffer is reused once its page was
   * released (sent) and is not the last page, which the next one copies from.
   */
  private readonly pool = new Map<string, { buf: Buffer; busy: boolean }[]>();
  private generation = 0;

  /**
   * Renders the page for these contributions. Unchanged parts come from the caches; the
   * returned stats describe the whole page.
   */
  render(contributions: readonly Contribution[], opts: RenderOptions): { page: Buffer; stats: MergeStats; release: () => void } {
    const om = opts.format === 'openmetrics';
    const variant = opts.format + (opts.utf8Names ? '+utf8' : '');
    const stats: MergeStats = { typeConflicts: new Map(), helpConflicts: new Map(), duplicateSeries: 0, series: 0 };

    // Which contributions have which family, in contribution order.
    const byFamily = new Map<string, Part[]>();
    const live = new Set<string>();
    for (const c of contributions) {
      const src = this.labelledSource(c);
      live.add(c.id);
      stats.duplicateSeries += src.duplicates;
      for (const fam of (om ? (src.omFamilies ?? src.families) : src.families).values()) {
        let list = byFamily.get(fam.meta.name);
        if (!list) byFamily.set(fam.meta.name, (list = []));
        list.push({ c, src, fam });
      }
    }
    for (const id of this.labelled.keys()) if (!live.has(id)) this.labelled.delete(id);

    const names = [...byFamily.keys()].sort();
    const pageNames = om ? new Set(names) : undefined;
    const writer = new PageWriter({ format: opts.format, utf8Names: opts.utf8Names, cache: this.textCache }, pageNames);
    const previous = this.pages.get(variant);
    // Room for the last page and then some: growing copies everything written so far.
    const want = previous === undefined ? 1 << 16 : previous.page.length + (previous.page.length >> 3) + 4096;
    const slot = this.takeBuffer(variant, previous?.page.buffer, want);
    const out = new PageBuffer(slot.buf);
    const generation = ++this.generation;
    // Per variant: a family's contributions may differ between the formats (omFamilies).
    let merged = this.merged.get(variant);
    if (merged === undefined) this.merged.set(variant, (merged = new Map()));
    for (const name of names) {
      const list = byFamily.get(name)!;
      let signature = '';
      for (const { c, src } of list) signature += c.id + '@' + src.serial + ';';
      let m = merged.get(name);
      if (!m || m.signature !== signature) {
        m = mergeFamily(name, list, signature);
        merged.set(name, m);
      }
      stats.duplicateSeries += m.duplicates;
      addConflicts(stats.typeConflicts, m.typeConflicts);
      addConflicts(stats.helpConflicts, m.helpConflicts);
      const taken = om && pageNames!.has(name.slice(0, -6));
      let header = m.headers.get(taken);
      if (header === undefined) {
        header = Buffer.from(writer.header(m.header, m.kept.flatMap((p) => p.fam.series)));
        m.headers.set(taken, header);
      }
      // The header goes first, and is taken back if no sample of the family is written here.
      const familyStart = out.length;
      const placed = m.placed;
      if (previous !== undefined && placed !== undefined && placed.generation === previous.generation && placed.header === header) {
        out.copy(previous.page, placed.at, placed.at + header.length);
      } else {
        out.append(header, 0, header.length);
      }
      m.placed = { generation, at: familyStart, header };
      let written = 0;
      for (let k = 0; k < m.kept.length; k++) {
        const { fam } = m.kept[k];
        // This render's contribution (same id and layout as the merge was made from), for its values.
        const c = list[m.keptAt[k]].c;
        const r = this.rendered(fam, variant, writer);
        const values = c.snapshot.frame.values;
        const mask = m.masks[k];
        if (mask !== undefined) {
          written += writeSamples(out, r, fam, values, writer, om, mask);
          continue;
        }
        const at = out.length;
        const onLastPage = previous !== undefined && r.generation === previous.generation;
        if (onLastPage && r.values === values) {
          // Same values as on the last page of this variant: its bytes are copied from there.
          out.copy(previous.page, r.at, r.at + r.length);
        } else if (!onLastPage || !patchSamples(out, previous.page, r, fam, values, om)) {
          writeSamples(out, r, fam, values, writer, om, undefined);
        }
        r.values = values;
        r.generation = generation;
        r.at = at;
        r.length = out.length - at;
        written += r.written;
      }
      if (written === 0) {
        out.truncate(familyStart);
        m.placed = undefined;
        continue;
      }
      stats.series += written;
    }
    for (const name of merged.keys()) if (!byFamily.has(name)) merged.delete(name);
    if (om) out.append(EOF_LINE, 0, EOF_LINE.length);
    const page = out.finish();
    this.pages.set(variant, { page, generation });
    if (out.buf !== slot.buf) slot.busy = false; // outgrown: the page lives in a bigger buffer
    const held = this.keepBuffer(variant, out.buf);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (held) held.busy = false;
    };
    return { page, stats, release };
  }

  /** A buffer of at least `size` bytes that no unreleased or last page uses, marked busy. */
  private takeBuffer(variant: string, last: ArrayBufferLike | undefined, size: number): { buf: Buffer; busy: boolean } {
    const pool = this.pool.get(variant) ?? [];
    this.pool.set(variant, pool);
    for (const slot of pool) {
      if (slot.busy || slot.buf.buffer === last || slot.buf.length < size) continue;
      slot.busy = true;
      return slot;
    }
    return { buf: Buffer.allocUnsafeSlow(size), busy: true };
  }

  /** Keeps the buffer of a page for reuse (a few per variant: the last page, those being sent). */
  private keepBuffer(variant: string, buf: Buffer): { buf: Buffer; busy: boolean } | undefined {
    const pool = this.pool.get(variant)!;
    let slot = pool.find((s) => s.buf === buf);
    if (slot === undefined) {
      // Smaller buffers are of no use once pages have grown past them.
      for (let i = pool.length - 1; i >= 0; i--) if (!pool[i].busy && pool[i].buf.length < buf.length) pool.splice(i, 1);
      if (pool.length >= MAX_POOLED) return undefined;
      pool.push((slot = { buf, busy: true }));
    }
    slot.busy = true;
    return slot;
  }

  /** The family's series text in this variant, built once per layout. */
  private rendered(fam: LabelledFamily, variant: string, writer: PageWriter): RenderedFamily {
    let r = fam.variants.get(variant);
    if (r === undefined) {
      const text = writer.seriesText(fam.meta, fam.series);
      const pieces: string[] = [];
      const ends = new Int32Array(fam.series.length);
      let end = 0;
      let written = 0;
      fam.series.forEach((labels, i) => {
        const t = text(labels);
        if (t !== undefined) {
          pieces.push(t + ' ');
          end += Buffer.byteLength(t) + 1;
          written++;
        }
        ends[i] = end;
      });
      r = {
        prefixes: Buffer.from(pieces.join('')),
        ends,
        written,
        generation: 0,
        at: 0,
        length: 0,
        valueAt: new Int32Array(fam.series.length),
        valueLength: new Uint8Array(fam.series.length),
      };
      fam.variants.set(variant, r);
    }
    return r;
  }

  /** The contribution's families with its labels applied, cached per layout and label set. */
  private labelledSource(c: Contribution): LabelledSource {
    const labelKey = labelConfigKey(c);
    const layout = c.snapshot.frame.layout;
    const prev = this.labelled.get(c.id);
    if (prev && prev.layout === layout && prev.labelKey === labelKey) return prev;
    // Series that kept their Labels object (the source's parse cache) keep their labelling.
    const labelledOf = prev && prev.labelKey === labelKey ? prev.labelledOf : new WeakMap<Labels, Labels>();
    const pairs: [string, string][] = Object.entries(c.staticLabels);
    if (c.sourceLabel) pairs.push([c.sourceLabel.name, c.sourceLabel.value]);
    const added = Labels.fromPairs(pairs);
    const collected = new Map<string, { meta: FamilyMeta; series: Labels[]; index: number[]; seen: Set<string> }>();
    let duplicates = 0;
    for (const f of layout.families) {
      let entry = collected.get(f.name);
      if (entry === undefined) {
        const meta: FamilyMeta = { name: f.name, type: f.type };
        if (f.help !== undefined) meta.help = f.help;
        if (f.unit !== undefined) meta.unit = f.unit;
        collected.set(f.name, (entry = { meta, series: [], index: [], seen: new Set() }));
      }
      for (let j = 0; j < f.series.length; j++) {
        const backend = f.series[j];
        let labels = added.size === 0 && c.blankLabels === undefined ? backend : labelledOf.get(backend);
        if (labels === undefined) {
          labels = addLabelsExportingClashes(backend, added);
          if (c.blankLabels !== undefined) labels = withBlankLabels(labels, c.blankLabels);
          labelledOf.set(backend, labels);
        }
        if (entry.seen.has(labels.key)) {
          duplicates++;
          continue;
        }
        entry.seen.add(labels.key);
        entry.series.push(labels);
        entry.index.push(f.offset + j);
      }
    }
    const labelledFamily = (meta: FamilyMeta, series: Labels[], index: number[]): LabelledFamily => {
      const order = expositionOrder(meta.name, meta.type, series);
      return { meta, series: Array.from(order, (i) => series[i]), index: Int32Array.from(order, (i) => index[i]), variants: new Map() };
    };
    const families = new Map<string, LabelledFamily>();
    for (const [name, e] of collected) families.set(name, labelledFamily(e.meta, e.series, e.index));
    // The text format has no `_created`: clients write a counter's, histogram's or summary's
    // creation time as a gauge family of its own, `<name>_created`. In OpenMetrics that name
    // belongs to the family itself (a strict reader refuses the page otherwise), so there the
    // gauge's series join the family as its `_created` samples — the same series either way.
    let omFamilies: Map<string, LabelledFamily> | undefined;
    for (const [name, e] of collected) {
      const type = e.meta.type;
      if (type !== 'counter' && type !== 'histogram' && type !== 'summary') continue;
      const created = (type === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name) + '_created';
      const g = collected.get(created);
      if (g === undefined || g === e || (g.meta.type !== 'gauge' && g.meta.type !== 'unknown')) continue;
      omFamilies ??= new Map(families);
      omFamilies.delete(created);
      omFamilies.set(name, labelledFamily(e.meta, [...e.series, ...g.series], [...e.index, ...g.index]));
    }
    const src: LabelledSource = { serial: ++serials, layout, labelKey, labelledOf, families, ...(omFamilies ? { omFamilies } : {}), duplicates };
    this.labelled.set(c.id, src);
    return src;
  }
}

function mergeFamily(name: string, list: readonly Part[], signature: string): MergedFamily {
  const first = list[0].fam.meta;
  const typeConflicts: [string, string][] = [];
  const helpConflicts: [string, string][] = [];
  const kept: Part[] = [];
  const keptAt: number[] = [];
  list.forEach((part, i) => {
    const meta = part.fam.meta;
    if (meta.type !== first.type) {
      typeConflicts.push([part.c.id, `${name} is ${meta.type} here but ${first.type} in ${list[0].c.id}`]);
      return;
    }
    if (part !== list[0] && meta.help !== undefined && first.help !== undefined && meta.help !== first.help) {
      helpConflicts.push([part.c.id, `${name} has another HELP than in ${list[0].c.id}`]);
    }
    kept.push(part);
    keptAt.push(i);
  });
  // Label sets of different contributions can only coincide when a source label does not
  // tell them apart; only then is the cross-contribution check worth its cost. It goes by
  // whole groups, so one histogram is never made of two sources' buckets.
  const values = new Set<string>();
  let distinct = true;
  for (const p of kept) {
    if (p.c.sourceLabel === undefined || values.has(p.c.sourceLabel.value)) distinct = false;
    else values.add(p.c.sourceLabel.value);
  }
  const masks: (Uint8Array | undefined)[] = kept.map(() => undefined);
  let duplicates = 0;
  if (!distinct && kept.length > 1) {
    const owner = new Map<string, number>();
    kept.forEach((p, k) => {
      const fam = p.fam;
      fam.groups ??= fam.series.map((l) => sampleGroup(fam.meta.name, fam.meta.type, l));
      const mask = new Uint8Array(fam.series.length);
      let dropped = 0;
      fam.groups.forEach((g, i) => {
        const o = owner.get(g);
        if (o === undefined) owner.set(g, k);
        if (o === undefined || o === k) mask[i] = 1;
        else dropped++;
      });
      if (dropped > 0) masks[k] = mask;
      duplicates += dropped;
    });
  }
  // The header takes HELP/UNIT from the first contribution that has them.
  const header: FamilyMeta = { name, type: first.type };
  const help = kept.find((p) => p.fam.meta.help !== undefined)?.fam.meta.help;
  const unit = kept.find((p) => p.fam.meta.unit !== undefined)?.fam.meta.unit;
  if (help !== undefined) header.help = help;
  if (unit !== undefined) header.unit = unit;
  return { signature, kept, keptAt, masks, header, duplicates, helpConflicts, typeConflicts, headers: new Map() };
}

/** Longest value text formatValue writes (`-1.7976931348623157e+308`), plus a newline. */
const VALUE_ROOM = 26;
/** Longest timestamp text (text format: 16 digits and a sign; OpenMetrics: seconds with millis). */
const TIMESTAMP_ROOM = 22;

/**
 * A page being written: one buffer, grown by doubling, never a list of pieces to join. Copies
 * from the last page are deferred, so that the ranges of consecutive unchanged families — one
 * after another there too — become one copy instead of one per family and source.
 */
class PageBuffer {
  /** Bytes written to `buf`; direct writers call `reserve` first (it performs the deferred copy). */
  pos = 0;
  private from: Buffer | undefined;
  private fromStart = 0;
  private fromEnd = 0;

  constructor(public buf: Buffer) {}

  /** The page's length so far, deferred copy included. */
  get length(): number {
    return this.pos + (this.fromEnd - this.fromStart);
  }

  /** Makes room for `n` more bytes at `pos`. */
  reserve(n: number): Buffer {
    if (this.from !== undefined) this.flush();
    if (this.buf.length - this.pos < n) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(bigger, 0, 0, this.pos);
      this.buf = bigger;
    }
    return this.buf;
  }

  /** Appends `src[start, end)` now. */
  append(src: Buffer, start: number, end: number): void {
    this.reserve(end - start);
    this.pos += src.copy(this.buf, this.pos, start, end);
  }

  /** Appends `src[start, end)`, joined with the copy before it when the ranges meet. */
  copy(src: Buffer, start: number, end: number): void {
    // Nothing to copy — and a part of a family taken back may point past the last page's end.
    if (start === end) return;
    if (src === this.from && start === this.fromEnd) {
      this.fromEnd = end;
      return;
    }
    if (this.from !== undefined) this.flush();
    this.from = src;
    this.fromStart = start;
    this.fromEnd = end;
  }

  /** Drops everything after `length`. */
  truncate(length: number): void {
    if (this.from !== undefined) this.flush();
    this.pos = length;
  }

  finish(): Buffer {
    if (this.from !== undefined) this.flush();
    return this.buf.subarray(0, this.pos);
  }

  private flush(): void {
    const from = this.from!;
    this.from = undefined;
    this.append(from, this.fromStart, this.fromEnd);
    this.fromStart = this.fromEnd = 0;
  }
}

/** Writes each series' text and its value (timestamp, exemplar); returns how many samples. */
function writeSamples(
  page: PageBuffer,
  r: RenderedFamily,
  fam: LabelledFamily,
  frame: PageValues,
  writer: PageWriter,
  om: boolean,
  mask: Uint8Array | undefined,
): number {
  const { values, timestamps, exemplars } = frame;
  const { prefixes, ends } = r;
  const index = fam.index;
  const n = ends.length;
  let out = page.reserve(prefixes.length + r.written * (VALUE_ROOM + (timestamps ? TIMESTAMP_ROOM : 0)));
  let pos = page.pos;
  // Value positions are kept for a whole family's chunk only; one with exemplars is always written in full.
  const record = mask === undefined && !(om && exemplars !== undefined);
  if (!record) r.valueLength.fill(255);
  let count = 0;
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    if (end === start || (mask !== undefined && mask[i] === 0)) {
      start = end;
      continue;
    }
    const vi = index[i];
    // A byte loop: Buffer#copy costs a view and a native call per series, several times more
    // than the 50 to 100 bytes it would copy.
    for (let k = start; k < end; k++) out[pos++] = prefixes[k];
    start = end;
    const valueStart = pos;
    pos = writeAscii(out, pos, formatValue(values[vi]));
    if (timestamps !== undefined) {
      const ts = timestamps[vi];
      if (ts === ts) {
        out[pos++] = 0x20;
        pos = writeAscii(out, pos, om ? formatSeconds(ts) : String(ts));
      }
    }
    if (record) {
      r.valueAt[i] = valueStart - page.pos;
      // 255: too long to be patched (never, for a number and a timestamp)
      r.valueLength[i] = Math.min(pos - valueStart, 255);
    }
    if (om && exemplars !== undefined) {
      const ex = exemplars.get(vi);
      if (ex !== undefined) {
        const text = writer.exemplarText(ex);
        // Exemplars are the one part of unbounded length: make room for this one and the rest.
        page.pos = pos;
        out = page.reserve(Buffer.byteLength(text) + (prefixes.length - start) + (n - i) * (VALUE_ROOM + TIMESTAMP_ROOM));
        pos += out.write(text, pos, 'utf8');
      }
    }
    out[pos++] = 0x0a;
    count++;
  }
  page.pos = pos;
  return count;
}

/**
 * The family's samples as on the last page, with the new values written over the old ones:
 * one native copy of the range instead of a copy per series. False (and nothing written) as
 * soon as a value's text has another length than before: the caller writes the family anew.
 */
function patchSamples(page: PageBuffer, last: Buffer, r: RenderedFamily, fam: LabelledFamily, frame: PageValues, om: boolean): boolean {
  const { values, timestamps, exemplars } = frame;
  if (om && exemplars !== undefined) return false;
  page.reserve(r.length);
  const start = page.pos;
  page.append(last, r.at, r.at + r.length);
  const out = page.buf;
  const { ends, valueAt, valueLength } = r;
  const index = fam.index;
  let prev = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i];
    if (end === prev) continue;
    prev = end;
    const vi = index[i];
    let text = formatValue(values[vi]);
    if (timestamps !== undefined) {
      const ts = timestamps[vi];
      if (ts === ts) text += ' ' + (om ? formatSeconds(ts) : String(ts));
    }
    if (text.length !== valueLength[i]) {
      page.pos = start;
      return false;
    }
    writeAscii(out, start + valueAt[i], text);
  }
  return true;
}

/** Number text is ASCII: a byte per character, without an encoder call. */
function writeAscii(out: Buffer, pos: number, s: string): number {
  for (let k = 0; k < s.length; k++) out[pos++] = s.charCodeAt(k);
  return pos;
}

function addConflicts(into: Map<string, string[]>, found: readonly [string, string][]): void {
  for (const [id, what] of found) {
    let l = into.get(id);
    if (!l) into.set(id, (l = []));
    l.push(what);
  }
}

function labelConfigKey(c: Contribution): string {
  return JSON.stringify([c.sourceLabel ?? null, c.staticLabels, c.blankLabels ?? null]);
}

/** The set with `name=""` for each of `names` it lacks (a Labels may hold an empty value only so). */
function withBlankLabels(labels: Labels, names: readonly string[]): Labels {
  let kv: string[] | undefined;
  for (const name of names) {
    if (labels.has(name)) continue;
    kv ??= labels.kv.slice();
    let i = 0;
    while (i < kv.length && kv[i] < name) i += 2;
    kv.splice(i, 0, name, '');
  }
  return kv === undefined ? labels : Labels.fromSortedFlat(kv);
}

const attachScratch = new LabelsBuilder();

/**
 * A backend's series with a source's labels attached (model/attach-labels.ts, the scrape's
 * rule for honor_labels: false): a backend label of the same name is kept as `exported_<name>`.
 */
export function addLabelsExportingClashes(labels: Labels, added: Labels): Labels {
  attachExportingClashes(attachScratch.reset(labels), added);
  return attachScratch.build();
}
