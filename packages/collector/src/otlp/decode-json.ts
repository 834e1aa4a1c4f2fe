/**
 * OTLP/HTTP JSON → `InputBatch`, following the OTLP JSON Protobuf Encoding:
 * - field names in lowerCamelCase; the proto (snake_case) names are accepted too, camelCase winning;
 * - 64-bit integers as decimal strings or JSON numbers; doubles as numbers or "NaN"/"Infinity"/"-Infinity";
 *   a bare integer literal beyond 2^53 - 1 is read exactly, as its string form would be;
 * - enums as integers; enum names (e.g. "AGGREGATION_TEMPORALITY_DELTA") are accepted too;
 * - `bytesValue` as base64 (standard or URL-safe); only trace/span ids are hex in OTLP/JSON, and those
 *   live in exemplars, which Tallyhouse skips;
 * - unknown fields ignored, `null` treated as absent (the default value);
 * - strings must be valid Unicode: an escaped unpaired surrogate is refused as `INVALID_UTF8`, as protobuf
 *   refuses invalid UTF-8.
 * Nesting of `AnyValue` is capped at `MAX_ANY_VALUE_DEPTH`; everything else is walked with a fixed
 * depth, so a hostile document cannot exhaust the stack.
 */
import { decodeResult, type OtlpDecodeResult } from './decode-result.ts';
import { OtlpDecodeError, toOtlpDecodeError } from './errors.ts';
import { JsonDecoder } from './json/json-decoder.ts';
import {
  describe,
  InexactInteger,
  type JsonObject,
  parseExactIntegers,
  withExactIntegers,
} from './json/json-values.ts';
import { decodeRequest } from './json/metrics.ts';

// A BOM opening the document is the one RFC 8259 lets a parser skip (the default, ignoreBOM false, drops just
// that one); BOMs inside strings are characters of the string and stay.
const UTF8_BODY = new TextDecoder('utf-8', { fatal: true });

/**
 * An OTLP/JSON body as received (bytes): strict UTF-8 — a replacement character would corrupt stored names — then
 * the document. Live intake and write-ahead-log replay both decode through here, so they read the same points.
 */
export function decodeExportMetricsServiceRequestJsonBody(body: Uint8Array): OtlpDecodeResult {
  let text: string;
  try {
    text = UTF8_BODY.decode(body);
  } catch {
    throw new OtlpDecodeError('INVALID_UTF8', '', 'body is not valid UTF-8');
  }
  return decodeExportMetricsServiceRequestJson(text);
}

/**
 * Decodes an OTLP `ExportMetricsServiceRequest` in JSON encoding.
 * @throws OtlpDecodeError when the body is not a well-formed request (answer 400).
 */
export function decodeExportMetricsServiceRequestJson(text: string): OtlpDecodeResult {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (thrown) {
    throw new OtlpDecodeError(
      'INVALID_JSON',
      '',
      `the body is not valid JSON (${(thrown as Error).message})`,
    );
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new OtlpDecodeError('INVALID_JSON', '', `expected a JSON object, got ${describe(document)}`);
  }
  try {
    return decodeDocument(document as JsonObject);
  } catch (thrown) {
    if (!(thrown instanceof InexactInteger)) throw toOtlpDecodeError(thrown);
  }
  // Rare (a 64-bit field sent as a number beyond 2^53 - 1), so the common path pays nothing: parse again with
  // the literals' source text and decode from the start.
  try {
    return withExactIntegers(() => decodeDocument(parseExactIntegers(text) as JsonObject));
  } catch (thrown) {
    throw toOtlpDecodeError(thrown);
  }
}

function decodeDocument(document: JsonObject): OtlpDecodeResult {
  const d = new JsonDecoder();
  return decodeResult(decodeRequest(d, document), d);
}
