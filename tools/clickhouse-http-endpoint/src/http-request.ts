/**
 * One HTTP request to `/` read the way ClickHouse's HTTP interface reads it: the statement is the `query` URL
 * parameter followed by the body (or the body alone), `database`, `default_format`, `query_id` and credentials
 * come from their parameters or headers, `param_<name>` are query parameters, and every other URL parameter is a
 * setting for this query. What the endpoint does not implement is refused by name, never ignored.
 */

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { type ClickHouseError, endpointError } from './clickhouse-errors.ts';
import { type SqlShape, sqlShape } from './sql-shape.ts';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export interface QueryRequest {
  /** The whole statement the engine runs, inline data included. */
  readonly sql: string;
  readonly shape: SqlShape;
  readonly database: string;
  /** Settings for this query only. */
  readonly settings: ReadonlyMap<string, string>;
  /** `param_<name>` values, as sent (the engine parses them by the placeholder's type, as a server does). */
  readonly params: ReadonlyMap<string, string>;
  readonly queryId: string;
  /** The output format when the statement names none. */
  readonly defaultFormat: string;
  /** `enable_http_compression=1` and the client accepts gzip. */
  readonly gzipResponse: boolean;
  /** `INSERT … FORMAT x` with nothing after the format: a server inserts nothing, the engine would refuse. */
  readonly emptyInsert: boolean;
}

/** URL parameters a server would honour that this endpoint does not implement: refused, never ignored. */
const NOT_IMPLEMENTED = new Map<string, string>([
  ['session_id', 'HTTP sessions'],
  ['session_timeout', 'HTTP sessions'],
  ['session_check', 'HTTP sessions'],
  ['compress', 'ClickHouse-compressed responses'],
  ['decompress', 'ClickHouse-compressed request bodies'],
  ['readonly', 'the readonly setting (it would stick to the shared engine session)'],
  ['role', 'roles'],
  ['quota_key', 'quota keys'],
  ['buffer_size', 'response buffering control'],
]);

/** Settings that shape the HTTP exchange, not the query: the engine does not know them. */
const HTTP_ONLY = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'http_response_buffer_size',
  'http_zlib_compression_level',
  'cancel_http_readonly_queries_on_client_close',
  'enable_http_compression',
]);

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The credentials a request carries: Basic auth, `X-ClickHouse-User`/`-Key`, or `user`/`password` parameters. */
export function credentialsOf(headers: IncomingHttpHeaders, url: URL): Credentials {
  const authorization = headers.authorization;
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1
      ? { user: decoded, password: '' }
      : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const user = header(headers, 'x-clickhouse-user') ?? url.searchParams.get('user') ?? 'default';
  const password = header(headers, 'x-clickhouse-key') ?? url.searchParams.get('password') ?? '';
  return { user, password };
}

/** The request body as the statement's text or data: gzip is decoded, other encodings are refused. */
export function decodeBody(headers: IncomingHttpHeaders, body: Buffer): Buffer | ClickHouseError {
  const encoding = (header(headers, 'content-encoding') ?? 'identity').toLowerCase();
  if (encoding === 'identity') return body;
  if (encoding !== 'gzip') {
    return endpointError(
      'UNKNOWN_COMPRESSION_METHOD',
      `Content-Encoding ${JSON.stringify(encoding)} is not implemented by this test endpoint (gzip is)`,
    );
  }
  try {
    return gunzipSync(body);
  } catch (error) {
    return endpointError(
      'BAD_ARGUMENTS',
      `the gzip request body cannot be decoded: ${(error as Error).message}`,
    );
  }
}

export function readQueryRequest(
  headers: IncomingHttpHeaders,
  url: URL,
  body: Buffer,
): QueryRequest | ClickHouseError {
  if ((header(headers, 'content-type') ?? '').startsWith('multipart/form-data')) {
    return endpointError(
      'NOT_IMPLEMENTED',
      'external data (multipart/form-data) is not implemented by this test endpoint',
    );
  }
  const settings = new Map<string, string>();
  const params = new Map<string, string>();
  let database = header(headers, 'x-clickhouse-database') ?? 'default';
  let defaultFormat = 'TabSeparated';
  let queryId: string = randomUUID();
  let compression = false;
  for (const [key, value] of url.searchParams) {
    const refused = NOT_IMPLEMENTED.get(key);
    if (refused !== undefined) {
      return endpointError(
        'NOT_IMPLEMENTED',
        `${refused} (URL parameter ${key}) are not implemented by this test endpoint`,
      );
    }
    if (key === 'query' || key === 'user' || key === 'password') continue;
    if (key === 'database') database = value;
    else if (key === 'default_format') defaultFormat = value;
    else if (key === 'query_id') queryId = value;
    else if (key.startsWith('param_')) params.set(key.slice('param_'.length), value);
    else if (key === 'enable_http_compression') compression = value === '1' || value === 'true';
    else if (HTTP_ONLY.has(key)) continue;
    else if (NAME.test(key)) settings.set(key, value);
    else return endpointError('BAD_ARGUMENTS', `URL parameter ${JSON.stringify(key)} is not a setting name`);
  }
  if (!NAME.test(database)) {
    return endpointError('BAD_ARGUMENTS', `database ${JSON.stringify(database)} is not a plain name`);
  }
  const query = url.searchParams.get('query');
  const text = body.toString('utf8');
  const sql = query === null ? text : text === '' ? query : `${query}\n${text}`;
  const shape = sqlShape(query ?? text);
  if (shape.firstKeyword === '') return endpointError('SYNTAX_ERROR', 'Empty query');
  if (shape.multipleStatements) return endpointError('SYNTAX_ERROR', 'Multi-statements are not allowed');
  const emptyInsert =
    shape.format !== undefined &&
    shape.dataStart !== undefined &&
    (query === null ? text.slice(shape.dataStart) : text).trim() === '';
  const acceptsGzip = (header(headers, 'accept-encoding') ?? '')
    .split(',')
    .some((part) => part.trim().startsWith('gzip'));
  return {
    sql,
    shape,
    database,
    settings,
    params,
    queryId,
    defaultFormat,
    gzipResponse: compression && acceptsGzip,
    emptyInsert,
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
