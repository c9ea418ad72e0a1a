/**
 * How an outbound URL appears in logs, errors and metric labels: origin and path only, since
 * user info and the query may carry credentials.
 */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return '(invalid URL)';
  }
}
