/**
 * One set of rules for reading settings, shared by every package: a programmatic option wins over its
 * environment variable, which wins over the default; a blank variable counts as unset; every bad value is a
 * `ConfigError` that names the variable and quotes what was given. Stages resolve all their settings once,
 * at construction, so a bad one stops the start before anything is opened.
 */
import { ConfigError } from './errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The longest delay Node's timers can wait (2^31−1 ms, about 24.8 days). Node does not refuse a longer one: it
 * fires after 1 ms — a flush loop spinning, or a drain deadline passed before it starts.
 */
export const MAX_TIMER_MS = 2_147_483_647;

const TIMER_LIMIT = ' ms (the longest delay a Node.js timer can wait)';

/** The variable's value, or `undefined` when it is unset or blank. Surrounding spaces are kept (passwords). */
export function envValue(env: Env, variable: string): string | undefined {
  const raw = env[variable];
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}

/**
 * Text as given (no trimming: a name with stray spaces is refused by its own check, not silently fixed): the
 * option, else the variable; an empty option means unset, as a blank variable does.
 */
export function readText(variable: string, option: string | undefined, env: Env): string | undefined {
  if (option !== undefined) return option === '' ? undefined : option;
  return envValue(env, variable);
}

export interface IntegerBounds {
  /** Smallest allowed value; default 1. */
  readonly min?: number;
  /** Largest allowed value; default 2^53 − 1. */
  readonly max?: number;
  /** Why the maximum, starting with the unit (" ms (…)"), for the error message. */
  readonly maxReason?: string;
}

/** An integer within bounds from the option, else the variable, else `fallback`. */
export function readInteger(
  variable: string,
  option: number | undefined,
  env: Env,
  fallback: number,
  bounds: IntegerBounds = {},
): number {
  return readOptionalInteger(variable, option, env, bounds) ?? fallback;
}

/** As `readInteger`, `undefined` when neither the option nor the variable is set. */
export function readOptionalInteger(
  variable: string,
  option: number | undefined,
  env: Env,
  bounds: IntegerBounds = {},
): number | undefined {
  const raw = option ?? envValue(env, variable)?.trim();
  if (raw === undefined) return undefined;
  const min = bounds.min ?? 1;
  const value = typeof raw === 'number' ? raw : /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    const expected = min === 1 ? 'a positive integer' : `an integer ≥ ${min}`;
    throw new ConfigError(variable, `expected ${expected}, got ${JSON.stringify(raw)}`);
  }
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (value > max) {
    throw new ConfigError(variable, `expected at most ${max}${bounds.maxReason ?? ''}, got ${value}`);
  }
  return value;
}

/** A duration in ms that ends up in a timer or a deadline: at least `min` (default 1), at most `MAX_TIMER_MS`. */
export function readDurationMs(
  variable: string,
  option: number | undefined,
  env: Env,
  fallback: number,
  min = 1,
): number {
  return readInteger(variable, option, env, fallback, { min, max: MAX_TIMER_MS, maxReason: TIMER_LIMIT });
}

/** A number > 0 (fractions allowed), or `undefined` when unset. */
export function readOptionalPositiveNumber(
  variable: string,
  option: number | undefined,
  env: Env,
  what: string,
): number | undefined {
  const raw = option ?? envValue(env, variable)?.trim();
  if (raw === undefined) return undefined;
  const value = typeof raw === 'number' ? raw : /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(variable, `expected ${what} > 0, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

export function readBoolean(
  variable: string,
  option: boolean | undefined,
  env: Env,
  fallback: boolean,
): boolean {
  if (option !== undefined) return option;
  const raw = envValue(env, variable);
  if (raw === undefined) return fallback;
  const value = raw.trim().toLowerCase();
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  throw new ConfigError(
    variable,
    `expected true or false, got ${JSON.stringify(raw)} (1/0, yes/no, on/off also work)`,
  );
}

/** One of `allowed`, else `fallback`. */
export function readChoice<T extends string>(
  variable: string,
  option: T | undefined,
  env: Env,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = option ?? envValue(env, variable)?.trim();
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(variable, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
}

/** A comma-separated list (items trimmed, empty items dropped), or `undefined` when unset. */
export function readList(
  variable: string,
  option: readonly string[] | undefined,
  env: Env,
): readonly string[] | undefined {
  if (option !== undefined) return option;
  const raw = envValue(env, variable);
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** `value` when it is a non-empty name without surrounding spaces (an attribute or header name). */
export function requireName(variable: string, value: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value !== value.trim()) {
    throw new ConfigError(
      variable,
      `expected a non-empty name without surrounding spaces, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
