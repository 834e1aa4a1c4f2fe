import { describe, expect, it } from 'vitest';
import {
  checkTimeZone,
  localDate,
  localDayBoundaries,
  localDayNumber,
  parsePeriod,
  startOfLocalDay,
  startOfLocalMonth,
  startOfNextLocalDay,
  startOfNextLocalMonth,
  timeZoneProblem,
} from '../src/calendar.ts';

const HOUR = 3_600_000;
const ms = (iso: string) => Date.parse(iso);

describe('local days in a zone with DST', () => {
  const NY = 'America/New_York';

  it('a spring-forward day has 23 hours and a fall-back day 25', () => {
    // 2026-03-08: clocks go 02:00 → 03:00; 2026-11-01: 02:00 → 01:00.
    const spring = parsePeriod('2026-03-08', NY);
    expect(spring.startMs).toBe(ms('2026-03-08T05:00:00Z'));
    expect(spring.endMs - spring.startMs).toBe(23 * HOUR);
    const fall = parsePeriod('2026-11-01', NY);
    expect(fall.startMs).toBe(ms('2026-11-01T04:00:00Z'));
    expect(fall.endMs - fall.startMs).toBe(25 * HOUR);
    const plain = parsePeriod('2026-03-09', NY);
    expect(plain.endMs - plain.startMs).toBe(24 * HOUR);
  });

  it('a month runs from its first local midnight to the next month’s', () => {
    const march = parsePeriod('2026-03', NY);
    expect(march.kind).toBe('month');
    expect(march.startMs).toBe(ms('2026-03-01T05:00:00Z'));
    expect(march.endMs).toBe(ms('2026-04-01T04:00:00Z'));
    expect(startOfLocalMonth(ms('2026-03-31T23:00:00Z'), NY)).toBe(march.startMs);
    expect(startOfNextLocalMonth(ms('2026-03-31T23:00:00Z'), NY)).toBe(march.endMs);
    // 03:59Z on April 1st is still March 31st in New York.
    expect(startOfLocalMonth(ms('2026-04-01T03:59:59Z'), NY)).toBe(march.startMs);
  });

  it('day boundaries over a DST change: the widened range, each day’s start, the day numbers', () => {
    const bounds = localDayBoundaries(ms('2026-03-07T12:00:00Z'), ms('2026-03-09T05:00:00Z'), NY, 10);
    expect(bounds.map((b) => new Date(b).toISOString())).toEqual([
      '2026-03-07T05:00:00.000Z',
      '2026-03-08T05:00:00.000Z',
      '2026-03-09T04:00:00.000Z',
      '2026-03-10T04:00:00.000Z',
    ]);
    expect(bounds.slice(1).map((b, i) => b - bounds[i]!)).toEqual([24 * HOUR, 23 * HOUR, 24 * HOUR]);
    expect(localDayNumber(bounds[1]!, NY) - localDayNumber(bounds[0]!, NY)).toBe(1);
    expect(localDayNumber(ms('2026-03-08T04:59:59Z'), NY)).toBe(Date.UTC(2026, 2, 7) / 86_400_000);
    expect(localDate(ms('2026-03-08T04:59:59Z'), NY)).toBe('2026-03-07');
    // A bound on a midnight is not widened.
    expect(localDayBoundaries(bounds[1]!, bounds[2]!, NY, 10)).toEqual([bounds[1], bounds[2]]);
    expect(() => localDayBoundaries(0, 40 * 24 * HOUR, NY, 30)).toThrow(/more than 30 local days/);
  });
});

describe('zones with unusual days', () => {
  it('a half-hour offset starts its days on the half hour', () => {
    expect(startOfLocalDay(ms('2026-06-01T12:00:00Z'), 'Asia/Kolkata')).toBe(ms('2026-05-31T18:30:00Z'));
  });

  it('a zone whose midnight is skipped starts that day at the first instant that exists', () => {
    // America/Santiago springs forward at 00:00 → 01:00 (2026-09-06).
    const day = parsePeriod('2026-09-06', 'America/Santiago');
    expect(day.endMs - day.startMs).toBe(23 * HOUR);
    expect(startOfNextLocalDay(day.startMs, 'America/Santiago')).toBe(day.endMs);
  });

  it('UTC days are 24 hours and match UTC midnights', () => {
    const day = parsePeriod('2024-02-29', 'UTC');
    expect(day.startMs).toBe(ms('2024-02-29T00:00:00Z'));
    expect(day.endMs - day.startMs).toBe(24 * HOUR);
  });
});

describe('bad input is named', () => {
  it('time zones', () => {
    expect(timeZoneProblem('America/New_York')).toBeUndefined();
    expect(timeZoneProblem('')).toMatch(/empty/);
    expect(timeZoneProblem('Mars/Olympus')).toMatch(/"Mars\/Olympus" is not an IANA time zone/);
    expect(timeZoneProblem('+05:00')).toMatch(/not an IANA time zone/);
    expect(checkTimeZone('utc')).toBe('UTC');
    expect(() => checkTimeZone('Nowhere')).toThrow(RangeError);
  });

  it('periods', () => {
    expect(() => parsePeriod('2026-3', 'UTC')).toThrow(/expected a month \(YYYY-MM\) or a day/);
    expect(() => parsePeriod('2026-02-30', 'UTC')).toThrow(/not a date that exists/);
    expect(() => parsePeriod('2026-13', 'UTC')).toThrow(/not a date that exists/);
    expect(() => parsePeriod('1969-12', 'UTC')).toThrow(/from 1970 on/);
  });
});
