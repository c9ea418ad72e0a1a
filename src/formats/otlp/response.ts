/**
 * OTLP/HTTP answers, in the request's encoding: `ExportMetricsServiceResponse` (empty on full
 * success; `partial_success` with `rejected_data_points` and `error_message` when rows were
 * refused) for 200, and `google.rpc.Status` (code INVALID_ARGUMENT and the message) for 400.
 */

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...varintBytes(payload.length)]), payload]);
}

/** gRPC's INVALID_ARGUMENT, what a 400's Status carries. */
export const STATUS_INVALID_ARGUMENT = 3;

export function exportResponse(json: boolean, rejected: number, message: string): Buffer {
  if (json) {
    return Buffer.from(rejected > 0 ? JSON.stringify({ partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message } }) : '{}');
  }
  if (rejected === 0) return Buffer.alloc(0);
  const partial = Buffer.concat([Buffer.from([0x08, ...varintBytes(rejected)]), lengthDelimited(2, Buffer.from(message, 'utf8'))]);
  return lengthDelimited(1, partial);
}

export function statusResponse(json: boolean, code: number, message: string): Buffer {
  if (json) return Buffer.from(JSON.stringify({ code, message }));
  return Buffer.concat([Buffer.from([0x08, ...varintBytes(code)]), lengthDelimited(2, Buffer.from(message, 'utf8'))]);
}
