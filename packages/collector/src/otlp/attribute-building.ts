/**
 * Building `Attributes` objects from decoded key/value pairs, shared by both decoders.
 *
 * Plain objects are used (what the rest of the pipeline expects); the key `__proto__` is defined as an own
 * property instead of assigned, so a payload can never change an object's prototype.
 * Duplicate keys: the last one wins (OTLP leaves duplicates unspecified).
 */
import type { Attributes, AttributeValue } from '@tallyhouse/model';

/** Shared by every point and resource without attributes (frozen). */
export const EMPTY_ATTRIBUTES: Attributes = Object.freeze({});

export function setAttribute(
  target: Record<string, AttributeValue>,
  key: string,
  value: AttributeValue,
): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else target[key] = value;
}

/** An object with keys in sorted (UTF-16 code unit) order, as canonical `kvlistValue`s are. */
export function sortedObject(
  keys: readonly string[],
  values: readonly AttributeValue[],
): { [key: string]: AttributeValue } {
  const out: Record<string, AttributeValue> = {};
  const n = keys.length;
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if (keys[i - 1]! > keys[i]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) {
    for (let i = 0; i < n; i++) setAttribute(out, keys[i]!, values[i]!);
    return out;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  // Stable sort: among duplicate keys the later one is set last and wins.
  order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
  for (const i of order) setAttribute(out, keys[i]!, values[i]!);
  return out;
}
