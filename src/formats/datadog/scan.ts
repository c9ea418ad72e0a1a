/**
 * The fast path for v1 bodies (`{"series":[{..., "points":[[ts,v],...]}]}`, and v2 JSON's
 * `"points":[{"timestamp":ts,"value":v}]` alike): one pass over the
 * bytes that checks the JSON and records, per series, where its `points` value sits and the
 * points themselves as numbers — no object per series or per point. A series' cache key is its
 * object's raw text with the points cut out; the text is decoded (JSON.parse of that small head)
 * only for a series not seen before.
 *
 * The scan commits nothing: anything it does not expect (a point that is not two numbers, a
 * duplicate `points` or `series`, a syntax error) makes it give up, and the caller parses the
 * body the slow way, which says precisely what is wrong.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Powers of ten a double holds exactly: a mantissa below 2^53 scaled by one of them rounds correctly. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

class GiveUp extends Error {}
const GIVE_UP = new GiveUp();

/** What a scan found; reused from body to body. */
export class SeriesScan {
  /** Per series: object start, points value start, points value end, object end (-1, -1 without points). */
  bounds: number[] = [];
  /** Per series: its first point's index and count. */
  firstPoint: number[] = [];
  pointCount: number[] = [];
  ts = new Float64Array(1024);
  values = new Float64Array(1024);
  points = 0;
  series = 0;

  private buf!: Buffer;
  private pos = 0;
  private end = 0;

  /** v2 points: `{"timestamp": ts, "value": v}` rather than `[ts, v]`. */
  private v2 = false;

  /** Scans `buf` (a v1 body, or v2 JSON); false when the body needs the slow path. */
  scan(buf: Buffer, v2 = false): boolean {
    this.v2 = v2;
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
    this.bounds.length = 0;
    this.firstPoint.length = 0;
    this.pointCount.length = 0;
    this.points = 0;
    this.series = 0;
    try {
      this.ws();
      this.expect(LBRACE);
      let sawSeries = false;
      this.members(() => {
        if (this.isKey('series')) {
          if (sawSeries) throw GIVE_UP;
          sawSeries = true;
          this.seriesArray();
        } else this.value();
      });
      this.ws();
      if (this.pos !== this.end) throw GIVE_UP;
      return true;
    } catch (err) {
      if (err === GIVE_UP) return false;
      throw err;
    }
  }

  /** `{ "key": value, ... }` from after `{`; `member` is called positioned at the value, `this.key*` set. */
  private keyStart = 0;
  private keyEnd = 0;

  private members(member: () => void): void {
    this.ws();
    if (this.peek() === RBRACE) {
      this.pos++;
      return;
    }
    for (;;) {
      this.key();
      member();
      this.ws();
      const c = this.next();
      if (c === RBRACE) return;
      if (c !== COMMA) throw GIVE_UP;
    }
  }

  /** The elements of an array whose `[` was read, each read by `element`, through its `]`. */
  private elements(element: () => void): void {
    this.ws();
    if (this.peek() === RBRACKET) {
      this.pos++;
      return;
    }
    for (;;) {
      this.ws();
      element();
      this.ws();
      const n = this.next();
      if (n === RBRACKET) return;
      if (n !== COMMA) throw GIVE_UP;
    }
  }

  /** A member's key (into keyStart..keyEnd) and its colon, blanks around them skipped. */
  private key(): void {
    this.ws();
    if (this.peek() !== QUOTE) throw GIVE_UP;
    this.keyStart = this.pos + 1;
    this.string();
    this.keyEnd = this.pos - 1;
    // an escaped key could spell "points" or "series" unseen
    for (let p = this.keyStart; p < this.keyEnd; p++) if (this.buf[p] === BACKSLASH) throw GIVE_UP;
    this.ws();
    this.expect(COLON);
    this.ws();
  }

  private isKey(name: string): boolean {
    if (this.keyEnd - this.keyStart !== name.length) return false;
    for (let i = 0; i < name.length; i++) if (this.buf[this.keyStart + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  private seriesArray(): void {
    const c = this.peek();
    if (c === 0x6e) {
      this.literal('null');
      return;
    }
    this.expect(LBRACKET);
    this.elements(() => this.seriesObject());
  }

  private seriesObject(): void {
    const objStart = this.pos;
    this.expect(LBRACE);
    let pvStart = -1;
    let pvEnd = -1;
    const first = this.points;
    this.members(() => {
      if (this.isKey('points')) {
        if (pvStart >= 0) throw GIVE_UP;
        pvStart = this.pos;
        this.pointsArray();
        pvEnd = this.pos;
      } else this.value();
    });
    this.bounds.push(objStart, pvStart, pvEnd, this.pos);
    this.firstPoint.push(first);
    this.pointCount.push(this.points - first);
    this.series++;
  }

  private pointsArray(): void {
    if (this.peek() === 0x6e) {
      this.literal('null');
      return;
    }
    this.expect(LBRACKET);
    this.elements(this.v2 ? () => this.pointObject() : () => this.pointPair());
  }

  /** v2: `{"timestamp": ts, "value": v}`, in any order, other members skipped; a missing timestamp is now (0). */
  private pointObject(): void {
    this.expect(LBRACE);
    let ts = 0;
    let v = 0;
    let sawTs = false;
    let sawValue = false;
    this.ws();
    if (this.peek() !== RBRACE) {
      for (;;) {
        this.key();
        if (this.isKey('timestamp')) {
          if (sawTs) throw GIVE_UP;
          sawTs = true;
          if (this.peek() === 0x6e) this.literal('null');
          else ts = this.number();
        } else if (this.isKey('value')) {
          if (sawValue) throw GIVE_UP;
          sawValue = true;
          v = this.number();
        } else this.value();
        this.ws();
        const c = this.next();
        if (c === RBRACE) break;
        if (c !== COMMA) throw GIVE_UP;
      }
    } else this.pos++;
    // without a value the slow path says so
    if (!sawValue) throw GIVE_UP;
    this.push(ts, v);
  }

  /** v1: `[ts, v]`. */
  private pointPair(): void {
    this.expect(LBRACKET);
    this.ws();
    const ts = this.number();
    this.ws();
    this.expect(COMMA);
    this.ws();
    const v = this.number();
    this.ws();
    // more numbers in a point are ignored, as vmagent's [2]float64 does
    while (this.peek() === COMMA) {
      this.pos++;
      this.ws();
      this.number();
      this.ws();
    }
    this.expect(RBRACKET);
    this.push(ts, v);
  }

  private push(ts: number, v: number): void {
    if (this.points === this.ts.length) {
      const t = new Float64Array(this.ts.length * 2);
      t.set(this.ts);
      this.ts = t;
      const w = new Float64Array(this.values.length * 2);
      w.set(this.values);
      this.values = w;
    }
    this.ts[this.points] = ts;
    this.values[this.points++] = v;
  }

  /** Any JSON value, checked and skipped. */
  private value(): void {
    const c = this.peek();
    if (c === QUOTE) this.string();
    else if (c === LBRACE) {
      this.pos++;
      this.members(() => this.value());
    } else if (c === LBRACKET) {
      this.pos++;
      this.elements(() => this.value());
    } else if (c === 0x74) this.literal('true');
    else if (c === 0x66) this.literal('false');
    else if (c === 0x6e) this.literal('null');
    else this.number();
  }

  /** A string from its opening quote; escapes checked, not decoded (the raw text is the key). */
  private string(): void {
    const buf = this.buf;
    let p = this.pos + 1;
    const end = this.end;
    for (;;) {
      if (p >= end) throw GIVE_UP;
      const c = buf[p++];
      if (c === QUOTE) break;
      if (c < 0x20) throw GIVE_UP;
      if (c === BACKSLASH) {
        if (p >= end) throw GIVE_UP;
        const e = buf[p++];
        if (e === 0x75) {
          if (p + 4 > end) throw GIVE_UP;
          for (let i = 0; i < 4; i++) if (!isHex(buf[p + i])) throw GIVE_UP;
          p += 4;
        } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) throw GIVE_UP;
      }
    }
    this.pos = p;
  }

  /** A JSON number: decimal mantissas below 2^53 with small exponents exactly, the rest by Number(). */
  private number(): number {
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    const end = this.end;
    let neg = false;
    if (buf[p] === MINUS) {
      neg = true;
      p++;
    }
    let m = 0;
    let digits = 0;
    const intStart = p;
    while (p < end && buf[p] >= ZERO && buf[p] <= NINE) {
      m = m * 10 + (buf[p] - ZERO);
      p++;
    }
    const intDigits = p - intStart;
    if (intDigits === 0 || (intDigits > 1 && buf[intStart] === ZERO)) throw GIVE_UP;
    digits = intDigits;
    let scale = 0;
    if (p < end && buf[p] === DOT) {
      p++;
      const fracStart = p;
      while (p < end && buf[p] >= ZERO && buf[p] <= NINE) {
        m = m * 10 + (buf[p] - ZERO);
        p++;
      }
      if (p === fracStart) throw GIVE_UP;
      scale = p - fracStart;
      digits += scale;
    }
    let exact = true;
    if (p < end && (buf[p] === 0x65 || buf[p] === 0x45)) {
      p++;
      if (p < end && (buf[p] === PLUS || buf[p] === MINUS)) p++;
      const expStart = p;
      while (p < end && buf[p] >= ZERO && buf[p] <= NINE) p++;
      if (p === expStart) throw GIVE_UP;
      exact = false;
    }
    this.pos = p;
    if (exact && digits <= 15 && scale <= 22) {
      const v = scale === 0 ? m : m / POW10[scale];
      return neg ? -v : v;
    }
    return Number(buf.toString('latin1', start, p));
  }

  private literal(word: string): void {
    const buf = this.buf;
    if (this.pos + word.length > this.end) throw GIVE_UP;
    for (let i = 0; i < word.length; i++) if (buf[this.pos + i] !== word.charCodeAt(i)) throw GIVE_UP;
    this.pos += word.length;
  }

  private ws(): void {
    const buf = this.buf;
    let p = this.pos;
    while (p < this.end) {
      const c = buf[p];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
  }

  private peek(): number {
    if (this.pos >= this.end) throw GIVE_UP;
    return this.buf[this.pos];
  }

  private next(): number {
    if (this.pos >= this.end) throw GIVE_UP;
    return this.buf[this.pos++];
  }

  private expect(c: number): void {
    if (this.next() !== c) throw GIVE_UP;
  }
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}
