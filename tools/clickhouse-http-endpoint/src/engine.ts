/**
 * The real engine behind the endpoint: one chDB session on one data directory, one statement at a time (a chDB
 * session runs one query at a time; a server would run them in parallel, which only changes timing). Settings and
 * query parameters go in as `SET` statements before the query — the engine then parses each parameter by its
 * placeholder's type exactly as a server parses `param_<name>` — and settings are reset to their defaults
 * afterwards, so no request's settings leak into the next one.
 */
import { Session } from 'chdb';
import { endpointError, fromEngineError } from './clickhouse-errors.ts';
import type { QueryRequest } from './http-request.ts';

export interface EngineResult {
  readonly body: Buffer;
  readonly rowsRead: number;
  readonly bytesRead: number;
  readonly elapsedNs: number;
}

export class Engine {
  private readonly session: Session;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(dataDir: string) {
    this.session = new Session(dataDir);
  }

  /** Runs the request's statement after every earlier one finished; rejects with a `ClickHouseError`. */
  run(request: QueryRequest): Promise<EngineResult> {
    const result = this.tail.then(() => this.execute(request));
    this.tail = result.catch(() => undefined);
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
  }

  private async execute(request: QueryRequest): Promise<EngineResult> {
    const missing = request.shape.placeholders.find((name) => !request.params.has(name));
    if (missing !== undefined) {
      throw endpointError('UNKNOWN_QUERY_PARAMETER', `Substitution \`${missing}\` is not set`);
    }
    if (request.emptyInsert) return { body: Buffer.alloc(0), rowsRead: 0, bytesRead: 0, elapsedNs: 0 };
    const prelude = [`USE \`${request.database}\``];
    for (const [name, value] of request.settings) prelude.push(`SET ${name} = ${literal(value)}`);
    for (const [name, value] of request.params) prelude.push(`SET param_${name} = ${literal(value)}`);
    try {
      const result = await this.session.queryAsync(`${prelude.join(';\n')};\n${request.sql}`, {
        format: request.defaultFormat,
      });
      return {
        body: Buffer.from(result.bytes()),
        rowsRead: result.rowsRead,
        bytesRead: result.bytesRead,
        elapsedNs: Math.round(result.elapsed * 1e9),
      };
    } catch (error) {
      throw fromEngineError(error);
    } finally {
      if (request.settings.size > 0) await this.resetSettings(request.settings.keys());
    }
  }

  private async resetSettings(names: Iterable<string>): Promise<void> {
    const statements = [...names].map((name) => `SET ${name} = DEFAULT`);
    const all = await this.session.queryAsync(statements.join(';\n')).then(
      () => true,
      () => false,
    );
    // A setting the engine refused (an unknown name) was never applied; it must not keep the others set.
    if (!all)
      for (const statement of statements) await this.session.queryAsync(statement).catch(() => undefined);
  }
}

/** A SQL string literal holding `value` exactly. */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
