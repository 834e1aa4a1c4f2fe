import type { Attributes, AttributeValue } from './series.ts';

/**
 * Structured, injective text encoding of attribute sets and values, used as series identity.
 *
 * An attribute set becomes the JSON text of a flat array `[key1, value1, key2, value2, …]` with keys sorted.
 * Strings, booleans, finite numbers and null stand as themselves; every other value is wrapped in a tagged
 * pair — `["A", items]` arrays, `["O", pairs]` objects (keys sorted at every depth), `["N", "NaN"]`
 * non-finite numbers, `["B", "123"]` bigints — so no value can imitate another (`1`/`"1"`/`true`/`"true"`,
 * `null`/`NaN`/`"NaN"` all differ) and no string can imitate a delimiter. `JSON.stringify` of an array
 * gives one flat string, cheap to hash and compact to keep (a hand-concatenated key stays a tree of
 * string pieces in memory).
 */
export function encodeAttributes(attributes: Attributes, skipKey?: string): string {
  return JSON.stringify(taggedPairs(attributes, skipKey));
}

/** Encodes one attribute value (or any list of them) with the same tagging. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(tagged(value));
}

/** Encodes an attribute set plus a trailing extra part (histogram bounds), still injective. */
export function encodeAttributesWith(
  attributes: Attributes,
  skipKey: string | undefined,
  extra: unknown,
): string {
  const pairs = taggedPairs(attributes, skipKey);
  pairs.push(['X', tagged(extra)]);
  return JSON.stringify(pairs);
}

function taggedPairs(attributes: Attributes, skipKey: string | undefined): unknown[] {
  const keys = Object.keys(attributes);
  if (keys.length > 1) keys.sort();
  const pairs: unknown[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key === skipKey) continue;
    const value = attributes[key];
    if (value === undefined) continue;
    pairs.push(key, typeof value === 'string' ? value : tagged(value));
  }
  return pairs;
}

function tagged(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : ['N', String(value)];
    case 'bigint':
      return ['B', String(value)];
    case 'object':
      if (value === null) return null;
      if (Array.isArray(value)) return ['A', value.map(tagged)];
      return ['O', taggedPairs(value as Attributes, undefined)];
    default:
      return null;
  }
}

/** The canonical attribute set an `encodeAttributes` key stands for (a trailing extra part is ignored). */
export function decodeAttributes(key: string): Attributes {
  return untaggedPairs(JSON.parse(key) as unknown[]);
}

/** The attribute value an `encodeValue` text stands for. */
export function decodeValue(encoded: string): AttributeValue {
  return untagged(JSON.parse(encoded));
}

function untaggedPairs(pairs: readonly unknown[]): Attributes {
  const entries: [string, AttributeValue][] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) entries.push([pairs[i] as string, untagged(pairs[i + 1])]);
  // fromEntries defines own properties, so a key named "__proto__" stays an attribute.
  return Object.fromEntries(entries);
}

function untagged(value: unknown): AttributeValue {
  if (!Array.isArray(value)) return value as AttributeValue;
  const [tag, payload] = value as [string, unknown];
  switch (tag) {
    case 'A':
      return (payload as unknown[]).map(untagged);
    case 'O':
      return untaggedPairs(payload as unknown[]);
    case 'N':
      return Number(payload);
    case 'B':
      return BigInt(payload as string) as unknown as AttributeValue;
    default:
      throw new RangeError(`decodeAttributes: unknown tag ${JSON.stringify(tag)}`);
  }
}

/**
 * Canonical form of an attribute set: `skipKey` removed, undefined values dropped, nested objects with
 * sorted keys. Keys of the top level are sorted too so that every consumer sees one order.
 */
export function canonicalAttributes(attributes: Attributes, skipKey?: string): Attributes {
  const entries: [string, AttributeValue][] = [];
  for (const key of Object.keys(attributes).sort()) {
    const value = attributes[key];
    if (key !== skipKey && value !== undefined) entries.push([key, canonicalValue(value)]);
  }
  // fromEntries defines own properties, so a key named "__proto__" stays an attribute.
  return Object.fromEntries(entries);
}

export function canonicalValue(value: AttributeValue): AttributeValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(canonicalValue);
  return canonicalAttributes(value as Attributes);
}

/**
 * The canonical JSON text of an attribute value as stored in ClickHouse (`42`, `true`, `["a","b"]`).
 * Object keys are sorted recursively. JSON has no NaN/Infinity: they are written as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"`.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
}
