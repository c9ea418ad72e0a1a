/**
 * The list of pages the UI knows about. Each part that serves a page (Targets, Apps, Gather...)
 * adds an entry when it registers its route; the shared layout builds its navigation from
 * here and the index page lists everything with its description.
 */

export interface PageEntry {
  path: string;
  title: string;
  description: string;
  /** Shown in the navigation bar; false for endpoints that are not pages (listed on / only). */
  nav?: boolean;
}

export class PageRegistry {
  private readonly entries: PageEntry[] = [];

  add(entry: PageEntry): void {
    if (!entry.path.startsWith('/')) throw new Error(`page path must start with "/": ${JSON.stringify(entry.path)}`);
    if (this.entries.some((e) => e.path === entry.path)) throw new Error(`page ${entry.path} is already registered`);
    this.entries.push({ ...entry });
  }

  /** Every entry, in the order they were added. */
  list(): readonly PageEntry[] {
    return this.entries;
  }

  /** Entries for the navigation bar. */
  nav(): readonly PageEntry[] {
    return this.entries.filter((e) => e.nav !== false);
  }
}
