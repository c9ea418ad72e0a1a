/**
 * The web UI's shared parts: the page layout with navigation, the registry of pages that feeds
 * it, the project's only HTML escaping (`escapeHtml` and the `html` template tag), label sets
 * shown as chips, and the index page at `/`. Feature parts render their bodies with `html` and
 * wrap them in `renderPage`; they never build markup from unescaped strings.
 */
export { Html, escapeHtml, html, raw } from './html.js';
export { PageRegistry } from './pages.js';
export type { PageEntry } from './pages.js';
export { renderPage } from './layout.js';
export { labelChips, labelChanges } from './labels.js';
export type { LabelMark } from './labels.js';
export type { PageOptions } from './layout.js';
export { CORE_ENDPOINTS, formatUptime, renderIndexPage, registerIndexPage } from './index-page.js';
export type { IndexPageInfo, IndexPageOptions } from './index-page.js';
