/**
 * How an outbound URL appears in logs, errors and metric labels: origin and path only, since
 * user info and the query may carry credentials.
 */
export function shownUrl(url: string): string {
  // a NATS address may list several hosts, which URL does not parse
  if (url.startsWith('nats://')) return url.replace(/^nats:\/\/[^@/]*@/, 'nats://').replace(/[?#].*$/, '');
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return '(invalid URL)';
  }
}
