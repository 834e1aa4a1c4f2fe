/**
 * The messages of common.proto and resource.proto: attributes (`KeyValue`, `AnyValue`, `ArrayValue`,
 * `KeyValueList`), `Resource` and `InstrumentationScope`.
 */
import type { AttributeValue, InstrumentationScopeInfo } from '@tallyhouse/model';
import { setAttribute, sortedObject } from '../attribute-building.ts';
import { DecodeFailure, MAX_ANY_VALUE_DEPTH, withSegment } from '../errors.ts';
import { expectWire, readRepeatedMessage, readStringField } from './field-reading.ts';
import type { ProtoDecoder } from './proto-decoder.ts';
import {
  readBytes,
  readDouble,
  readInt64Value,
  readLengthEnd,
  readTag,
  readVarint,
  skipField,
  WireType,
} from './wire-reader.ts';

// Field numbers, as resource/v1/resource.proto and common/v1/common.proto declare them (see README-otlp).
const Resource = {
  attributes: 1,
  dropped_attributes_count: 2, // skipped
} as const;
const InstrumentationScope = {
  name: 1,
  version: 2,
  attributes: 3,
  dropped_attributes_count: 4,
} as const;
const KeyValue = {
  key: 1,
  value: 2,
  key_strindex: 3, // skipped: profiles only; OTLP says to ignore it elsewhere
} as const;
const AnyValue = {
  // oneof value
  string_value: 1,
  bool_value: 2,
  int_value: 3,
  double_value: 4,
  array_value: 5,
  kvlist_value: 6,
  bytes_value: 7,
  string_value_strindex: 8, // skipped: profiles only; OTLP says to ignore it elsewhere
} as const;
const ArrayValue = { values: 1 } as const;
const KeyValueList = { values: 1 } as const;

const { VARINT, I64, LEN } = WireType;

/** One occurrence of a repeated `attributes` field (a `KeyValue`), set into `target`; `index` numbers it. */
export function readAttribute(
  d: ProtoDecoder,
  tag: number,
  end: number,
  target: Record<string, AttributeValue>,
  index: number,
): void {
  readRepeatedMessage(d, tag, end, 'attributes', index, decodeKeyValue, 0);
  setAttribute(target, d.key, d.value);
}

/** Attributes gathered over the occurrences of a message field; `count` numbers them for error paths. */
export interface AttributeSink {
  attributes: Record<string, AttributeValue> | undefined;
  count: number;
}

/** `Resource`: every occurrence of the field adds its attributes to the same `sink` (a merge). */
export function decodeResource(d: ProtoDecoder, end: number, sink: AttributeSink): void {
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag >>> 3 === Resource.attributes) {
      sink.attributes ??= {};
      readAttribute(d, tag, end, sink.attributes, sink.count++);
    } else skipField(d, tag, end);
  }
}

/** `previous`: what earlier occurrences of the field set; only fields present here overwrite it. */
export function decodeScope(
  d: ProtoDecoder,
  end: number,
  previous: InstrumentationScopeInfo,
): InstrumentationScopeInfo {
  let name = previous.name;
  let version = previous.version;
  // Attributes of repeated occurrences merge, as a resource's do.
  let attributes = previous.attributes === undefined ? undefined : { ...previous.attributes };
  let dropped = previous.droppedAttributesCount;
  let count = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case InstrumentationScope.name:
        name = readStringField(d, tag, end, 'name');
        break;
      case InstrumentationScope.version:
        version = readStringField(d, tag, end, 'version');
        break;
      case InstrumentationScope.attributes:
        attributes ??= {};
        readAttribute(d, tag, end, attributes, count++);
        break;
      case InstrumentationScope.dropped_attributes_count:
        expectWire(tag, VARINT, 'droppedAttributesCount');
        readVarint(d, end);
        // uint32 on the wire; a longer varint keeps its low 32 bits, as protobuf's own decoders do.
        dropped = d.lo;
        break;
      default:
        skipField(d, tag, end);
    }
  }
  return {
    name,
    version,
    ...(attributes === undefined ? {} : { attributes }),
    ...(dropped === undefined || dropped === 0 ? {} : { droppedAttributesCount: dropped }),
  };
}

/** Decodes a `KeyValue` into `d.key` / `d.value`. `depth` counts enclosing AnyValues. */
function decodeKeyValue(d: ProtoDecoder, end: number, depth: number): void {
  let key = '';
  let value: AttributeValue = null;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case KeyValue.key:
        key = readStringField(d, tag, end, 'key');
        break;
      case KeyValue.value:
        expectWire(tag, LEN, 'value');
        try {
          const sub = readLengthEnd(d, end);
          value = decodeAnyValue(d, sub, depth + 1, value);
        } catch (thrown) {
          throw withSegment(thrown, 'value');
        }
        break;
      default:
        skipField(d, tag, end);
    }
  }
  d.key = key;
  d.value = value;
}

/** Each member of the AnyValue oneof with another wire type is refused in these words. */
const MEMBER_WIRE = 'the one its AnyValue kind needs';

/**
 * `previous`: the value of earlier occurrences of the same AnyValue field (`null` when none), which this one
 * is merged into: a member present here replaces another member, and merges with the same message member
 * (array items and kvlist entries add up). `null` is also what an AnyValue without a member becomes.
 */
function decodeAnyValue(
  d: ProtoDecoder,
  end: number,
  depth: number,
  previous: AttributeValue,
): AttributeValue {
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw new DecodeFailure('NESTING_TOO_DEEP', `AnyValue nests deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  }
  let value = previous;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case AnyValue.string_value:
        value = readStringField(d, tag, end, 'stringValue', MEMBER_WIRE);
        break;
      case AnyValue.bool_value:
        expectWire(tag, VARINT, 'boolValue', MEMBER_WIRE);
        readVarint(d, end);
        value = d.lo !== 0 || d.hi !== 0;
        break;
      case AnyValue.int_value:
        expectWire(tag, VARINT, 'intValue', MEMBER_WIRE);
        value = readInt64Value(d, end);
        break;
      case AnyValue.double_value:
        expectWire(tag, I64, 'doubleValue', MEMBER_WIRE);
        value = readDouble(d, end);
        break;
      case AnyValue.array_value: {
        expectWire(tag, LEN, 'arrayValue', MEMBER_WIRE);
        const sub = readLengthEnd(d, end);
        // Only array_value makes arrays and only kvlist_value makes plain objects, so the kind is known.
        value = decodeArrayValue(d, sub, depth, Array.isArray(value) ? (value as AttributeValue[]) : []);
        break;
      }
      case AnyValue.kvlist_value: {
        expectWire(tag, LEN, 'kvlistValue', MEMBER_WIRE);
        const sub = readLengthEnd(d, end);
        value = decodeKeyValueList(d, sub, depth, isKeyValueList(value) ? value : undefined);
        break;
      }
      case AnyValue.bytes_value:
        expectWire(tag, LEN, 'bytesValue', MEMBER_WIRE);
        value = Buffer.from(readBytes(d, end)).toString('base64');
        break;
      default:
        skipField(d, tag, end);
    }
  }
  return value;
}

function isKeyValueList(value: AttributeValue): value is { readonly [key: string]: AttributeValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends the items to `values` (fresh, or the array of an earlier occurrence, merged). */
function decodeArrayValue(
  d: ProtoDecoder,
  end: number,
  depth: number,
  values: AttributeValue[],
): AttributeValue[] {
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag >>> 3 === ArrayValue.values) {
      values.push(readRepeatedMessage(d, tag, end, 'arrayValue.values', values.length, decodeItem, depth));
    } else skipField(d, tag, end);
  }
  return values;
}

function decodeItem(d: ProtoDecoder, end: number, depth: number): AttributeValue {
  return decodeAnyValue(d, end, depth + 1, null);
}

/** `previous`: the entries of an earlier occurrence, merged (the later of equal keys wins). */
function decodeKeyValueList(
  d: ProtoDecoder,
  end: number,
  depth: number,
  previous: { readonly [key: string]: AttributeValue } | undefined,
): AttributeValue {
  const keys: string[] = previous === undefined ? [] : Object.keys(previous);
  const values: AttributeValue[] = keys.map((key) => previous![key]!);
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag >>> 3 === KeyValueList.values) {
      readRepeatedMessage(d, tag, end, 'kvlistValue.values', keys.length, decodeKeyValue, depth);
      keys.push(d.key);
      values.push(d.value);
    } else skipField(d, tag, end);
  }
  return sortedObject(keys, values);
}
