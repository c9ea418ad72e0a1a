/**
 * The packed form of a label set: the remote-write protobuf encoding of its `Label` entries
 * (`0x0a len {0x0a len name 0x12 len value}` per pair, names and values in UTF-8), held as a
 * string of one character per byte. Remote write sends it as it is; a series kept for many
 * scrapes can hold only this string instead of an array of pairs (see `Labels.pack`), which
 * for a typical series is half the memory, and get its pairs back when something asks.
 */

const TAG_LABEL = 0x0a;
const TAG_NAME = 0x0a;
const TAG_VALUE = 0x12;

/** Bytes a varint of `n` (a non-negative safe integer) takes. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** UTF-8 length of `s`: its length when it is ASCII, as label names and values nearly always are. */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** Where label sets are assembled before they become strings; grown for a huge set. */
let labelScratch = Buffer.allocUnsafe(16 * 1024);

/** Writes `s` (of UTF-8 length `bytes`) at `p`: ASCII by a plain loop, which beats a native call for short strings. */
function putText(buf: Buffer, p: number, s: string, bytes: number): number {
  if (bytes !== s.length) return p + buf.write(s, p, 'utf8');
  for (let i = 0; i < s.length; i++) buf[p + i] = s.charCodeAt(i);
  return p + bytes;
}

/** Writes `n` (a non-negative safe integer) as a varint at `p`; returns the end. */
export function putVarint(buf: Uint8Array, p: number, n: number): number {
  while (n >= 0x80) {
    buf[p++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[p++] = n;
  return p;
}

/**
 * Packs flat sorted pairs. Once per series: assembled in a scratch buffer and copied out as one
 * flat string, no buffer or array per label.
 */
export function packLabels(kv: readonly string[]): string {
  let bound = 0;
  // UTF-8 takes at most 3 bytes per UTF-16 unit; tags and varints at most 9 bytes per string
  for (let i = 0; i < kv.length; i++) bound += 3 * kv[i].length + 9;
  if (bound > labelScratch.length) labelScratch = Buffer.allocUnsafe(bound * 2);
  const buf = labelScratch;
  let p = 0;
  for (let i = 0; i < kv.length; i += 2) {
    const name = kv[i];
    const value = kv[i + 1];
    const n = utf8Length(name);
    const v = utf8Length(value);
    buf[p++] = TAG_LABEL;
    p = putVarint(buf, p, 1 + varintSize(n) + n + 1 + varintSize(v) + v);
    buf[p++] = TAG_NAME;
    p = putVarint(buf, p, n);
    p = putText(buf, p, name, n);
    buf[p++] = TAG_VALUE;
    p = putVarint(buf, p, v);
    p = putText(buf, p, value, v);
  }
  return buf.toString('latin1', 0, p);
}

/** Where the entry that starts at character `p` of a packed set ends. */
function entryEnd(packed: string, p: number): number {
  p++; // TAG_LABEL
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    const b = packed.charCodeAt(p++);
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  return p + len;
}

/** How many labels a packed set holds (from character `from` on), read from the entries' lengths (nothing allocated). */
export function countPackedLabels(packed: string, from = 0): number {
  let n = 0;
  for (let p = from; p < packed.length; p = entryEnd(packed, p)) n++;
  return n;
}

/** Where each entry of a packed set ends (character offsets), in order. */
export function packedEntryEnds(packed: string): number[] {
  const ends: number[] = [];
  for (let p = 0; p < packed.length; ) ends.push((p = entryEnd(packed, p)));
  return ends;
}

/** The pairs of a packed label set, as `packLabels` had them. */
export function unpackLabels(packed: string): string[] {
  const kv: string[] = [];
  let p = 0;
  const varint = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = packed.charCodeAt(p++);
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
      shift += 7;
    }
  };
  const text = (len: number): string => {
    const s = packed.slice(p, p + len);
    p += len;
    // one character per byte: anything past ASCII is UTF-8 to decode
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.from(s, 'latin1').toString('utf8');
    return s;
  };
  while (p < packed.length) {
    p++; // TAG_LABEL
    varint();
    p++; // TAG_NAME
    const name = text(varint());
    p++; // TAG_VALUE
    kv.push(name, text(varint()));
  }
  return kv;
}
