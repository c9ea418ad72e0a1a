/**
 * Where a JSON text first goes wrong. Node 20's JSON.parse names the bad token but not its
 * position, and an operator fixing a file_sd file needs a line and column; this scanner
 * checks syntax only (JSON.parse still does the parsing) and is run only after a failure.
 */

export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/** The 1-based line and column of the first syntax error in `text`, or undefined if none. */
export function jsonErrorPosition(text: string): TextPosition | undefined {
  const offset = firstErrorOffset(text);
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

class SyntaxAt {
  constructor(readonly offset: number) {}
}

function firstErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxAt(i);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expect = (ch: string): void => {
    ws();
    if (text[i] !== ch) fail();
    i++;
  };
  const str = (): void => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        str();
        expect(':');
        value();
        ws();
        if (text[i] === '}') return void i++;
        if (text[i] !== ',') fail();
        i++;
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ']') return void i++;
        if (text[i] !== ',') fail();
        i++;
      }
    } else if (ch === '"') {
      str();
    } else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
      if (!m) fail();
      else i += m[0].length;
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (err) {
    if (err instanceof SyntaxAt) return err.offset;
    throw err;
  }
}
