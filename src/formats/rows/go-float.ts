/**
 * Numbers as vmagent 1.79 reads them in its line protocols (Graphite, OpenTSDB telnet and the
 * OpenTSDB JSON values, Influx float fields): fastjson's `fastfloat.Parse`/`ParseBestEffort`,
 * over bytes, without making a string for the common forms. The one implementation for every
 * push format that reads numbers as vmagent does. Its grammar is narrower than JavaScript's `Number` — no leading `+` on a
 * number, no `.5`, no `5.`, no hex, no surrounding spaces; `inf`, `infinity` and `nan` in any
 * case, with an optional sign — and its arithmetic is reproduced too (a mantissa of up to 15
 * digits divided by a power of ten, then multiplied by Go's `math.Pow10`), so the same text
 * gives the same double as the reference, bit for bit (`7.66E+15` is 7659999999999999 there).
 * Where fastfloat hands over to `strconv.ParseFloat` is reproduced as well: an integer part
 * reaching index 18 of the text (the sign counts), a mantissa of 17 digits, an exponent over 300.
 */

const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Exact powers of ten up to 1e15 (fastfloat divides the mantissa by one of them). */
const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16];

// Go's math.Pow10 tables: the result for a large exponent is a product of two of these, which
// can be an ulp away from the correctly rounded power; copied so the doubles agree.
const TAB32: number[] = [];
for (let i = 0; i < 32; i++) TAB32.push(Number(`1e${i}`));
const POS32 = [1e0, 1e32, 1e64, 1e96, 1e128, 1e160, 1e192, 1e224, 1e256, 1e288];
const NEG32 = [1e-0, 1e-32, 1e-64, 1e-96, 1e-128, 1e-160, 1e-192, 1e-224, 1e-256, 1e-288, 1e-320];

function goPow10(n: number): number {
  if (n >= 0 && n <= 308) return POS32[n >>> 5] * TAB32[n & 31];
  if (n < 0 && n >= -323) return NEG32[-n >>> 5] / TAB32[-n & 31];
  return n > 0 ? Infinity : 0;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** `word` (lowercase ASCII) at buf[start, end) in any case, and nothing else. */
function equalsFold(buf: Buffer, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if ((buf[start + i] | 0x20) !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * Go's strconv.ParseFloat on a decimal (`[+-]digits[.digits][e[+-]digits]`, `.5` and `5.` too):
 * correctly rounded, ±Inf past the range; undefined for anything else. Where fastfloat hands
 * over, and the lenient forms' value.
 */
function strconvDecimal(buf: Buffer, start: number, end: number): number | undefined {
  let i = start;
  if (buf[i] === MINUS || buf[i] === PLUS) i++;
  const intStart = i;
  while (i < end && isDigit(buf[i])) i++;
  let digits = i - intStart;
  if (i < end && buf[i] === DOT) {
    i++;
    const f = i;
    while (i < end && isDigit(buf[i])) i++;
    digits += i - f;
  }
  if (digits === 0) return undefined;
  if (i < end && (buf[i] === LOWER_E || buf[i] === UPPER_E)) {
    i++;
    if (i < end && (buf[i] === MINUS || buf[i] === PLUS)) i++;
    const e = i;
    while (i < end && isDigit(buf[i])) i++;
    if (i === e) return undefined;
  }
  if (i !== end) return undefined;
  return Number(buf.toString('latin1', start, end));
}

/**
 * The number in buf[start, end) as vmagent reads it; undefined when vmagent refuses it.
 * `lenient`: the forms vmagent's `ParseBestEffort` misreads as 0 although they are numbers
 * (`+5`, `.5`, `5.`, `+.5e3`) are taken at their value (Influx fields: storing 0 for them would
 * lose the number silently); without it they are refused, as fastfloat's `Parse` refuses them.
 */
export function parseGoFloat(buf: Buffer, start: number, end: number, lenient = false): number | undefined {
  if (start >= end) return undefined;
  let i = start;
  const minus = buf[i] === MINUS;
  if (minus && ++i >= end) return undefined;
  const j = i;
  let d = 0;
  while (i < end && isDigit(buf[i])) {
    d = d * 10 + (buf[i] - ZERO);
    i++;
    if (i - start > 18) return strconvDecimal(buf, start, end);
  }
  if (i === j) {
    // no digits: only inf, infinity or nan (after one optional '+') are numbers
    let p = i;
    if (buf[p] === PLUS) p++;
    if (equalsFold(buf, p, end, 'inf') || equalsFold(buf, p, end, 'infinity')) return minus ? -Infinity : Infinity;
    if (equalsFold(buf, p, end, 'nan')) return NaN;
    return lenient ? strconvDecimal(buf, start, end) : undefined;
  }
  // Go converts the exact 64-bit integer once; a double stops being exact past 15 digits
  let f = i - j > 15 ? Number(buf.toString('latin1', j, i)) : d;
  if (i === end) return minus ? -f : f;
  if (buf[i] === DOT) {
    if (++i >= end) return lenient ? (minus ? -f : f) : undefined;
    const k = i;
    while (i < end && isDigit(buf[i])) {
      // up to 16 digits `d` is Go's uint64 rounded once (the last step is the only inexact one)
      d = d * 10 + (buf[i] - ZERO);
      i++;
      if (i - j >= 17) return strconvDecimal(buf, start, end);
    }
    // without fraction digits the integer part stands (it may be past 15 digits: not in `d`)
    if (i > k) f = d / POW10[i - k];
    if (i === end) return minus ? -f : f;
  }
  if (buf[i] === LOWER_E || buf[i] === UPPER_E) {
    if (++i >= end) return undefined;
    let expMinus = false;
    if (buf[i] === PLUS || buf[i] === MINUS) {
      expMinus = buf[i] === MINUS;
      if (++i >= end) return undefined;
    }
    let exp = 0;
    const e = i;
    while (i < end && isDigit(buf[i])) {
      exp = exp * 10 + (buf[i] - ZERO);
      i++;
      if (exp > 300) return strconvDecimal(buf, start, end);
    }
    if (i === e) return undefined;
    f *= goPow10(expMinus ? -exp : exp);
    if (i === end) return minus ? -f : f;
  }
  return undefined;
}

/** `parseGoFloat(…, lenient)`: an Influx float field's value. */
export function parseGoFloatLenient(buf: Buffer, start: number, end: number): number | undefined {
  return parseGoFloat(buf, start, end, true);
}
