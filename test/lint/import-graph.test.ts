/**
 * The import graph of src/ kept in shape: every import (type-only and dynamic ones too) goes to
 * the same layer or a lower one, in the order of docs/ARCHITECTURE.md's layer table (bottom
 * up) — the table is the one statement of the order, read from there — and the schema library
 * (zod) never reaches the running agent: not through runtime/runtime.ts' static imports, nor
 * through any module of a hot-path layer. The configuration is validated in a child process
 * (config/isolated.ts) and check-config loads it on demand; a static import from elsewhere
 * would keep ~20 MB resident for the agent's whole life.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (compiled tests live in dist-test/test/lint/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

/**
 * Modules that may hold zod: the configuration, and check-config's file_sd check, which the
 * CLI loads (with the loader) only for `check-config`. The CLI itself must not.
 */
const MAY_LOAD_ZOD = (file: string): boolean => file.startsWith('config/') || file === 'discovery/file-sd-check.ts';

interface Import {
  readonly spec: string;
  /**
   * `import type` / `export type`: erased from the JS. Not `import { type A }`: under
   * verbatimModuleSyntax that stays as `import {} from`, which still loads the module.
   */
  readonly typeOnly: boolean;
  /** `import('…')`: loaded when first needed, not with the importer. */
  readonly dynamic: boolean;
}

/** Every import/export-from specifier of a TypeScript module (comments skipped). */
export function importsOf(text: string): Import[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: Import[] = [];
  const statement = /^(import|export)\s+(type\s+)?([\w$*\s{},]*?)\s*from\s*['"]([^'"]+)['"]/gm;
  for (const m of code.matchAll(statement)) out.push({ spec: m[4], typeOnly: m[2] !== undefined, dynamic: false });
  for (const m of code.matchAll(/^import\s*['"]([^'"]+)['"]/gm)) out.push({ spec: m[1], typeOnly: false, dynamic: false });
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], typeOnly: false, dynamic: true });
  return out;
}

/** The layers of docs/ARCHITECTURE.md's table, bottom up: folder (e.g. `formats/snappy/`) to rank. */
export function layerTable(markdown: string): Map<string, number> {
  const section = /^## Layers \(bottom up\)\n([\s\S]*?)(?=^## )/m.exec(markdown);
  assert.ok(section, 'docs/ARCHITECTURE.md has a "## Layers (bottom up)" section');
  const ranks = new Map<string, number>();
  for (const m of section[1].matchAll(/^\| `([\w/-]+\/)` \|/gm)) ranks.set(m[1], ranks.size);
  return ranks;
}

/** The layer a file (relative to src/) belongs to: the longest folder of the table it is under. */
export function layerOf(file: string, ranks: ReadonlyMap<string, number>): string | undefined {
  // a file directly in src/ (cli.ts) belongs to the folder of its name
  const path = file.includes('/') ? file : file.replace(/\.ts$/, '/');
  let best: string | undefined;
  for (const folder of ranks.keys()) if (path.startsWith(folder) && (best === undefined || folder.length > best.length)) best = folder;
  return best;
}

/** Upward imports: `from` (relative to src/) importing a module of a higher layer. */
export function upwardImports(sources: ReadonlyMap<string, string>, ranks: ReadonlyMap<string, number>): string[] {
  const bad: string[] = [];
  for (const [file, text] of sources) {
    const from = layerOf(file, ranks);
    for (const imp of importsOf(text)) {
      if (!imp.spec.startsWith('.')) continue;
      const target = resolveSpec(file, imp.spec);
      const to = layerOf(target, ranks);
      if (from === undefined || to === undefined) {
        bad.push(`${file} → ${target}: outside every layer of the table`);
      } else if (ranks.get(to)! > ranks.get(from)!) {
        bad.push(`${file} (${from}) imports ${imp.spec} (${to}), a higher layer`);
      }
    }
  }
  return bad;
}

/** Packages and modules loaded with `entry` by static value imports, each with the chain that reaches it. */
export function valueClosure(entry: string, sources: ReadonlyMap<string, string>): Map<string, string[]> {
  const reached = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const text = sources.get(file);
    if (text === undefined) continue;
    for (const imp of importsOf(text)) {
      if (imp.typeOnly || imp.dynamic) continue;
      const next = imp.spec.startsWith('.') ? resolveSpec(file, imp.spec) : packageName(imp.spec);
      if (reached.has(next)) continue;
      reached.set(next, [...reached.get(file)!, next]);
      if (next.endsWith('.ts')) queue.push(next);
    }
  }
  return reached;
}

function resolveSpec(file: string, spec: string): string {
  return posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts');
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function readSources(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.bench.ts') && !e.name.endsWith('.d.ts')) {
        out.set(relative(SRC, path).split('\\').join('/'), readFileSync(path, 'utf8'));
      }
    }
  };
  walk(SRC);
  return out;
}

const sources = readSources();
const doc = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
const ranks = layerTable(doc);

test('every folder of src/ has its row in the layer table, and every row a folder (or one to come)', () => {
  const used = new Set<string>();
  for (const file of sources.keys()) {
    const parts = file.split('/');
    // formats/ holds one folder per wire format, and beside them what all formats share
    const folder =
      parts.length === 1 ? file.replace(/\.ts$/, '/') : parts[0] === 'formats' && parts.length > 2 ? `formats/${parts[1]}/` : `${parts[0]}/`;
    assert.ok(ranks.has(folder), `${folder} (of ${file}) has no row in docs/ARCHITECTURE.md's layer table`);
    used.add(folder);
  }
  const toCome = [...doc.matchAll(/^\| `([\w/-]+\/)` \|.*\| to come \|$/gm)].map((m) => m[1]);
  assert.deepEqual([...ranks.keys()].filter((f) => !used.has(f) && !toCome.includes(f)), []);
});

test('no module imports one of a higher layer', () => {
  assert.deepEqual(upwardImports(sources, ranks), []);
});

test('the running agent does not load zod: not from runtime.ts, nor from any hot-path module', () => {
  const runtime = valueClosure('runtime/runtime.ts', sources);
  assert.equal(runtime.get('zod')?.join(' → '), undefined, 'runtime/runtime.ts loads zod');
  const loaders: string[] = [];
  for (const file of sources.keys()) {
    if (MAY_LOAD_ZOD(file)) continue;
    const chain = valueClosure(file, sources).get('zod');
    if (chain) loaders.push(chain.join(' → '));
  }
  assert.deepEqual(loaders, []);
  // the closure is followed at all: the runtime reaches, say, the scrape loop and undici's types are not counted
  assert.ok(runtime.has('scrape/scrape-loop.ts'));
  assert.ok(valueClosure('config/load.ts', sources).has('zod'), 'config/load.ts loads zod: the closure sees packages');
});

test('the checks see a planted violation', () => {
  const planted = new Map([
    ['model/labels.ts', "import type { Logger } from '../log/logger.js';\n"],
    ['log/logger.ts', "import {\n  type A,\n  B,\n} from '../scrape/scrape-loop.js';\n"],
    ['scrape/scrape-loop.ts', "export { x } from '../config/schema.js';\nconst y = await import('../runtime/runtime.js');\n"],
    ['config/schema.ts', "import * as z from 'zod';\n"],
  ]);
  assert.deepEqual(upwardImports(planted, ranks), [
    'model/labels.ts (model/) imports ../log/logger.js (log/), a higher layer',
    'log/logger.ts (log/) imports ../scrape/scrape-loop.js (scrape/), a higher layer',
    'scrape/scrape-loop.ts (scrape/) imports ../runtime/runtime.js (runtime/), a higher layer',
  ]);
  assert.deepEqual(valueClosure('log/logger.ts', planted).get('zod'), ['log/logger.ts', 'scrape/scrape-loop.ts', 'config/schema.ts', 'zod']);
  assert.equal(valueClosure('model/labels.ts', planted).get('zod'), undefined, 'a type-only import loads nothing');
  assert.deepEqual(
    importsOf("import type { A } from './a.js';\nimport { type B } from './b.js';\nexport type { C } from './c.js';\n// import x from './commented.js';\n").map((i) => [i.spec, i.typeOnly]),
    [['./a.js', true], ['./b.js', false], ['./c.js', true]],
  );
});
