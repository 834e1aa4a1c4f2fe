/**
 * Data-point quota counters that several collectors share (`tallyhouse_quota_usage`): each collector (`owner`)
 * writes its whole counter per tenant and period — so a retried write changes nothing — and reads every
 * collector's counters; a tenant's usage in a period is the sum over owners. The latest write per tenant,
 * period, period start and owner wins (`ReplacingMergeTree` by write time, read `FINAL`).
 */
import type { StorageConnection } from './connection.ts';
import { quoteIdentifier } from './schema/sql.ts';
import { QUOTA_USAGE_TABLE } from './schema/tables.ts';
import { type SharedTableOptions, WriteTimeCursor } from './write-time-cursor.ts';

export type QuotaPeriodName = 'hour' | 'day' | 'month';

/** One collector's count of a tenant's points in one quota period. */
export interface QuotaCounter {
  readonly tenant: string;
  readonly period: QuotaPeriodName;
  /** Unix ms (UTC) of the period's start. */
  readonly periodStartMs: number;
  readonly used: number;
}

export interface OwnedQuotaCounter extends QuotaCounter {
  readonly owner: string;
}

/** The first read covers every period still running: the longest, a month, started at most 31 days ago. */
const FIRST_READ_DAYS = 32;

const COLUMNS = ['TenantId', 'Period', 'PeriodStart', 'Owner', 'Used'] as const;

interface CounterRow {
  TenantId: string;
  Period: QuotaPeriodName;
  PeriodStartMs: string;
  Owner: string;
  Used: string;
  Written: string;
}

export class ClickHouseQuotaUsage {
  readonly owner: string;
  private readonly connect: () => Promise<StorageConnection>;
  private readonly database: string;
  /** Where `readChanged` reads from: set by its first call, moved by every read. */
  private readonly changes = new WriteTimeCursor();

  constructor(options: SharedTableOptions) {
    this.owner = options.owner;
    this.database = options.database;
    this.connect = options.connect;
  }

  /** Writes this owner's counters (whole values: writing one again is harmless). */
  async write(counters: readonly QuotaCounter[]): Promise<void> {
    if (counters.length === 0) return;
    const connection = await this.connect();
    const owner = JSON.stringify(this.owner);
    const body = counters
      .map(
        // A JSON integer is read as DateTime64(3) ticks: milliseconds, exactly.
        (counter) =>
          `[${JSON.stringify(counter.tenant)},"${counter.period}",${counter.periodStartMs},${owner},${Math.max(0, Math.round(counter.used))}]`,
      )
      .join('\n');
    await connection.insertEncoded({
      database: this.database,
      table: QUOTA_USAGE_TABLE,
      columns: COLUMNS,
      format: 'JSONCompactEachRow',
      body,
      settings: {},
    });
  }

  /**
   * Every owner's counters written since the last call (the first call: of every period still running). The
   * caller keeps the latest per tenant, period start and owner.
   */
  async readChanged(): Promise<OwnedQuotaCounter[]> {
    const connection = await this.connect();
    const table = `${quoteIdentifier(this.database)}.${quoteIdentifier(QUOTA_USAGE_TABLE)}`;
    const select = `SELECT TenantId, Period, toString(toUnixTimestamp64Milli(PeriodStart)) AS PeriodStartMs, Owner, toString(Used) AS Used, toString(WrittenAt) AS Written FROM ${table} FINAL`;
    let rows: CounterRow[];
    if (!this.changes.started) {
      // The cursor first, then the read: a write between the two is read again next time, never missed.
      await this.changes.start(connection);
      rows = await connection.queryRows<CounterRow>(
        `${select} WHERE PeriodStart >= now64(3) - toIntervalDay(${FIRST_READ_DAYS})`,
        {},
      );
    } else {
      const changed = this.changes.condition();
      rows = await connection.queryRows<CounterRow>(`${select} WHERE ${changed.sql}`, changed.params);
    }
    this.changes.advance(rows);
    return rows.map((row) => ({
      tenant: row.TenantId,
      period: row.Period,
      periodStartMs: Number(row.PeriodStartMs),
      owner: row.Owner,
      used: Number(row.Used),
    }));
  }
}
