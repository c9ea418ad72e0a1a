/**
 * RE2 regexes as Go's regexp reads them (src/config/regex.ts): what is accepted and refused
 * (facts from Go's regexp/syntax parse_test.go and the issue), what matches (facts from Go's
 * regexp find_test.go), the choice of engine, native translations checked against re2js on
 * generated inputs, `$` expansion the same on both engines, and the accepted set compared with
 * promtool's on real prometheus.yml files.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileAnchoredRegex, compileRegex, type Regex } from '../../src/config/regex.js';
import { relabelConfigsSchema } from '../../src/config/relabel.js';
import { GoTemplate, replaceAllGo } from '../../src/relabel/template.js';
import { SeriesSelector } from '../../src/config/selector.js';
import { runCli } from '../helpers/cli-process.js';
import { PROMTOOL, requirePeer } from '../helpers/peers.js';
import { rng } from '../helpers/seeded-random.js';

const full = (re: string, s: string) => compileAnchoredRegex(re).test(s);

test('the three patterns of the issue are accepted, with RE2 semantics', () => {
  assert.ok(full('(?s:.*)', 'a\nb'));
  assert.ok(full('foo(?-i:bar)', 'foobar'));
  assert.ok(!full('(?i)foo(?-i:bar)', 'FOOBAR'), '(?-i:...) turns case folding off inside');
  assert.ok(full('(?i)foo(?-i:bar)', 'FOObar'));
  const ungreedy = compileRegex('(?U)a+');
  assert.equal(ungreedy.exec('aaa')?.[0], 'a', '(?U) makes a+ prefer fewer');
  assert.equal(compileRegex('(?U)a+?').exec('aaa')?.[0], 'aaa', 'and a+? prefer more');
  assert.ok(full('(?U)a+', 'aaa'), 'anchored, it still matches the whole value');
});

test('RE2 syntax: flags, escapes, classes, names, repetition', () => {
  const yes: [string, string][] = [
    ['foo', 'foo'],
    ['(?i)foo', 'FoO'],
    ['a(?i)b', 'aB'],
    ['(?i:a)b', 'Ab'],
    ['(?i)a(?-i)b', 'Ab'],
    ['(?m)^a$\\nb', 'a\nb'],
    ['(?s).', '\n'],
    ['(?-s).|x', 'x'],
    ['\\Aab\\z', 'ab'],
    ['\\Q.*+?\\E', '.*+?'],
    ['\\Qab\\E+', 'abbb'],
    ['[[:alpha:]]+', 'abcXYZ'],
    ['[[:^alpha:]]+', '123-'],
    ['[[:word:][:space:]]+', 'a_1 \t'],
    ['\\pL+', 'héllo'],
    ['\\p{Greek}+', 'αβγ'],
    ['\\PL+', '123'],
    ['\\p{^Greek}', 'a'],
    ['[\\p{Lu}\\d]+', 'AB12'],
    ['\\123', 'S'],
    ['\\0', '\0'],
    ['\\x41\\x{1F600}', 'A😀'],
    ['[\\d\\s]+', '1 2\t3'],
    ['[^\\S]', ' '],
    ['[\\w-.]+', 'a-b.c'],
    ['a\\-b\\_c\\!', 'a-b_c!'],
    ['{x}', '{x}'],
    ['a{,2}', 'a{,2}'],
    ['a{2}', 'aa'],
    ['a{2,}', 'aaaa'],
    ['a{1,1000}', 'a'.repeat(1000)],
    ['(?P<name>a+)b', 'aab'],
    ['(?<name>a+)b', 'aab'],
    ['(?P<1a>x)', 'x'],
    ['[]a]+', ']a'],
    ['[^]a]', 'b'],
    ['\\a\\f\\t\\n\\r\\v', '\x07\f\t\n\r\v'],
    ['x*y*', ''],
    ['a\\b', 'a'],
    ['(?U)(a+)(a*)', 'aaa'],
  ];
  for (const [re, s] of yes) assert.ok(full(re, s), `${re} matches ${JSON.stringify(s)}`);
  const no: [string, string][] = [
    ['foo', 'foobar'],
    ['a(?i)b', 'Ab'],
    ['(?i:a)b', 'aB'],
    ['(?-s:.)', '\n'],
    ['(?m)^a$', 'a\r'],
    ['\\s', '\v'],
    ['\\s', '\u00a0'],
    ['\\w', 'é'],
    ['[[:alpha:]]', 'é'],
    ['\\d', '٣'],
  ];
  for (const [re, s] of no) assert.ok(!full(re, s), `${re} does not match ${JSON.stringify(s)}`);
});

// From Go's regexp/syntax parse_test.go (invalidRegexps) and the RE2 syntax page.
test('what Go refuses is refused, with Go\'s message and where it is', () => {
  const refused: [string, RegExp][] = [
    ['(', /missing closing \)/],
    [')', /unexpected \)/],
    ['(a', /missing closing \)/],
    ['a)', /unexpected \)/],
    ['(a|b|', /missing closing \)/],
    ['[a-z', /missing closing \]/],
    ['([a-z)', /missing closing \]/],
    ['x{1001}', /invalid repeat count: `\{1001\}` \(at offset 1\)/],
    ['x{1001,}', /invalid repeat count/],
    ['x{2,1}', /invalid repeat count/],
    ['x{1,9876543210}', /invalid repeat count/],
    ['(?P<name>a', /missing closing \)/],
    ['(?P<x y>a)', /invalid named capture/],
    ['(?P<>a)', /invalid named capture/],
    ['[a-Z]', /invalid character class range/],
    ['(?i)[a-Z]', /invalid character class range/],
    ['\\Q\\E*', /missing argument to repetition operator/],
    ['a**', /invalid nested repetition operator/],
    ['a{2}{3}', /invalid nested repetition operator/],
    ['((((((((((x{2}){2}){2}){2}){2}){2}){2}){2}){2}){2})', /invalid repeat count/],
    ['a{100000}', /invalid repeat count/],
    ['(a)\\1', /invalid escape sequence: `\\1` \(at offset 3\); RE2 has no backreferences/],
    ['(?=x)', /invalid or unsupported Perl syntax: `\(\?=`.*no lookahead/],
    ['(?!x)', /invalid or unsupported Perl syntax: `\(\?!`/],
    ['(?<=a)b', /invalid named capture: `\(\?<=a\)b\)\$` \(at offset 0\); RE2 has no lookahead or lookbehind/],
    ['x(?<!a)b', /\(at offset 1\); RE2 has no lookahead or lookbehind/],
    ['(?<!a)b', /no lookahead or lookbehind/],
    ['\\C', /invalid escape sequence: `\\C`/],
    ['\\8', /invalid escape sequence/],
    ['\\é', /invalid escape sequence/],
    ['\\x{110000}', /invalid escape sequence/],
    ['\\p{Foo}', /invalid character class range/],
    ['[[:foo:]]', /invalid character class range/],
    ['(?-)', /invalid or unsupported Perl syntax/],
    ['(?x)', /invalid or unsupported Perl syntax/],
    ['(?P=n)', /invalid or unsupported Perl syntax/],
    ['*', /missing argument to repetition operator/],
    ['a|*', /missing argument to repetition operator/],
  ];
  for (const [re, message] of refused) {
    assert.throws(() => compileAnchoredRegex(re), (err: Error) => {
      assert.ok(err instanceof SyntaxError);
      assert.match(err.message, /^error parsing regexp: /, re);
      assert.match(err.message, message, re);
      return true;
    });
  }
});

test('the config loader reports a refused regex at its key, with Go\'s reason', () => {
  const r = relabelConfigsSchema.safeParse([{ source_labels: ['a'], regex: 'x(?=y)', action: 'keep' }]);
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error!.issues), /invalid regex \\"x\(\?=y\)\\": error parsing regexp: invalid or unsupported Perl syntax: `\(\?=` \(at offset 1\)/);
  assert.ok(relabelConfigsSchema.safeParse([{ source_labels: ['a'], regex: '(?U)a+(?i:b)', action: 'keep' }]).success);
  // and in an if: selector, which check-config used to pass
  const sel = relabelConfigsSchema.safeParse([{ if: ['{a="x"}', '{b=~"y(?=z)"}'], action: 'drop' }]);
  assert.equal(sel.success, false);
  assert.deepEqual(sel.error!.issues[0].path, [0, 'if', 1]);
  assert.match(sel.error!.issues[0].message, /invalid regex "y\(\?=z\)": error parsing regexp: invalid or unsupported Perl syntax/);
  assert.ok(relabelConfigsSchema.safeParse([{ if: '{b=~"foo(?-i:bar)"}', action: 'drop' }]).success);
});

/** Go's FindStringSubmatch as text: the match and each group, null for an unset group. */
function find(re: Regex, s: string): (string | null)[] | null {
  const m = re.exec(s);
  if (m === null) return null;
  const out: (string | null)[] = [];
  for (let i = 0; m[i] !== undefined || i in (m as object); i++) out.push(m[i] ?? null);
  return out;
}

// From Go's regexp find_test.go (findTests): pattern, text, the first match and its groups
// (Go gives byte offsets; these are the texts at those offsets).
const FIND_TESTS: [string, string, (string | null)[] | null][] = [
  ['', '', ['']],
  ['^abcdefg', 'abcdefg', ['abcdefg']],
  ['a+', 'baaab', ['aaa']],
  ['abcd..', 'abcdef', ['abcdef']],
  ['x', 'y', null],
  ['b', 'abc', ['b']],
  ['.*', 'abcdef', ['abcdef']],
  ['^bcd\'', 'abcdef', null],
  ['^abcd$', 'abcde', null],
  ['[^a-z]+', 'ab1234cd', ['1234']],
  ['[a\\-\\]z]+', 'az]-bcz', ['az]-']],
  ['[^\\n]+', 'abcd\n', ['abcd']],
  ['[日本語]+', '日本語日本語', ['日本語日本語']],
  ['日本語+', '日本語語語語', ['日本語語語語']],
  ['()', '', ['', '']],
  ['(.)(.)', '日a', ['日a', '日', 'a']],
  ['(([^xyz]*)(d))', 'abcd', ['abcd', 'abcd', 'abc', 'd']],
  ['((a|b|c)*(d))', 'abcd', ['abcd', 'abcd', 'c', 'd']],
  ['(((a|b|c)*)(d))', 'abcd', ['abcd', 'abcd', 'abc', 'c', 'd']],
  ['\\a\\f\\n\\r\\t\\v', '\x07\f\n\r\t\v', ['\x07\f\n\r\t\v']],
  ['[\\a\\f\\n\\r\\t\\v]+', '\x07\f\n\r\t\v', ['\x07\f\n\r\t\v']],
  ['a*(|(b))c*', 'aacc', ['aacc', '', null]],
  ['(.*).*', 'ab', ['ab', 'ab']],
  ['[.]', '.', ['.']],
  ['/$', '/abc/', ['/']],
  ['/$', '/abc', null],
  ['ab$', 'cab', ['ab']],
  ['axxb$', 'axxcb', null],
  ['da(.)a$', 'daXY data', ['data', 't']],
  ['zx+', 'zzx', ['zx']],
  ['(aa)*$', 'a', ['', null]],
  ['(?:.|(?:.a))', '', null],
  ['(?:A(?:A|a))', 'Aa', ['Aa']],
  ['(?:A|(?:A|a))', 'a', ['a']],
  ['(a){0}', '', ['', null]],
  ['(?-s)(?:(?:^).)', '\n', null],
  ['(?s)(?:(?:^).)', '\n', ['\n']],
  ['(?:(?:^).)', '\n', null],
  ['\\B', 'x', null],
  ['\\B', 'xx', ['']],
  ['[^\\S\\s]', 'abcd', null],
  ['[^\\S[:space:]]', 'abcd', null],
  ['[^\\D\\d]', 'abcd', null],
  ['[^\\D[:digit:]]', 'abcd', null],
  ['(?i)\\W', 'x', null],
  ['(?i)\\W', 'k', null],
  ['(?i)\\W', 's', null],
  ['\\!\\"\\#\\$\\%\\&\\\'\\(\\)\\*\\+\\,\\-\\.\\/\\:\\;\\<\\=\\>\\?\\@\\[\\\\\\]\\^\\_\\{\\|\\}\\~', '!"#$%&\'()*+,-./:;<=>?@[\\]^_{|}~', ['!"#$%&\'()*+,-./:;<=>?@[\\]^_{|}~']],
  ['[\\!\\"\\#\\$\\%\\&\\\'\\(\\)\\*\\+\\,\\-\\.\\/\\:\\;\\<\\=\\>\\?\\@\\[\\\\\\]\\^\\_\\{\\|\\}\\~]+', '!"#$%&\'()*+,-./:;<=>?@[\\]^_{|}~', ['!"#$%&\'()*+,-./:;<=>?@[\\]^_{|}~']],
  ['\\`', '`', ['`']],
  ['[\\`]+', '`', ['`']],
];

test('Go find_test.go: the first match and its groups, on both engines', () => {
  for (const [re, s, want] of FIND_TESTS) {
    for (const engine of [undefined, 're2js'] as const) {
      const compiled = compileRegex(re, { engine });
      // An unset group reads as '' in `$` expansion, and that is all relabeling sees.
      const got = find(compiled, s);
      const norm = (m: (string | null)[] | null) => m?.map((g) => g ?? '') ?? null;
      assert.deepEqual(norm(got), norm(want), `${compiled.engine}: ${re} on ${JSON.stringify(s)}`);
    }
  }
});

// Go find_test.go cases with several matches, checked through ReplaceAllString's positions.
test('Go find_test.go: all matches (ReplaceAllString) on both engines', () => {
  const cases: [string, string, string][] = [
    ['a*', 'baaab', '<>b<aaa>b<>'],
    ['\\b', 'x y', '<>x<> <>y<>'],
    ['\\b', 'xx yy', '<>xx<> <>yy<>'],
    ['\\B', 'xx yy', 'x<>x y<>y'],
    ['ab*', 'abbaab', '<abb><a><ab>'],
    ['a(b*)', 'abbaab', '<bb><><b>'],
    ['(|a)*', 'aa', '<>a<>a<>'],
    ['\\B', 'A😀1', 'A😀1'],
    ['(?m)^', 'A😀\n1', '<>A😀\n<>1'],
    ['.', '日本', '<日><本>'],
    ['x*', 'ü😀', '<>ü<>😀<>'],
  ];
  for (const [re, s, want] of cases) {
    for (const engine of [undefined, 're2js'] as const) {
      const compiled = compileRegex(re, { engine });
      const tpl = GoTemplate.parse(re.includes('(b*)') ? '<$1>' : '<$0>');
      assert.equal(replaceAllGo(compiled, s, tpl), want, `${compiled.engine}: ${re} on ${JSON.stringify(s)}`);
    }
  }
});

test('the fast native engine is kept where the translation is exact, re2js runs the rest', () => {
  const engine = (re: string) => compileAnchoredRegex(re).engine;
  for (const re of ['(.*)', '(?s:.*)', 'foo(?-i:bar)', '(?U)a+', '(?i)foo', 'node_(.+)', '([^:]+)(?::\\d+)?', '(\\w+?)_.*', '127\\.0\\.0\\.1:(\\d+)', '[[:alpha:]]+', '\\p{Greek}', '(?m)^a$', 'a|b|c']) {
    assert.equal(engine(re), 'native', re);
  }
  for (const re of [
    'a(?i)b', // case folding on for part of the pattern
    '(?i)\\bfoo', // \b under (?i): JavaScript widens \w by folding, Go does not
    '(?i)\\PL', // negated Unicode class under (?i)
    '(?:a|b)+', // a repeated alternation: captures reset per iteration in JavaScript
    '(a+)+$', // nested repetition: exponential backtracking in JavaScript, linear in RE2
    '(a*)*', // a repetition that can match empty
    '(?P<1a>x)', // a capture name JavaScript refuses
    '\\pC', // Go's C leaves out unassigned code points, JavaScript's does not
  ]) {
    assert.equal(engine(re), 're2js', re);
  }
});

test('nested repetition runs in linear time, as in Go', () => {
  const re = compileAnchoredRegex('(a+)+b');
  const start = process.hrtime.bigint();
  assert.equal(re.test('a'.repeat(5000) + 'c'), false);
  // Backtracking would take longer than the universe; linear takes milliseconds.
  assert.ok(process.hrtime.bigint() - start < 5_000_000_000n);
});

const CORPUS = [
  '(.*)', '(.+)', '.*', 'a.c', '(?s)a.c', '(?-s:a.c)', 'a|b|ab', '(a|ab)(c|bcd)(d*)', '(\\w+)_(\\d+)', '(\\w+?)_(.*)',
  '([^:]+)(?::(\\d+))?', '[a-c]+', '[^a-c]*', '(?i)[a-c]+', '(?i)k', '(?i)s', '(?i)σ', '(?i)é', '(?i)[k-s]', '(?i)[^k]',
  '(?i)\\w+', '[\\w-.]+', '\\s+', '\\S+', '\\d', '\\D+', '[\\s\\d]', '[^\\s\\d]+', '[[:alpha:]]+', '[[:^alpha:]]+',
  '[[:punct:]]', '[[:^space:]]', '\\pL+', '\\PL', '\\p{Greek}', '\\p{^Greek}', '\\p{Lu}', '[\\p{Ll}\\d]', '\\b.\\b', '\\Ba',
  '^a', 'a$', '(?m)^a$', '(?m)^', '(?m)$', '\\Aa', 'a\\z', '(?U)(a+)(.*)', '(?U)a*?', '(?U)(a{1,3})(a*)', 'x*', 'a??b',
  'a{2,3}', 'a{0}b', '(a)?b', '(a)|b', '((a)b)+', '(ab)*', '\\Qa.b\\E', '\\x{1F600}', '.😀', '[😀-😂]', '\\123', 'a{,2}',
  '(?i)(?P<x>k)', 'σ|ς', '(?i)ς', '\\p{Any}', '[^\\n]', '(?s:.)(?-s:.)',
];
const ALPHABET = ['a', 'b', 'c', 'd', 'A', 'B', 'k', 'K', '\u212a', 's', 'S', 'ſ', '0', '1', '_', ' ', '\n', '\r', '\v', '\u2028', '.', '-', ':', 'é', 'É', '😀', 'Σ', 'σ', 'ς', 'α', '{', ',', '}', '2'];

test('native translations match re2js (RE2) on generated inputs', () => {
  const random = rng(16);
  const inputs = [''];
  for (let n = 0; n < 400; n++) {
    let s = '';
    const len = 1 + Math.floor(random() * 6);
    for (let k = 0; k < len; k++) s += ALPHABET[Math.floor(random() * ALPHABET.length)];
    inputs.push(s);
  }
  let nativeCount = 0;
  const tpl = GoTemplate.parse('<$0|$1|$2>');
  for (const re of CORPUS) {
    for (const anchored of [true, false]) {
      const compile = anchored ? compileAnchoredRegex : compileRegex;
      const native = compile(re);
      const reference = compile(re, { engine: 're2js' });
      if (native.engine !== 'native') continue;
      nativeCount++;
      for (const s of inputs) {
        const what = `${re} ${anchored ? 'anchored' : ''} on ${JSON.stringify(s)}`;
        assert.equal(native.test(s), reference.test(s), what);
        const a = native.exec(s);
        const b = reference.exec(s);
        assert.equal(a === null, b === null, what);
        if (a && b) {
          assert.equal(a.index, b.index, what);
          assert.equal(tpl.expand(a), tpl.expand(b), what);
        }
        if (!anchored) assert.equal(replaceAllGo(native, s, tpl), replaceAllGo(reference, s, tpl), what);
      }
    }
  }
  assert.ok(nativeCount > 100, `${nativeCount} native translations checked`);
});

/** Random RE2 patterns from a small grammar, over atoms where JavaScript and Go tend to differ. */
function randomPattern(random: () => number, depth = 0): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)];
  const atoms = [
    'a', 'b', 'k', 's', 'K', 'i', 'I', 'İ', 'ı', 'ǅ', 'ß', 'µ', 'σ', 'é', '😀', '.', '\\d', '\\w', '\\s', '\\W', '\\S', '\\D',
    '[a-c]', '[^a]', '[i-k]', '[[:alpha:]]', '[[:^alpha:]]', '[[:word:]]', '\\pL', '\\PL', '\\p{Lu}', '\\p{Greek}', '\\P{Greek}',
    '\\pN', '\\b', '\\B', '^', '$', '\\A', '\\z', '\\x{212a}', '\\x41', '\\101', '[\\w-.]', '\\Q.a\\E', '\\.', '(?i:a)',
    '(?-i:k)', '(?i:ǆ)', '(?i:µ)', '[^\\n]', '\\n', '{', 'a{,2}', '[]a]', 'x{0}', '(?U)a+', '(?P<n>a)', '',
  ];
  const k = random();
  if (depth > 3 || k < 0.35) return pick(atoms);
  if (k < 0.55) return randomPattern(random, depth + 1) + randomPattern(random, depth + 1);
  if (k < 0.65) return `${randomPattern(random, depth + 1)}|${randomPattern(random, depth + 1)}`;
  if (k < 0.75) return `(${randomPattern(random, depth + 1)})`;
  if (k < 0.8) return `(?:${randomPattern(random, depth + 1)})`;
  if (k < 0.85) return pick(['(?i)', '(?s)', '(?m)', '(?U)', '(?-s)', '(?i-s)']) + randomPattern(random, depth + 1);
  const operand = randomPattern(random, depth + 1);
  return `(?:${operand || 'x'})${pick(['*', '+', '?', '*?', '+?', '??', '{2}', '{1,3}', '{0,}', '{2,}?'])}`;
}

test('native translations of random RE2 patterns match re2js', () => {
  const random = rng(1616);
  const alphabet = [...ALPHABET, 'İ', 'ı', 'i', 'I', 'ǅ', 'ǆ', 'Ǆ', 'ß', 'ẞ', 'µ', 'μ', 'Μ'];
  const inputs = [''];
  for (let n = 0; n < 40; n++) {
    let s = '';
    for (let k = 0, len = 1 + Math.floor(random() * 5); k < len; k++) s += alphabet[Math.floor(random() * alphabet.length)];
    inputs.push(s);
  }
  const tpl = GoTemplate.parse('<$0|$1|$2>');
  let native = 0;
  for (let n = 0; n < 800; n++) {
    const re = randomPattern(random);
    for (const anchored of [true, false]) {
      const compile = anchored ? compileAnchoredRegex : compileRegex;
      let a: Regex;
      try {
        a = compile(re);
      } catch {
        continue; // RE2 refuses it (a**, say): nothing to compare
      }
      if (a.engine !== 'native') continue;
      native++;
      const b = compile(re, { engine: 're2js' });
      for (const s of inputs) {
        const what = `${re} ${anchored ? 'anchored' : ''} on ${JSON.stringify(s)}`;
        const x = a.exec(s);
        const y = b.exec(s);
        assert.equal(x && `${x.index} ${tpl.expand(x)}`, y && `${y.index} ${tpl.expand(y)}`, what);
        assert.equal(a.test(s), b.test(s), what);
        if (!anchored) assert.equal(replaceAllGo(a, s, tpl), replaceAllGo(b, s, tpl), what);
      }
    }
  }
  assert.ok(native > 1000, `${native} native translations checked`);
});

test('$1, ${1}, $name, ${name}, $$ and unknown groups expand the same on both engines', () => {
  const templates = ['$1', '${1}', '$name', '${name}', '$$', '$$1', '${1}x', '$1x', '$2', '$9', '$0', '${nope}', '$', 'a${name}b$1'];
  for (const re of ['(a+)(?P<name>b*)', '(?U)(a+)(?P<name>b*)', '(?i)(A+)(?P<name>B*)', 'x(?i:(a+))(?P<name>b*)']) {
    const native = compileAnchoredRegex(re);
    const other = compileAnchoredRegex(re, { engine: 're2js' });
    for (const s of ['aab', 'aabb', 'xaab']) {
      const a = native.exec(s);
      const b = other.exec(s);
      assert.equal(a === null, b === null, `${re} on ${s}`);
      if (!a || !b) continue;
      for (const t of templates) assert.equal(GoTemplate.parse(t).expand(a), GoTemplate.parse(t).expand(b), `${re} ${t} on ${s}`);
    }
  }
  const m = compileAnchoredRegex('x(?i:(a+))(?P<name>b*)').exec('xAab')!;
  assert.equal(GoTemplate.parse('$1-${name}-$$-${1}x').expand(m), 'Aa-b-$-Aax');
});

test('series selectors (if:) take RE2 flag groups too', () => {
  const sel = SeriesSelector.parse('{a=~"foo(?-i:bar)|(?i:x)"}');
  const get = (v: string) => (name: string) => (name === 'a' ? v : undefined);
  assert.ok(sel.matches(get('foobar')));
  assert.ok(sel.matches(get('X')));
  assert.ok(!sel.matches(get('fooBAR')));
  assert.throws(() => SeriesSelector.parse('{a="x", b=~"y(?=z)"}'), (err: Error & { offset?: number }) => {
    assert.match(err.message, /invalid regex "y\(\?=z\)": error parsing regexp: invalid or unsupported Perl syntax: `\(\?=`/);
    assert.equal(err.offset, 11, "at the opening quote");
    return true;
  });
});

/** Patterns Go 1.19 (promtool 2.42) and Tributary must agree on, accepted or refused. */
const DIFFERENTIAL = [
  '(?s:.*)', 'foo(?-i:bar)', '(?U)a+', '(?i)foo', 'a(?i)b', '(?i:a)b', '(?m)^a$', '\\Aa\\z', '\\Q.*\\E', '[[:alpha:]]',
  '[[:^alpha:]]', '\\pL', '\\p{Greek}', '\\PL', '\\p{^Greek}', '\\123', '\\x{10FFFF}', '\\x{110000}', '[\\d\\s\\w]', '(?P<n>a)',
  '(?P<1a>a)', '(?P<n>a)(?P<n>b)', 'x{1000}', 'x{1001}', 'x{1001,}', 'x{2,1}', '(x{2}){501}', '(a)\\1', '(?=x)', '(?!x)',
  '(?<=x)', '(?<!x)', '\\C', '\\8', '\\_', '\\é', 'a**', 'a{2}{3}', '(?-)', '(?)', '(?x)', '[a-Z]', '\\Q\\E*', '[a', 'a)|(b',
  ')', '\\p{Foo}', '[[:foo:]]', '{x}', 'a{,2}', '(?i)[[:^upper:]]', '\\b\\B', 'a\\', '',
  // Go's limits on nesting depth and size, at and just past the edge (relabeling adds a level)
  '('.repeat(998) + ')'.repeat(998), '('.repeat(999) + ')'.repeat(999), '('.repeat(1000) + ')'.repeat(1000),
  '(?:'.repeat(500) + ')*'.repeat(500), '(' + '(xx?)'.repeat(1000) + '){1000}',
];

test('promtool check config and tributary check-config accept and refuse the same regexes', { timeout: 120_000 }, async (t) => {
  if (!requirePeer(t, PROMTOOL, 'prometheus')) return;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-regex-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = DIFFERENTIAL.map((re, i) => {
    const file = join(dir, `p${i}.yml`);
    writeFileSync(
      file,
      `scrape_configs:\n  - job_name: x\n    static_configs: [{targets: ['127.0.0.1:9']}]\n    relabel_configs:\n      - source_labels: [a]\n        regex: ${JSON.stringify(re)}\n        action: keep\n`,
    );
    return file;
  });
  const promtool = files.map((f) => spawnSync(PROMTOOL, ['check', 'config', '--syntax-only', f], { encoding: 'utf8' }));
  const ours = await runCli(['check-config', ...files]);
  const mismatches: string[] = [];
  for (const [i, re] of DIFFERENTIAL.entries()) {
    const theirs = promtool[i].status === 0;
    const accepted = ours.stdout.includes(`${files[i]}: OK`);
    assert.ok(accepted || ours.stderr.includes(`${files[i]}: FAILED`), `${re}: no verdict from check-config`);
    if (theirs !== accepted) mismatches.push(`${re}: promtool ${theirs ? 'accepts' : 'refuses'}`);
  }
  assert.deepEqual(mismatches, []);
  // Go's reason, as promtool gives it
  assert.match(ours.stderr, /error parsing regexp: invalid or unsupported Perl syntax: `\(\?=`/);
});

test('a name given to several groups is accepted, as Go does: $name is the first that took part', () => {
  const re = compileAnchoredRegex('(?P<n>a)[a\\]]?(?:(?P<n>b)|(?P<n>c))');
  assert.equal(re.engine, 're2js');
  assert.equal(GoTemplate.parse('$n').expand(re.exec('ac')!), 'a');
  const alt = compileAnchoredRegex('(?P<n>a)|x(?P<n>b)');
  assert.equal(GoTemplate.parse('[$n]').expand(alt.exec('xb')!), '[b]');
  assert.equal(GoTemplate.parse('[$n|$2]').expand(compileRegex('(?P<n>a)|x(?P<n>b)').execFrom('yxb', 0)!.match), '[b|b]');
});

test('(?<name>re) is accepted as Go 1.22 and Prometheus 2.49+ do; promtool 2.42 (Go 1.19) is older', () => {
  assert.equal(compileAnchoredRegex('(?<n>a+)').exec('aa')?.groups?.n, 'aa');
});
