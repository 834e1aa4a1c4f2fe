/**
 * The on-disk format of the quota counters (`QuotaStore` owns the files): one JSON array per line,
 * `["<tenant>","<period>",<periodStartMs>,<used>]` — a tenant's whole counter, so replaying a line twice changes
 * nothing — after a snapshot's header `{"version":2,"generation":<n>}`; and the single JSON file of earlier
 * versions. Reading skips what it cannot use and says so: a torn last line follows a crash mid-write.
 */
import { readFileSync } from 'node:fs';
import { QUOTA_PERIODS, type QuotaPeriod, type QuotaUsage } from './quota.ts';

export function snapshotHeader(generation: number): string {
  return `${JSON.stringify({ version: 2, generation })}\n`;
}

export function counterLine(tenant: string, usage: QuotaUsage): string {
  return `${JSON.stringify([tenant, usage.period, usage.periodStartMs, usage.used])}\n`;
}

/** Reads a snapshot into `usage`; returns its generation. */
export function readSnapshot(
  text: string,
  path: string,
  usage: Map<string, QuotaUsage>,
  problems: string[],
): number {
  const end = text.indexOf('\n');
  let generation = 0;
  try {
    const head = JSON.parse(end === -1 ? text : text.slice(0, end)) as {
      version?: unknown;
      generation?: unknown;
    };
    if (head.version !== 2 || !Number.isSafeInteger(head.generation)) throw new Error('unknown header');
    generation = head.generation as number;
  } catch (error) {
    problems.push(`${path}: not a quota snapshot (${(error as Error).message})`);
    return 0;
  }
  readCounterLines(text, end + 1, path, usage, problems);
  return generation;
}

/** Reads `[tenant, period, periodStartMs, used]` lines from `start` on; a later line of a tenant wins. */
export function readCounterLines(
  text: string,
  start: number,
  path: string,
  usage: Map<string, QuotaUsage>,
  problems: string[],
): void {
  let skipped = 0;
  let from = start;
  while (from < text.length) {
    let end = text.indexOf('\n', from);
    if (end === -1) end = text.length;
    const raw = text.slice(from, end);
    from = end + 1;
    if (raw === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      skipped++;
      continue;
    }
    const entry = validEntry(record);
    if (entry === undefined) skipped++;
    else usage.set(entry[0], entry[1]);
  }
  if (skipped > 0) {
    problems.push(
      `${path}: skipped ${skipped} unreadable line(s) (a torn last line follows a crash mid-write)`,
    );
  }
}

function validEntry(record: unknown): [string, QuotaUsage] | undefined {
  if (!Array.isArray(record) || record.length !== 4) return undefined;
  const [tenant, period, periodStartMs, used] = record as unknown[];
  if (
    typeof tenant !== 'string' ||
    !QUOTA_PERIODS.includes(period as QuotaPeriod) ||
    !Number.isSafeInteger(periodStartMs) ||
    !Number.isSafeInteger(used) ||
    (used as number) < 0
  ) {
    return undefined;
  }
  return [
    tenant,
    { period: period as QuotaPeriod, periodStartMs: periodStartMs as number, used: used as number },
  ];
}

/** The single JSON file of earlier versions: `{ "version": 1, "tenants": { "<tenant>": { period, periodStart, used } } }`. */
export function readLegacyFile(path: string, usage: Map<string, QuotaUsage>, problems: string[]): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push((error as Error).message);
    return;
  }
  try {
    const parsed = JSON.parse(text) as { tenants?: unknown };
    const tenants = typeof parsed.tenants === 'object' && parsed.tenants !== null ? parsed.tenants : {};
    // JSON.parse defines own properties, so a tenant named `__proto__` is an entry here like any other.
    for (const [tenant, raw] of Object.entries(tenants)) {
      const { period, periodStart, used } = (raw ?? {}) as {
        period?: unknown;
        periodStart?: unknown;
        used?: unknown;
      };
      const entry = validEntry([
        tenant,
        period,
        typeof periodStart === 'string' ? Date.parse(periodStart) : NaN,
        used,
      ]);
      if (entry !== undefined) usage.set(entry[0], entry[1]);
    }
  } catch (error) {
    problems.push(`${path}: ${(error as Error).message}`);
  }
}
