/**
 * Reads what the collector stored, straight from its embedded chDB data directory. Only call this after the
 * collector process exited: chDB binds one data directory per process.
 */
import {
  openStorageConnection,
  resolveExporterConfig,
  type StorageConnection,
  UsageReader,
} from '@tallyhouse/exporter-clickhouse';

export interface StoredUsage {
  readonly connection: StorageConnection;
  /** The exporter's public, tenant-scoped read API. */
  readonly reader: UsageReader;
  readonly database: string;
  /** Plain SQL with bound parameters, for checks the reader has no method for. */
  rows<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}

export function openStoredUsage(dataDir: string): StoredUsage {
  // An empty env: CLICKHOUSE_URL from the surroundings must not redirect the read to a server.
  const config = resolveExporterConfig({ env: {}, dataDir });
  const connection = openStorageConnection(config);
  return {
    connection,
    reader: new UsageReader(connection, config.database),
    database: config.database,
    rows: (sql, params) => connection.queryRows(sql.replaceAll('{db}', config.database), params),
    close: () => connection.close(),
  };
}
