/**
 * Meaning-preserving re-encodings of protobuf bytes, guided by a protobufjs schema: what the protobuf spec
 * says a parser must read as the same message.
 *
 * - split: a singular message field becomes two occurrences (its fields cut in two); parsers merge them.
 * - repack: a packed repeated scalar becomes two packed runs, or one field per element.
 * - unknown: fields of numbers no OTLP message uses, of every wire type (groups included), anywhere.
 * - reorder: fields shuffled, keeping the order among occurrences of one field number (and among the
 *   members of one oneof), which is all that the meaning depends on.
 */
import protobuf from 'protobufjs';
import { seededRandom } from '../support/seeded-random.ts';

export interface WireField {
  readonly field: number;
  readonly wire: number;
  /** The value's bytes: varint or fixed bytes, a length-delimited payload, or a group's content. */
  readonly raw: Uint8Array;
  /** Set when the field is a message the schema knows (its payload, parsed). */
  readonly children?: WireField[];
}

export interface RewriteOptions {
  readonly split: boolean;
  readonly repack: boolean;
  readonly unknown: boolean;
  readonly reorder: boolean;
}

/** A small deterministic generator, so fast-check can replay a failure from its seed. */
export const rng = seededRandom;

const below = (random: () => number, n: number): number => Math.floor(random() * n);

// ---- parsing ----

class Cursor {
  pos = 0;
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  varint(): number {
    let result = 0;
    let shift = 1;
    for (;;) {
      const b = this.bytes[this.pos++];
      if (b === undefined) throw new Error('truncated varint');
      result += (b & 0x7f) * shift;
      if (b < 0x80) return result;
      shift *= 128;
    }
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new Error('truncated field');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function fieldOf(type: protobuf.Type | undefined, number: number): protobuf.Field | undefined {
  return type?.fieldsById[number]?.resolve();
}

function messageTypeOf(field: protobuf.Field | undefined): protobuf.Type | undefined {
  return field?.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
}

/** Parses a message's fields; known message fields are parsed recursively. */
export function parseMessage(bytes: Uint8Array, type: protobuf.Type | undefined): WireField[] {
  const cursor = new Cursor(bytes);
  const out: WireField[] = [];
  while (cursor.pos < bytes.length) out.push(readField(cursor, type));
  return out;
}

function readField(cursor: Cursor, type: protobuf.Type | undefined): WireField {
  const tag = cursor.varint();
  const field = Math.floor(tag / 8);
  const wire = tag % 8;
  switch (wire) {
    case 0: {
      const start = cursor.pos;
      cursor.varint();
      return { field, wire, raw: cursor.bytes.subarray(start, cursor.pos) };
    }
    case 1:
      return { field, wire, raw: cursor.take(8) };
    case 5:
      return { field, wire, raw: cursor.take(4) };
    case 2: {
      const raw = cursor.take(cursor.varint());
      const child = messageTypeOf(fieldOf(type, field));
      return child === undefined
        ? { field, wire, raw }
        : { field, wire, raw, children: parseMessage(raw, child) };
    }
    case 3: {
      const start = cursor.pos;
      for (;;) {
        const inner = readField(cursor, undefined);
        if (inner.wire === 4) break;
      }
      // The content, without the end-group tag just read (one byte for the small numbers used here).
      return { field, wire, raw: cursor.bytes.subarray(start, cursor.pos - tagBytes(field, 4).length) };
    }
    case 4:
      return { field, wire, raw: new Uint8Array(0) };
    default:
      throw new Error(`wire type ${wire}`);
  }
}

// ---- encoding ----

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function tagBytes(field: number, wire: number): number[] {
  return varintBytes(field * 8 + wire);
}

export function encodeFields(fields: readonly WireField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    if (f.wire === 3) {
      parts.push(Uint8Array.from(tagBytes(f.field, 3)), f.raw, Uint8Array.from(tagBytes(f.field, 4)));
      continue;
    }
    parts.push(Uint8Array.from(tagBytes(f.field, f.wire)));
    if (f.wire === 2) {
      const payload = f.children === undefined ? f.raw : encodeFields(f.children);
      parts.push(Uint8Array.from(varintBytes(payload.length)), payload);
    } else parts.push(f.raw);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

// ---- rewriting ----

/** Re-encodes `bytes` (a message of `type`) with the chosen rewrites, at random places. */
export function rewrite(
  bytes: Uint8Array,
  type: protobuf.Type,
  random: () => number,
  options: RewriteOptions,
): Uint8Array {
  return encodeFields(rewriteFields(parseMessage(bytes, type), type, random, options));
}

function rewriteFields(
  fields: readonly WireField[],
  type: protobuf.Type | undefined,
  random: () => number,
  options: RewriteOptions,
): WireField[] {
  let out: WireField[] = [];
  for (const f of fields) {
    const schema = fieldOf(type, f.field);
    const children =
      f.children === undefined
        ? undefined
        : rewriteFields(f.children, messageTypeOf(schema), random, options);
    const field: WireField = children === undefined ? f : { ...f, children };
    if (options.split && children !== undefined && schema?.repeated === false && random() < 0.5) {
      const cut = below(random, children.length + 1);
      out.push({ ...field, children: children.slice(0, cut) }, { ...field, children: children.slice(cut) });
    } else if (options.repack && f.wire === 2 && schema?.repeated && children === undefined) {
      out.push(...repacked(field, schema, random));
    } else out.push(field);
  }
  if (options.unknown) {
    for (let n = below(random, 3); n > 0; n--)
      out.splice(below(random, out.length + 1), 0, unknownField(random));
  }
  if (options.reorder) out = interleave(out, type, random);
  return out;
}

const FIXED_WIDTH: Record<string, number> = {
  fixed64: 8,
  sfixed64: 8,
  double: 8,
  fixed32: 4,
  sfixed32: 4,
  float: 4,
};

/** A packed run as two packed runs, or as one field per element. */
function repacked(field: WireField, schema: protobuf.Field, random: () => number): WireField[] {
  if (schema.type === 'string' || schema.type === 'bytes') return [field];
  const width = FIXED_WIDTH[schema.type];
  const elements: Uint8Array[] = [];
  const cursor = new Cursor(field.raw);
  while (cursor.pos < field.raw.length) {
    if (width !== undefined) elements.push(cursor.take(width));
    else {
      const start = cursor.pos;
      cursor.varint();
      elements.push(field.raw.subarray(start, cursor.pos));
    }
  }
  const join = (items: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(items.reduce((n, item) => n + item.length, 0));
    let pos = 0;
    for (const item of items) {
      out.set(item, pos);
      pos += item.length;
    }
    return out;
  };
  if (random() < 0.5) {
    const cut = below(random, elements.length + 1);
    return [
      { field: field.field, wire: 2, raw: join(elements.slice(0, cut)) },
      { field: field.field, wire: 2, raw: join(elements.slice(cut)) },
    ];
  }
  const wire = width === 8 ? 1 : width === 4 ? 5 : 0;
  return elements.map((raw) => ({ field: field.field, wire, raw }));
}

/** Field numbers 100-149: no OTLP metrics message uses them. */
function unknownField(random: () => number): WireField {
  const field = 100 + below(random, 50);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => below(random, 256));
  switch (below(random, 5)) {
    case 0:
      return {
        field,
        wire: 0,
        raw: Uint8Array.from([
          ...Array.from({ length: below(random, 4) }, () => 0x80 | below(random, 128)),
          below(random, 128),
        ]),
      };
    case 1:
      return { field, wire: 1, raw: bytes(8) };
    case 2:
      return { field, wire: 5, raw: bytes(4) };
    case 3:
      return { field, wire: 2, raw: bytes(below(random, 7)) };
    default:
      return {
        field,
        wire: 3,
        raw: encodeFields([{ field: 1, wire: 0, raw: Uint8Array.of(below(random, 128)) }]),
      };
  }
}

/** Random order, except that occurrences of one field number, or of one oneof's members, keep theirs. */
function interleave(
  fields: readonly WireField[],
  type: protobuf.Type | undefined,
  random: () => number,
): WireField[] {
  const queues = new Map<string, WireField[]>();
  fields.forEach((f, i) => {
    const oneof = fieldOf(type, f.field)?.partOf;
    const key = oneof ? `oneof ${oneof.name}` : f.field >= 100 ? `unknown ${i}` : `field ${f.field}`;
    const queue = queues.get(key);
    if (queue === undefined) queues.set(key, [f]);
    else queue.push(f);
  });
  const out: WireField[] = [];
  let left = fields.length;
  while (left > 0) {
    // Weighted by what each queue still holds, so every interleaving is possible.
    let pick = below(random, left);
    for (const queue of queues.values()) {
      if (pick < queue.length) {
        out.push(queue.shift()!);
        break;
      }
      pick -= queue.length;
    }
    left--;
  }
  return out;
}
