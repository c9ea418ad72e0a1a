/**
 * Content negotiation for exposition pages: which text format a scraper asked for in its
 * Accept header, and the Content-Type to answer with. Prometheus 3 also says whether it takes
 * UTF-8 names (`escaping=allow-utf-8`); otherwise names outside the legacy character set are
 * escaped with underscores, as Prometheus' own libraries do.
 */

export type TextFormat = 'prometheus' | 'openmetrics';

export interface NegotiatedFormat {
  format: TextFormat;
  contentType: string;
  /** Quoted UTF-8 names may be written; false means escape them to legacy names. */
  utf8Names: boolean;
}

export const CONTENT_TYPE_TEXT_004 = 'text/plain; version=0.0.4; charset=utf-8';
export const CONTENT_TYPE_OPENMETRICS_100 = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const DEFAULT_FORMAT: NegotiatedFormat = {
  format: 'prometheus',
  contentType: CONTENT_TYPE_TEXT_004,
  utf8Names: false,
};

/** One entry of a quality-valued header list (Accept, Accept-Encoding). */
export interface Offer {
  /** Media type or coding, lower-cased. */
  type: string;
  params: Map<string, string>;
  /** 0–1; 0 is an explicit refusal. */
  q: number;
  order: number;
}

/** `a;x=1;q=0.5, b` as listed, refusals (q=0) included; an unreadable q counts as 0. */
export function parseQualityList(header: string): Offer[] {
  const offers: Offer[] = [];
  let order = 0;
  for (const part of header.split(',')) {
    const [typePart, ...paramParts] = part.split(';');
    const type = typePart.trim().toLowerCase();
    if (type === '') continue;
    const params = new Map<string, string>();
    let q = 1;
    for (const p of paramParts) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (k === 'q') {
        const n = Number(v);
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0;
      } else params.set(k, v);
    }
    offers.push({ type, params, q, order: order++ });
  }
  return offers;
}

function parseAccept(header: string): Offer[] {
  return parseQualityList(header)
    .filter((o) => o.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
}

function choose(offer: Offer): NegotiatedFormat | undefined {
  const version = offer.params.get('version');
  const utf8Names = offer.params.get('escaping') === 'allow-utf-8';
  if (offer.type === 'application/openmetrics-text') {
    if (version !== undefined && version !== '1.0.0' && version !== '0.0.1') return undefined;
    const v = version ?? '1.0.0';
    const escaping = utf8Names ? '; escaping=allow-utf-8' : '';
    return {
      format: 'openmetrics',
      contentType: `application/openmetrics-text; version=${v}; charset=utf-8${escaping}`,
      utf8Names,
    };
  }
  if (offer.type === 'text/plain') {
    if (version === '1.0.0') {
      const escaping = utf8Names ? '; escaping=allow-utf-8' : '';
      return {
        format: 'prometheus',
        contentType: `text/plain; version=1.0.0; charset=utf-8${escaping}`,
        utf8Names,
      };
    }
    if (version === undefined || version === '0.0.4') return DEFAULT_FORMAT;
    return undefined;
  }
  if (offer.type === '*/*' || offer.type === 'text/*') return DEFAULT_FORMAT;
  return undefined;
}

/** The best format the Accept header allows; the text format 0.0.4 when it names none we speak. */
export function negotiateExposition(accept: string | undefined): NegotiatedFormat {
  if (!accept) return DEFAULT_FORMAT;
  for (const offer of parseAccept(accept)) {
    const chosen = choose(offer);
    if (chosen) return chosen;
  }
  return DEFAULT_FORMAT;
}
