/**
 * Media types and content negotiation, in one place for every side: the media types Tributary
 * reads and writes, the Accept header a scrape sends (built from scrape_protocols, as Prometheus
 * 2.42+ does), reading a response's or a push's Content-Type, and choosing what to answer a
 * scraper of /metrics with. Prometheus 3 also says whether it takes UTF-8 names
 * (`escaping=allow-utf-8`); otherwise names outside the legacy character set are escaped with
 * underscores, as Prometheus' own libraries do.
 */

/** The two text exposition formats. */
export type TextFormat = 'prometheus' | 'openmetrics';

// Bare media types, lower case, as compared after `mediaTypeOf`.
export const MEDIA_TEXT = 'text/plain';
export const MEDIA_OPENMETRICS = 'application/openmetrics-text';
export const MEDIA_PROTOBUF = 'application/vnd.google.protobuf';
export const MEDIA_HTML = 'text/html';
export const MEDIA_JSON = 'application/json';
/** HTML form fields, as OAuth2 token requests send them. */
export const MEDIA_FORM = 'application/x-www-form-urlencoded';
/** Remote write's protobuf messages (1.0 and, with a `proto` parameter, 2.0). */
export const MEDIA_REMOTE_WRITE = 'application/x-protobuf';

const PROTOBUF_DELIMITED_PARAMS = ['proto=io.prometheus.client.MetricFamily', 'encoding=delimited'];

// Complete Content-Type values.
export const CONTENT_TYPE_TEXT_004 = `${MEDIA_TEXT}; version=0.0.4; charset=utf-8`;
export const CONTENT_TYPE_OPENMETRICS_100 = `${MEDIA_OPENMETRICS}; version=1.0.0; charset=utf-8`;
export const CONTENT_TYPE_PROTOBUF_DELIMITED = [MEDIA_PROTOBUF, ...PROTOBUF_DELIMITED_PARAMS].join('; ');
export const CONTENT_TYPE_PLAIN = `${MEDIA_TEXT}; charset=utf-8`;
export const CONTENT_TYPE_HTML = `${MEDIA_HTML}; charset=utf-8`;
export const CONTENT_TYPE_JSON = `${MEDIA_JSON}; charset=utf-8`;

// ---- reading headers

/** One media type (or coding) with its parameters, as in Content-Type and each Accept entry. */
export interface MediaType {
  /** Media type or coding, lower-cased. */
  type: string;
  params: Map<string, string>;
}

/** One entry of a quality-valued header list (Accept, Accept-Encoding). */
export interface Offer extends MediaType {
  /** 0–1; 0 is an explicit refusal. */
  q: number;
  order: number;
}

/** `type; a=1; b="2"`: the type lower-cased, parameter names lower-cased, quotes removed. */
export function parseMediaType(value: string): MediaType {
  const [typePart, ...paramParts] = value.split(';');
  const params = new Map<string, string>();
  for (const p of paramParts) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return { type: typePart.trim().toLowerCase(), params };
}

/** The bare media type of a Content-Type header, lower-cased; '' when there is none. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** `a;x=1;q=0.5, b` as listed, refusals (q=0) included; an unreadable q counts as 0. */
export function parseQualityList(header: string): Offer[] {
  const offers: Offer[] = [];
  let order = 0;
  for (const part of header.split(',')) {
    const { type, params } = parseMediaType(part);
    if (type === '') continue;
    let q = 1;
    const qv = params.get('q');
    if (qv !== undefined) {
      params.delete('q');
      const n = Number(qv);
      q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0;
    }
    offers.push({ type, params, q, order: order++ });
  }
  return offers;
}

/** Whether an Accept header names `type` (not refused with q=0). */
export function acceptsMediaType(accept: string, type: string): boolean {
  return parseQualityList(accept).some((o) => o.type === type && o.q > 0);
}

/** The text format a Content-Type names; undefined for anything else (protobuf, HTML, none). */
export function textFormatOf(contentType: string | undefined): TextFormat | undefined {
  const type = mediaTypeOf(contentType);
  if (type === MEDIA_OPENMETRICS) return 'openmetrics';
  if (type === MEDIA_TEXT) return 'prometheus';
  return undefined;
}

/** Delimited `MetricFamily` protobuf: both parameters client_golang sends are required, as in the Pushgateway. */
export function isDelimitedProtobuf(contentType: string | undefined): boolean {
  const { type, params } = parseMediaType(contentType ?? '');
  return type === MEDIA_PROTOBUF && params.get('proto') === 'io.prometheus.client.MetricFamily' && params.get('encoding') === 'delimited';
}

// ---- the scrape side: what to ask for

/** Prometheus' scrape_protocols, as written in a job. */
export const SCRAPE_PROTOCOLS = [
  'PrometheusProto',
  'OpenMetricsText0.0.1',
  'OpenMetricsText1.0.0',
  'PrometheusText0.0.4',
  'PrometheusText1.0.0',
] as const;
export type ScrapeProtocol = (typeof SCRAPE_PROTOCOLS)[number];

/** The Accept entry each protocol stands for (Prometheus' `ScrapeProtocolsHeaders`). */
const PROTOCOL_MEDIA: Readonly<Record<ScrapeProtocol, string>> = {
  PrometheusProto: [MEDIA_PROTOBUF, ...PROTOBUF_DELIMITED_PARAMS].join(';'),
  'PrometheusText0.0.4': `${MEDIA_TEXT};version=0.0.4`,
  'PrometheusText1.0.0': `${MEDIA_TEXT};version=1.0.0;escaping=allow-utf-8`,
  'OpenMetricsText0.0.1': `${MEDIA_OPENMETRICS};version=0.0.1`,
  'OpenMetricsText1.0.0': `${MEDIA_OPENMETRICS};version=1.0.0`,
};

/** `a;q=0.<top>,b;q=0.<top-1>,...,*\/*;q=0.<last>`: the entries in order of preference. */
function weightedAccept(entries: readonly string[], top: number): string {
  let weight = top;
  const parts = entries.map((e) => `${e};q=0.${weight--}`);
  parts.push(`*/*;q=0.${weight}`);
  return parts.join(',');
}

/**
 * Prometheus' Accept header for a job's scrape_protocols, in order of preference with falling
 * q values and `*\/*` last. The protobuf format is left out: Tributary cannot parse it, and a
 * target offering it would otherwise choose it.
 */
export function acceptHeader(protocols: readonly ScrapeProtocol[]): string {
  const usable = protocols.filter((p) => p !== 'PrometheusProto');
  return weightedAccept(usable.map((p) => PROTOCOL_MEDIA[p]), usable.length + 1);
}

/** The Accept header of a fetch that names no protocols (gateway HTTP sources): OpenMetrics preferred, text as fallback. */
export const DEFAULT_ACCEPT = weightedAccept(
  [PROTOCOL_MEDIA['OpenMetricsText1.0.0'], PROTOCOL_MEDIA['OpenMetricsText0.0.1'], PROTOCOL_MEDIA['PrometheusText0.0.4']],
  5,
);

/** The text format a protocol names; undefined for protobuf. */
export function formatOfProtocol(p: ScrapeProtocol): TextFormat | undefined {
  if (p.startsWith('OpenMetrics')) return 'openmetrics';
  if (p.startsWith('PrometheusText')) return 'prometheus';
  return undefined;
}

// ---- the serving side: what to answer

export interface NegotiatedFormat {
  format: TextFormat;
  contentType: string;
  /** Quoted UTF-8 names may be written; false means escape them to legacy names. */
  utf8Names: boolean;
}

const DEFAULT_FORMAT: NegotiatedFormat = {
  format: 'prometheus',
  contentType: CONTENT_TYPE_TEXT_004,
  utf8Names: false,
};

function choose(offer: Offer): NegotiatedFormat | undefined {
  const version = offer.params.get('version');
  const utf8Names = offer.params.get('escaping') === 'allow-utf-8';
  const escaping = utf8Names ? '; escaping=allow-utf-8' : '';
  if (offer.type === MEDIA_OPENMETRICS) {
    if (version !== undefined && version !== '1.0.0' && version !== '0.0.1') return undefined;
    const v = version ?? '1.0.0';
    return { format: 'openmetrics', contentType: `${MEDIA_OPENMETRICS}; version=${v}; charset=utf-8${escaping}`, utf8Names };
  }
  if (offer.type === MEDIA_TEXT) {
    if (version === '1.0.0') return { format: 'prometheus', contentType: `${MEDIA_TEXT}; version=1.0.0; charset=utf-8${escaping}`, utf8Names };
    if (version === undefined || version === '0.0.4') return DEFAULT_FORMAT;
    return undefined;
  }
  if (offer.type === '*/*' || offer.type === 'text/*') return DEFAULT_FORMAT;
  return undefined;
}

/** The best format the Accept header allows; the text format 0.0.4 when it names none we speak. */
export function negotiateExposition(accept: string | undefined): NegotiatedFormat {
  if (!accept) return DEFAULT_FORMAT;
  const offers = parseQualityList(accept)
    .filter((o) => o.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const offer of offers) {
    const chosen = choose(offer);
    if (chosen) return chosen;
  }
  return DEFAULT_FORMAT;
}
