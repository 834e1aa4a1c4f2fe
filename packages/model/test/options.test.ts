/**
 * One rule per kind of setting, whichever package reads it: these are the rules the processor, the exporter
 * and the collector all resolve their settings with.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  MAX_TIMER_MS,
  readBoolean,
  readChoice,
  readDurationMs,
  readInteger,
  readList,
  readOptionalInteger,
  readOptionalPositiveNumber,
  readText,
  requireName,
} from '../src/index.ts';

function errorOf(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('precedence: option, then variable, then default', () => {
  it('takes the option over the variable, and the variable over the default', () => {
    expect(readInteger('N', 3, { N: '5' }, 7)).toBe(3);
    expect(readInteger('N', undefined, { N: '5' }, 7)).toBe(5);
    expect(readInteger('N', undefined, {}, 7)).toBe(7);
  });

  it('treats a blank variable as unset, and trims numbers', () => {
    expect(readInteger('N', undefined, { N: '  ' }, 7)).toBe(7);
    expect(readInteger('N', undefined, { N: ' 9000 ' }, 7)).toBe(9000);
    expect(readText('T', undefined, { T: '' })).toBeUndefined();
    expect(readText('T', '', { T: 'x' })).toBeUndefined();
  });

  it('keeps text as given: a stray space is for the name check to refuse, not silently fixed', () => {
    expect(readText('T', undefined, { T: ' tenant ' })).toBe(' tenant ');
    expect(errorOf(() => requireName('T', ' tenant ')).message).toBe(
      'T: expected a non-empty name without surrounding spaces, got " tenant "',
    );
  });
});

describe('integers', () => {
  it.each([
    ['0', 'expected a positive integer, got "0"'],
    ['-1', 'expected a positive integer, got "-1"'],
    ['1.5', 'expected a positive integer, got "1.5"'],
    ['1e6', 'expected a positive integer, got "1e6"'],
    ['ten', 'expected a positive integer, got "ten"'],
    ['100000000000000000000', 'expected a positive integer, got "100000000000000000000"'],
  ])('refuses N=%j naming the variable and the value', (raw, message) => {
    const error = errorOf(() => readInteger('N', undefined, { N: raw }, 1));
    expect(error.variable).toBe('N');
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`N: ${message}`);
  });

  it('applies the same rule to a programmatic option', () => {
    expect(errorOf(() => readInteger('N', 0, {}, 1)).message).toBe('N: expected a positive integer, got 0');
    expect(errorOf(() => readInteger('N', 2.5, {}, 1)).message).toBe(
      'N: expected a positive integer, got 2.5',
    );
  });

  it('honours a lower bound of 0 and an upper bound with its reason', () => {
    expect(readInteger('N', undefined, { N: '0' }, 1, { min: 0 })).toBe(0);
    expect(errorOf(() => readInteger('N', undefined, { N: '-1' }, 1, { min: 0 })).message).toBe(
      'N: expected an integer ≥ 0, got "-1"',
    );
    expect(
      errorOf(() => readInteger('N', undefined, { N: '11' }, 1, { max: 10, maxReason: ' things' })).message,
    ).toBe('N: expected at most 10 things, got 11');
  });

  it('returns undefined for an unset optional integer', () => {
    expect(readOptionalInteger('N', undefined, {})).toBeUndefined();
    expect(readOptionalInteger('N', undefined, { N: '4' })).toBe(4);
  });
});

describe('durations', () => {
  it('fit one Node.js timer', () => {
    expect(readDurationMs('D', undefined, { D: String(MAX_TIMER_MS) }, 1)).toBe(MAX_TIMER_MS);
    expect(errorOf(() => readDurationMs('D', undefined, { D: String(MAX_TIMER_MS + 1) }, 1)).message).toBe(
      `D: expected at most ${MAX_TIMER_MS} ms (the longest delay a Node.js timer can wait), got ${MAX_TIMER_MS + 1}`,
    );
  });

  it('are positive unless the caller allows 0 (a drain budget of "one attempt")', () => {
    expect(errorOf(() => readDurationMs('D', undefined, { D: '0' }, 1)).message).toBe(
      'D: expected a positive integer, got "0"',
    );
    expect(readDurationMs('D', undefined, { D: '0' }, 1, 0)).toBe(0);
  });
});

describe('booleans, choices, lists, numbers', () => {
  it.each([
    ['1', true],
    ['TRUE', true],
    ['yes', true],
    ['on', true],
    ['0', false],
    ['False', false],
    ['no', false],
    ['off', false],
  ])('reads %j as %s', (raw, expected) => {
    expect(readBoolean('B', undefined, { B: raw }, !expected)).toBe(expected);
  });

  it('refuses anything else naming the accepted spellings', () => {
    expect(errorOf(() => readBoolean('B', undefined, { B: 'maybe' }, false)).message).toBe(
      'B: expected true or false, got "maybe" (1/0, yes/no, on/off also work)',
    );
  });

  it('reads one of a closed set', () => {
    expect(readChoice('C', undefined, { C: 'b' }, ['a', 'b'] as const, 'a')).toBe('b');
    expect(errorOf(() => readChoice('C', undefined, { C: 'z' }, ['a', 'b'] as const, 'a')).message).toBe(
      'C: expected one of a, b, got "z"',
    );
  });

  it('splits lists on commas, trimming items and dropping empty ones', () => {
    expect(readList('L', undefined, { L: ' a, b ,,c ' })).toEqual(['a', 'b', 'c']);
    expect(readList('L', undefined, {})).toBeUndefined();
    expect(readList('L', ['x'], { L: 'a' })).toEqual(['x']);
  });

  it('reads positive numbers with fractions', () => {
    expect(readOptionalPositiveNumber('R', undefined, { R: '2.5' }, 'a rate')).toBe(2.5);
    expect(errorOf(() => readOptionalPositiveNumber('R', undefined, { R: '0' }, 'a rate')).message).toBe(
      'R: expected a rate > 0, got "0"',
    );
  });
});
