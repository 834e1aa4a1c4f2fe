/**
 * Keeps quota counters across restarts in `<dataDir>/limits/quota-usage.json`, rewritten (temp file, fsync,
 * rename) at most once per interval when a counter changed, and at shutdown. A crash loses at most the last
 * interval's counts: the tenant is then under-counted, never over-counted.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { QUOTA_PERIODS, type QuotaPeriod, type QuotaUsage } from './quota.ts';

interface QuotaFile {
  readonly version: 1;
  readonly tenants: Record<string, { period: QuotaPeriod; periodStart: string; used: number }>;
}

export class QuotaStore {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'limits', 'quota-usage.json');
  }

  /** What was saved; an absent file is empty, a damaged one is reported through `onDamage` and ignored. */
  load(onDamage: (message: string) => void): Record<string, QuotaUsage> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onDamage((error as Error).message);
      return {};
    }
    try {
      const parsed = JSON.parse(text) as QuotaFile;
      const out: Record<string, QuotaUsage> = {};
      for (const [tenant, entry] of Object.entries(parsed.tenants ?? {})) {
        const periodStartMs = Date.parse(entry.periodStart);
        if (
          QUOTA_PERIODS.includes(entry.period) &&
          Number.isFinite(periodStartMs) &&
          Number.isSafeInteger(entry.used) &&
          entry.used >= 0
        ) {
          out[tenant] = { period: entry.period, periodStartMs, used: entry.used };
        }
      }
      return out;
    } catch (error) {
      onDamage(`${this.path}: ${(error as Error).message}`);
      return {};
    }
  }

  save(usage: Readonly<Record<string, QuotaUsage>>): void {
    const file: QuotaFile = {
      version: 1,
      tenants: Object.fromEntries(
        Object.entries(usage).map(([tenant, u]) => [
          tenant,
          { period: u.period, periodStart: new Date(u.periodStartMs).toISOString(), used: u.used },
        ]),
      ),
    };
    mkdirSync(join(this.path, '..'), { recursive: true });
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, 'w');
    try {
      writeSync(fd, JSON.stringify(file));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
  }
}
