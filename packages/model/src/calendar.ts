/**
 * Calendar arithmetic in IANA time zones, for billing on a customer's own days and months: where a local day or
 * month starts, which local day an instant falls on, and the range of a named period (`2026-03`, `2026-03-08`).
 * Local days are 23 or 25 hours on DST changes; a zone whose midnight is skipped starts its day at the first
 * instant that exists. Luxon does the zone rules (Node's ICU time zone data) rather than hand-written offset math.
 *
 * Instants are Unix milliseconds (JavaScript numbers); every start computed here is a whole second.
 */
import { DateTime, IANAZone } from 'luxon';

export const UTC = 'UTC';

/** Undefined when `zone` is an IANA time zone name (`America/New_York`, `UTC`); else what is wrong with it. */
export function timeZoneProblem(zone: string): string | undefined {
  if (zone === '') return 'empty; expected an IANA time zone name such as America/New_York or UTC';
  // Offsets like "+05:00" or "EST5EDT"-style rules are not calendar zones a customer bills in.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone) || !IANAZone.isValidZone(zone)) {
    return `${JSON.stringify(zone)} is not an IANA time zone name (e.g. America/New_York, Europe/Berlin, UTC)`;
  }
  return undefined;
}

/** The zone's canonical spelling (`utc` → `UTC`); throws a RangeError naming the problem. */
export function checkTimeZone(zone: string): string {
  const problem = timeZoneProblem(zone);
  if (problem !== undefined) throw new RangeError(`time zone ${problem}`);
  // Intl spells the zone as the tz database does (ClickHouse's zone names are case-sensitive).
  return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
}

function at(ms: number, zone: string): DateTime {
  return DateTime.fromMillis(ms, { zone });
}

/** The start of the local day holding instant `ms`. */
export function startOfLocalDay(ms: number, zone: string): number {
  return at(ms, zone).startOf('day').toMillis();
}

/** The start of the local day after the one holding `ms`. */
export function startOfNextLocalDay(ms: number, zone: string): number {
  return at(ms, zone).startOf('day').plus({ days: 1 }).startOf('day').toMillis();
}

/** The start of the local month holding instant `ms`. */
export function startOfLocalMonth(ms: number, zone: string): number {
  return at(ms, zone).startOf('month').toMillis();
}

/** The start of the local month after the one holding `ms`. */
export function startOfNextLocalMonth(ms: number, zone: string): number {
  return at(ms, zone).startOf('month').plus({ months: 1 }).startOf('month').toMillis();
}

/** The start of the local hour holding `ms` (zones with half-hour offsets start their hours on the half hour). */
export function startOfLocalHour(ms: number, zone: string): number {
  return at(ms, zone).startOf('hour').toMillis();
}

/** Days since 1970-01-01 of the local date holding `ms` (ClickHouse's `toRelativeDayNum(t, zone)`). */
export function localDayNumber(ms: number, zone: string): number {
  const local = at(ms, zone);
  return Math.round(Date.UTC(local.year, local.month - 1, local.day) / 86_400_000);
}

/** The local date holding `ms`, as `YYYY-MM-DD`. */
export function localDate(ms: number, zone: string): string {
  return at(ms, zone).toISODate() ?? '';
}

/**
 * The starts of the local days from the one holding `fromMs` up to the first start at or after `toMs` (both
 * included): `n + 1` boundaries of `n` days. `fromMs` on a midnight starts there; `toMs` on one ends there.
 */
export function localDayBoundaries(fromMs: number, toMs: number, zone: string, maxDays: number): number[] {
  const bounds = [startOfLocalDay(fromMs, zone)];
  let last = bounds[0]!;
  while (last < toMs) {
    if (bounds.length > maxDays) {
      throw new RangeError(`more than ${maxDays} local days between the range's ends`);
    }
    last = startOfNextLocalDay(last, zone);
    bounds.push(last);
  }
  return bounds;
}

/** A named calendar period: a local month (`2026-03`) or day (`2026-03-08`) in a zone. */
export interface CalendarPeriod {
  readonly kind: 'month' | 'day';
  /** As named: `YYYY-MM` or `YYYY-MM-DD`. */
  readonly name: string;
  readonly zone: string;
  /** The period's first instant (Unix ms). */
  readonly startMs: number;
  /** The next period's first instant (Unix ms). */
  readonly endMs: number;
}

/** `2026-03` → that local month, `2026-03-08` → that local day, in `zone`; throws a RangeError naming the problem. */
export function parsePeriod(name: string, zone: string): CalendarPeriod {
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(name);
  if (match === null) {
    throw new RangeError(
      `${JSON.stringify(name)} is not a period: expected a month (YYYY-MM) or a day (YYYY-MM-DD)`,
    );
  }
  const [, year, month, day] = match;
  const start = DateTime.fromObject(
    { year: Number(year), month: Number(month), day: day === undefined ? 1 : Number(day) },
    { zone },
  );
  if (!start.isValid || Number(year) < 1970) {
    throw new RangeError(`${JSON.stringify(name)} is not a date that exists (from 1970 on)`);
  }
  const kind = day === undefined ? 'month' : 'day';
  const first = start.startOf(kind === 'month' ? 'month' : 'day');
  const next = first.plus(kind === 'month' ? { months: 1 } : { days: 1 }).startOf('day');
  return { kind, name, zone, startMs: first.toMillis(), endMs: next.toMillis() };
}
