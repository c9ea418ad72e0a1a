/**
 * A pulled source's memory of its page: the raw bytes last accepted, the frame they parsed to,
 * and the snapshot handed out. Every pulled source funnels its attempts through here, so the
 * version rule lives in one place: identical bytes keep their frame and version without being
 * parsed again, the frame shown changes only together with the version, and a page with the
 * same series as the last one keeps its layout (FrameParser). So does the one input rule: a
 * page that is not valid UTF-8 is refused whole.
 */

import { textFormatOf, type TextFormat } from '../../formats/media-types.js';
import { decodeExposition } from '../../formats/prometheus/decode.js';
import { FrameParser } from '../../formats/prometheus/frame-parser.js';
import { ExpositionError } from '../../formats/prometheus/parser.js';
import { EMPTY_FRAME, type PageFrame } from '../../model/frame.js';
import { EMPTY_SNAPSHOT, nextVersion, type SourceSnapshot } from '../source.js';

interface GoodPage {
  readonly raw: Buffer;
  readonly format: TextFormat;
  readonly frame: PageFrame;
  readonly version: number;
  readonly droppedLines: number;
  readonly parseError?: string;
}

/** What to show after a failed attempt. */
export type OnFailure = 'keep-last-good' | 'no-data';

export class PageState {
  private good: GoodPage | undefined;
  /** Version of "no families" once data has been shown; fixed so repeated failures keep it. */
  private emptyVersion = 0;
  private current: SourceSnapshot = EMPTY_SNAPSHOT;
  private attempts = 0;
  private failed = 0;
  /** Reads each page against the last (see FrameParser): unchanged series cost no parsing of labels. */
  private readonly parser = new FrameParser();

  get snapshot(): SourceSnapshot {
    return this.current;
  }

  /** Attempts that have finished, successful or not. */
  get attemptCount(): number {
    return this.attempts;
  }

  /** Attempts that failed, for the source's self-metrics. */
  get failures(): number {
    return this.failed;
  }

  /**
   * Takes a fetched page; parses it only when its bytes differ from the last good page. A page
   * that is not valid UTF-8 is refused whole, as a failed attempt with `onFailure`.
   */
  accept(raw: Buffer, format: TextFormat, durationSeconds: number, onFailure: OnFailure): SourceSnapshot {
    let good = this.good;
    if (!good || good.format !== format || !good.raw.equals(raw)) {
      let text: string;
      try {
        text = decodeExposition(raw);
      } catch (err) {
        if (!(err instanceof ExpositionError)) throw err;
        return this.fail(`page refused: ${err.message}`, durationSeconds, onFailure);
      }
      const page = this.parser.parse(text, format);
      good = {
        raw,
        format,
        frame: page.frame,
        version: nextVersion(),
        droppedLines: page.dropped,
        parseError: page.errors.length > 0 ? page.errors[0].message : undefined,
      };
      this.good = good;
      this.emptyVersion = 0;
    }
    this.attempts++;
    this.current = {
      frame: good.frame,
      version: good.version,
      ok: true,
      error: good.parseError,
      droppedLines: good.droppedLines,
      durationSeconds,
      lastSuccessMs: Date.now(),
    };
    return this.current;
  }

  fail(error: string, durationSeconds: number, onFailure: OnFailure): SourceSnapshot {
    this.attempts++;
    this.failed++;
    const prev = this.current;
    if (onFailure === 'keep-last-good' && this.good) {
      const good = this.good;
      this.current = {
        frame: good.frame,
        version: good.version,
        ok: false,
        error,
        droppedLines: good.droppedLines,
        durationSeconds,
        lastSuccessMs: prev.lastSuccessMs,
      };
    } else {
      // Families are gone: the version must change, but only once, so that a run of failures
      // does not look like a run of new pages. Never had data: version 0 says exactly that.
      if (this.good && this.emptyVersion === 0) this.emptyVersion = nextVersion();
      this.current = {
        frame: EMPTY_FRAME,
        version: this.good ? this.emptyVersion : 0,
        ok: false,
        error,
        droppedLines: 0,
        durationSeconds,
        lastSuccessMs: prev.lastSuccessMs,
      };
    }
    return this.current;
  }
}

/** Files and scripts have no Content-Type: an OpenMetrics page is known by its final `# EOF`. */
export function sniffFormat(raw: Buffer): TextFormat {
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d || raw[end - 1] === 0x20)) end--;
  return end >= 5 && raw.subarray(end - 5, end).toString('latin1') === '# EOF' ? 'openmetrics' : 'prometheus';
}

/** The format a response's Content-Type names; anything but OpenMetrics is read as text 0.0.4. */
export function formatOfContentType(contentType: string | undefined): TextFormat {
  return textFormatOf(contentType) === 'openmetrics' ? 'openmetrics' : 'prometheus';
}
