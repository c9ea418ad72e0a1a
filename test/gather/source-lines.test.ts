/** The byte-level helpers of gather's sources (source-lines.ts), fed in every possible cut. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayObjectScanner, LineChunker, matrixLine, parseExportLine, promValue, wholeLines } from '../../src/gather/source-lines.js';

function cuts(text: string, size: number): Buffer[] {
  const b = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

test('LineChunker hands out whole lines only, whatever the cuts; a last line without newline gets one', () => {
  const text = '{"metric":{"a":"é"},"values":[1],"timestamps":[1]}\n{"metric":{},"values":[+Inf],"timestamps":[2]}\nlast';
  for (let size = 1; size <= text.length + 1; size++) {
    const c = new LineChunker();
    let out = '';
    for (const piece of cuts(text, size)) {
      const got = c.push(piece);
      if (got === undefined) continue;
      assert.equal(got[got.length - 1], 0x0a);
      out += got.toString('utf8');
    }
    const rest = c.end();
    out += rest?.toString('utf8') ?? '';
    assert.equal(out, text + '\n', `cut every ${size} bytes`);
  }
});

test('wholeLines gathers small pieces into larger chunks of whole lines', async () => {
  const line = `{"metric":{"__name__":"m"},"values":[1],"timestamps":[1]}\n`;
  const text = line.repeat(5_000);
  async function* body(): AsyncGenerator<Buffer> {
    yield* cuts(text, 1_000);
  }
  const chunks: Buffer[] = [];
  for await (const c of wholeLines(body())) chunks.push(c);
  assert.equal(Buffer.concat(chunks).toString(), text);
  assert.ok(chunks.length < 10, `${chunks.length} chunks`);
  for (const c of chunks) assert.equal(c.toString().split('\n').filter((l) => l !== '' && l !== line.trim()).length, 0);
});

test('ArrayObjectScanner finds each element of the data array, with braces and quotes inside strings, in any cut', () => {
  const series = [{ __name__: 'up', job: 'a{b}' }, { __name__: 'x', v: 'q"uote\\\\' }, { __name__: 'y', v: '[]{}' }];
  const seriesAnswer = JSON.stringify({ status: 'success', warnings: ['w{'], data: series });
  const matrix = [{ metric: { a: '}' }, values: [[1.5, '1'], [2, 'NaN']] }, { metric: {}, values: [[3, '+Inf']] }];
  const matrixAnswer = JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: matrix }, stats: { x: [1] } });
  for (let size = 1; size <= 40; size++) {
    const got: unknown[] = [];
    const s = new ArrayObjectScanner((j) => void got.push(JSON.parse(j)));
    for (const p of cuts(seriesAnswer, size)) s.push(p);
    assert.deepEqual(got, series, `series, cut every ${size}`);
    const gotM: unknown[] = [];
    const m = new ArrayObjectScanner((j) => void gotM.push(JSON.parse(j)), 2);
    for (const p of cuts(matrixAnswer, size)) m.push(p);
    assert.deepEqual(gotM, matrix, `matrix, cut every ${size}`);
  }
});

test('matrix series become export lines within [start, end), values as the export writes them', () => {
  const s = { metric: { job: 'j', __name__: 'm' }, values: [[0.999, '0'], [1, '1e+21'], [1.5, '+Inf'], [1.999, '-Inf'], [2, 'NaN'], [2.001, '-0.5']] as [number, string][] };
  assert.equal(matrixLine(s, 1000, 2000), '{"metric":{"__name__":"m","job":"j"},"values":[1e+21,+Inf,-Inf],"timestamps":[1000,1500,1999]}\n');
  assert.equal(matrixLine(s, 3000, 4000), undefined);
  const back = parseExportLine(matrixLine(s, 0, 3000)!.trim());
  assert.deepEqual(back.timestamps, [999, 1000, 1500, 1999, 2000, 2001]);
  assert.deepEqual(back.values, [0, 1e21, Infinity, -Infinity, NaN, -0.5]);
  assert.deepEqual([promValue('+Inf'), promValue('-Inf'), promValue('NaN'), promValue('1.25')], [Infinity, -Infinity, NaN, 1.25]);
});
