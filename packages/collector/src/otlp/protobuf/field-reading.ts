/**
 * Reading the known fields of a message. A known field must arrive with its wire type (with another one the
 * message is malformed: it is not an unknown field to skip), and what goes wrong inside it is reported under
 * its OTLP/JSON name. The message decoders skip unknown fields themselves, with `skipField`.
 */
import { type DecodeFailure, withSegment } from '../errors.ts';
import { malformed, readLengthEnd, readString, truncated, type WireReader, WireType } from './wire-reader.ts';

const EXPECTED_WIRE: Readonly<Record<number, string>> = {
  [WireType.VARINT]: 'varint',
  [WireType.I64]: '64-bit',
  [WireType.LEN]: 'length-delimited',
};

function wrongWireType(tag: number, expected: string): DecodeFailure {
  return malformed(`field ${tag >>> 3} has wire type ${tag & 7}; expected ${expected}`);
}

/** Throws unless the known field `name` came with `wire`; `expected` words the message (default: the wire type). */
export function expectWire(tag: number, wire: number, name: string, expected?: string): void {
  if ((tag & 7) !== wire) throw withSegment(wrongWireType(tag, expected ?? EXPECTED_WIRE[wire]!), name);
}

export function readStringField(
  r: WireReader,
  tag: number,
  end: number,
  name: string,
  expected?: string,
): string {
  expectWire(tag, WireType.LEN, name, expected);
  try {
    return readString(r, end);
  } catch (thrown) {
    throw withSegment(thrown, name);
  }
}

/**
 * A singular message field: `decode` reads its content, and what fails there is reported under `name` (its
 * length prefix is read before, so a bad length is the enclosing message's).
 */
export function readMessageField<R extends WireReader, C, T>(
  r: R,
  tag: number,
  end: number,
  name: string,
  decode: (r: R, end: number, context: C) => T,
  context: C,
): T {
  expectWire(tag, WireType.LEN, name);
  const sub = readLengthEnd(r, end);
  try {
    return decode(r, sub, context);
  } catch (thrown) {
    throw withSegment(thrown, name);
  }
}

/** One element of a repeated message field: what fails, its length prefix included, is `name[index]`'s. */
export function readRepeatedMessage<R extends WireReader, C, T>(
  r: R,
  tag: number,
  end: number,
  name: string,
  index: number,
  decode: (r: R, end: number, context: C, index: number) => T,
  context: C,
): T {
  expectWire(tag, WireType.LEN, name);
  try {
    const sub = readLengthEnd(r, end);
    return decode(r, sub, context, index);
  } catch (thrown) {
    throw withSegment(thrown, `${name}[${index}]`);
  }
}

/**
 * Where the elements of one occurrence of a repeated fixed64 or double field end: after a packed run
 * (length-delimited, of whole 8-byte elements) or after the single element of an unpacked one. Both are
 * accepted, as protobuf requires of parsers. The caller reads the elements up to there, in its own loop:
 * histogram buckets are the hottest loops of the decoder.
 */
export function fixed64ElementsEnd(r: WireReader, tag: number, end: number, name: string): number {
  const wire = tag & 7;
  if (wire === WireType.LEN) {
    const run = readLengthEnd(r, end);
    if ((run - r.pos) % 8 !== 0) {
      throw withSegment(malformed(`packed length ${run - r.pos} is not a multiple of 8`), name);
    }
    return run;
  }
  if (wire === WireType.I64) {
    if (end - r.pos < 8) throw truncated();
    return r.pos + 8;
  }
  throw withSegment(wrongWireType(tag, 'packed or fixed64/double'), name);
}

/** One occurrence of a repeated varint field, packed or not, read by `read` and appended to `out`. */
export function readRepeatedVarint(
  r: WireReader,
  tag: number,
  end: number,
  read: (r: WireReader, end: number) => number,
  out: number[],
  name: string,
): void {
  const wire = tag & 7;
  if (wire === WireType.VARINT) {
    out.push(read(r, end));
  } else if (wire === WireType.LEN) {
    const run = readLengthEnd(r, end);
    try {
      while (r.pos < run) out.push(read(r, run));
    } catch (thrown) {
      throw withSegment(thrown, name);
    }
  } else {
    throw withSegment(wrongWireType(tag, 'packed or varint'), name);
  }
}
