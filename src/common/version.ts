/**
 * Tributary's version, read once from the package.json that ships with the build, so the
 * number in `--version`, `/` and `tributary_build_info` is the one npm installed.
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findVersion(): string {
  // dist/common/ in a build, dist-test/src/common/ under test: walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tributary' && pkg.version) return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export const VERSION = findVersion();

/** Every outbound request's User-Agent (scrapes, remote write, oauth2 tokens, HTTP SD). */
export const USER_AGENT = `Tributary/${VERSION}`;
