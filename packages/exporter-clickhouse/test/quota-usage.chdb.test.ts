/**
 * tallyhouse_quota_usage: each collector's whole counter per tenant and period, the latest per owner; reads of
 * what changed since the last read. On both stores (embedded engine, and a server over HTTP in `http-store`).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseMetricExporter, OwnedQuotaCounter } from '../src/index.ts';
import { storeExporter, tempDir } from './support.ts';

let dataDir: string;
let exporter: ClickHouseMetricExporter;

beforeAll(async () => {
  dataDir = tempDir('quota-usage');
  exporter = storeExporter(dataDir);
  await exporter.start();
});

afterAll(async () => {
  await exporter.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
});

const HOUR = Date.UTC(2026, 11, 5, 10);
const byKey = (rows: readonly OwnedQuotaCounter[]) =>
  Object.fromEntries(rows.map((row) => [`${row.tenant}/${row.period}/${row.owner}`, row]));

describe('tallyhouse_quota_usage (quota counters shared by collectors)', () => {
  it('keeps the latest whole counter per tenant, period and owner; a repeated write changes nothing', async () => {
    const a = exporter.quotaUsage('collector-a');
    const b = exporter.quotaUsage('collector-b');
    const reader = exporter.quotaUsage('reader');
    const now = Date.now();
    const month = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
    await a.write([{ tenant: 'acme', period: 'month', periodStartMs: month, used: 10 }]);
    await a.write([{ tenant: 'acme', period: 'month', periodStartMs: month, used: 25 }]);
    await a.write([{ tenant: 'acme', period: 'month', periodStartMs: month, used: 25 }]);
    await b.write([
      { tenant: 'acme', period: 'month', periodStartMs: month, used: 7 },
      { tenant: '0', period: 'month', periodStartMs: month, used: 1 },
    ]);
    const rows = byKey((await reader.readChanged()).filter((row) => row.periodStartMs === month));
    expect(rows['acme/month/collector-a']).toEqual({
      tenant: 'acme',
      period: 'month',
      periodStartMs: month,
      owner: 'collector-a',
      used: 25,
    });
    expect(rows['acme/month/collector-b']?.used).toBe(7);
    expect(rows['0/month/collector-b']?.used).toBe(1);
  });

  it('reads only what was written since the last read (and keeps exact period starts, odd tenant names)', async () => {
    const writer = exporter.quotaUsage('collector-c');
    const reader = exporter.quotaUsage('reader-2');
    await reader.readChanged();
    const tenant = 'we"ird\\ten\u0000ant';
    await writer.write([{ tenant, period: 'hour', periodStartMs: HOUR, used: 3 }]);
    const changed = await reader.readChanged();
    expect(changed.filter((row) => row.owner === 'collector-c')).toEqual([
      { tenant, period: 'hour', periodStartMs: HOUR, owner: 'collector-c', used: 3 },
    ]);
    // The overlap may show a row again, with the same value; nothing older than the overlap comes back.
    const again = await reader.readChanged();
    for (const row of again) if (row.owner === 'collector-c') expect(row.used).toBe(3);
  });
});
