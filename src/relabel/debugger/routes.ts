/**
 * The relabel debugger's routes and index entries. The pages themselves (rules written back as
 * YAML) are loaded on the first request, not by every agent at start; the rules typed in are
 * read in the configuration resolver's child process (input.ts), so the schema never is.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpServer } from '../../server/http-server.js';
import type { PageRegistry } from '../../ui/pages.js';
import { RELABEL_DEBUG_MODES, RELABEL_DEBUG_PATHS } from './paths.js';

export function registerRelabelDebugPages(server: HttpServer, pages: PageRegistry): void {
  pages.add({
    path: RELABEL_DEBUG_PATHS.relabel,
    title: 'Relabel debugger',
    description: 'Runs relabel rules on a label set one at a time and shows what each changed, or which one dropped it.',
  });
  pages.add({
    path: RELABEL_DEBUG_PATHS.target,
    title: 'Target relabel debugger',
    description: "The relabel debugger for relabel_configs, at vmagent's path: shows the target's labels as scraping would.",
    nav: false,
  });
  pages.add({
    path: RELABEL_DEBUG_PATHS.metric,
    title: 'Metric relabel debugger',
    description: "The relabel debugger for metric_relabel_configs, at vmagent's path.",
    nav: false,
  });
  for (const mode of RELABEL_DEBUG_MODES) {
    const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const { serveRelabelDebug } = await import('./page.js');
      await serveRelabelDebug(req, res, pages, mode);
    };
    server.get(RELABEL_DEBUG_PATHS[mode], handler);
    server.post(RELABEL_DEBUG_PATHS[mode], handler);
  }
}
