import type { Attributes, AttributeValue } from '@tallyhouse/model';
import {
  decodeAttributes,
  decodeValue,
  encodeAttributes,
  encodeAttributesWith,
  encodeValue,
} from '@tallyhouse/model';

/**
 * The buffered series of one metric of one tenant, found by attribute set without building a key string.
 *
 * Attribute sets are grouped by shape (their attribute names, sorted); within a shape a trie of `Map`s
 * keyed by the attribute values, one level per name (ordered as `Shape` explains), leads to the entry. `Map` compares keys by type and value,
 * so `1`, `"1"` and `true` stay apart, and each value is hashed once as it is (no escaping, no joined
 * text to hash and compare again). Arrays and objects, rare in attributes, stand as interned tokens of
 * their canonical encoding (`encodeValue`: nested keys sorted), so equal structures meet whatever their
 * key order. The result is the identity `encodeAttributes` defines (a property test holds the two equal),
 * at a fraction of the cost: the per-point `JSON.stringify`, sort and full-key hash were most of a merge.
 *
 * An optional `extra` text (the bucket bounds of an explicit histogram) is one more level below the
 * attributes, so series that differ only in it stay apart.
 *
 * Each shape costs a few hundred bytes of its own. Beyond `MAX_SHAPES` (input that puts ids into attribute
 * names, say), series of further shapes are kept by their identity text in one plain `Map`, the slower way
 * this table replaces, so memory per series stays what it was without it.
 */
export class SeriesTable<T> {
  private readonly shapes = new Map<string, Shape>();
  /** Series of shapes beyond `MAX_SHAPES`, by identity text (`encodeAttributes`, with `extra`). */
  private readonly untracked = new Map<string, T>();
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
    if (shape === undefined) {
      if (!allDefined(attributes)) return this.get(definedOnly(attributes), skipKey, extra);
      return this.untracked.get(textKey(attributes, skipKey, extra));
    }
    let found: unknown = shape.root;
    for (let i = 0; i < shape.depth && found !== undefined; i++)
      found = childOf(found as Level, this.keyAt(shape, attributes, i, extra));
    // An undefined value reads as a miss (it is never a key); only then is it worth looking for one.
    if (found === undefined && hasUndefinedValue(shape, attributes))
      return this.get(definedOnly(attributes), skipKey, extra);
    return found as T | undefined;
  }

  /** Adds the entry of a series not held yet (`get` returned `undefined`). */
  insert(attributes: Attributes, skipKey: string | undefined, extra: string | undefined, entry: T): void {
    const shape = this.shapeOf(attributes, skipKey);
    if (shape === undefined ? !allDefined(attributes) : hasUndefinedValue(shape, attributes)) {
      this.insert(definedOnly(attributes), skipKey, extra, entry);
      return;
    }
    this.entries++;
    if (shape === undefined) {
      this.untracked.set(textKey(attributes, skipKey, extra), entry);
      return;
    }
    const keys: unknown[] = [];
    for (let i = 0; i < shape.depth; i++) keys.push(this.keyAt(shape, attributes, i, extra));
    insertPath(shape.root, keys, entry);
    shape.entries++;
    // Checked at powers of two, so the checks cost O(1) amortised per insert.
    if ((shape.entries & (shape.entries - 1)) === 0) shape.reorderLevels();
  }

  /** Visits every entry with its canonical attribute set (sorted names, a fresh object per entry). */
  forEach(visit: (attributes: Attributes, entry: T) => void) {
    for (const shape of this.shapes.values())
      walkPaths(shape.root, shape.depth, (path, entry) => visit(shape.attributesOf(path), entry as T));
    for (const [key, entry] of this.untracked) visit(decodeAttributes(key), entry);
  }

  /**
   * The shape of `attributes` by its names. An undefined value does not make a series of its own: the
   * callers retry without it, so `{a: undefined, b: 1}` and `{b: 1}` are one series.
   */
  private shapeOf(attributes: Attributes, skipKey: string | undefined): Shape | undefined {
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

  /** The shape of these names; `undefined` when it is new and the table holds `MAX_SHAPES` already. */
  private lookUpShape(keys: string[], skipKey: string | undefined): Shape | undefined {
    const names = keys.filter((key) => key !== skipKey).sort();
    const id = JSON.stringify(names);
    let shape = this.shapes.get(id);
    if (shape === undefined) {
      if (this.shapes.size >= MAX_SHAPES) return undefined;
      shape = new Shape(names, this.withExtra);
      this.shapes.set(id, shape);
    }
    this.lastKeys = keys;
    this.lastSkipKey = skipKey;
    this.lastShape = shape;
    return shape;
  }

  /** The map key at trie level `index`: an attribute value, then `extra`; an empty set has one level. */
  private keyAt(shape: Shape, attributes: Attributes, index: number, extra: string | undefined): unknown {
    if (index < shape.levelNames.length) return this.valueKey(attributes[shape.levelNames[index]!]);
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

/** Shapes per table with a trie of their own; typical metrics have a handful (optional attributes). */
const MAX_SHAPES = 64;

/** Below this many series a shape keeps its level order: reordering would not pay for itself. */
const REORDER_MIN_ENTRIES = 64;
/** Beyond this many the order is settled; a later reorder would stall one consume call for a long walk. */
const REORDER_MAX_ENTRIES = 1 << 16;
/** Wider shapes keep name order: counting distinct values per level would cost more than it saves. */
const REORDER_MAX_NAMES = 32;

/**
 * The attribute sets of one set of names, as a trie with one level per name (plus the `extra` level).
 *
 * A trie shares memory along common prefixes, so the order of its levels decides its size: an account id
 * sorting first would leave nothing shared below it. Levels start in name order; as the shape grows (at
 * 64, 128, 256… up to 65,536 series) they are reordered by ascending number of distinct values,
 * low-cardinality names on top, and the trie is rebuilt when that order changes. Identity does not depend
 * on the order.
 */
class Shape {
  /** Attribute names in canonical (sorted) order, without the skipped key. */
  readonly names: readonly string[];
  /** The name read at each attribute level: a permutation of `names`. */
  levelNames: readonly string[];
  /** The level of each name (index in `names`): the inverse permutation. */
  private nameLevels: readonly number[];
  /** Trie levels: one per name, plus the `extra` level; at least one. */
  readonly depth: number;
  root: Map<unknown, unknown> = new Map();
  entries = 0;
  /** Whether plain assignment can build the attribute object (no own property named `__proto__`). */
  private readonly protoSafe: boolean;

  constructor(names: readonly string[], withExtra: boolean) {
    this.names = names;
    this.levelNames = names;
    this.nameLevels = names.map((_, i) => i);
    this.depth = Math.max(1, names.length + (withExtra ? 1 : 0));
    this.protoSafe = !names.includes('__proto__');
  }

  /** Puts the attribute levels in ascending order of distinct values, rebuilding the trie if that moves any. */
  reorderLevels() {
    const attributeLevels = this.names.length;
    if (this.entries < REORDER_MIN_ENTRIES || this.entries > REORDER_MAX_ENTRIES) return;
    if (attributeLevels < 2 || attributeLevels > REORDER_MAX_NAMES) return;
    const distinct = this.levelNames.map(() => new Set<unknown>());
    walkPaths(this.root, this.depth, (path) => {
      for (let level = 0; level < attributeLevels; level++) distinct[level]!.add(path[level]);
    });
    // Ties keep their current order, so equal counts never cause a rebuild.
    const order = distinct
      .map((_, level) => level)
      .sort((a, b) => distinct[a]!.size - distinct[b]!.size || a - b);
    if (order.every((level, i) => level === i)) return;
    const rebuilt = new Map<unknown, unknown>();
    walkPaths(this.root, this.depth, (path, entry) => {
      const keys = [...path];
      for (let i = 0; i < attributeLevels; i++) keys[i] = path[order[i]!];
      insertPath(rebuilt, keys, entry);
    });
    this.root = rebuilt;
    this.levelNames = order.map((level) => this.levelNames[level]!);
    this.nameLevels = this.names.map((name) => this.levelNames.indexOf(name));
  }

  /** The canonical attribute set of a trie path: names in sorted order, values from their levels. */
  attributesOf(path: readonly unknown[]): Attributes {
    const { names, nameLevels } = this;
    if (!this.protoSafe)
      return Object.fromEntries(names.map((name, i) => [name, attributeValue(path[nameLevels[i]!])]));
    const attributes: Record<string, AttributeValue> = {};
    for (let i = 0; i < names.length; i++) attributes[names[i]!] = attributeValue(path[nameLevels[i]!]);
    return attributes;
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

function definedOnly(attributes: Attributes): Attributes {
  const entries = Object.entries(attributes).filter(([, value]) => value !== undefined);
  return Object.fromEntries(entries);
}

function allDefined(attributes: Attributes): boolean {
  return !Object.values(attributes).includes(undefined as unknown as AttributeValue);
}

/** The identity text of an untracked series: the attribute encoding, with `extra` when the table has it. */
function textKey(attributes: Attributes, skipKey: string | undefined, extra: string | undefined): string {
  return extra === undefined
    ? encodeAttributes(attributes, skipKey)
    : encodeAttributesWith(attributes, skipKey, extra);
}

function hasUndefinedValue(shape: Shape, attributes: Attributes): boolean {
  for (const name of shape.names) if (attributes[name] === undefined) return true;
  return false;
}

/** Adds `keys → entry` below `root`, where the full path is not present yet. */
function insertPath(root: Map<unknown, unknown>, keys: readonly unknown[], entry: unknown) {
  // Follow the path as far as it exists; `keys[i]` is then missing from `level`.
  let holder: Level = root;
  let level: Level = root;
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
}

/** Visits every entry below `root` with its path of keys (one array, rewritten between visits). */
function walkPaths(root: Level, depth: number, visit: (path: readonly unknown[], entry: unknown) => void) {
  const path: unknown[] = new Array(depth);
  // Depth-first without recursion: a shape has one level per attribute, and a point may carry thousands.
  const levels: Iterator<[unknown, unknown]>[] = [entriesOf(root)];
  while (levels.length > 0) {
    const level = levels.length - 1;
    const next = levels[level]!.next();
    if (next.done === true) {
      levels.pop();
      continue;
    }
    const [key, child] = next.value;
    path[level] = key;
    if (level === depth - 1) visit(path, child);
    else levels.push(entriesOf(child as Level));
  }
}

function entriesOf(level: Level): Iterator<[unknown, unknown]> {
  if (level instanceof SingleKeyLevel) return [[level.key, level.next] as [unknown, unknown]].values();
  return level.entries();
}

function attributeValue(key: unknown): AttributeValue {
  return key instanceof ComplexValue ? decodeValue(key.encoded) : (key as AttributeValue);
}
