/**
 * Why a whole OTLP request could not be decoded. The receiver answers these with HTTP 400 and a
 * `google.rpc.Status` body carrying `message`.
 *
 * Per-point problems are not errors: they are reported as rejections in the decode result.
 */

/** Stable codes; tests and the receiver's own metrics key on them, so never rename one. */
export type OtlpDecodeErrorCode =
  /** The protobuf message ends inside a field (or a length runs past its enclosing message). */
  | 'TRUNCATED'
  /** Not valid protobuf wire format: bad varint, invalid wire type, wrong wire type for a known field. */
  | 'MALFORMED_PROTOBUF'
  /** A protobuf `string` field is not valid UTF-8. */
  | 'INVALID_UTF8'
  /** The body is not JSON, or its top level is not an object. */
  | 'INVALID_JSON'
  /** A JSON field has the wrong type or an out-of-range value. */
  | 'INVALID_VALUE'
  /** `AnyValue` arrays/kvlists nest deeper than {@link MAX_ANY_VALUE_DEPTH}. */
  | 'NESTING_TOO_DEEP';

/** Deepest `AnyValue` nesting accepted (a scalar at top level is depth 1). Guards the stack. */
export const MAX_ANY_VALUE_DEPTH = 64;

export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
  readonly code: OtlpDecodeErrorCode;
  /** Field path in OTLP/JSON names, e.g. `resourceMetrics[0].scopeMetrics[1].metrics[2].name`; `''` = whole body. */
  readonly path: string;
  /** What is wrong at `path`, without the path. */
  readonly detail: string;

  constructor(code: OtlpDecodeErrorCode, path: string, detail: string) {
    super(path === '' ? detail : `${path}: ${detail}`);
    this.code = code;
    this.path = path;
    this.detail = detail;
  }
}

/**
 * Thrown inside the decoders while the path is still being assembled: each enclosing level catches it,
 * prepends its own segment and rethrows, so the happy path never builds path strings.
 */
export class DecodeFailure {
  readonly code: OtlpDecodeErrorCode;
  readonly detail: string;
  /** Path segments, innermost last; filled while unwinding. */
  readonly segments: string[] = [];

  constructor(code: OtlpDecodeErrorCode, detail: string) {
    this.code = code;
    this.detail = detail;
  }
}

/** Prepends `segment` to the path of a failure travelling outwards; other throwables pass unchanged. */
export function withSegment(thrown: unknown, segment: string): unknown {
  if (thrown instanceof DecodeFailure) thrown.segments.push(segment);
  return thrown;
}

/** Joins unwound segments (outermost was pushed last) into `a[0].b.c[1]` form. */
function joinPath(segments: readonly string[]): string {
  let path = '';
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    if (path === '' || segment.startsWith('[')) path += segment;
    else path += `.${segment}`;
  }
  return path;
}

/** Converts whatever escaped a decoder into an `OtlpDecodeError`; unexpected errors are rethrown. */
export function toOtlpDecodeError(thrown: unknown): OtlpDecodeError {
  if (thrown instanceof DecodeFailure) {
    return new OtlpDecodeError(thrown.code, joinPath(thrown.segments), thrown.detail);
  }
  if (thrown instanceof OtlpDecodeError) return thrown;
  if (thrown instanceof RangeError && /call stack/i.test(thrown.message)) {
    // Defence in depth: nesting is capped, but a stack overflow must still be a 400, not a crash.
    return new OtlpDecodeError('NESTING_TOO_DEEP', '', 'payload nests too deeply');
  }
  throw thrown;
}
