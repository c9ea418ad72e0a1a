/**
 * Reads a scraped page while it arrives: the response's Content-Type picks the parser (with the
 * job's fallback protocol for a missing or foreign type, as Prometheus 3 does; text for a missing
 * one when no fallback is set, as Prometheus 2 and vmagent do), and the body is
 * decoded and cut at the last line end of each chunk, so every complete line is parsed once,
 * straight from the piece it arrived in, and only the unfinished last line is carried over.
 * Line numbers run across pieces, so errors point into the page as a whole. A page whose series
 * lines are where the last one had them is read from the bytes (known-lines.ts), without a
 * string; the parser takes each chunk from the first line that is not.
 */

import { isAscii } from 'node:buffer';
import { Entry, newExpositionParser, type ExpositionParser } from '../formats/prometheus/parser.js';
import { KnownTextLines, type LineExpectation } from '../formats/prometheus/known-lines.js';
import { formatOfProtocol, mediaTypeOf, textFormatOf, type ScrapeProtocol, type TextFormat } from '../formats/media-types.js';
import type { BodyConsumer } from '../outbound/fetch.js';

/** Where a series line's sample is read: the parser, or the reader of expected lines. */
export interface SampleSource {
  readonly value: number;
  readonly timestamp: number | undefined;
}

/** Called for every sample line; reads the parser's current entry. Throwing ends the scrape. */
export type SeriesHandler = (p: ExpositionParser) => void;

export interface MetadataObserver {
  observe(e: Entry, p: ExpositionParser): void;
}

export class PageReader implements BodyConsumer {
  private readonly decoder = new TextDecoder('utf-8');
  private format: TextFormat = 'prometheus';
  private carry = '';
  private lines = 0;
  private afterEof = false;
  private started = false;
  private decoderPending = false;
  private known: KnownTextLines | undefined;
  /** Set when parsing (or the series handler) failed, as opposed to the transfer. */
  parseFailed = false;
  /** The Content-Type was missing or foreign, and the fallback format was used. */
  fellBack = false;

  constructor(
    private readonly onSeries: SeriesHandler,
    private readonly fallback: ScrapeProtocol | undefined,
    /** Told about every TYPE, HELP and UNIT line. */
    private readonly metadata?: MetadataObserver,
    /**
     * Series lines the consumer expects, read from the bytes (when no metadata is wanted) before
     * the parser takes over at the first line that is not; `onSeries` is not called for them.
     */
    private readonly expected?: LineExpectation,
  ) {}

  begin(contentType: string | undefined): void {
    this.started = true;
    const format = textFormatOf(contentType);
    if (format !== undefined) this.format = format;
    else {
      const mediaType = mediaTypeOf(contentType);
      // No Content-Type at all: Prometheus 2 and vmagent read the page as text, and so does
      // Tributary unless fallback_scrape_protocol says otherwise. A type that is there but
      // foreign (an HTML login page) is refused unless a fallback is set, as in Prometheus 3:
      // its error says more than the parse error the page would give.
      const fallback = this.fallback ? formatOfProtocol(this.fallback) : mediaType === '' ? 'prometheus' : undefined;
      if (fallback === undefined) {
        const what = mediaType === '' ? 'no Content-Type' : `unsupported Content-Type ${JSON.stringify(contentType)}`;
        throw new Error(
          this.fallback
            ? `received ${what}; fallback_scrape_protocol ${this.fallback} cannot be parsed by Tributary`
            : `received ${what} and no fallback_scrape_protocol specified for target`,
        );
      }
      this.format = fallback;
      this.fellBack = true;
    }
  }

  chunk(data: Buffer): void {
    // Pages are nearly always ASCII, which decodes by copying bytes; the UTF-8 decoder runs
    // only for chunks that need it, or while it may hold the start of a split character.
    if (!this.decoderPending && isAscii(data)) return this.asciiChunk(data);
    const decoded = this.decoder.decode(data, { stream: true });
    this.decoderPending = endsInsideCharacter(data);
    const text = this.carry + decoded;
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.carry = text;
      return;
    }
    this.carry = cut + 1 === text.length ? '' : text.slice(cut + 1);
    this.parse(cut + 1 === text.length ? text : text.slice(0, cut + 1), false);
  }

  /**
   * An ASCII chunk, cut at its line ends before it is decoded: the line the last chunk left
   * unfinished is completed and parsed on its own, the rest decoded straight from the bytes —
   * never as carry + chunk, which V8 would copy a second time to flatten.
   */
  private asciiChunk(data: Buffer): void {
    const last = data.lastIndexOf(0x0a);
    if (last < 0) {
      this.carry += data.toString('latin1');
      return;
    }
    let from = 0;
    if (this.carry !== '') {
      from = data.indexOf(0x0a) + 1;
      const line = this.carry + data.toString('latin1', 0, from);
      this.carry = '';
      this.parse(line, false);
    }
    if (this.expected !== undefined && this.metadata === undefined && !this.afterEof) from = this.readKnown(data, from, last + 1);
    if (from <= last) this.parse(data.toString('latin1', from, last + 1), false);
    if (last + 1 < data.length) this.carry = data.toString('latin1', last + 1);
  }

  private readKnown(data: Buffer, from: number, to: number): number {
    const known = (this.known ??= new KnownTextLines());
    try {
      return known.read(data, from, to, this.expected!, this.format === 'openmetrics');
    } catch (err) {
      this.parseFailed = true;
      throw err;
    } finally {
      this.lines += known.lines;
    }
  }

  /** The page has ended; parses the rest. Throws on a missing "# EOF" in OpenMetrics. */
  end(): void {
    if (!this.started) this.begin(undefined);
    const text = this.carry + this.decoder.decode();
    this.carry = '';
    this.parse(text, true);
  }

  private parse(text: string, final: boolean): void {
    try {
      this.parsePiece(text, final);
    } catch (err) {
      this.parseFailed = true;
      throw err;
    }
  }

  private parsePiece(text: string, final: boolean): void {
    const p = newExpositionParser(text, {
      format: this.format,
      startLine: this.lines,
      final,
      afterEof: this.afterEof,
      // the series cache asks for labels only for lines it has not seen
      lazyLabels: true,
    });
    const onSeries = this.onSeries;
    const metadata = this.metadata;
    for (let e = p.next(); e !== Entry.End; e = p.next()) {
      if (e === Entry.Series) onSeries(p);
      else if (metadata !== undefined && e !== Entry.Comment) metadata.observe(e, p);
    }
    this.lines = p.line;
    this.afterEof = p.sawEof;
  }
}

/** Whether the last bytes are an incomplete UTF-8 sequence (the decoder keeps them for later). */
function endsInsideCharacter(b: Buffer): boolean {
  for (let back = 1; back <= 3 && back <= b.length; back++) {
    const c = b[b.length - back];
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > back;
  }
  return false;
}
