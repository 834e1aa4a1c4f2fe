/** How values and times are shown. Non-finite gauge values arrive as strings ("NaN", "Infinity") and stay so. */
import type { Value } from '../api/types.ts';

const NUMBER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });
const COMPACT = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
const TIME = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** A value as a number the chart can draw: non-finite and missing values are gaps (uPlot draws numbers only). */
export function plottable(value: Value): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  return null;
}

export function formatValue(value: Value, unit?: string): string {
  if (value === null) return '–';
  const text = typeof value === 'number' ? NUMBER.format(value) : value;
  return unit === undefined || !isShownUnit(unit) ? text : `${text} ${unit}`;
}

/**
 * Whether a unit says something next to a number: UCUM's dimensionless `1` and annotations such as `{request}`
 * (a count of requests) do not.
 */
export function isShownUnit(unit: string): boolean {
  return unit !== '' && unit !== '1' && !/^\{[^}]*\}$/.test(unit);
}

export function formatCompact(value: number): string {
  return COMPACT.format(value);
}

/** `2026-03-08 14:05` in the browser's time zone. */
export function formatTime(iso: string | number): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const parts = Object.fromEntries(TIME.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** `route=/a, plan=pro`, or `fallback` when there are none. */
export function formatAttributes(attributes: Readonly<Record<string, string>>, fallback: string): string {
  const entries = Object.entries(attributes);
  return entries.length === 0 ? fallback : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

/** A chart's span (the API widens a range to whole steps), in the browser's time zone. */
export function bucketsText(series: { bucketsFrom: string; bucketsTo: string; step: string }): string {
  return `from ${formatTime(series.bucketsFrom)} to ${formatTime(series.bucketsTo)}, step ${series.step}`;
}
