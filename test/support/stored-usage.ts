/**
 * Reads what a collector stored: straight from its embedded chDB data directory (only after the collector process
 * exited: chDB binds one data directory per process), or from the ClickHouse server it wrote to.
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
  return openWith(resolveExporterConfig({ env: {}, dataDir }));
}

/** Reads what collectors stored in a ClickHouse server (any time: a server serves several processes). */
export function openStoredUsageOverHttp(server: {
  url: string;
  username: string;
  password: string;
}): StoredUsage {
  return openWith(resolveExporterConfig({ env: {}, ...server }));
}

function openWith(config: ReturnType<typeof resolveExporterConfig>): StoredUsage {
  const connection = openStorageConnection(config);
  return {
    connection,
    reader: new UsageReader(connection, config.database),
    database: config.database,
    rows: (sql, params) => connection.queryRows(sql.replaceAll('{db}', config.database), params),
    close: () => connection.close(),
  };
}
