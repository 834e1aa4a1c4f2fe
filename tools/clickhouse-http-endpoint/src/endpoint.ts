/**
 * ClickHouse's HTTP interface on 127.0.0.1, served by the real engine: `/` runs statements (GET: reads only),
 * `/ping` answers `Ok.`, and `/_endpoint/*` is the test's control room (fault switch, counters). Order per
 * request, as a server does it: authenticate, read the request, refuse what is not implemented, run.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { ClickHouseError, endpointError } from './clickhouse-errors.ts';
import type { Engine, EngineResult } from './engine.ts';
import { type Fault, FaultSwitch, faultError, readFaultSetting } from './faults.ts';
import {
  type Credentials,
  credentialsOf,
  decodeBody,
  type QueryRequest,
  readQueryRequest,
} from './http-request.ts';
import { isReadOnly } from './sql-shape.ts';

export interface EndpointOptions {
  readonly engine: Engine;
  /** The one user the endpoint knows; any other credentials fail with 516 AUTHENTICATION_FAILED. */
  readonly credentials?: Credentials;
  /** Largest request body accepted, in bytes (default 256 MiB). */
  readonly maxBodyBytes?: number;
}

const CONTROL = '/_endpoint/';
const DISPLAY_NAME = 'tallyhouse-test-endpoint';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  JSON: 'application/json; charset=UTF-8',
  JSONEachRow: 'application/x-ndjson; charset=UTF-8',
  JSONCompactEachRow: 'application/x-ndjson; charset=UTF-8',
  TabSeparated: 'text/tab-separated-values; charset=UTF-8',
  TSV: 'text/tab-separated-values; charset=UTF-8',
  CSV: 'text/csv; charset=UTF-8; header=absent',
};

export class ClickHouseHttpEndpoint {
  readonly faults = new FaultSwitch();
  /** Statements answered, by first keyword (`SELECT`, `INSERT`…), faulted or not. */
  readonly statements = new Map<string, number>();
  private readonly engine: Engine;
  private readonly credentials: Credentials;
  private readonly maxBodyBytes: number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(options: EndpointOptions) {
    this.engine = options.engine;
    this.credentials = options.credentials ?? { user: 'default', password: '' };
    this.maxBodyBytes = options.maxBodyBytes ?? 256 * 1024 * 1024;
    // A server takes URLs up to `http_max_uri_size` (1 MiB by default); query parameters travel in them.
    this.server = createServer({ maxHeaderSize: 1024 * 1024 + 64 * 1024 }, (request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) sendError(response, endpointError('BAD_ARGUMENTS', String(error)));
        else response.destroy();
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on 127.0.0.1 only; `port` 0 picks a free one. Resolves with the port. */
  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(request, this.maxBodyBytes);
    if (url.pathname.startsWith(CONTROL))
      return this.control(url.pathname.slice(CONTROL.length), body, response);
    if (url.pathname === '/ping') return void response.end('Ok.\n');
    if (url.pathname !== '/') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=UTF-8' });
      return void response.end(`There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`);
    }
    if (body === undefined) {
      return sendError(
        response,
        new ClickHouseError(101, 'QUERY_IS_TOO_LARGE', `the body exceeds ${this.maxBodyBytes} bytes`),
      );
    }
    if (request.method !== 'GET' && request.method !== 'POST' && request.method !== 'HEAD') {
      return sendError(
        response,
        endpointError('NOT_IMPLEMENTED', `HTTP method ${request.method} is not implemented`),
      );
    }
    if (request.method !== 'POST' && body.length === 0 && !url.searchParams.has('query')) {
      return void response.end('Ok.\n');
    }
    const credentials = credentialsOf(request.headers, url);
    if (credentials.user !== this.credentials.user || credentials.password !== this.credentials.password) {
      return sendError(
        response,
        endpointError(
          'AUTHENTICATION_FAILED',
          `${credentials.user}: Authentication failed: password is incorrect, or there is no user with such name`,
        ),
      );
    }
    const decoded = decodeBody(request.headers, body);
    if (decoded instanceof ClickHouseError) return sendError(response, decoded);
    const query = readQueryRequest(request.headers, url, decoded);
    if (query instanceof ClickHouseError) return sendError(response, query);
    this.statements.set(query.shape.firstKeyword, (this.statements.get(query.shape.firstKeyword) ?? 0) + 1);
    if (request.method !== 'POST' && !isReadOnly(query.shape)) {
      return sendError(
        response,
        endpointError(
          'READONLY',
          'Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries',
        ),
      );
    }
    const fault = this.faults.take(query.shape);
    if (fault !== undefined && !(await this.before(fault, request, response))) return;
    let result: EngineResult;
    try {
      result = await this.engine.run(query);
    } catch (error) {
      if (fault?.mode === 'apply-then-stall' && !(await stalled(fault.ms, request))) return;
      return sendError(
        response,
        error instanceof ClickHouseError ? error : endpointError('BAD_ARGUMENTS', String(error)),
      );
    }
    if (fault?.mode === 'apply-then-stall' && !(await stalled(fault.ms, request))) return;
    sendResult(response, query, result);
  }

  /** Applies the part of a fault that comes before the statement runs; `false` when the request is done. */
  private async before(fault: Fault, request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    switch (fault.mode) {
      case 'unavailable':
        response.writeHead(503, { 'content-type': 'text/plain; charset=UTF-8', 'retry-after': '1' });
        response.end('Service Unavailable\n');
        return false;
      case 'error':
        sendError(response, faultError(fault));
        return false;
      case 'stall':
        return stalled(fault.ms, request);
      case 'apply-then-stall':
        return true;
    }
  }

  private control(route: string, body: Buffer | undefined, response: ServerResponse): void {
    if (route === 'fault') {
      let setting: ReturnType<typeof readFaultSetting> | undefined;
      try {
        const text = body?.toString('utf8') ?? '';
        setting =
          text.trim() === '' || text.trim() === 'null' ? undefined : readFaultSetting(JSON.parse(text));
      } catch (error) {
        setting = `the body is not JSON: ${(error as Error).message}`;
      }
      if (typeof setting === 'string') {
        response.writeHead(400, { 'content-type': 'text/plain; charset=UTF-8' });
        return void response.end(`${setting}\n`);
      }
      this.faults.set(setting);
    } else if (route !== 'stats') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=UTF-8' });
      return void response.end(`no control route ${route}; there are fault and stats\n`);
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        fault: this.faults.current() ?? null,
        faultsApplied: Object.fromEntries(this.faults.applied),
        statements: Object.fromEntries(this.statements),
      }),
    );
  }
}

/** The body, or `undefined` past `limit` bytes (the rest is not read into memory). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      request.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Waits `ms` (omitted: forever); `false` when the client went away meanwhile (nothing more to answer). */
function stalled(ms: number | undefined, request: IncomingMessage): Promise<boolean> {
  return new Promise((resolve) => {
    const gone = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            request.socket.off('close', gone);
            resolve(true);
          }, ms);
    request.socket.once('close', gone);
  });
}

function sendResult(response: ServerResponse, query: QueryRequest, result: EngineResult): void {
  const format = query.shape.format ?? query.defaultFormat;
  // What the engine reports; it does not report written rows, so those read 0.
  const summary = {
    read_rows: String(result.rowsRead),
    read_bytes: String(result.bytesRead),
    written_rows: '0',
    written_bytes: '0',
    total_rows_to_read: String(result.rowsRead),
    result_rows: '0',
    result_bytes: String(result.body.length),
    elapsed_ns: String(result.elapsedNs),
  };
  const headers: Record<string, string> = {
    'content-type': CONTENT_TYPES[format] ?? 'text/plain; charset=UTF-8',
    'x-clickhouse-query-id': query.queryId,
    'x-clickhouse-format': format,
    'x-clickhouse-timezone': 'UTC',
    'x-clickhouse-server-display-name': DISPLAY_NAME,
    'x-clickhouse-summary': JSON.stringify(summary),
  };
  let body = result.body;
  if (query.gzipResponse) {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  response.writeHead(200, headers);
  response.end(body);
}

function sendError(response: ServerResponse, error: ClickHouseError): void {
  response.writeHead(error.status(), {
    'content-type': 'text/plain; charset=UTF-8',
    'x-clickhouse-exception-code': String(error.code),
    'x-clickhouse-server-display-name': DISPLAY_NAME,
  });
  response.end(error.body());
}
