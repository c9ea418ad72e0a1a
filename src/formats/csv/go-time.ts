/**
 * Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`), parsed as Go's `time.Parse` reads
 * them, for the CSV import's `time:custom:<layout>` and `time:rfc3339` columns. A layout is
 * compiled once (when the `format` query arg is read) into chunks; a layout element Tributary
 * does not carry — zone abbreviations (`MST`), whose meaning Go takes from the host's zone
 * database, and days of the year (`002`, `__2`) — is refused then, naming the element, rather
 * than misreading timestamps later. Without a zone in the layout the time is UTC, as in Go.
 */

type Chunk =
  | { kind: 'lit'; text: string }
  | { kind: 'year4' | 'year2' | 'month' | 'monthName' | 'monthLong' | 'weekday' | 'weekdayLong' | 'hour' | 'hour12' | 'minute' | 'second' | 'pm' | 'PM'; zero?: boolean; under?: boolean }
  | { kind: 'day'; zero: boolean; under: boolean }
  | { kind: 'frac'; digits: number; optional: boolean }
  | { kind: 'zone'; z: boolean; colon: boolean; minutes: boolean; seconds: boolean };

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export class GoLayoutError extends Error {}

/** A compiled layout: `parse(text)` → milliseconds since the epoch, or throws with the reason. */
export class GoLayout {
  private readonly chunks: Chunk[];

  constructor(readonly layout: string) {
    this.chunks = compile(layout);
  }

  parse(value: string): number {
    let v = value;
    let year = 1;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let nanos = 0;
    let pm: boolean | undefined;
    let offsetSec = 0;
    const fail = (what: string): never => {
      throw new Error(`cannot parse ${JSON.stringify(value)} as ${JSON.stringify(this.layout)}: ${what}`);
    };
    const num = (min: number, max: number, fixed: boolean, what: string): number => {
      const m = (fixed ? /^\d\d/ : /^\d\d?/).exec(v);
      if (m === null) return fail(`bad ${what}`);
      const n = Number(m[0]);
      if (n < min || n > max) return fail(`${what} out of range`);
      v = v.slice(m[0].length);
      return n;
    };
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i];
      switch (c.kind) {
        case 'lit':
          if (!v.startsWith(c.text)) fail(`expected ${JSON.stringify(c.text)} at ${JSON.stringify(v)}`);
          v = v.slice(c.text.length);
          break;
        case 'year4': {
          if (!/^\d{4}/.test(v)) fail('bad year');
          year = Number(v.slice(0, 4));
          v = v.slice(4);
          break;
        }
        case 'year2': {
          if (!/^\d{2}/.test(v)) fail('bad year');
          const y = Number(v.slice(0, 2));
          year = y >= 69 ? 1900 + y : 2000 + y;
          v = v.slice(2);
          break;
        }
        case 'month':
          month = num(1, 12, c.zero === true, 'month');
          break;
        case 'monthName':
        case 'monthLong':
        case 'weekday':
        case 'weekdayLong': {
          const names = c.kind.startsWith('month') ? MONTHS : DAYS;
          const long = c.kind.endsWith('Long');
          let found = -1;
          for (let k = 0; k < names.length && found < 0; k++) {
            const name = long ? names[k] : names[k].slice(0, 3);
            if (v.length >= name.length && v.slice(0, name.length).toLowerCase() === name.toLowerCase()) {
              found = k;
              v = v.slice(name.length);
            }
          }
          if (found < 0) fail(`bad ${c.kind.startsWith('month') ? 'month' : 'day of the week'} name`);
          if (c.kind.startsWith('month')) month = found + 1;
          break;
        }
        case 'day':
          if (c.under && v.startsWith(' ')) v = v.slice(1);
          day = num(1, 31, c.zero, 'day');
          break;
        case 'hour':
          hour = num(0, 23, false, 'hour');
          break;
        case 'hour12':
          hour = num(0, 12, c.zero === true, 'hour');
          break;
        case 'minute':
          minute = num(0, 59, c.zero === true, 'minute');
          break;
        case 'second': {
          second = num(0, 59, c.zero === true, 'second');
          // Go takes a fraction after the seconds even when the layout has none
          const nextChunk = this.chunks[i + 1];
          if (/^[.,]\d/.test(v) && (nextChunk === undefined || nextChunk.kind !== 'frac')) {
            const m = /^[.,](\d+)/.exec(v)!;
            nanos = fracNanos(m[1]);
            v = v.slice(m[0].length);
          }
          break;
        }
        case 'frac': {
          if (c.optional) {
            if (!/^[.,]\d/.test(v)) break;
            const m = /^[.,](\d+)/.exec(v)!;
            nanos = fracNanos(m[1]);
            v = v.slice(m[0].length);
          } else {
            const m = new RegExp(`^[.,](\\d{${c.digits}})`).exec(v);
            if (m === null) fail(`expected a fraction of ${c.digits} digits`);
            nanos = fracNanos(m![1]);
            v = v.slice(m![0].length);
          }
          break;
        }
        case 'pm':
        case 'PM': {
          const two = v.slice(0, 2);
          const want = c.kind === 'PM' ? ['AM', 'PM'] : ['am', 'pm'];
          if (two !== want[0] && two !== want[1]) fail('bad AM/PM');
          pm = two === want[1];
          v = v.slice(2);
          break;
        }
        case 'zone': {
          if (c.z && v.startsWith('Z')) {
            v = v.slice(1);
            offsetSec = 0;
            break;
          }
          const sign = v[0];
          if (sign !== '+' && sign !== '-') fail('bad time zone offset');
          v = v.slice(1);
          const hh = num(0, 99, true, 'zone hours');
          let mm = 0;
          let ss = 0;
          if (c.minutes) {
            if (c.colon) {
              if (v[0] !== ':') fail('bad time zone offset');
              v = v.slice(1);
            }
            mm = num(0, 59, true, 'zone minutes');
          }
          if (c.seconds) {
            if (c.colon) {
              if (v[0] !== ':') fail('bad time zone offset');
              v = v.slice(1);
            }
            ss = num(0, 59, true, 'zone seconds');
          }
          offsetSec = (sign === '-' ? -1 : 1) * (hh * 3600 + mm * 60 + ss);
          break;
        }
      }
    }
    if (v !== '') fail(`extra text ${JSON.stringify(v)}`);
    if (pm !== undefined) {
      if (pm && hour < 12) hour += 12;
      else if (!pm && hour === 12) hour = 0;
    }
    const d = new Date(0);
    d.setUTCFullYear(year, month - 1, day);
    if (d.getUTCDate() !== day) fail('day out of range');
    d.setUTCHours(hour, minute, second, 0);
    const ms = d.getTime() - offsetSec * 1000;
    // Go: UnixNano() / 1e6, truncated toward zero
    return ms >= 0 ? ms + Math.floor(nanos / 1e6) : ms + Math.trunc(nanos / 1e6);
  }
}

function fracNanos(digits: string): number {
  return Number((digits + '000000000').slice(0, 9));
}

/** Go's `nextStdChunk`, the elements Tributary carries; the rest are refused. */
function compile(layout: string): Chunk[] {
  const out: Chunk[] = [];
  let lit = '';
  const push = (c: Chunk) => {
    if (lit !== '') out.push({ kind: 'lit', text: lit });
    lit = '';
    out.push(c);
  };
  const unsupported = (el: string, why: string): never => {
    throw new GoLayoutError(`layout element ${JSON.stringify(el)} (${why}) is not supported`);
  };
  let i = 0;
  const at = (s: string) => layout.startsWith(s, i);
  while (i < layout.length) {
    const c = layout[i];
    if (c === 'J' && at('January')) (push({ kind: 'monthLong' }), (i += 7));
    else if (c === 'J' && at('Jan')) (push({ kind: 'monthName' }), (i += 3));
    else if (c === 'M' && at('Monday')) (push({ kind: 'weekdayLong' }), (i += 6));
    else if (c === 'M' && at('Mon')) (push({ kind: 'weekday' }), (i += 3));
    else if (c === 'M' && at('MST')) unsupported('MST', 'a zone abbreviation; use -0700 or Z07:00');
    else if (c === '0' && at('002')) unsupported('002', 'day of the year');
    else if (c === '0' && i + 1 < layout.length && layout[i + 1] >= '1' && layout[i + 1] <= '6') {
      const d = layout[i + 1];
      if (d === '1') push({ kind: 'month', zero: true });
      else if (d === '2') push({ kind: 'day', zero: true, under: false });
      else if (d === '3') push({ kind: 'hour12', zero: true });
      else if (d === '4') push({ kind: 'minute', zero: true });
      else if (d === '5') push({ kind: 'second', zero: true });
      else push({ kind: 'year2' });
      i += 2;
    } else if (c === '1' && at('15')) (push({ kind: 'hour' }), (i += 2));
    else if (c === '1') (push({ kind: 'month', zero: false }), (i += 1));
    else if (c === '2' && at('2006')) (push({ kind: 'year4' }), (i += 4));
    else if (c === '2') (push({ kind: 'day', zero: false, under: false }), (i += 1));
    else if (c === '_' && at('__2')) unsupported('__2', 'day of the year');
    else if (c === '_' && at('_2') && !at('_2006')) (push({ kind: 'day', zero: false, under: true }), (i += 2));
    else if (c === '3') (push({ kind: 'hour12', zero: false }), (i += 1));
    else if (c === '4') (push({ kind: 'minute', zero: false }), (i += 1));
    else if (c === '5') (push({ kind: 'second', zero: false }), (i += 1));
    else if (c === 'P' && at('PM')) (push({ kind: 'PM' }), (i += 2));
    else if (c === 'p' && at('pm')) (push({ kind: 'pm' }), (i += 2));
    else if ((c === '-' || c === 'Z') && zoneAt(layout, i) !== undefined) {
      const [len, z] = zoneAt(layout, i)!;
      push(z);
      i += len;
    } else if ((c === '.' || c === ',') && i + 1 < layout.length && (layout[i + 1] === '0' || layout[i + 1] === '9')) {
      const d = layout[i + 1];
      let j = i + 1;
      while (j < layout.length && layout[j] === d) j++;
      if (j < layout.length && layout[j] >= '0' && layout[j] <= '9') {
        // not a fraction (".002"): the dot is text, what follows is read afresh
        lit += c;
        i++;
      } else {
        push({ kind: 'frac', digits: j - i - 1, optional: d === '9' });
        i = j;
      }
    } else {
      lit += c;
      i++;
    }
  }
  if (lit !== '') out.push({ kind: 'lit', text: lit });
  return out;
}

/** The zone element at `i` (`-07:00`, `Z0700`, ...): its length and chunk. */
function zoneAt(layout: string, i: number): [number, Chunk] | undefined {
  const z = layout[i] === 'Z';
  const forms: [string, boolean, boolean, boolean][] = [
    ['070000', false, true, true],
    ['07:00:00', true, true, true],
    ['0700', false, true, false],
    ['07:00', true, true, false],
    ['07', false, false, false],
  ];
  for (const [f, colon, minutes, seconds] of forms) {
    if (layout.startsWith(f, i + 1)) return [f.length + 1, { kind: 'zone', z, colon, minutes, seconds }];
  }
  return undefined;
}

/** Go's `time.RFC3339`. */
export const RFC3339 = '2006-01-02T15:04:05Z07:00';
