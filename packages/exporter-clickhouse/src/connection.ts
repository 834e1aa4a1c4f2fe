/**
 * One `@clickhouse/client` for both backends: HTTP(S) to a server when `CLICKHOUSE_URL` is set, otherwise the
 * embedded engine (`chdb/connection` plugged into `createClient({ connection })`). Everything above this module
 * runs the same SQL through the same client API.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  createClient,
  parseError,
} from '@clickhouse/client';
import type { ClickHouseConnection, ResolvedExporterConfig } from './config.ts';
import { EmbeddedEngineUnavailableError } from './errors.ts';
import { restoreDefaultFatalSignals } from './fatal-signals.ts';
import { quoteIdentifier } from './schema/sql.ts';

export type BackendKind = 'http' | 'embedded' | 'custom';

export interface StorageConnection {
  readonly kind: BackendKind;
  readonly client: ClickHouseClient;
  /** Runs a statement; the response body, if any, is discarded. */
  command(sql: string, settings?: ClickHouseSettings): Promise<void>;
  /** Runs a query and returns its rows (JSONEachRow; 64-bit integers and non-finite floats quoted). */
  queryRows<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /** `INSERT INTO <qualifiedTable> (<columns>) FORMAT <format>` with a pre-encoded body. */
  insertEncoded(request: EncodedInsert): Promise<void>;
  close(): Promise<void>;
}

export interface EncodedInsert {
  readonly database: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly format: 'JSONCompactEachRow';
  readonly body: string;
  readonly settings: ClickHouseSettings;
}

/** Where embedded chDB keeps its data inside `TALLYHOUSE_DATA_DIR`. */
export function embeddedDataPath(dataDir: string): string {
  return join(dataDir, 'chdb');
}

/**
 * What every statement states on a sharded cluster (reads and inserts go through `Distributed` tables):
 * - `insert_distributed_sync`: an insert returns once every shard wrote its rows, so an acknowledged batch is
 *   stored, and a retried one reaches each shard again with the same `insert_deduplication_token` (the setting
 *   travels with the forwarded insert), where the shard's replicated table deduplicates it: the rows of one tenant
 *   always land on the same shard (sharding by tenant), split into the same blocks. Asynchronous distributed
 *   inserts would acknowledge rows still queued on the node that took them, and re-send them later on their own.
 *   (The setting's newer name is `distributed_foreground_insert`; this one every server version knows.)
 * - `optimize_skip_unused_shards`: a read filtered on one tenant (every usage read is) asks only that tenant's shard.
 */
const SHARDED_SETTINGS = { insert_distributed_sync: 1, optimize_skip_unused_shards: 1 } as const;

export function openStorageConnection(config: ResolvedExporterConfig): StorageConnection {
  if (config.connection !== undefined) {
    return wrapClient(
      'custom',
      createClient({ connection: config.connection }),
      rawInserterOf(config.connection),
    );
  }
  if (config.url !== undefined) {
    return wrapClient(
      'http',
      createClient({
        url: config.url,
        username: config.username,
        password: config.password,
        request_timeout: config.requestTimeoutMs,
        compression: { request: true, response: false },
        keep_alive: { enabled: true },
        ...(config.sharded ? { clickhouse_settings: SHARDED_SETTINGS } : {}),
        // Failures are classified, counted and logged by the exporter; the client's own error log would repeat them.
        log: { level: ClickHouseLogLevel.OFF },
      }),
      undefined,
    );
  }
  const embedded = openEmbeddedConnection(config.dataDir);
  return wrapClient('embedded', createClient({ connection: embedded }), rawInserterOf(embedded));
}

/** `chdb/connection`'s raw insert: the payload goes to the engine's parallel parser as bytes, zero-copy. */
interface RawInserter {
  rawInsert(params: {
    table: string;
    columns: readonly string[];
    values: Buffer;
    format: 'JSONCompactEachRow';
    settings: Record<string, string | number | boolean>;
  }): Promise<unknown>;
}

function rawInserterOf(connection: ClickHouseConnection): RawInserter | undefined {
  const extension = (connection as { chdb?: Partial<RawInserter> }).chdb;
  return typeof extension?.rawInsert === 'function' ? (extension as RawInserter) : undefined;
}

/** Loads `chdb/connection` on first use so HTTP-only deployments never load the native engine. */
export function openEmbeddedConnection(dataDir: string): ClickHouseConnection {
  const path = embeddedDataPath(dataDir);
  mkdirSync(path, { recursive: true });
  let chdbConnection: typeof import('chdb/connection');
  try {
    chdbConnection = createRequire(import.meta.url)('chdb/connection') as typeof import('chdb/connection');
  } catch (error) {
    throw new EmbeddedEngineUnavailableError(
      `the embedded ClickHouse engine (npm "chdb") cannot load on ${process.platform}-${process.arch}: ` +
        `${(error as Error).message}. chDB ships for Linux (glibc) x64/arm64 and macOS x64/arm64; ` +
        'elsewhere set CLICKHOUSE_URL to a ClickHouse server.',
      { cause: error },
    );
  }
  try {
    const connection = chdbConnection.createChdbConnection({ path }) as unknown as ClickHouseConnection;
    // Loading the engine replaced the fatal-signal handlers with ones that hang: see fatal-signals.ts.
    restoreDefaultFatalSignals();
    return connection;
  } catch (error) {
    throw new EmbeddedEngineUnavailableError(
      `the embedded ClickHouse engine could not open ${path}: ${(error as Error).message}` +
        ' (chDB binds one data directory per process; use one TALLYHOUSE_DATA_DIR per process)',
      { cause: error },
    );
  }
}

/** chDB applies settings as session-wide SETs: every statement states all the settings it depends on. */
function wrapClient(
  kind: BackendKind,
  client: ClickHouseClient,
  raw: RawInserter | undefined,
): StorageConnection {
  return {
    kind,
    client,
    async command(sql, settings) {
      await client.command({
        query: sql,
        ...(settings === undefined ? {} : { clickhouse_settings: settings }),
      });
    },
    async queryRows<T>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
      const result = await client.query({
        query: sql,
        format: 'JSONEachRow',
        ...(params === undefined ? {} : { query_params: params }),
        clickhouse_settings: {
          output_format_json_quote_64bit_integers: 1,
          output_format_json_quote_denormals: 1,
        },
      });
      return (await result.json()) as T[];
    },
    async insertEncoded(request) {
      if (raw !== undefined) {
        // Embedded: settings go into the INSERT's own SETTINGS clause (query-scoped), the body as bytes.
        try {
          await raw.rawInsert({
            table: `${request.database}.${request.table}`,
            columns: request.columns,
            values: Buffer.from(request.body, 'utf8'),
            format: request.format,
            settings: request.settings as Record<string, string | number | boolean>,
          });
        } catch (error) {
          // Same error shape as the client's (`ClickHouseError` with `code` and `type`), cause kept.
          const mapped = parseError((error as Error).message ?? String(error));
          if (mapped !== error) (mapped as Error & { cause?: unknown }).cause = error;
          throw mapped;
        }
        return;
      }
      const query = `INSERT INTO ${quoteIdentifier(request.database)}.${quoteIdentifier(request.table)} (${request.columns.join(', ')}) FORMAT ${request.format}`;
      const result = await client.exec({
        query,
        values: stringStream(request.body),
        clickhouse_settings: request.settings,
      });
      // The response of an insert is empty; drain it so an HTTP socket goes back to the pool.
      for await (const _chunk of result.stream) {
        // discard
      }
    },
    close: () => client.close(),
  };
}

/** A byte stream that hands the body on as one string chunk (no UTF-8 round trip before the transport). */
function stringStream(body: string): Readable {
  const stream = new Readable({ read() {} });
  stream.setEncoding('utf8');
  stream.push(body, 'utf8');
  stream.push(null);
  return stream;
}
