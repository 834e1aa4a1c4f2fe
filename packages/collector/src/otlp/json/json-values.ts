/**
 * Reading the fields of a parsed OTLP/JSON document: lookup by the lowerCamelCase name with the proto
 * (snake_case) name as fallback, `null` as absent, and the scalar encodings of the OTLP JSON Protobuf
 * Encoding. What is wrong is thrown as a `DecodeFailure` under the field's camelCase name.
 */
import { DecodeFailure, withSegment } from '../errors.ts';
import { UNSAFE_COUNT } from '../point-acceptance.ts';

export type JsonObject = { readonly [key: string]: unknown };

const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;
const MIN_INT64 = -0x8000_0000_0000_0000n;
const MAX_INT64 = 0x7fff_ffff_ffff_ffffn;
const UNSIGNED_DIGITS = /^\d+$/;
const SIGNED_DIGITS = /^-?\d+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2})$/;

/**
 * Thrown when an integer field holds a JSON number beyond 2^53 - 1 in a document parsed without source text:
 * `JSON.parse` may have rounded its literal, so the document is parsed again with `parseExactIntegers`.
 */
export class InexactInteger {}
const INEXACT_INTEGER = new InexactInteger();

/** True while decoding a document from `parseExactIntegers`: its unsafe integer literals are bigints. */
let exactIntegers = false;

/** Runs `decode` over a document from `parseExactIntegers`. */
export function withExactIntegers<T>(decode: () => T): T {
  exactIntegers = true;
  try {
    return decode();
  } finally {
    exactIntegers = false;
  }
}

const INTEGER_LITERAL = /^-?\d+$/;

type SourceReviver = (key: string, value: unknown, context?: { source?: string }) => unknown;

// Integer literals only: `1e19` or `12345678901234567.5` keep the number `JSON.parse` gives, as before.
const exactIntegerReviver: SourceReviver = (_key, value, context) =>
  typeof value === 'number' &&
  (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER) &&
  context?.source !== undefined &&
  INTEGER_LITERAL.test(context.source)
    ? BigInt(context.source)
    : value;

/** `JSON.parse`, but integer literals beyond 2^53 - 1 become exact bigints (source text access, Node 21+). */
export function parseExactIntegers(text: string): unknown {
  return (JSON.parse as (text: string, reviver: SourceReviver) => unknown)(text, exactIntegerReviver);
}

/** A field by its JSON name or, failing that, its proto name; `null` counts as absent. */
export function get(object: JsonObject, camel: string, snake: string): unknown {
  let value = object[camel];
  if (value === undefined || value === null) value = camel === snake ? undefined : object[snake];
  return value === null ? undefined : value;
}

/** `parse(value)`, with what fails there reported under `name`. */
export function withPath<T>(value: unknown, name: string, parse: (value: unknown) => T): T {
  try {
    return parse(value);
  } catch (thrown) {
    throw withSegment(thrown, name);
  }
}

/** A field parsed by `parse`, or `absent` when it is missing. */
export function field<T>(
  object: JsonObject,
  camel: string,
  snake: string,
  parse: (value: unknown) => T,
  absent: T,
): T {
  const value = get(object, camel, snake);
  if (value === undefined) return absent;
  return withPath(value, camel, parse);
}

export function asObject(value: unknown): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`expected an object, got ${describe(value)}`);
  }
  return value as JsonObject;
}

function parseArray(value: unknown): readonly unknown[] {
  if (!Array.isArray(value)) throw invalid(`expected an array, got ${describe(value)}`);
  return value;
}

const NO_ITEMS: readonly unknown[] = Object.freeze([]);

export function arrayField(object: JsonObject, camel: string, snake: string): readonly unknown[] {
  return field(object, camel, snake, parseArray, NO_ITEMS);
}

/**
 * Decodes each element of a repeated message field with `decode(element, index, context)`; what fails is
 * reported under `name[index]`. (A context argument rather than a closure: attributes are decoded here.)
 */
export function eachElement<C>(
  list: readonly unknown[],
  name: string,
  decode: (element: JsonObject, index: number, context: C) => void,
  context?: C,
): void {
  for (let i = 0; i < list.length; i++) {
    try {
      decode(asObject(list[i]), i, context as C);
    } catch (thrown) {
      throw withSegment(thrown, `${name}[${i}]`);
    }
  }
}

/** The elements of a repeated message field that `decode` turns into something (not `undefined`). */
export function decodeElements<T>(
  list: readonly unknown[],
  name: string,
  decode: (element: JsonObject, index: number) => T | undefined,
): T[] {
  const out: T[] = [];
  eachElement(list, name, (element, index) => {
    const decoded = decode(element, index);
    if (decoded !== undefined) out.push(decoded);
  });
  return out;
}

/** A repeated scalar field; what fails is reported under `camel[index]`. */
function scalarArrayField<T>(
  object: JsonObject,
  camel: string,
  snake: string,
  parse: (value: unknown) => T,
): T[] {
  const list = arrayField(object, camel, snake);
  const out: T[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = withPath(list[i], `${camel}[${i}]`, parse);
  return out;
}

const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * A JSON string may spell an unpaired surrogate (`"\ud800"`), which no UTF-8 string holds: refused like
 * invalid UTF-8 in protobuf. Storage would fail the whole insert on it, other tenants' rows included.
 */
export function parseString(value: unknown): string {
  if (typeof value !== 'string') throw invalid(`expected a string, got ${describe(value)}`);
  if (!isWellFormed.call(value)) {
    throw new DecodeFailure(
      'INVALID_UTF8',
      'a string holds an unpaired UTF-16 surrogate (a lone \\uD800-\\uDFFF escape), which is not valid UTF-8',
    );
  }
  return value;
}

export function stringField(object: JsonObject, camel: string, snake: string): string {
  return field(object, camel, snake, parseString, '');
}

export function parseBool(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(`expected true or false, got ${describe(value)}`);
  return value;
}

export function boolField(object: JsonObject, camel: string, snake: string): boolean {
  return field(object, camel, snake, parseBool, false);
}

export function parseDouble(value: unknown): number {
  if (typeof value === 'number') return value;
  // Rounds as `JSON.parse` rounds the literal: both give the nearest double.
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    if (value === 'NaN') return Number.NaN;
    if (value === 'Infinity') return Number.POSITIVE_INFINITY;
    if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
    const n = value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isNaN(n)) return n;
  }
  throw invalid(`expected a number, got ${describe(value)}`);
}

export function optionalDoubleField(object: JsonObject, camel: string, snake: string): number | undefined {
  return field<number | undefined>(object, camel, snake, parseDouble, undefined);
}

export function doubleArrayField(object: JsonObject, camel: string, snake: string): number[] {
  return scalarArrayField(object, camel, snake, parseDouble);
}

/** An integer given as a JSON number or a decimal string, as a bigint within [min, max]. */
function parseBigInt(value: unknown, min: bigint, max: bigint): bigint {
  let n: bigint | undefined;
  if (typeof value === 'number') {
    if (!exactIntegers && (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER)) {
      throw INEXACT_INTEGER;
    }
    if (Number.isInteger(value)) n = BigInt(value);
  } else if (typeof value === 'bigint') {
    n = value;
  } else if (typeof value === 'string' && (min < 0n ? SIGNED_DIGITS : UNSIGNED_DIGITS).test(value)) {
    n = BigInt(value);
  }
  if (n === undefined) {
    throw invalid(`expected ${min < 0n ? 'an' : 'a non-negative'} integer, got ${describe(value)}`);
  }
  if (n < min || n > max) throw invalid(`${value} is out of range`);
  return n;
}

export function parseUint64(value: unknown): bigint {
  return parseBigInt(value, 0n, MAX_UINT64);
}

/** fixed64/uint64 counts: exact number, or UNSAFE_COUNT above 2^53 - 1. */
function parseCount(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const n = parseUint64(value);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : UNSAFE_COUNT;
}

export function countField(object: JsonObject, camel: string, snake: string): number {
  return field(object, camel, snake, parseCount, 0);
}

export function countArrayField(object: JsonObject, camel: string, snake: string): number[] {
  return scalarArrayField(object, camel, snake, parseCount);
}

/** sfixed64 `asInt` as the nearest number. */
export function parseIntNumber(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  return Number(parseBigInt(value, MIN_INT64, MAX_INT64));
}

/** `AnyValue.intValue`: a number when safe, otherwise the exact decimal string. */
export function parseIntValue(value: unknown): number | string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  const n = parseBigInt(value, MIN_INT64, MAX_INT64);
  const asNumber = Number(n);
  return Number.isSafeInteger(asNumber) ? asNumber : n.toString();
}

function parseInt32(value: unknown): number {
  return Number(parseBigInt(value, -0x8000_0000n, 0x7fff_ffffn));
}

export function int32Field(object: JsonObject, camel: string, snake: string): number {
  return field(object, camel, snake, parseInt32, 0);
}

export function uint32Field(object: JsonObject, camel: string, snake: string): number {
  return field(object, camel, snake, (v) => Number(parseBigInt(v, 0n, 0xffff_ffffn)), 0);
}

/** An enum given as its integer or, per the OTLP JSON encoding, its name (one of `names`). */
export function enumField(
  object: JsonObject,
  camel: string,
  snake: string,
  names: ReadonlyMap<string, number>,
): number {
  return field(
    object,
    camel,
    snake,
    (value) => {
      if (typeof value === 'string' && !SIGNED_DIGITS.test(value)) {
        const known = names.get(value);
        if (known === undefined) throw invalid(`unknown enum value ${describe(value)}`);
        return known;
      }
      return parseInt32(value);
    },
    0,
  );
}

export function parseBase64(value: unknown): string {
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw invalid(`expected base64-encoded bytes, got ${describe(value)}`);
  }
  // Re-encode so both base64 alphabets and missing padding yield the same canonical text as protobuf.
  return Buffer.from(value, 'base64').toString('base64');
}

function invalid(detail: string): DecodeFailure {
  return new DecodeFailure('INVALID_VALUE', detail);
}

/** A short rendering of an offending JSON value for messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  // A bigint is an integer literal too long for a number; shown as it was sent.
  const text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
