import { decodeValue, encodeValue } from './canonical-attributes.ts';
import type { Attributes, AttributeValue } from './model.ts';

/**
 * The buffered series of one metric of one tenant, found by attribute set without building a key string.
 *
 * Attribute sets are grouped by shape (their attribute names, sorted); within a shape a trie of `Map`s
 * keyed by the attribute values, in name order, leads to the entry. `Map` compares keys by type and value,
 * so `1`, `"1"` and `true` stay apart, and each value is hashed once as it is (no escaping, no joined
 * text to hash and compare again). Arrays and objects, rare in attributes, stand as interned tokens of
 * their canonical encoding (`encodeValue`: nested keys sorted), so equal structures meet whatever their
 * key order. The result is the identity `encodeAttributes` defines (a property test holds the two equal),
 * at a fraction of the cost: the per-point `JSON.stringify`, sort and full-key hash were most of a merge.
 *
 * An optional `extra` text (the bucket bounds of an explicit histogram) is one more level below the
 * attributes, so series that differ only in it stay apart.
 */
export class SeriesTable<T> {
  private readonly shapes = new Map<string, Shape>();
  /** Arrays and objects by canonical encoding; kept as long as the table, which lives until hand-off. */
  private readonly tokens = new Map<string, ComplexValue>();
  // Points of one metric nearly always share their attribute names: remember the last shape seen.
  private lastKeys: readonly string[] = [];
  private lastSkipKey: string | undefined;
  private lastShape: Shape | undefined;
  private entries = 0;

  /** Whether every entry has an `extra` level (explicit histograms: the bucket bounds). */
  private readonly withExtra: boolean;

  constructor(withExtra = false) {
    this.withExtra = withExtra;
  }

  get size(): number {
    return this.entries;
  }

  /** The entry of `attributes` (without `skipKey`, undefined values ignored) and `extra`, if held. */
  get(attributes: Attributes, skipKey: string | undefined, extra?: string): T | undefined {
    const shape = this.shapeOf(attributes, skipKey);
    let found: unknown = shape.root;
    for (let i = 0; i < shape.depth && found !== undefined; i++)
      found = childOf(found as Level, this.keyAt(shape, attributes, i, extra));
    // An undefined value reads as a miss (it is never a key); only then is it worth looking for one.
    if (found === undefined && this.hasUndefinedValue(shape, attributes))
      return this.get(definedOnly(attributes), skipKey, extra);
    return found as T | undefined;
  }

  /** Adds the entry of a series not held yet (`get` returned `undefined`). */
  insert(attributes: Attributes, skipKey: string | undefined, extra: string | undefined, entry: T): void {
    const shape = this.shapeOf(attributes, skipKey);
    if (this.hasUndefinedValue(shape, attributes)) {
      this.insert(definedOnly(attributes), skipKey, extra, entry);
      return;
    }
    const keys = Array.from({ length: shape.depth }, (_, i) => this.keyAt(shape, attributes, i, extra));
    // Follow the path as far as it exists; `keys[i]` is then missing from `level`.
    let holder: Level = shape.root;
    let level: Level = shape.root;
    let i = 0;
    for (; i < keys.length - 1; i++) {
      const next = childOf(level, keys[i]);
      if (next === undefined) break;
      holder = level;
      level = next as Level;
    }
    let rest: unknown = entry;
    for (let j = keys.length - 1; j > i; j--) rest = new SingleKeyLevel(keys[j], rest);
    const grown = withChild(level, keys[i], rest);
    if (grown !== level) replaceChild(holder, keys[i - 1], grown);
    this.entries++;
  }

  /** Visits every entry with its canonical attribute set (sorted names, a fresh object per entry). */
  forEach(visit: (attributes: Attributes, entry: T) => void) {
    for (const shape of this.shapes.values()) {
      const path: unknown[] = new Array(shape.depth);
      const last = shape.depth - 1;
      // Depth-first without recursion: a shape has one level per attribute, and a point may carry thousands.
      const levels: Iterator<[unknown, unknown]>[] = [shape.root.entries()];
      while (levels.length > 0) {
        const depth = levels.length - 1;
        const next = levels[depth]!.next();
        if (next.done === true) {
          levels.pop();
          continue;
        }
        const [key, child] = next.value;
        path[depth] = key;
        if (depth === last) visit(attributesOf(shape, path), child as T);
        else levels.push(entriesOf(child as Level));
      }
    }
  }

  /**
   * The shape of `attributes` by its names. An undefined value does not make a series of its own: the
   * callers retry without it, so `{a: undefined, b: 1}` and `{b: 1}` are one series.
   */
  private shapeOf(attributes: Attributes, skipKey: string | undefined): Shape {
    const last = this.lastShape;
    if (last !== undefined && skipKey === this.lastSkipKey) {
      // for-in walks the same names as Object.keys, without allocating an array per point.
      const lastKeys = this.lastKeys;
      let i = 0;
      let same = true;
      for (const key in attributes) {
        if (key !== lastKeys[i++]) {
          same = false;
          break;
        }
      }
      if (same && i === lastKeys.length) return last;
    }
    return this.lookUpShape(Object.keys(attributes), skipKey);
  }

  private hasUndefinedValue(shape: Shape, attributes: Attributes): boolean {
    for (const name of shape.names) if (attributes[name] === undefined) return true;
    return false;
  }

  private lookUpShape(keys: string[], skipKey: string | undefined): Shape {
    const names = keys.filter((key) => key !== skipKey).sort();
    const id = JSON.stringify(names);
    let shape = this.shapes.get(id);
    if (shape === undefined) {
      shape = {
        names,
        depth: Math.max(1, names.length + (this.withExtra ? 1 : 0)),
        root: new Map(),
        protoSafe: !names.includes('__proto__'),
      };
      this.shapes.set(id, shape);
    }
    this.lastKeys = keys;
    this.lastSkipKey = skipKey;
    this.lastShape = shape;
    return shape;
  }

  /** The map key at trie level `index`: an attribute value, then `extra`; an empty set has one level. */
  private keyAt(shape: Shape, attributes: Attributes, index: number, extra: string | undefined): unknown {
    if (index < shape.names.length) return this.valueKey(attributes[shape.names[index]!]);
    return this.withExtra ? extra : EMPTY_SET;
  }

  private valueKey(value: AttributeValue | undefined): unknown {
    if (value === undefined) return UNDEFINED;
    if (typeof value === 'object' ? value !== null : typeof value === 'bigint')
      return this.tokenOf(encodeValue(value));
    return value === 0 ? 0 : value; // -0 is 0, as in a Map key and in the encoding
  }

  private tokenOf(encoded: string): ComplexValue {
    let token = this.tokens.get(encoded);
    if (token === undefined) {
      token = new ComplexValue(encoded);
      this.tokens.set(encoded, token);
    }
    return token;
  }
}

/**
 * A trie level holding a single key, until a second one arrives. A `Map` per level would cost a series
 * whose first value is unique (a user id sorting first) one `Map` per remaining attribute.
 */
class SingleKeyLevel {
  readonly key: unknown;
  next: unknown;

  constructor(key: unknown, next: unknown) {
    this.key = key;
    this.next = next;
  }
}

/** A trie level: attribute value → next level, or → entry at the last level. */
type Level = Map<unknown, unknown> | SingleKeyLevel;

function childOf(level: Level, key: unknown): unknown {
  if (!(level instanceof SingleKeyLevel)) return level.get(key);
  // Map's key equality: NaN meets NaN; -0 never gets here (`valueKey` turns it into 0).
  return Object.is(level.key, key) ? level.next : undefined;
}

/** `level` with `key → child` added: the same `Map`, or a new one replacing a single-key level. */
function withChild(level: Level, key: unknown, child: unknown): Level {
  if (!(level instanceof SingleKeyLevel)) return level.set(key, child);
  return new Map([
    [level.key, level.next],
    [key, child],
  ]);
}

function replaceChild(holder: Level, key: unknown, child: Level) {
  if (holder instanceof SingleKeyLevel) holder.next = child;
  else holder.set(key, child);
}

interface Shape {
  /** Attribute names in canonical (sorted) order, without the skipped key. */
  readonly names: readonly string[];
  /** Trie levels: one per name, plus the `extra` level; at least one. */
  readonly depth: number;
  readonly root: Map<unknown, unknown>;
  /** Whether plain assignment can build the attribute object (no own property named `__proto__`). */
  readonly protoSafe: boolean;
}

/** The key of the single entry of an empty attribute set. */
const EMPTY_SET = Symbol('empty attribute set');

/** What `keyAt` returns for an undefined value; never a map key. */
const UNDEFINED = Symbol('undefined attribute value');

/** An array or object attribute value, interned by its canonical encoding. */
class ComplexValue {
  readonly encoded: string;

  constructor(encoded: string) {
    this.encoded = encoded;
  }
}

function sameKeys(keys: readonly string[], last: readonly string[]): boolean {
  if (keys.length !== last.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== last[i]) return false;
  return true;
}

function definedOnly(attributes: Attributes): Attributes {
  const entries = Object.entries(attributes).filter(([, value]) => value !== undefined);
  return Object.fromEntries(entries);
}

function entriesOf(level: Level): Iterator<[unknown, unknown]> {
  if (level instanceof SingleKeyLevel) return [[level.key, level.next] as [unknown, unknown]].values();
  return level.entries();
}

function attributesOf(shape: Shape, path: readonly unknown[]): Attributes {
  const { names } = shape;
  if (!shape.protoSafe) return Object.fromEntries(names.map((name, i) => [name, attributeValue(path[i])]));
  const attributes: Record<string, AttributeValue> = {};
  for (let i = 0; i < names.length; i++) attributes[names[i]!] = attributeValue(path[i]);
  return attributes;
}

function attributeValue(key: unknown): AttributeValue {
  return key instanceof ComplexValue ? decodeValue(key.encoded) : (key as AttributeValue);
}
