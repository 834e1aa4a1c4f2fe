/**
 * Errors as a ClickHouse server sends them over HTTP: a status chosen by the error's name, the text body
 * `Code: N. DB::Exception: message. (NAME)` and the `X-ClickHouse-Exception-Code` header. `@clickhouse/client`
 * parses exactly that body into its `ClickHouseError` (`code`, `type`), so the exporter's classification sees what
 * it would see from a server.
 */

/** A ClickHouse exception: numeric code, its name (`UNKNOWN_TABLE`) and the message without either. */
export class ClickHouseError extends Error {
  readonly code: number;
  readonly type: string;

  constructor(code: number, type: string, message: string) {
    super(message);
    this.name = 'ClickHouseError';
    this.code = code;
    this.type = type;
  }

  /** The body a server writes: the client matches `Code: N` … `Exception: message (NAME)`. */
  body(): string {
    return `Code: ${this.code}. DB::Exception: ${this.message}. (${this.type})\n`;
  }

  /** The HTTP status a server answers this error with (see `statusOf`). */
  status(): number {
    return statusOf(this.type);
  }
}

/** The errors this endpoint raises itself (the engine raises every other). */
export const ERRORS = {
  SYNTAX_ERROR: 62,
  NOT_IMPLEMENTED: 48,
  READONLY: 164,
  UNKNOWN_QUERY_PARAMETER: 456,
  AUTHENTICATION_FAILED: 516,
  UNKNOWN_COMPRESSION_METHOD: 273,
  BAD_ARGUMENTS: 36,
} as const;

export function endpointError(type: keyof typeof ERRORS, message: string): ClickHouseError {
  return new ClickHouseError(ERRORS[type], type, message);
}

const ENGINE_MESSAGE =
  /^Code: (\d+)\. DB::Exception: (.*?)(?:\.? \(([A-Z0-9_]+)\))?(?: \(version [^)]*\))?\s*$/s;

/** An error the embedded engine threw, as the server would have reported it. */
export function fromEngineError(error: unknown): ClickHouseError {
  const text = error instanceof Error ? error.message : String(error);
  const match = ENGINE_MESSAGE.exec(text);
  if (match === null) return new ClickHouseError(1001, 'STD_EXCEPTION', text.replace(/\.$/, ''));
  return new ClickHouseError(Number(match[1]), match[3] ?? 'UNKNOWN_EXCEPTION', match[2]!);
}

// The server's status mapping (exceptionCodeToHTTPStatus), by error name; every other error is a 500.
const STATUS_BY_TYPE = new Map<string, number>([
  ['REQUIRED_PASSWORD', 401],
  ...['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED'].map(
    (type) => [type, 403] as const,
  ),
  ...[
    'BAD_ARGUMENTS',
    'CANNOT_COMPILE_REGEXP',
    'CANNOT_PARSE_TEXT',
    'CANNOT_PARSE_ESCAPE_SEQUENCE',
    'CANNOT_PARSE_QUOTED_STRING',
    'CANNOT_PARSE_DATE',
    'CANNOT_PARSE_DATETIME',
    'CANNOT_PARSE_NUMBER',
    'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
    'CANNOT_PARSE_IPV4',
    'CANNOT_PARSE_IPV6',
    'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
    'CANNOT_PARSE_UUID',
    'DUPLICATE_COLUMN',
    'ILLEGAL_COLUMN',
    'UNKNOWN_ELEMENT_IN_AST',
    'UNKNOWN_TYPE_OF_AST_NODE',
    'THERE_IS_NO_COLUMN',
    'TOO_DEEP_AST',
    'TOO_BIG_AST',
    'UNEXPECTED_AST_STRUCTURE',
    'SYNTAX_ERROR',
    'INCORRECT_DATA',
    'TYPE_MISMATCH',
    'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  ].map((type) => [type, 400] as const),
  ...[
    'UNKNOWN_TABLE',
    'UNKNOWN_FUNCTION',
    'UNKNOWN_IDENTIFIER',
    'UNKNOWN_TYPE',
    'UNKNOWN_STORAGE',
    'UNKNOWN_DATABASE',
    'UNKNOWN_SETTING',
    'UNKNOWN_DIRECTION_OF_SORTING',
    'UNKNOWN_AGGREGATE_FUNCTION',
    'UNKNOWN_FORMAT',
    'UNKNOWN_DATABASE_ENGINE',
    'UNKNOWN_TYPE_OF_QUERY',
    'UNKNOWN_ROLE',
  ].map((type) => [type, 404] as const),
  ['QUERY_IS_TOO_LARGE', 413],
  ['NOT_IMPLEMENTED', 501],
  ['SOCKET_TIMEOUT', 503],
  ['CANNOT_OPEN_FILE', 503],
  ['CANNOT_SCHEDULE_TASK', 503],
  ['HTTP_LENGTH_REQUIRED', 411],
  ['TIMEOUT_EXCEEDED', 408],
  ['UNSUPPORTED_MEDIA_TYPE', 415],
]);

export function statusOf(type: string): number {
  return STATUS_BY_TYPE.get(type) ?? 500;
}
