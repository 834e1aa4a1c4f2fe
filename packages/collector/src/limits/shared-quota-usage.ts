/**
 * What the other collectors sharing this store counted against each tenant's quota, so a tenant gets one quota
 * across all of them and keeps its period's usage when it moves. Each collector writes its own whole counters
 * (`tallyhouse_quota_usage`) and reads the others' changes every refresh; a request is admitted against its own
 * counter plus the others' as of the last refresh. The overshoot is bounded by what other collectors admitted
 * for the tenant in the last write interval plus refresh interval (none under tenant affinity but around a move).
 */
import { UTC } from '@tallyhouse/model';
import type { QuotaPeriod, QuotaUsage, ZoneOf } from './quota.ts';
import { periodStart } from './quota.ts';

/** The store's side (the exporter's `ClickHouseQuotaUsage`). */
export interface QuotaUsageTable {
  readonly owner: string;
  write(counters: readonly QuotaCounterRow[]): Promise<void>;
  readChanged(): Promise<OwnedQuotaCounterRow[]>;
}

export interface QuotaCounterRow {
  readonly tenant: string;
  readonly period: QuotaPeriod;
  readonly periodStartMs: number;
  readonly used: number;
}

export interface OwnedQuotaCounterRow extends QuotaCounterRow {
  readonly owner: string;
}

export class SharedQuotaUsage {
  readonly table: QuotaUsageTable;
  /** Per tenant, per other owner: its latest counter. Keyed by `Map`s: tenant and owner names are user data. */
  private readonly elsewhere = new Map<string, Map<string, QuotaUsage>>();
  /** The UTC hour whose start the last sweep of ended periods saw. */
  private sweptHourMs = 0;

  private readonly zoneOf: ZoneOf;

  /** `zoneOf`: each tenant's quota time zone, which places its periods. */
  constructor(table: QuotaUsageTable, zoneOf: ZoneOf = () => UTC) {
    this.table = table;
    this.zoneOf = zoneOf;
  }

  /** Points the other collectors counted for `tenant` in the period holding `nowMs` (as of the last refresh). */
  usedElsewhere(tenant: string, period: QuotaPeriod, nowMs: number): number {
    const owners = this.elsewhere.get(tenant);
    if (owners === undefined) return 0;
    const start = periodStart(period, nowMs, this.zoneOf(tenant));
    let used = 0;
    for (const usage of owners.values())
      if (usage.period === period && usage.periodStartMs === start) used += usage.used;
    return used;
  }

  /**
   * Reads what changed since the last refresh (the first: every running period). Returns this collector's own
   * counters among them: after a restart they may be ahead of its local cache (a crash loses its last lines).
   */
  async refresh(nowMs: number): Promise<OwnedQuotaCounterRow[]> {
    const rows = await this.table.readChanged();
    const own: OwnedQuotaCounterRow[] = [];
    for (const row of rows) {
      if (row.periodStartMs !== periodStart(row.period, nowMs, this.zoneOf(row.tenant))) continue;
      if (row.owner === this.table.owner) {
        own.push(row);
        continue;
      }
      let owners = this.elsewhere.get(row.tenant);
      if (owners === undefined) {
        owners = new Map();
        this.elsewhere.set(row.tenant, owners);
      }
      owners.set(row.owner, { period: row.period, periodStartMs: row.periodStartMs, used: row.used });
    }
    this.forgetEndedPeriods(nowMs);
    return own;
  }

  /** Writes this collector's changed counters (whole values, so a retry changes nothing). */
  write(changed: readonly (readonly [string, QuotaUsage])[]): Promise<void> {
    return this.table.write(
      changed.map(([tenant, usage]) => ({
        tenant,
        period: usage.period,
        periodStartMs: usage.periodStartMs,
        used: usage.used,
      })),
    );
  }

  /**
   * Counters of periods that are over count for nothing: dropped, so memory follows the running periods. Swept
   * once per UTC hour; a zone whose periods end on the half hour has its ended counters dropped (never counted)
   * at the next hour.
   */
  private forgetEndedPeriods(nowMs: number) {
    const hour = periodStart('hour', nowMs);
    if (hour === this.sweptHourMs) return;
    this.sweptHourMs = hour;
    for (const [tenant, owners] of this.elsewhere) {
      const zone = this.zoneOf(tenant);
      for (const [owner, usage] of owners)
        if (usage.periodStartMs !== periodStart(usage.period, nowMs, zone)) owners.delete(owner);
      if (owners.size === 0) this.elsewhere.delete(tenant);
    }
  }
}
