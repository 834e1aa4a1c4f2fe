/**
 * Which limits apply to which tenant: defaults from the environment, overrides per tenant from
 * `TALLYHOUSE_LIMITS_FILE`. The file is read and validated once, at start; every error names the variable, the
 * tenant and the field.
 *
 * File shape:
 * ```json
 * { "tenants": {
 *     "acme":     { "ratePointsPerSecond": 5000, "burst": 20000, "quotaPoints": 100000000, "quotaPeriod": "month",
 *                   "quotaTimeZone": "America/New_York" },
 *     "free-1":   { "quotaPoints": 100000 },
 *     "internal": { "ratePointsPerSecond": null, "quotaPoints": null } } }
 * ```
 * A field left out takes the default; `null` removes that limit for the tenant. `quotaTimeZone` (an IANA name,
 * default UTC) is the calendar of the tenant's quota periods.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, checkTimeZone, tenantProblem, timeZoneProblem, UTC } from '@tallyhouse/model';
import type { RateLimit } from './gcra.ts';
import { QUOTA_PERIODS, type Quota, type QuotaPeriod } from './quota.ts';

/** Limit defaults as read from the environment (see config.ts). */
export interface LimitDefaults {
  readonly ratePointsPerSecond: number | undefined;
  readonly rateBurst: number | undefined;
  readonly quotaPoints: number | undefined;
  readonly quotaPeriod: QuotaPeriod;
  readonly limitsFile: string | undefined;
}

export interface TenantLimits {
  readonly rate: RateLimit | undefined;
  readonly quota: Quota | undefined;
}

const FILE_VARIABLE = 'TALLYHOUSE_LIMITS_FILE';
const FIELDS = ['ratePointsPerSecond', 'burst', 'quotaPoints', 'quotaPeriod', 'quotaTimeZone'] as const;

/** Default burst when only a rate is given: one second of points. */
export function defaultBurst(pointsPerSecond: number): number {
  return Math.max(1, Math.ceil(pointsPerSecond));
}

export class LimitPolicy {
  readonly defaults: TenantLimits;
  private readonly overrides: ReadonlyMap<string, TenantLimits>;

  constructor(defaults: TenantLimits, overrides: ReadonlyMap<string, TenantLimits> = new Map()) {
    this.defaults = defaults;
    this.overrides = overrides;
  }

  static fromSettings(settings: LimitDefaults): LimitPolicy {
    const defaults: TenantLimits = {
      rate:
        settings.ratePointsPerSecond === undefined
          ? undefined
          : {
              pointsPerSecond: settings.ratePointsPerSecond,
              burst: settings.rateBurst ?? defaultBurst(settings.ratePointsPerSecond),
            },
      quota:
        settings.quotaPoints === undefined
          ? undefined
          : { points: settings.quotaPoints, period: settings.quotaPeriod, timeZone: UTC },
    };
    if (settings.limitsFile === undefined) return new LimitPolicy(defaults);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(settings.limitsFile, 'utf8'));
    } catch (error) {
      throw new ConfigError(
        FILE_VARIABLE,
        `cannot read ${settings.limitsFile} as JSON: ${(error as Error).message}`,
      );
    }
    return new LimitPolicy(defaults, parseOverrides(parsed, settings, defaults, settings.limitsFile));
  }

  for(tenant: string): TenantLimits {
    return this.overrides.get(tenant) ?? this.defaults;
  }

  /** The time zone of the tenant's quota periods (UTC without a quota). */
  quotaZone(tenant: string): string {
    return this.for(tenant).quota?.timeZone ?? UTC;
  }

  /** True when some tenant may have a quota (the counters then need persisting). */
  get hasQuotas(): boolean {
    return (
      this.defaults.quota !== undefined || [...this.overrides.values()].some((l) => l.quota !== undefined)
    );
  }
}

function parseOverrides(
  parsed: unknown,
  settings: LimitDefaults,
  defaults: TenantLimits,
  source: string,
): Map<string, TenantLimits> {
  const fail = (message: string) => new ConfigError(FILE_VARIABLE, `${source}: ${message}`);
  if (!isObject(parsed)) throw fail('expected a JSON object { "tenants": { "<tenant>": { … } } }');
  for (const key of Object.keys(parsed)) {
    if (key !== 'tenants') throw fail(`unknown top-level field ${JSON.stringify(key)} (expected "tenants")`);
  }
  const tenants = parsed.tenants ?? {};
  if (!isObject(tenants)) throw fail('"tenants" must be an object of tenant → limits');
  const overrides = new Map<string, TenantLimits>();
  for (const [tenant, raw] of Object.entries(tenants)) {
    const where = `tenants[${JSON.stringify(tenant)}]`;
    const problem = tenantProblem(tenant);
    if (problem !== undefined) throw fail(`${where}: ${problem}`);
    if (!isObject(raw)) throw fail(`${where} must be an object`);
    for (const key of Object.keys(raw)) {
      if (key === 'maxSeriesPerTenant' || key === 'maxSeries') {
        throw fail(
          `${where}.${key}: per-tenant series caps are not supported; TALLYHOUSE_MAX_SERIES_PER_TENANT applies to every tenant`,
        );
      }
      if (!(FIELDS as readonly string[]).includes(key)) {
        throw fail(`${where}: unknown field ${JSON.stringify(key)} (expected ${FIELDS.join(', ')})`);
      }
    }
    overrides.set(
      tenant,
      tenantLimits(raw, settings, defaults, (m) => fail(`${where}.${m}`)),
    );
  }
  return overrides;
}

function tenantLimits(
  raw: Record<string, unknown>,
  settings: LimitDefaults,
  defaults: TenantLimits,
  fail: (message: string) => Error,
): TenantLimits {
  let rate = defaults.rate;
  if (raw.ratePointsPerSecond === null) rate = undefined;
  else if (raw.ratePointsPerSecond !== undefined) {
    const pointsPerSecond = raw.ratePointsPerSecond;
    if (typeof pointsPerSecond !== 'number' || !Number.isFinite(pointsPerSecond) || pointsPerSecond <= 0) {
      throw fail(
        `ratePointsPerSecond: expected a number > 0 or null, got ${JSON.stringify(pointsPerSecond)}`,
      );
    }
    rate = { pointsPerSecond, burst: settings.rateBurst ?? defaultBurst(pointsPerSecond) };
  }
  if (raw.burst !== undefined) {
    if (!Number.isSafeInteger(raw.burst) || (raw.burst as number) < 1) {
      throw fail(`burst: expected an integer ≥ 1, got ${JSON.stringify(raw.burst)}`);
    }
    if (rate === undefined)
      throw fail('burst: needs a rate (ratePointsPerSecond here or in the environment)');
    rate = { ...rate, burst: raw.burst as number };
  }
  let quota = defaults.quota;
  if (raw.quotaPoints === null) quota = undefined;
  else if (raw.quotaPoints !== undefined) {
    if (!Number.isSafeInteger(raw.quotaPoints) || (raw.quotaPoints as number) < 1) {
      throw fail(`quotaPoints: expected an integer ≥ 1 or null, got ${JSON.stringify(raw.quotaPoints)}`);
    }
    quota = { points: raw.quotaPoints as number, period: settings.quotaPeriod, timeZone: UTC };
  }
  if (raw.quotaPeriod !== undefined) {
    if (!QUOTA_PERIODS.includes(raw.quotaPeriod as QuotaPeriod)) {
      throw fail(
        `quotaPeriod: expected one of ${QUOTA_PERIODS.join(', ')}, got ${JSON.stringify(raw.quotaPeriod)}`,
      );
    }
    if (quota === undefined)
      throw fail('quotaPeriod: needs a quota (quotaPoints here or in the environment)');
    quota = { ...quota, period: raw.quotaPeriod as QuotaPeriod };
  }
  if (raw.quotaTimeZone !== undefined) {
    const zone = raw.quotaTimeZone;
    const problem = typeof zone === 'string' ? timeZoneProblem(zone) : 'expected a string';
    if (problem !== undefined) {
      throw fail(`quotaTimeZone: ${problem}, got ${JSON.stringify(zone)}`);
    }
    if (quota === undefined)
      throw fail('quotaTimeZone: needs a quota (quotaPoints here or in the environment)');
    quota = { ...quota, timeZone: checkTimeZone(zone as string) };
  }
  return { rate, quota };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
