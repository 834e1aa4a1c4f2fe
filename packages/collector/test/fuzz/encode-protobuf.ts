/**
 * Model → protobuf, through a tree of wire fields so that meaning-preserving re-encodings (field order, a
 * singular message split into two occurrences, unknown fields, packed or not, over-long varints, explicit
 * defaults) and structure-aware corruptions (corrupt.ts) work on fields rather than on bytes.
 */

import { randomExemplars } from './exemplars.ts';
import type {
  AnyValue,
  Buckets,
  ExponentialPoint,
  HistogramPoint,
  KeyValue,
  Metric,
  NumberPoint,
  PointCommon,
  Request,
  SummaryPoint,
} from './model.ts';
import type { Rng } from './rng.ts';

export type WireField =
  | { no: number; kind: 'varint'; value: bigint; wire?: number }
  | { no: number; kind: 'i64'; bytes: Uint8Array; wire?: number }
  | { no: number; kind: 'i32'; bytes: Uint8Array; wire?: number }
  | { no: number; kind: 'len'; bytes: Uint8Array; text?: boolean; wire?: number; length?: bigint }
  | { no: number; kind: 'message'; fields: WireField[]; singular: boolean; wire?: number; length?: bigint }
  | { no: number; kind: 'group'; fields: WireField[] }
  /** Bytes written as they are, with no tag (corruptions). */
  | { no: 0; kind: 'raw'; bytes: Uint8Array };

export interface ProtobufVariant {
  /** Probability, per message, of its fields being reordered (repeated fields keep their relative order). */
  readonly reorder: number;
  /** Probability, per singular message field, of being split into two occurrences (protobuf merges them). */
  readonly split: number;
  /** Never split a Metric's data field (sum, gauge, …): a bug already reported, to look past it. */
  readonly keepMetricData?: boolean;
  /** Probability, per message, of carrying unknown fields. */
  readonly unknown: number;
  /** Repeated scalars: packed, one field per element, or packed chunks mixed with single elements. */
  readonly packing: 'packed' | 'unpacked' | 'mixed';
  /** Probability of writing a default scalar (0, '', false) instead of leaving it out. */
  readonly explicitDefaults: number;
  /** Probability, per varint value, of a longer-than-needed (but ≤ 10 byte) encoding. */
  readonly overlongVarints: number;
  /** Write `is_monotonic` true as a varint other than 1 (any non-zero is true). */
  readonly wideBools: boolean;
}

export const PLAIN_PROTOBUF: ProtobufVariant = {
  reorder: 0,
  split: 0,
  unknown: 0,
  packing: 'packed',
  explicitDefaults: 0,
  overlongVarints: 0,
  wideBools: false,
};

export function randomProtobufVariant(rng: Rng): ProtobufVariant {
  if (rng.bool(0.25)) return PLAIN_PROTOBUF;
  return {
    reorder: rng.pick([0, 0.3, 1]),
    split: rng.pick([0, 0.1, 0.5]),
    unknown: rng.pick([0, 0.2, 0.8]),
    packing: rng.pick(['packed', 'unpacked', 'mixed'] as const),
    explicitDefaults: rng.pick([0, 0.5, 1]),
    overlongVarints: rng.pick([0, 0, 0.2]),
    wideBools: rng.bool(0.2),
  };
}

export function describeProtobufVariant(v: ProtobufVariant): string {
  const parts: string[] = [];
  if (v.reorder > 0) parts.push(`reorder ${v.reorder}`);
  if (v.split > 0) parts.push(`split ${v.split}`);
  if (v.unknown > 0) parts.push(`unknown ${v.unknown}`);
  if (v.packing !== 'packed') parts.push(v.packing);
  if (v.explicitDefaults > 0) parts.push(`defaults ${v.explicitDefaults}`);
  if (v.overlongVarints > 0) parts.push(`overlong ${v.overlongVarints}`);
  if (v.wideBools) parts.push('wide bools');
  return parts.length === 0 ? 'plain' : parts.join(', ');
}

// ---- field builders ----

const enc = new TextEncoder();

function fixed64(no: number, value: bigint): WireField {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
  return { no, kind: 'i64', bytes };
}

function double(no: number, value: number): WireField {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return { no, kind: 'i64', bytes };
}

function varint(no: number, value: bigint | number): WireField {
  return { no, kind: 'varint', value: BigInt.asUintN(64, BigInt(value)) };
}

function sint32(no: number, value: number): WireField {
  return varint(no, ((value << 1) ^ (value >> 31)) >>> 0);
}

function string(no: number, value: string): WireField {
  return { no, kind: 'len', bytes: enc.encode(value), text: true };
}

function message(no: number, fields: WireField[], singular: boolean): WireField {
  return { no, kind: 'message', fields, singular };
}

/** Builds fields from the model; `rng` decides the choices the variant leaves open. */
class Builder {
  readonly rng: Rng;
  readonly variant: ProtobufVariant;

  constructor(rng: Rng, variant: ProtobufVariant) {
    this.rng = rng;
    this.variant = variant;
  }

  /** A proto3 scalar: left out when default, unless the variant writes defaults. */
  scalar(isDefault: boolean, field: () => WireField): WireField[] {
    if (isDefault && !this.rng.bool(this.variant.explicitDefaults)) return [];
    return [field()];
  }

  text(no: number, value: string): WireField[] {
    return this.scalar(value === '', () => string(no, value));
  }

  repeatedFixed(no: number, items: readonly WireField[], width: 8): WireField[] {
    if (items.length === 0)
      return this.rng.bool(this.variant.explicitDefaults * 0.2)
        ? [{ no, kind: 'len', bytes: new Uint8Array(0) }]
        : [];
    const packed = (chunk: readonly WireField[]): WireField => {
      const bytes = new Uint8Array(chunk.length * width);
      chunk.forEach((f, i) => {
        bytes.set((f as { bytes: Uint8Array }).bytes, i * width);
      });
      return { no, kind: 'len', bytes };
    };
    return this.repeated(no, items, packed);
  }

  repeatedVarint(no: number, values: readonly bigint[]): WireField[] {
    const items = values.map((v) => varint(no, v));
    if (items.length === 0) return [];
    const packed = (chunk: readonly WireField[]): WireField => ({
      no,
      kind: 'len',
      bytes: Uint8Array.from(chunk.flatMap((f) => varintBytes((f as { value: bigint }).value, 0))),
    });
    return this.repeated(no, items, packed);
  }

  private repeated(
    _no: number,
    items: readonly WireField[],
    packed: (chunk: readonly WireField[]) => WireField,
  ): WireField[] {
    switch (this.variant.packing) {
      case 'packed':
        return [packed(items)];
      case 'unpacked':
        return [...items];
      case 'mixed': {
        // Parsers must accept packed chunks and single elements in any mix, concatenated in order.
        const out: WireField[] = [];
        let i = 0;
        while (i < items.length) {
          const n = this.rng.int(1, Math.min(8, items.length - i));
          const chunk = items.slice(i, i + n);
          if (this.rng.bool()) out.push(packed(chunk));
          else out.push(...chunk);
          i += n;
        }
        return out;
      }
    }
  }

  anyValue(value: AnyValue): WireField[] {
    switch (value.kind) {
      case 'string':
        return [string(1, value.value)];
      case 'bool':
        return [varint(2, value.value ? 1 : 0)];
      case 'int':
        return [varint(3, value.value)];
      case 'double':
        return [double(4, value.value)];
      case 'array':
        return [
          message(
            5,
            value.values.map((v) => message(1, this.anyValue(v), false)),
            true,
          ),
        ];
      case 'kvlist':
        return [
          message(
            6,
            value.values.map((kv) => message(1, this.keyValue(kv), false)),
            true,
          ),
        ];
      case 'bytes':
        return [{ no: 7, kind: 'len', bytes: value.value }];
      case 'empty':
        return [];
    }
  }

  keyValue(kv: KeyValue): WireField[] {
    return [
      ...this.text(1, kv.key),
      ...(kv.value === undefined ? [] : [message(2, this.anyValue(kv.value), true)]),
    ];
  }

  attributes(no: number, list: readonly KeyValue[]): WireField[] {
    return list.map((kv) => message(no, this.keyValue(kv), false));
  }

  times(point: PointCommon): WireField[] {
    return [
      ...(point.start === undefined ? [] : this.scalar(point.start === 0n, () => fixed64(2, point.start!))),
      ...(point.time === undefined ? [] : this.scalar(point.time === 0n, () => fixed64(3, point.time!))),
    ];
  }

  flags(no: number, value: number): WireField[] {
    return this.scalar(value === 0, () => varint(no, value));
  }

  exemplars(no: number): WireField[] {
    return randomExemplars(this.rng).map((e) =>
      message(
        no,
        [
          ...this.attributes(7, [{ key: 'ex', value: { kind: 'string', value: 'x' } }]),
          fixed64(2, e.time),
          ...(e.value === undefined
            ? []
            : 'asDouble' in e.value
              ? [double(3, e.value.asDouble)]
              : [fixed64(6, e.value.asInt)]),
          ...(e.spanId.length === 0 ? [] : [{ no: 4, kind: 'len' as const, bytes: e.spanId }]),
          ...(e.traceId.length === 0 ? [] : [{ no: 5, kind: 'len' as const, bytes: e.traceId }]),
        ],
        false,
      ),
    );
  }

  numberPoint(p: NumberPoint): WireField[] {
    const value: WireField[] =
      p.value === undefined
        ? []
        : 'asDouble' in p.value
          ? [double(4, p.value.asDouble)]
          : [fixed64(6, p.value.asInt)];
    return [
      ...this.attributes(7, p.attributes),
      ...this.times(p),
      ...value,
      ...this.exemplars(5),
      ...this.flags(8, p.flags),
    ];
  }

  histogramPoint(p: HistogramPoint): WireField[] {
    return [
      ...this.attributes(9, p.attributes),
      ...this.times(p),
      ...this.scalar(p.count === 0n, () => fixed64(4, p.count)),
      ...(p.sum === undefined ? [] : [double(5, p.sum)]),
      ...this.repeatedFixed(
        6,
        p.bucketCounts.map((c) => fixed64(6, c)),
        8,
      ),
      ...this.repeatedFixed(
        7,
        p.bounds.map((b) => double(7, b)),
        8,
      ),
      ...this.exemplars(8),
      ...this.flags(10, p.flags),
      ...(p.min === undefined ? [] : [double(11, p.min)]),
      ...(p.max === undefined ? [] : [double(12, p.max)]),
    ];
  }

  buckets(no: number, b: Buckets | undefined): WireField[] {
    if (b === undefined) return [];
    return [
      message(
        no,
        [...this.scalar(b.offset === 0, () => sint32(1, b.offset)), ...this.repeatedVarint(2, b.counts)],
        true,
      ),
    ];
  }

  exponentialPoint(p: ExponentialPoint): WireField[] {
    return [
      ...this.attributes(1, p.attributes),
      ...this.times(p),
      ...this.scalar(p.count === 0n, () => fixed64(4, p.count)),
      ...(p.sum === undefined ? [] : [double(5, p.sum)]),
      ...this.scalar(p.scale === 0, () => sint32(6, p.scale)),
      ...this.scalar(p.zeroCount === 0n, () => fixed64(7, p.zeroCount)),
      ...this.buckets(8, p.positive),
      ...this.buckets(9, p.negative),
      ...this.flags(10, p.flags),
      ...this.exemplars(11),
      ...(p.min === undefined ? [] : [double(12, p.min)]),
      ...(p.max === undefined ? [] : [double(13, p.max)]),
      ...(p.zeroThreshold === undefined ? [] : [double(14, p.zeroThreshold)]),
    ];
  }

  summaryPoint(p: SummaryPoint): WireField[] {
    return [
      ...this.attributes(7, p.attributes),
      ...this.times(p),
      ...this.scalar(p.count === 0n, () => fixed64(4, p.count)),
      ...this.scalar(p.sum === 0, () => double(5, p.sum)),
      ...p.quantiles.map((q) => message(6, [double(1, q.quantile), double(2, q.value)], false)),
      ...this.flags(8, p.flags),
    ];
  }

  temporality(value: number): WireField[] {
    return this.scalar(value === 0, () => varint(2, value));
  }

  metric(m: Metric): WireField[] {
    const d = m.data;
    let data: WireField[] = [];
    switch (d.kind) {
      case 'gauge':
        data = [
          message(
            5,
            d.points.map((p) => message(1, this.numberPoint(p), false)),
            true,
          ),
        ];
        break;
      case 'sum': {
        const monotonic = this.variant.wideBools
          ? varint(3, this.rng.pick([1, 2, 255, 2 ** 40]))
          : varint(3, 1);
        data = [
          message(
            7,
            [
              ...d.points.map((p) => message(1, this.numberPoint(p), false)),
              ...this.temporality(d.temporality),
              ...(d.monotonic ? [monotonic] : this.scalar(true, () => varint(3, 0))),
            ],
            true,
          ),
        ];
        break;
      }
      case 'histogram':
        data = [
          message(
            9,
            [
              ...d.points.map((p) => message(1, this.histogramPoint(p), false)),
              ...this.temporality(d.temporality),
            ],
            true,
          ),
        ];
        break;
      case 'exponentialHistogram':
        data = [
          message(
            10,
            [
              ...d.points.map((p) => message(1, this.exponentialPoint(p), false)),
              ...this.temporality(d.temporality),
            ],
            true,
          ),
        ];
        break;
      case 'summary':
        data = [
          message(
            11,
            d.points.map((p) => message(1, this.summaryPoint(p), false)),
            true,
          ),
        ];
        break;
      case 'none':
        break;
    }
    return [
      ...this.text(1, m.name),
      ...this.text(2, m.description),
      ...this.text(3, m.unit),
      ...data,
      ...this.attributes(12, m.metadata),
    ];
  }

  request(r: Request): WireField[] {
    return r.resources.map((resource) =>
      message(
        1,
        [
          message(
            1,
            [...this.attributes(1, resource.attributes), ...this.scalar(true, () => varint(2, 0))],
            true,
          ),
          ...resource.scopes.map((scope) =>
            message(
              2,
              [
                message(
                  1,
                  [
                    ...this.text(1, scope.name),
                    ...this.text(2, scope.version),
                    ...this.attributes(3, scope.attributes),
                  ],
                  true,
                ),
                ...scope.metrics.map((m) => message(2, this.metric(m), false)),
                ...this.text(3, scope.schemaUrl),
              ],
              false,
            ),
          ),
          ...this.text(3, resource.schemaUrl),
        ],
        false,
      ),
    );
  }
}

// ---- meaning-preserving transforms ----

/** Field numbers no OTLP metrics message uses (up to the largest legal one, 2^29 − 1). */
const UNKNOWN_NUMBERS = [15, 16, 99, 1000, 2047, 2048, 262_143, 536_870_911];

export function unknownField(rng: Rng, depth = 0): WireField {
  const no = rng.pick(UNKNOWN_NUMBERS);
  return rng.weighted<() => WireField>([
    [30, () => varint(no, rng.bigUint(64))],
    [20, () => ({ no, kind: 'i64', bytes: rng.bytes(8) })],
    [15, () => ({ no, kind: 'i32', bytes: rng.bytes(4) })],
    [25, () => ({ no, kind: 'len', bytes: rng.bytes(rng.int(0, 32)) })],
    [
      depth < 3 ? 10 : 0,
      () => ({
        no,
        kind: 'group',
        fields: Array.from({ length: rng.int(0, 3) }, () => unknownField(rng, depth + 1)),
      }),
    ],
  ])();
}

/** Random interleaving that keeps fields of one number in their order (repeated fields, last-wins scalars). */
function interleave(rng: Rng, fields: WireField[]): WireField[] {
  const queues = new Map<number, WireField[]>();
  for (const f of fields) {
    const q = queues.get(f.no);
    if (q === undefined) queues.set(f.no, [f]);
    else q.push(f);
  }
  const out: WireField[] = [];
  const live = [...queues.values()];
  while (live.length > 0) {
    const i = rng.int(0, live.length - 1);
    out.push(live[i]!.shift()!);
    if (live[i]!.length === 0) live.splice(i, 1);
  }
  return out;
}

export interface TransformLog {
  /** A Metric's data field (sum, gauge, …) was split into two occurrences. */
  splitMetricData: boolean;
  splits: number;
}

/** Field path of Metric messages: ExportMetricsServiceRequest.1 → ResourceMetrics.2 → ScopeMetrics.2. */
const METRIC_PATH = '1/2/2';
const METRIC_DATA_FIELDS = [5, 7, 9, 10, 11];

/** Applies the variant's transforms to a message's fields, depth first; `path` holds the enclosing field numbers. */
export function transform(
  rng: Rng,
  variant: ProtobufVariant,
  fields: WireField[],
  log: TransformLog,
  path = '',
): WireField[] {
  let out: WireField[] = [];
  for (const f of fields) {
    if (f.kind !== 'message') {
      out.push(f);
      continue;
    }
    const inner = transform(rng, variant, f.fields, log, path === '' ? String(f.no) : `${path}/${f.no}`);
    const node: WireField = { ...f, fields: inner };
    const metricData = path === METRIC_PATH && METRIC_DATA_FIELDS.includes(f.no);
    if (
      f.singular &&
      inner.length > 0 &&
      rng.bool(variant.split) &&
      !(metricData && variant.keepMetricData)
    ) {
      const cut = rng.int(0, inner.length);
      log.splits++;
      if (metricData) log.splitMetricData = true;
      out.push({ ...node, fields: inner.slice(0, cut) }, { ...node, fields: inner.slice(cut) });
    } else out.push(node);
  }
  if (rng.bool(variant.unknown)) {
    for (let i = rng.int(1, 3); i > 0; i--) out.splice(rng.int(0, out.length), 0, unknownField(rng));
  }
  if (rng.bool(variant.reorder)) out = interleave(rng, out);
  return out;
}

// ---- serialisation ----

export function varintBytes(value: bigint, extra: number): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  // Over-long: continuation bits on zero groups, never past 10 bytes.
  for (let i = 0; i < extra && out.length < 10; i++) {
    out[out.length - 1]! |= 0x80;
    out.push(0);
  }
  return out;
}

const WIRE = { varint: 0, i64: 1, len: 2, message: 2, group: 3, i32: 5 } as const;

class Writer {
  private chunks: Uint8Array[] = [];
  size = 0;
  push(bytes: Uint8Array | number[]): void {
    const b = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
    this.chunks.push(b);
    this.size += b.length;
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let pos = 0;
    for (const c of this.chunks) {
      out.set(c, pos);
      pos += c.length;
    }
    return out;
  }
}

export interface SerializeOptions {
  readonly rng?: Rng;
  readonly overlongVarints?: number;
}

function tag(no: number, wire: number): number[] {
  return varintBytes((BigInt(no) << 3n) | BigInt(wire), 0);
}

export function serialize(fields: readonly WireField[], options: SerializeOptions = {}): Uint8Array {
  const w = new Writer();
  write(w, fields, options);
  return w.finish();
}

function write(w: Writer, fields: readonly WireField[], options: SerializeOptions): void {
  const overlong = () =>
    options.rng !== undefined && options.overlongVarints && options.rng.bool(options.overlongVarints)
      ? options.rng.int(1, 9)
      : 0;
  for (const f of fields) {
    switch (f.kind) {
      case 'raw':
        w.push(f.bytes);
        break;
      case 'varint':
        w.push(tag(f.no, f.wire ?? WIRE.varint));
        w.push(varintBytes(f.value, overlong()));
        break;
      case 'i64':
      case 'i32':
        w.push(tag(f.no, f.wire ?? WIRE[f.kind]));
        w.push(f.bytes);
        break;
      case 'len':
        w.push(tag(f.no, f.wire ?? WIRE.len));
        w.push(varintBytes(f.length ?? BigInt(f.bytes.length), 0));
        w.push(f.bytes);
        break;
      case 'message': {
        const body = serialize(f.fields, options);
        w.push(tag(f.no, f.wire ?? WIRE.message));
        w.push(varintBytes(f.length ?? BigInt(body.length), 0));
        w.push(body);
        break;
      }
      case 'group':
        w.push(tag(f.no, 3));
        write(w, f.fields, options);
        w.push(tag(f.no, 4));
        break;
    }
  }
}

export interface ProtobufEncoding {
  readonly fields: WireField[];
  readonly bytes: Uint8Array;
  readonly log: TransformLog;
}

/** Encodes `request` under `variant`; the same (request, variant, rng state) always gives the same bytes. */
export function encodeProtobuf(request: Request, variant: ProtobufVariant, rng: Rng): ProtobufEncoding {
  const builder = new Builder(rng, variant);
  const log: TransformLog = { splitMetricData: false, splits: 0 };
  const fields = transform(rng, variant, builder.request(request), log);
  return { fields, bytes: serialize(fields, { rng, overlongVarints: variant.overlongVarints }), log };
}
