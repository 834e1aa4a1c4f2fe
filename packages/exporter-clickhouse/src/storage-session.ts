/**
 * The exporter's connection and schema lifecycle: connects lazily, creates/migrates the schema once, re-runs
 * the migrations when an insert met a missing table, answers readiness probes, hands out readers and closes.
 */
import type { ResolvedExporterConfig } from './config.ts';
import { openStorageConnection, type StorageConnection } from './connection.ts';
import { ensureSchema } from './schema/migrations.ts';
import { qualified, type SchemaOptions } from './schema/sql.ts';
import { METRIC_TABLES } from './schema/tables.ts';
import { UsageReader } from './usage/usage-reader.ts';

export class StorageSession {
  private readonly config: ResolvedExporterConfig;
  private readonly schemaOptions: SchemaOptions;
  private connection: StorageConnection | undefined;
  private starting: Promise<void> | undefined;
  /** An insert met a missing table or database: the next insert re-runs the migrations first. */
  private schemaStale = false;

  constructor(config: ResolvedExporterConfig) {
    this.config = config;
    this.schemaOptions = {
      database: config.database,
      cluster: config.cluster,
      sharded: config.sharded,
      replicationPath: config.replicationPath,
      replicaName: config.replicaName,
      ttlDays: config.ttlDays,
      dedupWindow: config.dedupWindow,
    };
  }

  /** The connection if one was opened (dead letters go to its table when it is there). */
  get current(): StorageConnection | undefined {
    return this.connection;
  }

  /** Connects, creates/migrates the schema. Idempotent; a failed start is tried again by the next call. */
  start(): Promise<void> {
    this.starting ??= this.connectAndMigrate().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async connectAndMigrate(): Promise<void> {
    this.connection ??= openStorageConnection(this.config);
    if (this.config.createSchema) await this.migrate(false);
  }

  private async migrate(force: boolean): Promise<void> {
    const connection = this.connection;
    if (connection === undefined) return;
    await ensureSchema(
      { command: (sql) => connection.command(sql), queryRows: (sql) => connection.queryRows(sql) },
      this.schemaOptions,
      this.config.logger,
      { force },
    );
  }

  /** The connection for an insert: started, and with the schema recreated if a table went missing. */
  async forInsert(): Promise<StorageConnection> {
    await this.start();
    if (this.schemaStale && this.config.createSchema) {
      await this.migrate(true);
      this.schemaStale = false;
    }
    return this.opened();
  }

  /** An insert failed with `code`: a missing table or database is recreated before the next insert. */
  noteInsertFailure(code: string): void {
    if ((code === 'UNKNOWN_TABLE' || code === 'UNKNOWN_DATABASE') && this.config.createSchema) {
      this.schemaStale = true;
    }
  }

  /** True when storage answers and the schema is in place (for readiness probes). */
  async isReady(): Promise<boolean> {
    try {
      await this.start();
      const connection = this.connection;
      if (connection === undefined) return false;
      await connection.queryRows(`SELECT 1 FROM ${qualified(this.config, METRIC_TABLES.sum)} LIMIT 0`);
      return true;
    } catch {
      return false;
    }
  }

  async reader(): Promise<UsageReader> {
    await this.start();
    return new UsageReader(this.opened(), this.config.database);
  }

  /** Closes the connection; a failure is logged, never thrown (shutdown goes on). */
  async close(): Promise<void> {
    try {
      await this.connection?.close();
    } catch (error) {
      this.config.logger.warn(
        { error: (error as Error).message },
        'closing the ClickHouse connection failed',
      );
    }
  }

  private opened(): StorageConnection {
    if (this.connection === undefined) throw new Error('no storage connection');
    return this.connection;
  }
}
