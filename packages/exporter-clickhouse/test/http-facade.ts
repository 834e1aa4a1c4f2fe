/**
 * A ClickHouse HTTP endpoint on 127.0.0.1 backed by the real embedded engine: enough of the HTTP interface
 * (query in the URL or the body, settings as URL parameters, gzip request bodies, ClickHouse error bodies)
 * for `@clickhouse/client` to run the exporter's SQL unchanged. Modes inject what a real network does:
 * 503s, stalls, and stalls after the insert was applied.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Session } from 'chdb';

export type FacadeMode = 'ok' | '503' | 'stall' | 'apply-then-stall';

/** URL parameters that are not ClickHouse settings. */
const NOT_SETTINGS = new Set(['query', 'query_id', 'session_id', 'database', 'default_format', 'role']);
/** HTTP-layer settings the embedded engine does not know. */
const HTTP_ONLY = new Set(['wait_end_of_query', 'enable_http_compression', 'send_progress_in_http_headers']);

export class ClickHouseHttpFacade {
  private readonly server: Server;
  private readonly session: Session;
  private readonly sockets = new Set<Socket>();
  mode: FacadeMode = 'ok';
  /** Requests answered in a non-ok mode before switching back to 'ok' (Infinity: stay). */
  remaining = Number.POSITIVE_INFINITY;
  readonly seen: { mode: FacadeMode; sql: string }[] = [];

  constructor(dataDir: string) {
    this.session = new Session(dataDir);
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve) => {
      this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  /** Next `count` requests behave as `mode`, then back to ok. */
  misbehave(mode: FacadeMode, count = Number.POSITIVE_INFINITY): void {
    this.mode = mode;
    this.remaining = count;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.session.close();
  }

  private currentMode(): FacadeMode {
    if (this.mode === 'ok') return 'ok';
    if (this.remaining <= 0) {
      this.mode = 'ok';
      return 'ok';
    }
    this.remaining -= 1;
    return this.mode;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/ping') {
      response.end('Ok.\n');
      return;
    }
    const queryInUrl = url.searchParams.get('query');
    const sql = queryInUrl === null ? body.toString('utf8') : `${queryInUrl}\n${body.toString('utf8')}`;
    const mode = this.currentMode();
    this.seen.push({ mode, sql: sql.slice(0, 200) });
    if (mode === '503') {
      response.writeHead(503, { 'content-type': 'text/plain' });
      response.end('Service Unavailable');
      return;
    }
    if (mode === 'stall') return; // never answers; the client times out
    const settings: string[] = [];
    const params: Record<string, string> = {};
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('param_')) params[key.slice(6)] = value;
      else if (!NOT_SETTINGS.has(key) && !HTTP_ONLY.has(key))
        settings.push(`SET ${key} = '${value.replace(/'/g, "''")}'`);
    }
    const statement = [...settings, sql].join(';\n');
    try {
      const result =
        Object.keys(params).length > 0
          ? await this.session.queryBindAsync(statement, params)
          : await this.session.queryAsync(statement);
      if (mode === 'apply-then-stall') return;
      response.writeHead(200, { 'content-type': 'text/plain', 'x-clickhouse-summary': '{}' });
      response.end(Buffer.from(result.bytes()));
    } catch (error) {
      const message = (error as Error).message;
      const code = /Code: (\d+)/.exec(message)?.[1] ?? '1002';
      response.writeHead(500, { 'x-clickhouse-exception-code': code, 'content-type': 'text/plain' });
      response.end(message);
    }
  }
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
