/**
 * The range and step pickers' choices, turned into the API's parameters. Rolling ranges ("last 24 hours") are
 * instants, `to` rounded up to the minute so that reloading within a minute asks the same question (the collector
 * caches answers by their parameters); calendar ranges ("this month") are a `period` in the browser's time zone.
 */
import type { RangeParams } from './api/client.ts';
import type { Step } from './api/types.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const STEP_MS: Readonly<Record<Step, number>> = { '1m': MINUTE, '1h': HOUR, '1d': DAY };
export const STEPS: readonly Step[] = ['1m', '1h', '1d'];

/** The most buckets a time series line may have (the usage API refuses more). */
export const MAX_BUCKETS = 11_000;
/** The default step is the finest one giving at most this many buckets: readable bars, light answers. */
const DEFAULT_MAX_BUCKETS = 400;

type RangeChoice =
  | { readonly id: string; readonly label: string; readonly spanMs: number }
  | {
      readonly id: string;
      readonly label: string;
      readonly calendar: 'day' | 'month';
      readonly back: number;
    };

export const RANGES: readonly RangeChoice[] = [
  { id: 'last-1h', label: 'Last hour', spanMs: HOUR },
  { id: 'last-24h', label: 'Last 24 hours', spanMs: DAY },
  { id: 'last-7d', label: 'Last 7 days', spanMs: 7 * DAY },
  { id: 'last-30d', label: 'Last 30 days', spanMs: 30 * DAY },
  { id: 'today', label: 'Today', calendar: 'day', back: 0 },
  { id: 'yesterday', label: 'Yesterday', calendar: 'day', back: 1 },
  { id: 'this-month', label: 'This month', calendar: 'month', back: 0 },
  { id: 'last-month', label: 'Last month', calendar: 'month', back: 1 },
];

export const DEFAULT_RANGE = 'last-24h';

export interface ResolvedRange {
  readonly id: string;
  readonly params: RangeParams;
  /** The range's length (the longest a calendar period can be), for the step choices. */
  readonly spanMs: number;
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The range `id` (an unknown id is the default) at `now`, calendar ranges in `timeZone`. */
export function resolveRange(id: string, now: number, timeZone: string): ResolvedRange {
  const choice = RANGES.find((r) => r.id === id) ?? RANGES.find((r) => r.id === DEFAULT_RANGE)!;
  if ('spanMs' in choice) {
    const to = Math.ceil(now / MINUTE) * MINUTE;
    return {
      id: choice.id,
      params: {
        from: new Date(to - choice.spanMs).toISOString(),
        to: new Date(to).toISOString(),
        tz: timeZone,
      },
      spanMs: choice.spanMs,
    };
  }
  const today = localDate(now, timeZone);
  if (choice.calendar === 'day') {
    // Noon UTC of the local date, minus whole days, is still on the wanted local date.
    const noon = Date.UTC(today.year, today.month - 1, today.day, 12) - choice.back * DAY;
    const day = new Date(noon).toISOString().slice(0, 10);
    return { id: choice.id, params: { period: day, tz: timeZone }, spanMs: 25 * HOUR };
  }
  const monthIndex = today.year * 12 + (today.month - 1) - choice.back;
  const period = `${Math.floor(monthIndex / 12)}-${String((monthIndex % 12) + 1).padStart(2, '0')}`;
  return { id: choice.id, params: { period, tz: timeZone }, spanMs: 31 * DAY };
}

/** The steps a range allows (within the API's bucket limit), and the default among them. */
export function stepsFor(spanMs: number): { allowed: readonly Step[]; preferred: Step } {
  const allowed = STEPS.filter((step) => spanMs / STEP_MS[step] <= MAX_BUCKETS);
  const preferred = allowed.find((step) => spanMs / STEP_MS[step] <= DEFAULT_MAX_BUCKETS) ?? '1d';
  return { allowed, preferred };
}

/** `step` if the range allows it, else the range's default step. */
export function chooseStep(requested: string | null, spanMs: number): Step {
  const { allowed, preferred } = stepsFor(spanMs);
  return allowed.includes(requested as Step) ? (requested as Step) : preferred;
}

function localDate(now: number, timeZone: string): { year: number; month: number; day: number } {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(new Date(now));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { year: part('year'), month: part('month'), day: part('day') };
}
