/**
 * Label sets on a page: one chip per label, written as Prometheus writes the pair
 * (`job="node"`), optionally marked as added, removed or changed for pages that compare two sets.
 * A chip never wraps inside (the stylesheet cuts a value too long for the row with an
 * ellipsis), so a long one carries its whole text in its title.
 */

import { formatLabel, type Labels } from '../model/labels.js';
import { type Html, html } from './html.js';

export type LabelMark = 'added' | 'removed' | 'changed';

/** Longer than this, a chip may be cut on a narrow page: its title repeats it whole. */
const CHIP_TITLE_CHARS = 40;

export function labelChips(labels: Labels, marks?: ReadonlyMap<string, LabelMark>): Html {
  if (labels.size === 0) return html`<span class="muted">no labels</span>`;
  const chips: Html[] = [];
  for (let i = 0; i < labels.size; i++) {
    const mark = marks?.get(labels.name(i));
    const text = formatLabel(labels.name(i), labels.value(i));
    const title = [mark, text.length > CHIP_TITLE_CHARS ? text : undefined].filter((t) => t !== undefined).join(': ');
    chips.push(
      html`<span class="${mark === undefined ? 'chip' : `chip ${mark}`}"${title === '' ? '' : html` title="${title}"`}>${text}</span>`,
    );
  }
  return html`<span class="chips">${chips}</span>`;
}

/** Per label name, how `after` differs from `before`. */
export function labelChanges(before: Labels, after: Labels): Map<string, LabelMark> {
  const marks = new Map<string, LabelMark>();
  for (let i = 0; i < after.size; i++) {
    const was = before.get(after.name(i));
    if (was === undefined) marks.set(after.name(i), 'added');
    else if (was !== after.value(i)) marks.set(after.name(i), 'changed');
  }
  for (let i = 0; i < before.size; i++) if (!after.has(before.name(i))) marks.set(before.name(i), 'removed');
  return marks;
}
