/** Attributes in OTLP/JSON: `KeyValue` lists and `AnyValue` (common.proto), as the resource and points hold them. */
import type { Attributes, AttributeValue } from '@tallyhouse/model';
import { EMPTY_ATTRIBUTES, setAttribute, sortedObject } from '../attribute-building.ts';
import { DecodeFailure, MAX_ANY_VALUE_DEPTH, withSegment } from '../errors.ts';
import {
  arrayField,
  asObject,
  eachElement,
  get,
  type JsonObject,
  parseBase64,
  parseBool,
  parseDouble,
  parseIntValue,
  parseString,
  stringField,
  withPath,
} from './json-values.ts';

/**
 * The `attributes` field (repeated KeyValue) of a resource, scope or point; another KeyValue list field by its
 * JSON names (an exemplar's `filteredAttributes`).
 */
export function decodeAttributes(owner: JsonObject, camel = 'attributes', snake = camel): Attributes {
  const list = arrayField(owner, camel, snake);
  if (list.length === 0) return EMPTY_ATTRIBUTES;
  const out: Record<string, AttributeValue> = {};
  eachElement(list, camel, setKeyValue, out);
  return out;
}

function setKeyValue(kv: JsonObject, _index: number, target: Record<string, AttributeValue>): void {
  setAttribute(target, stringField(kv, 'key', 'key'), keyValueValue(kv, 0));
}

/** The value of a `KeyValue`; `depth` counts enclosing AnyValues. */
function keyValueValue(kv: JsonObject, depth: number): AttributeValue {
  const value = get(kv, 'value', 'value');
  if (value === undefined) return null;
  try {
    return decodeAnyValue(asObject(value), depth + 1);
  } catch (thrown) {
    throw withSegment(thrown, 'value');
  }
}

/** The `values` of an `arrayValue` or `kvlistValue` (`name`), reported under that name when not a list. */
function listValues(value: unknown, name: string): readonly unknown[] {
  return withPath(value, name, (list) => arrayField(asObject(list), 'values', 'values'));
}

/**
 * The scalar members of the AnyValue oneof (JSON names camel and snake), in the order they are looked for:
 * the first one present is the value, then `arrayValue`, then `kvlistValue`.
 */
const SCALAR_MEMBERS: readonly (readonly [string, string, (value: unknown) => AttributeValue])[] = [
  ['stringValue', 'string_value', parseString],
  ['boolValue', 'bool_value', parseBool],
  ['intValue', 'int_value', parseIntValue],
  ['doubleValue', 'double_value', parseDouble],
  ['bytesValue', 'bytes_value', parseBase64],
];

function decodeAnyValue(any: JsonObject, depth: number): AttributeValue {
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw new DecodeFailure('NESTING_TOO_DEEP', `AnyValue nests deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  }
  for (const [camel, snake, parse] of SCALAR_MEMBERS) {
    const v = get(any, camel, snake);
    if (v !== undefined) return withPath(v, camel, parse);
  }
  let v = get(any, 'arrayValue', 'array_value');
  v = get(any, 'arrayValue', 'array_value');
  if (v !== undefined) {
    const list = listValues(v, 'arrayValue');
    const items: AttributeValue[] = new Array(list.length);
    eachElement(list, 'arrayValue.values', (item, i) => {
      items[i] = decodeAnyValue(item, depth + 1);
    });
    return items;
  }
  v = get(any, 'kvlistValue', 'kvlist_value');
  if (v !== undefined) {
    const list = listValues(v, 'kvlistValue');
    const keys: string[] = new Array(list.length);
    const values: AttributeValue[] = new Array(list.length);
    eachElement(list, 'kvlistValue.values', (kv, i) => {
      keys[i] = stringField(kv, 'key', 'key');
      values[i] = keyValueValue(kv, depth);
    });
    return sortedObject(keys, values);
  }
  return null;
}
