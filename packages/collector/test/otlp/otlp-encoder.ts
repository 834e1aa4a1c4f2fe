/**
 * Test-side OTLP writers: raw protobuf field builders for hand-made edge cases, and an encoder from the
 * internal model back to OTLP protobuf / JSON (with knobs: packed or not, unknown fields, snake_case names,
 * numbers or strings for 64-bit integers, enum names) for property tests.
 */
import type {
  Attributes,
  AttributeValue,
  Exemplar,
  ExponentialBuckets,
  InputBatch,
  InputMetric,
  InputPoint,
} from '@tallyhouse/model';

// ---- raw protobuf ----

export function varintBytes(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

const tagBytes = (field: number, wire: number): number[] => varintBytes(BigInt(field * 8 + wire));

export const pb = {
  varint: (field: number, value: number | bigint): Uint8Array =>
    Uint8Array.from([...tagBytes(field, 0), ...varintBytes(BigInt(value))]),
  sint32: (field: number, value: number): Uint8Array =>
    pb.varint(field, BigInt(((value << 1) ^ (value >> 31)) >>> 0)),
  fixed64: (field: number, value: bigint): Uint8Array => {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return concat(Uint8Array.from(tagBytes(field, 1)), body);
  },
  double: (field: number, value: number): Uint8Array => {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setFloat64(0, value, true);
    return concat(Uint8Array.from(tagBytes(field, 1)), body);
  },
  fixed32: (field: number, value: number): Uint8Array => {
    const body = new Uint8Array(4);
    new DataView(body.buffer).setUint32(0, value, true);
    return concat(Uint8Array.from(tagBytes(field, 5)), body);
  },
  bytes: (field: number, value: Uint8Array): Uint8Array =>
    concat(Uint8Array.from([...tagBytes(field, 2), ...varintBytes(BigInt(value.length))]), value),
  string: (field: number, value: string): Uint8Array => pb.bytes(field, new TextEncoder().encode(value)),
  message: (field: number, ...parts: Uint8Array[]): Uint8Array => pb.bytes(field, concat(...parts)),
  /** A group (wire types 3/4) — obsolete, but legal in unknown fields. */
  group: (field: number, ...parts: Uint8Array[]): Uint8Array =>
    concat(Uint8Array.from(tagBytes(field, 3)), ...parts, Uint8Array.from(tagBytes(field, 4))),
  packedFixed64: (field: number, values: readonly bigint[]): Uint8Array =>
    pb.bytes(field, concat(...values.map((v) => pb.fixed64(1, v).subarray(1)))),
  packedDouble: (field: number, values: readonly number[]): Uint8Array =>
    pb.bytes(field, concat(...values.map((v) => pb.double(1, v).subarray(1)))),
  packedVarint: (field: number, values: readonly (number | bigint)[]): Uint8Array =>
    pb.bytes(field, Uint8Array.from(values.flatMap((v) => varintBytes(BigInt(v))))),
};

// ---- model → OTLP protobuf ----

export interface ProtobufOptions {
  /** Repeated scalars packed (proto3 default) or one field per element. */
  readonly packed?: boolean;
  /** Sprinkle unknown fields of every wire type into every message. */
  readonly unknownFields?: boolean;
  /** Write integral sum/gauge and exemplar values as `asInt` instead of `asDouble`. */
  readonly intValues?: boolean;
}

function unknowns(options: ProtobufOptions): Uint8Array[] {
  if (!options.unknownFields) return [];
  return [
    pb.varint(1000, 123456789012n),
    pb.fixed64(1001, 42n),
    pb.fixed32(1002, 7),
    pb.string(1003, 'from the future'),
    pb.group(1004, pb.varint(1, 1), pb.group(2, pb.string(3, 'nested'))),
  ];
}

const TEMPORALITY_CODE = { delta: 1, cumulative: 2 } as const;

export function encodeAnyValueProtobuf(value: AttributeValue, options: ProtobufOptions = {}): Uint8Array {
  const extra = unknowns(options);
  if (value === null) return concat(...extra);
  if (typeof value === 'string') return concat(pb.string(1, value), ...extra);
  if (typeof value === 'boolean') return concat(pb.varint(2, value ? 1 : 0), ...extra);
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) return concat(pb.varint(3, value), ...extra);
    return concat(pb.double(4, value), ...extra);
  }
  if (Array.isArray(value)) {
    return concat(
      pb.message(5, ...value.map((v) => pb.message(1, encodeAnyValueProtobuf(v, options)))),
      ...extra,
    );
  }
  const object = value as { readonly [key: string]: AttributeValue };
  return concat(
    pb.message(
      6,
      ...Object.keys(object).map((key) => pb.message(1, encodeKeyValueProtobuf(key, object[key]!, options))),
    ),
    ...extra,
  );
}

function encodeKeyValueProtobuf(key: string, value: AttributeValue, options: ProtobufOptions): Uint8Array {
  return concat(
    pb.string(1, key),
    pb.message(2, encodeAnyValueProtobuf(value, options)),
    ...unknowns(options),
  );
}

function encodeAttributesProtobuf(
  field: number,
  attributes: Attributes,
  options: ProtobufOptions,
): Uint8Array[] {
  return Object.keys(attributes).map((key) =>
    pb.message(field, encodeKeyValueProtobuf(key, attributes[key]!, options)),
  );
}

/** The `value` oneof of a point or exemplar: `asInt` (`intField`) when asked for and exact, else `asDouble`. */
function numberValueProtobuf(v: number, doubleField: number, intField: number, options: ProtobufOptions) {
  return options.intValues && Number.isSafeInteger(v) && !Object.is(v, -0)
    ? pb.fixed64(intField, BigInt(v))
    : pb.double(doubleField, v);
}

/** An `Exemplar` message: ids as the bytes their hex spells (absent when `''`). */
function encodeExemplarProtobuf(exemplar: Exemplar, options: ProtobufOptions): Uint8Array {
  const id = (field: number, hex: string) => (hex === '' ? [] : [pb.bytes(field, Buffer.from(hex, 'hex'))]);
  return concat(
    ...encodeAttributesProtobuf(7, exemplar.filteredAttributes, options),
    pb.fixed64(2, exemplar.timeUnixNano),
    numberValueProtobuf(exemplar.value, 3, 6, options),
    ...id(4, exemplar.spanId),
    ...id(5, exemplar.traceId),
    ...unknowns(options),
  );
}

function encodePointProtobuf(metric: InputMetric, point: InputPoint, options: ProtobufOptions): Uint8Array {
  const extra = unknowns(options);
  const times = [pb.fixed64(2, point.startTimeUnixNano), pb.fixed64(3, point.timeUnixNano)];
  const kind = metric.metric.kind;
  const exemplars = (field: number) =>
    (point.exemplars ?? []).map((exemplar) => pb.message(field, encodeExemplarProtobuf(exemplar, options)));
  if (kind === 'sum' || kind === 'gauge') {
    const value = numberValueProtobuf((point.value as { value: number }).value, 4, 6, options);
    return concat(
      ...extra,
      ...encodeAttributesProtobuf(7, point.attributes, options),
      ...times,
      value,
      ...exemplars(5),
    );
  }
  if (kind === 'summary') {
    const s = point.value as InputPoint<'summary'>['value'];
    return concat(
      ...encodeAttributesProtobuf(7, point.attributes, options),
      ...times,
      pb.fixed64(4, BigInt(s.count)),
      pb.double(5, s.sum),
      ...s.quantileValues.map((q) =>
        pb.message(6, pb.double(1, q.quantile), pb.double(2, q.value), ...extra),
      ),
      ...extra,
    );
  }
  if (kind === 'histogram') {
    const h = point.value as InputPoint<'histogram'>['value'];
    const counts = h.bucketCounts.map(BigInt);
    return concat(
      ...exemplars(8),
      ...encodeAttributesProtobuf(9, point.attributes, options),
      ...times,
      pb.fixed64(4, BigInt(h.count)),
      pb.double(5, h.sum),
      ...(options.packed === false
        ? counts.map((c) => pb.fixed64(6, c))
        : counts.length > 0
          ? [pb.packedFixed64(6, counts)]
          : []),
      ...(options.packed === false
        ? h.bounds.map((b) => pb.double(7, b))
        : h.bounds.length > 0
          ? [pb.packedDouble(7, h.bounds)]
          : []),
      ...(h.min === undefined ? [] : [pb.double(11, h.min)]),
      ...(h.max === undefined ? [] : [pb.double(12, h.max)]),
      ...extra,
    );
  }
  const e = point.value as InputPoint<'exponentialHistogram'>['value'];
  const buckets = (b: ExponentialBuckets): Uint8Array =>
    concat(
      pb.sint32(1, b.offset),
      ...(options.packed === false
        ? b.bucketCounts.map((c) => pb.varint(2, c))
        : b.bucketCounts.length > 0
          ? [pb.packedVarint(2, b.bucketCounts)]
          : []),
      ...extra,
    );
  return concat(
    ...encodeAttributesProtobuf(1, point.attributes, options),
    ...times,
    pb.fixed64(4, BigInt(e.count)),
    pb.double(5, e.sum),
    pb.sint32(6, e.scale),
    pb.fixed64(7, BigInt(e.zeroCount)),
    pb.message(8, buckets(e.positive)),
    pb.message(9, buckets(e.negative)),
    ...exemplars(11),
    ...(e.min === undefined ? [] : [pb.double(12, e.min)]),
    ...(e.max === undefined ? [] : [pb.double(13, e.max)]),
    ...extra,
  );
}

const DATA_FIELD = { gauge: 5, sum: 7, histogram: 9, exponentialHistogram: 10, summary: 11 } as const;

export function encodeMetricProtobuf(metric: InputMetric, options: ProtobufOptions = {}): Uint8Array {
  const kind = metric.metric.kind;
  const points = metric.points.map((p) => pb.message(1, encodePointProtobuf(metric, p, options)));
  const data = concat(
    ...points,
    ...(kind === 'gauge' || kind === 'summary' ? [] : [pb.varint(2, TEMPORALITY_CODE[metric.temporality])]),
    ...(kind === 'sum' && metric.metric.monotonic ? [pb.varint(3, 1)] : []),
    ...unknowns(options),
  );
  return concat(
    pb.string(1, metric.metric.name),
    pb.string(2, metric.metric.description),
    pb.string(3, metric.metric.unit),
    pb.message(DATA_FIELD[kind], data),
    ...unknowns(options),
  );
}

export function encodeRequestProtobuf(batch: InputBatch, options: ProtobufOptions = {}): Uint8Array {
  return concat(
    ...batch.resourceMetrics.map((rm) =>
      pb.message(
        1,
        pb.message(
          1,
          ...encodeAttributesProtobuf(1, rm.resource, options),
          pb.varint(2, 0),
          ...unknowns(options),
        ),
        ...rm.scopeMetrics.map((sm) =>
          pb.message(
            2,
            pb.message(
              1,
              pb.string(1, sm.scope.name),
              pb.string(2, sm.scope.version),
              ...encodeAttributesProtobuf(3, sm.scope.attributes ?? {}, options),
              pb.varint(4, sm.scope.droppedAttributesCount ?? 0),
              ...unknowns(options),
            ),
            ...sm.metrics.map((m) => pb.message(2, encodeMetricProtobuf(m, options))),
            pb.string(3, sm.scope.schemaUrl ?? ''),
          ),
        ),
        pb.string(3, rm.schemaUrl ?? ''),
        ...unknowns(options),
      ),
    ),
    ...unknowns(options),
  );
}

// ---- model → OTLP JSON ----

export interface JsonOptions {
  /** Use the proto field names (snake_case) instead of lowerCamelCase. */
  readonly snakeCase?: boolean;
  /** Write 64-bit integers as JSON numbers where exact, instead of strings. */
  readonly numbersFor64Bit?: boolean;
  /** Write enums by name. */
  readonly enumNames?: boolean;
  readonly unknownFields?: boolean;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function name(camel: string, options: JsonOptions): string {
  return options.snakeCase ? camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : camel;
}

function obj(options: JsonOptions, entries: [string, Json | undefined][]): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [key, value] of entries) if (value !== undefined) out[name(key, options)] = value;
  if (options.unknownFields) out.someFutureField = { nested: [1, 'two', { three: null }] };
  return out;
}

function int64(value: bigint | number, options: JsonOptions): Json {
  const big = BigInt(value);
  if (
    options.numbersFor64Bit &&
    big <= BigInt(Number.MAX_SAFE_INTEGER) &&
    big >= -BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    return Number(big);
  }
  return big.toString();
}

function double(value: number): Json {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

export function anyValueJson(value: AttributeValue, options: JsonOptions = {}): Json {
  if (value === null) return obj(options, []);
  if (typeof value === 'string') return obj(options, [['stringValue', value]]);
  if (typeof value === 'boolean') return obj(options, [['boolValue', value]]);
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && !Object.is(value, -0))
      return obj(options, [['intValue', int64(value, options)]]);
    return obj(options, [['doubleValue', double(value)]]);
  }
  if (Array.isArray(value)) {
    return obj(options, [
      ['arrayValue', obj(options, [['values', value.map((v) => anyValueJson(v, options))]])],
    ]);
  }
  const object = value as { readonly [key: string]: AttributeValue };
  return obj(options, [
    [
      'kvlistValue',
      obj(options, [['values', Object.keys(object).map((key) => keyValueJson(key, object[key]!, options))]]),
    ],
  ]);
}

function keyValueJson(key: string, value: AttributeValue, options: JsonOptions): Json {
  return obj(options, [
    ['key', key],
    ['value', anyValueJson(value, options)],
  ]);
}

function attributesJson(attributes: Attributes, options: JsonOptions): Json {
  return Object.keys(attributes).map((key) => keyValueJson(key, attributes[key]!, options));
}

const TEMPORALITY_NAME = {
  delta: 'AGGREGATION_TEMPORALITY_DELTA',
  cumulative: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
};

function exemplarJson(exemplar: Exemplar, options: JsonOptions): Json {
  return obj(options, [
    ['filteredAttributes', attributesJson(exemplar.filteredAttributes, options)],
    ['timeUnixNano', int64(exemplar.timeUnixNano, options)],
    ['asDouble', double(exemplar.value)],
    // OTLP/JSON ids are hex; case does not matter.
    ['spanId', exemplar.spanId === '' ? undefined : exemplar.spanId.toUpperCase()],
    ['traceId', exemplar.traceId === '' ? undefined : exemplar.traceId],
  ]);
}

function pointJson(metric: InputMetric, point: InputPoint, options: JsonOptions): Json {
  const common: [string, Json | undefined][] = [
    ['attributes', attributesJson(point.attributes, options)],
    ['startTimeUnixNano', int64(point.startTimeUnixNano, options)],
    ['timeUnixNano', int64(point.timeUnixNano, options)],
    [
      'exemplars',
      point.exemplars === undefined ? undefined : point.exemplars.map((e) => exemplarJson(e, options)),
    ],
  ];
  const kind = metric.metric.kind;
  if (kind === 'summary') {
    const s = point.value as InputPoint<'summary'>['value'];
    return obj(options, [
      ...common,
      ['count', int64(s.count, options)],
      ['sum', double(s.sum)],
      [
        'quantileValues',
        s.quantileValues.map((q) =>
          obj(options, [
            ['quantile', double(q.quantile)],
            ['value', double(q.value)],
          ]),
        ),
      ],
    ]);
  }
  if (kind === 'sum' || kind === 'gauge') {
    return obj(options, [...common, ['asDouble', double((point.value as { value: number }).value)]]);
  }
  if (kind === 'histogram') {
    const h = point.value as InputPoint<'histogram'>['value'];
    return obj(options, [
      ...common,
      ['count', int64(h.count, options)],
      ['sum', double(h.sum)],
      ['bucketCounts', h.bucketCounts.map((c) => int64(c, options))],
      ['explicitBounds', h.bounds.map(double)],
      ['min', h.min === undefined ? undefined : double(h.min)],
      ['max', h.max === undefined ? undefined : double(h.max)],
    ]);
  }
  const e = point.value as InputPoint<'exponentialHistogram'>['value'];
  const buckets = (b: ExponentialBuckets): Json =>
    obj(options, [
      ['offset', b.offset],
      ['bucketCounts', b.bucketCounts.map((c) => int64(c, options))],
    ]);
  return obj(options, [
    ...common,
    ['count', int64(e.count, options)],
    ['sum', double(e.sum)],
    ['scale', e.scale],
    ['zeroCount', int64(e.zeroCount, options)],
    ['positive', buckets(e.positive)],
    ['negative', buckets(e.negative)],
    ['min', e.min === undefined ? undefined : double(e.min)],
    ['max', e.max === undefined ? undefined : double(e.max)],
  ]);
}

export function metricJson(metric: InputMetric, options: JsonOptions = {}): Json {
  const kind = metric.metric.kind;
  const temporality = options.enumNames
    ? TEMPORALITY_NAME[metric.temporality]
    : TEMPORALITY_CODE[metric.temporality];
  const data = obj(options, [
    ['dataPoints', metric.points.map((p) => pointJson(metric, p, options))],
    ['aggregationTemporality', kind === 'gauge' || kind === 'summary' ? undefined : temporality],
    ['isMonotonic', kind === 'sum' ? metric.metric.monotonic : undefined],
  ]);
  return obj(options, [
    ['name', metric.metric.name],
    ['description', metric.metric.description],
    ['unit', metric.metric.unit],
    [kind, data],
  ]);
}

export function requestJson(batch: InputBatch, options: JsonOptions = {}): string {
  const request = obj(options, [
    [
      'resourceMetrics',
      batch.resourceMetrics.map((rm) =>
        obj(options, [
          ['resource', obj(options, [['attributes', attributesJson(rm.resource, options)]])],
          ['schemaUrl', rm.schemaUrl],
          [
            'scopeMetrics',
            rm.scopeMetrics.map((sm) =>
              obj(options, [
                [
                  'scope',
                  obj(options, [
                    ['name', sm.scope.name],
                    ['version', sm.scope.version],
                    ['attributes', attributesJson(sm.scope.attributes ?? {}, options)],
                    ['droppedAttributesCount', sm.scope.droppedAttributesCount],
                  ]),
                ],
                ['metrics', sm.metrics.map((m) => metricJson(m, options))],
                ['schemaUrl', sm.scope.schemaUrl],
              ]),
            ),
          ],
        ]),
      ),
    ],
  ]);
  return JSON.stringify(request);
}
