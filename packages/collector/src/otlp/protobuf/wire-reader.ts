/**
 * Minimal protobuf wire-format reader for the OTLP decoder.
 *
 * Why not protobufjs' `Reader`: it returns 64-bit values as `LongBits` objects (one allocation per
 * timestamp), throws plain `RangeError`s on truncation that we would have to translate at every call, and
 * checks bounds against the whole buffer rather than the enclosing message. This reader reads 64-bit fields
 * as two 32-bit halves into scratch fields (no allocation), turns timestamps into `bigint` with a one-entry
 * cache per field (points of one export share their times), bounds-checks every read against the end of the
 * enclosing message, and reports every problem as a `DecodeFailure` with a stable code.
 *
 * All functions take the current message end explicitly; `r.pos` advances.
 */
import { DecodeFailure } from '../errors.ts';

/** The wire types of the protobuf encoding, named as its specification names them. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

const TWO_POW_32 = 4294967296;
/** High word limit for an unsigned 64-bit value to stay ≤ 2^53 - 1. */
const SAFE_HIGH_LIMIT = 0x200000;
/** Groups are obsolete but legal in unknown fields; cap their nesting like everything else. */
const MAX_GROUP_DEPTH = 64;
/** ASCII strings up to this length are interned; everything else is decoded by `TextDecoder`. */
const INTERNED_MAX_LENGTH = 48;
/** Interning table: a fixed number of slots, last writer wins, so memory stays bounded across requests. */
const INTERN_MASK = 4095;
const internTable: (string | undefined)[] = new Array(INTERN_MASK + 1).fill(undefined);
/** Node's native ASCII/Latin-1 slice; it works on any Uint8Array, not only on Buffers. */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }
).latin1Slice;

// ignoreBOM: a string that starts with U+FEFF keeps it (the default would drop it: a different name).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class WireReader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  /** Low/high 32 bits (unsigned) of the last 64-bit varint or fixed64 read. */
  lo = 0;
  hi = 0;
  // One-entry caches for start and observation times: consecutive points usually repeat them.
  private startLo = 0;
  private startHi = 0;
  private startValue = 0n;
  private timeLo = 0;
  private timeHi = 0;
  private timeValue = 0n;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A fixed64 timestamp as exact nanoseconds. `slot` 0 = start time cache, 1 = observation time cache. */
  readTime(end: number, slot: 0 | 1): bigint {
    const pos = this.pos;
    if (end - pos < 8) throw truncated();
    const view = this.view;
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    this.pos = pos + 8;
    if (slot === 0) {
      if (lo === this.startLo && hi === this.startHi) return this.startValue;
      this.startLo = lo;
      this.startHi = hi;
      this.startValue = view.getBigUint64(pos, true);
      return this.startValue;
    }
    if (lo === this.timeLo && hi === this.timeHi) return this.timeValue;
    this.timeLo = lo;
    this.timeHi = hi;
    this.timeValue = view.getBigUint64(pos, true);
    return this.timeValue;
  }
}

export function truncated(): DecodeFailure {
  return new DecodeFailure('TRUNCATED', 'the message ends in the middle of a field');
}

export function malformed(detail: string): DecodeFailure {
  return new DecodeFailure('MALFORMED_PROTOBUF', detail);
}

/** Reads a varint into `r.lo`/`r.hi`. */
export function readVarint(r: WireReader, end: number): void {
  const buf = r.buf;
  let pos = r.pos;
  if (pos >= end) throw truncated();
  let b = buf[pos++]!;
  if (b < 0x80) {
    r.lo = b;
    r.hi = 0;
    r.pos = pos;
    return;
  }
  let lo = b & 0x7f;
  let hi = 0;
  for (let i = 1; ; i++) {
    if (pos >= end) throw truncated();
    b = buf[pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x7f) << 28;
      hi = (b & 0x7f) >>> 4;
    } else if (i < 10) hi |= (b & 0x7f) << (7 * i - 32);
    else throw malformed('a varint is longer than 10 bytes');
    if (b < 0x80) break;
  }
  r.lo = lo >>> 0;
  r.hi = hi >>> 0;
  r.pos = pos;
}

/** Reads a tag (field number << 3 | wire type). */
export function readTag(r: WireReader, end: number): number {
  const pos = r.pos;
  const b = r.buf[pos]!;
  let tag: number;
  if (b < 0x80 && pos < end) {
    r.pos = pos + 1;
    tag = b;
  } else {
    readVarint(r, end);
    if (r.hi !== 0) throw malformed('a field tag is larger than 32 bits');
    tag = r.lo;
  }
  if (tag >>> 3 === 0) throw malformed('field number 0 is not valid');
  return tag;
}

/** Reads a length prefix and returns the end of the delimited range, checked against `end`. */
export function readLengthEnd(r: WireReader, end: number): number {
  const pos = r.pos;
  let length: number;
  const b = r.buf[pos]!;
  if (b < 0x80 && pos < end) {
    r.pos = pos + 1;
    length = b;
  } else {
    readVarint(r, end);
    if (r.hi !== 0) throw truncated();
    length = r.lo;
  }
  if (length > end - r.pos) throw truncated();
  return r.pos + length;
}

export function readDouble(r: WireReader, end: number): number {
  const pos = r.pos;
  if (end - pos < 8) throw truncated();
  r.pos = pos + 8;
  return r.view.getFloat64(pos, true);
}

/** fixed64 as an exact `bigint` (times other than the points' own, which `readTime` caches). */
export function readFixed64(r: WireReader, end: number): bigint {
  const pos = r.pos;
  if (end - pos < 8) throw truncated();
  r.pos = pos + 8;
  return r.view.getBigUint64(pos, true);
}

/** fixed64 as a count: exact number, or `unsafe` when above 2^53 - 1. */
export function readFixed64Count(r: WireReader, end: number, unsafe: number): number {
  const pos = r.pos;
  if (end - pos < 8) throw truncated();
  r.pos = pos + 8;
  const hi = r.view.getUint32(pos + 4, true);
  if (hi >= SAFE_HIGH_LIMIT) return unsafe;
  return hi * TWO_POW_32 + r.view.getUint32(pos, true);
}

/** sfixed64 as the nearest number (exact whenever |value| ≤ 2^53). */
export function readSfixed64(r: WireReader, end: number): number {
  const pos = r.pos;
  if (end - pos < 8) throw truncated();
  r.pos = pos + 8;
  return r.view.getInt32(pos + 4, true) * TWO_POW_32 + r.view.getUint32(pos, true);
}

/** uint64 varint as a count: exact number, or `unsafe` when above 2^53 - 1. */
export function readUint64Count(r: WireReader, end: number, unsafe: number): number {
  readVarint(r, end);
  if (r.hi >= SAFE_HIGH_LIMIT) return unsafe;
  return r.hi * TWO_POW_32 + r.lo;
}

/** int64 varint: a number when it is a safe integer, otherwise its exact decimal string. */
export function readInt64Value(r: WireReader, end: number): number | string {
  readVarint(r, end);
  const value = (r.hi | 0) * TWO_POW_32 + r.lo;
  if (Number.isSafeInteger(value)) return value;
  return ((BigInt(r.hi | 0) << 32n) + BigInt(r.lo)).toString();
}

/** sint32 (zigzag) varint. */
export function readSint32(r: WireReader, end: number): number {
  readVarint(r, end);
  const n = r.lo;
  return (n >>> 1) ^ -(n & 1);
}

export function readString(r: WireReader, end: number): string {
  const stringEnd = readLengthEnd(r, end);
  const buf = r.buf;
  const start = r.pos;
  const length = stringEnd - start;
  r.pos = stringEnd;
  if (length === 0) return '';
  if (length <= INTERNED_MAX_LENGTH) {
    // Attribute keys and most values repeat across points; interning them skips an allocation and a
    // native call per string (the hash is computed in the ASCII check we need anyway).
    let hash = length;
    let i = start;
    for (; i < stringEnd; i++) {
      const b = buf[i]!;
      if (b >= 0x80) break;
      hash = (Math.imul(hash, 31) + b) | 0;
    }
    if (i === stringEnd) {
      const slot = (hash ^ (hash >>> 13)) & INTERN_MASK;
      const cached = internTable[slot];
      if (cached !== undefined && cached.length === length) {
        let j = 0;
        while (j < length && cached.charCodeAt(j) === buf[start + j]) j++;
        if (j === length) return cached;
      }
      const fresh = latin1Slice.call(buf, start, stringEnd);
      internTable[slot] = fresh;
      return fresh;
    }
  }
  try {
    return utf8.decode(buf.subarray(start, stringEnd));
  } catch {
    throw new DecodeFailure('INVALID_UTF8', 'a string field is not valid UTF-8');
  }
}

/** Returns the bytes of a length-delimited field (a view, not a copy). */
export function readBytes(r: WireReader, end: number): Uint8Array {
  const bytesEnd = readLengthEnd(r, end);
  const bytes = r.buf.subarray(r.pos, bytesEnd);
  r.pos = bytesEnd;
  return bytes;
}

/** Skips the value of a field with the given tag (unknown fields, ...). */
export function skipField(r: WireReader, tag: number, end: number): void {
  switch (tag & 7) {
    case WireType.VARINT:
      readVarint(r, end);
      return;
    case WireType.I64:
      if (end - r.pos < 8) throw truncated();
      r.pos += 8;
      return;
    case WireType.LEN:
      r.pos = readLengthEnd(r, end);
      return;
    case WireType.I32:
      if (end - r.pos < 4) throw truncated();
      r.pos += 4;
      return;
    case WireType.SGROUP:
      skipGroup(r, tag >>> 3, end);
      return;
    case WireType.EGROUP:
      throw malformed(`an end-group marker for field ${tag >>> 3} has no matching start`);
    default:
      throw malformed(`wire type ${tag & 7} of field ${tag >>> 3} does not exist`);
  }
}

function skipGroup(r: WireReader, fieldNumber: number, end: number): void {
  // Iterative, so a hostile nesting cannot overflow the stack.
  const open: number[] = [fieldNumber];
  while (open.length > 0) {
    if (r.pos >= end) throw truncated();
    const tag = readTag(r, end);
    const wire = tag & 7;
    if (wire === WireType.SGROUP) {
      if (open.length >= MAX_GROUP_DEPTH) throw malformed('groups nest too deeply');
      open.push(tag >>> 3);
    } else if (wire === WireType.EGROUP) {
      if (open.pop() !== tag >>> 3)
        throw malformed(`an end-group marker for field ${tag >>> 3} does not match`);
    } else skipField(r, tag, end);
  }
}
