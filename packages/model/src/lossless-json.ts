/**
 * JSON that gives back exactly what it was given, for state a process writes and later acts on (checkpoints,
 * flush-log records, shared stream marks). Plain JSON turns `-0` into `0` and `NaN`/`±Infinity` into `null`,
 * and cannot hold a bigint: a replay that reads such a value back computes a different row, whose
 * deduplication token differs, and storage then counts it twice.
 *
 * Those numbers become one-key objects — `{"$n": "-0" | "NaN" | "Infinity" | "-Infinity"}`, `{"$b": "123"}` —
 * and an object of the data that happens to have exactly one of those keys is wrapped as `{"$o": {…}}`, so no
 * data can imitate a tag. Properties whose value is `undefined` are left out, as JSON does.
 */

const NUMBER_TAG = '$n';
const BIGINT_TAG = '$b';
const OBJECT_TAG = '$o';

export function toLosslessJson(value: unknown): string {
  return JSON.stringify(encode(value));
}

/** Reads text written by `toLosslessJson` (or plain JSON, which has no tags); throws what `JSON.parse` throws. */
export function fromLosslessJson<T>(text: string): T {
  return decode(JSON.parse(text)) as T;
}

function encode(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { [NUMBER_TAG]: Object.is(value, -0) ? '-0' : String(value) };
    case 'bigint':
      return { [BIGINT_TAG]: String(value) };
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return value.map(encode);
      const entries: [string, unknown][] = [];
      for (const key of Object.keys(value)) {
        const field = (value as Record<string, unknown>)[key];
        if (field !== undefined) entries.push([key, encode(field)]);
      }
      // fromEntries defines own properties, so a key named "__proto__" stays data.
      const out = Object.fromEntries(entries);
      return entries.length === 1 && isTag(entries[0]![0]) ? { [OBJECT_TAG]: out } : out;
    }
    default:
      return value;
  }
}

function decode(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decode);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const tag = keys[0];
    const text = record[tag!];
    if (tag === NUMBER_TAG && typeof text === 'string') return text === '-0' ? -0 : Number(text);
    if (tag === BIGINT_TAG && typeof text === 'string') return BigInt(text);
    if (tag === OBJECT_TAG && text !== null && typeof text === 'object' && !Array.isArray(text))
      return decodeFields(text as Record<string, unknown>);
  }
  return decodeFields(record);
}

function decodeFields(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(record).map((key) => [key, decode(record[key])]));
}

function isTag(key: string | undefined): boolean {
  return key === NUMBER_TAG || key === BIGINT_TAG || key === OBJECT_TAG;
}
