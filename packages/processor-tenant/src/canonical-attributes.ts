import type { Attributes, AttributeValue } from './model.ts';

/**
 * Structured, injective text encoding of attribute sets and values, used for series identity.
 * Strings are JSON-quoted, so no value can imitate a delimiter; object keys are sorted at every depth;
 * array order is kept (it is part of the value). Non-finite numbers get their own bare tokens,
 * so `NaN`, `null` and `"NaN"` stay distinct.
 */
export function encodeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `${value}n`;
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return encodeArray(value);
      return encodeAttributes(value as Attributes);
    default:
      return 'null';
  }
}

function encodeArray(values: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += encodeValue(values[i]);
  }
  return `${out}]`;
}

/** Encodes an attribute set with keys sorted; `skipKey` (the tenant attribute) is left out. */
export function encodeAttributes(attributes: Attributes, skipKey?: string): string {
  const keys = Object.keys(attributes);
  if (keys.length > 1) keys.sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    if (key === skipKey) continue;
    const value = attributes[key];
    if (value === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(key)}:${encodeValue(value)}`;
  }
  return `${out}}`;
}

/**
 * Canonical form of an attribute set: `skipKey` removed, undefined values dropped, nested objects with
 * sorted keys. Keys of the top level are sorted too so that every consumer sees one order.
 */
export function canonicalAttributes(attributes: Attributes, skipKey?: string): Attributes {
  const keys = Object.keys(attributes).sort();
  const out: Record<string, AttributeValue> = {};
  for (const key of keys) {
    if (key === skipKey) continue;
    const value = attributes[key];
    if (value === undefined) continue;
    out[key] = canonicalValue(value);
  }
  return out;
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
