/**
 * Corruptions of valid encodings, structure-aware where the structure helps (a length prefix that lies, a
 * known field with the wrong wire type, invalid UTF-8 inside a string field, nesting far past the limit) and
 * byte-level where it does not (bit flips, truncation, random bytes).
 */

import { type JNode, stringify } from './encode-json.ts';
import { serialize, type WireField } from './encode-protobuf.ts';
import type { Rng } from './rng.ts';

export const PROTOBUF_CORRUPTIONS = [
  'bit-flip',
  'truncate',
  'length-lie',
  'oversized-length',
  'wrong-wire-type',
  'invalid-utf8',
  'deep-nesting',
  'deep-groups',
  'garbage-field',
  'packed-misaligned',
  'overlong-varint',
  'duplicate-subtree',
  'splice',
  'random-bytes',
] as const;

export const JSON_CORRUPTIONS = [
  'bit-flip',
  'truncate',
  'invalid-utf8',
  'lone-surrogate',
  'deep-nesting',
  'deep-any-value',
  'type-confusion',
  'huge-number',
  'duplicate-key',
  'bom',
  'trailing-garbage',
  'not-an-object',
  'random-bytes',
] as const;

export type ProtobufCorruption = (typeof PROTOBUF_CORRUPTIONS)[number];
export type JsonCorruption = (typeof JSON_CORRUPTIONS)[number];

const INVALID_UTF8: readonly number[][] = [
  [0x80],
  [0xc0, 0x80], // over-long NUL
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate
  [0xff],
  [0xe2, 0x82], // truncated sequence
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
];

// ---- protobuf ----

/** Every field in the tree with the list holding it (depth first). */
function allFields(fields: WireField[], out: { list: WireField[]; index: number }[] = []) {
  fields.forEach((f, index) => {
    out.push({ list: fields, index });
    if (f.kind === 'message' || f.kind === 'group') allFields(f.fields, out);
  });
  return out;
}

function lists(fields: WireField[], out: WireField[][] = [fields]): WireField[][] {
  for (const f of fields) {
    if (f.kind === 'message' || f.kind === 'group') {
      out.push(f.fields);
      lists(f.fields, out);
    }
  }
  return out;
}

function varintRaw(value: bigint): number[] {
  let v = value;
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function flipBits(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (out.length === 0) return out;
  for (let i = rng.int(1, 8); i > 0; i--) out[rng.int(0, out.length - 1)]! ^= 1 << rng.int(0, 7);
  return out;
}

function truncate(rng: Rng, bytes: Uint8Array): Uint8Array {
  return bytes.subarray(0, rng.int(0, Math.max(0, bytes.length - 1)));
}

function splice(rng: Rng, bytes: Uint8Array): Uint8Array {
  const at = rng.int(0, bytes.length);
  const cut = rng.int(0, Math.min(16, bytes.length - at));
  const insert = rng.bytes(rng.int(0, 16));
  const out = new Uint8Array(bytes.length - cut + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + cut), at + insert.length);
  return out;
}

/** An `AnyValue` array chain `levels` deep: sizes computed inside out, bytes written outside in (linear). */
function deepAnyValue(levels: number): Uint8Array {
  // AnyValue{ array_value(5): ArrayValue{ values(1): AnyValue{ ... AnyValue{ string_value(1): "x" } } } }
  const leaf = [0x0a, 0x01, 0x78];
  const anyLengths: number[] = [leaf.length];
  const arrayLengths: number[] = [0];
  for (let i = 1; i <= levels; i++) {
    const inner = anyLengths[i - 1]!;
    const array = 1 + varintRaw(BigInt(inner)).length + inner;
    arrayLengths.push(array);
    anyLengths.push(1 + varintRaw(BigInt(array)).length + array);
  }
  const out: number[] = [];
  for (let i = levels; i >= 1; i--) {
    out.push(0x2a, ...varintRaw(BigInt(arrayLengths[i]!)));
    out.push(0x0a, ...varintRaw(BigInt(anyLengths[i - 1]!)));
  }
  out.push(...leaf);
  // The outermost AnyValue's own fields: the KeyValue's value field carries them.
  return Uint8Array.from(out);
}

function deepGroups(levels: number): Uint8Array {
  const start = [0x9b, 0x06]; // field 99, wire 3
  const end = [0x9c, 0x06]; // field 99, wire 4
  const out = new Uint8Array(levels * 4);
  for (let i = 0; i < levels; i++) out.set(start, i * 2);
  for (let i = 0; i < levels; i++) out.set(end, levels * 2 + i * 2);
  return out;
}

/** Applies one corruption to a valid protobuf encoding; returns the corrupted body. */
export function corruptProtobuf(rng: Rng, fields: WireField[], kind: ProtobufCorruption): Uint8Array {
  const entries = allFields(fields);
  const pick = <T>(items: T[]): T | undefined => (items.length === 0 ? undefined : rng.pick(items));
  switch (kind) {
    case 'bit-flip':
      return flipBits(rng, serialize(fields));
    case 'truncate':
      return truncate(rng, serialize(fields));
    case 'splice':
      return splice(rng, serialize(fields));
    case 'random-bytes':
      return rng.bytes(
        rng.weighted([
          [20, 0],
          [60, rng.int(1, 64)],
          [20, rng.int(65, 4096)],
        ]),
      );
    case 'length-lie': {
      const target = pick(entries.filter((e) => ['len', 'message'].includes(e.list[e.index]!.kind)));
      if (target === undefined) return Uint8Array.from([0x0a, 0x05, 0x0a]);
      const f = target.list[target.index] as Extract<WireField, { kind: 'len' | 'message' }>;
      const actual = f.kind === 'len' ? f.bytes.length : serialize(f.fields).length;
      const lie = BigInt(Math.max(0, actual + rng.pick([-3, -2, -1, 1, 2, 3, 100])));
      target.list[target.index] = { ...f, length: lie };
      return serialize(fields);
    }
    case 'oversized-length': {
      const list = rng.pick(lists(fields));
      const claim = rng.pick([
        2n ** 31n - 1n,
        2n ** 32n,
        2n ** 32n + 5n,
        2n ** 53n,
        2n ** 63n,
        2n ** 64n - 1n,
      ]);
      list.push({
        no: rng.pick([1, 2, 3, 7]),
        kind: 'len',
        bytes: Uint8Array.from([1, 2, 3]),
        length: claim,
      });
      return serialize(fields);
    }
    case 'wrong-wire-type': {
      const target = pick(
        entries.filter((e) => e.list[e.index]!.kind !== 'group' && e.list[e.index]!.kind !== 'raw'),
      );
      if (target === undefined) return Uint8Array.from([0x09]);
      const f = target.list[target.index] as Exclude<WireField, { kind: 'group' | 'raw' }>;
      const own = { varint: 0, i64: 1, len: 2, message: 2, i32: 5 }[f.kind];
      const wire = rng.pick([0, 1, 2, 3, 4, 5, 6, 7].filter((w) => w !== own));
      target.list[target.index] = { ...f, wire } as WireField;
      return serialize(fields);
    }
    case 'invalid-utf8': {
      const target = pick(entries.filter((e) => (e.list[e.index] as { text?: boolean }).text === true));
      const bad = Uint8Array.from(rng.pick(INVALID_UTF8));
      if (target === undefined)
        return Uint8Array.from([0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x02, ...bad.subarray(0, 2)]);
      const f = target.list[target.index] as Extract<WireField, { kind: 'len' }>;
      const at = rng.int(0, f.bytes.length);
      const bytes = new Uint8Array(f.bytes.length + bad.length);
      bytes.set(f.bytes.subarray(0, at), 0);
      bytes.set(bad, at);
      bytes.set(f.bytes.subarray(at), at + bad.length);
      target.list[target.index] = { ...f, bytes };
      return serialize(fields);
    }
    case 'deep-nesting': {
      // A resource attribute whose value nests far past the 64 levels the decoders allow:
      // ResourceMetrics(1) → Resource(1) → attributes(1) = KeyValue{ key, value }.
      const levels = rng.pick([65, 66, 100, 1000, 100_000]);
      const keyValue: WireField = { no: 1, kind: 'len', bytes: deepKeyValue(levels) };
      const resource: WireField = { no: 1, kind: 'message', singular: true, fields: [keyValue] };
      fields.splice(rng.int(0, fields.length), 0, {
        no: 1,
        kind: 'message',
        singular: false,
        fields: [resource],
      });
      return serialize(fields);
    }
    case 'deep-groups': {
      const list = rng.pick(lists(fields));
      list.splice(rng.int(0, list.length), 0, {
        no: 0,
        kind: 'raw',
        bytes: deepGroups(rng.pick([65, 1000, 100_000])),
      });
      return serialize(fields);
    }
    case 'garbage-field': {
      const list = rng.pick(lists(fields));
      const garbage = rng.pick([
        [0x00, 0x01], // field number 0
        [0x02, 0x00],
        [0x0e, 0x01], // wire type 6
        [0x0f], // wire type 7
        [0x0c], // stray end-group
        [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11-byte varint
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // tag varint past 32 bits
      ]);
      list.splice(rng.int(0, list.length), 0, { no: 0, kind: 'raw', bytes: Uint8Array.from(garbage) });
      return serialize(fields);
    }
    case 'packed-misaligned': {
      // A histogram's packed bucket_counts (fixed64) whose length is not a multiple of 8.
      const hist = entries.find((e) => e.list[e.index]!.kind === 'message' && e.list[e.index]!.no === 9);
      const list = hist === undefined ? fields : (hist.list[hist.index] as { fields: WireField[] }).fields;
      const point = list.find((f) => f.kind === 'message' && f.no === 1) as
        | { fields: WireField[] }
        | undefined;
      (point?.fields ?? list).push({ no: 6, kind: 'len', bytes: rng.bytes(rng.pick([1, 7, 9, 15])) });
      return serialize(fields);
    }
    case 'overlong-varint': {
      // A varint of 11 bytes is malformed (10 is the limit).
      const target = pick(entries.filter((e) => e.list[e.index]!.kind === 'varint'));
      if (target === undefined)
        return Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
      const f = target.list[target.index] as Extract<WireField, { kind: 'varint' }>;
      const tagBytes = varintRaw((BigInt(f.no) << 3n) | 0n);
      target.list[target.index] = {
        no: 0,
        kind: 'raw',
        bytes: Uint8Array.from([...tagBytes, ...Array(10).fill(0x80), 0x00]),
      };
      return serialize(fields);
    }
    case 'duplicate-subtree': {
      const target = pick(entries.filter((e) => e.list[e.index]!.kind === 'message'));
      if (target !== undefined)
        target.list.splice(target.index, 0, structuredClone(target.list[target.index]!));
      return serialize(fields);
    }
  }
}

/** KeyValue fields (key + value) whose value nests `levels` deep. */
function deepKeyValue(levels: number): Uint8Array {
  const value = deepAnyValue(levels);
  const key = [0x0a, 0x04, 0x64, 0x65, 0x65, 0x70]; // key: "deep"
  const head = [0x12, ...varintRaw(BigInt(value.length))];
  const out = new Uint8Array(key.length + head.length + value.length);
  out.set(key, 0);
  out.set(head, key.length);
  out.set(value, key.length + head.length);
  return out;
}

// ---- JSON ----

function jsonNodes(
  node: JNode,
  out: { parent: JNode[] | [string, JNode][]; index: number; node: JNode }[] = [],
) {
  if (node.t === 'obj') {
    node.entries.forEach((entry, index) => {
      out.push({ parent: node.entries, index, node: entry[1] });
      jsonNodes(entry[1], out);
    });
  } else if (node.t === 'arr') {
    node.items.forEach((item, index) => {
      out.push({ parent: node.items, index, node: item });
      jsonNodes(item, out);
    });
  }
  return out;
}

function replaceNode(target: { parent: JNode[] | [string, JNode][]; index: number }, node: JNode): void {
  const entry = target.parent[target.index]!;
  if (Array.isArray(entry)) (target.parent as [string, JNode][])[target.index] = [entry[0], node];
  else (target.parent as JNode[])[target.index] = node;
}

function randomJson(rng: Rng): JNode {
  return rng.pick<JNode>([
    { t: 'num', text: '42' },
    { t: 'num', text: '-1' },
    { t: 'num', text: '1.5' },
    { t: 'str', value: 'abc' },
    { t: 'str', value: '' },
    { t: 'lit', text: 'true' },
    { t: 'lit', text: 'null' },
    { t: 'arr', items: [] },
    { t: 'obj', entries: [] },
    { t: 'arr', items: [{ t: 'num', text: '1' }] },
  ]);
}

/** Applies one corruption to a valid JSON encoding (tree and its text); returns the corrupted body. */
export function corruptJson(rng: Rng, tree: JNode, text: string, kind: JsonCorruption): Uint8Array {
  const bytes = Buffer.from(text, 'utf8');
  const nodes = jsonNodes(tree);
  switch (kind) {
    case 'bit-flip':
      return flipBits(rng, bytes);
    case 'truncate':
      return truncate(rng, bytes);
    case 'random-bytes':
      return rng.bytes(rng.int(0, 512));
    case 'invalid-utf8': {
      const quoteAt: number[] = [];
      bytes.forEach((b, i) => {
        if (b === 0x22) quoteAt.push(i);
      });
      const at = quoteAt.length === 0 ? 0 : rng.pick(quoteAt) + 1;
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(rng.pick(INVALID_UTF8)), bytes.subarray(at)]);
    }
    case 'lone-surrogate': {
      // Valid JSON (escapes are ASCII), but not valid Unicode text.
      const strings = nodes.filter((n) => n.node.t === 'str');
      const surrogate = rng.pick(['\\ud800', '\\udfff', '\\udbff\\u0041']);
      if (strings.length === 0) return Buffer.from(`{"resourceMetrics":[],"x":"${surrogate}"}`);
      const target = rng.pick(strings);
      const value = (target.node as { value: string }).value;
      replaceNode(target, { t: 'raw', text: `${JSON.stringify(value).slice(0, -1)}${surrogate}"` });
      return Buffer.from(stringify(tree));
    }
    case 'deep-nesting': {
      const levels = rng.pick([1000, 10_000, 100_000, 1_000_000]);
      const deep = `${'['.repeat(levels)}${']'.repeat(levels)}`;
      if (tree.t === 'obj') tree.entries.push(['fuzzDeep', { t: 'raw', text: deep }]);
      return Buffer.from(stringify(tree));
    }
    case 'deep-any-value': {
      const levels = rng.pick([65, 66, 200, 5000]);
      let value = '{"stringValue":"x"}';
      for (let i = 1; i < levels; i++) value = `{"arrayValue":{"values":[${value}]}}`;
      const attributes = nodes.filter(
        (n) =>
          n.node.t === 'arr' &&
          Array.isArray(n.parent[n.index]) &&
          (n.parent[n.index] as [string, JNode])[0] === 'attributes',
      );
      const kv: JNode = { t: 'raw', text: `{"key":"deep","value":${value}}` };
      if (attributes.length > 0) (rng.pick(attributes).node as { items: JNode[] }).items.push(kv);
      else
        return Buffer.from(
          `{"resourceMetrics":[{"resource":{"attributes":[${(kv as { text: string }).text}]}}]}`,
        );
      return Buffer.from(stringify(tree));
    }
    case 'type-confusion': {
      if (nodes.length === 0) return Buffer.from('{"resourceMetrics":{}}');
      replaceNode(rng.pick(nodes), randomJson(rng));
      return Buffer.from(stringify(tree));
    }
    case 'huge-number': {
      const numbers = nodes.filter((n) => n.node.t === 'num' || n.node.t === 'str');
      const huge = rng.pick<JNode>([
        { t: 'num', text: '1e400' },
        { t: 'num', text: '-1e400' },
        { t: 'num', text: '123456789012345678901234567890' },
        { t: 'str', value: '18446744073709551616' },
        { t: 'str', value: '-9223372036854775809' },
        { t: 'num', text: '-1' },
        { t: 'num', text: '0.5' },
        { t: 'num', text: '4294967296' },
        { t: 'str', value: ' 1' },
        { t: 'str', value: '0x10' },
      ]);
      if (numbers.length === 0) return Buffer.from('{"resourceMetrics":1e400}');
      replaceNode(rng.pick(numbers), huge);
      return Buffer.from(stringify(tree));
    }
    case 'duplicate-key': {
      const objects = nodes.filter((n) => n.node.t === 'obj' && n.node.entries.length > 0);
      if (objects.length === 0) return Buffer.from('{"resourceMetrics":[],"resourceMetrics":{}}');
      const target = rng.pick(objects).node as { entries: [string, JNode][] };
      const [key] = rng.pick(target.entries);
      target.entries.push([key, randomJson(rng)]);
      return Buffer.from(stringify(tree));
    }
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    case 'trailing-garbage':
      return Buffer.concat([bytes, Buffer.from(rng.pick(['x', '}', ',{}', '\u0000', ' // comment']))]);
    case 'not-an-object':
      return Buffer.from(rng.pick(['[]', '"resourceMetrics"', '42', 'null', 'true', `[${text}]`, '']));
  }
}
