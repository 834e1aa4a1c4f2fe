/**
 * A wire-level description of OTLP points, so that any value (NaN, 2^64 − 1, an id of 5 bytes) can be sent in
 * either encoding, and the two decoders held to the same outcome and to what storage writes.
 */
import type { InputBatch, SeriesPoint } from '@tallyhouse/model';
import {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestProtobuf,
} from '../../src/otlp/index.ts';
import { concat, pb } from './otlp-encoder.ts';

export interface RawBuckets {
  readonly offset: number;
  readonly counts: readonly bigint[];
}

export type RawValue =
  | { readonly type: 'number'; readonly asDouble?: number; readonly asInt?: bigint }
  | {
      readonly type: 'histogram';
      readonly count: bigint;
      readonly sum?: number;
      readonly bucketCounts: readonly bigint[];
      readonly bounds: readonly number[];
      readonly min?: number;
      readonly max?: number;
    }
  | {
      readonly type: 'exponential';
      readonly count: bigint;
      readonly sum?: number;
      readonly scale: number;
      readonly zeroCount: bigint;
      readonly positive: RawBuckets;
      readonly negative: RawBuckets;
      readonly min?: number;
      readonly max?: number;
    }
  | {
      readonly type: 'summary';
      readonly count: bigint;
      readonly sum?: number;
      readonly quantiles: readonly { readonly quantile: number; readonly value: number }[];
    };

/** An exemplar as sent. Ids are bytes (JSON sends their hex; empty: absent). */
export interface RawExemplar {
  readonly time: bigint;
  readonly asDouble?: number;
  readonly asInt?: bigint;
  readonly spanId: Uint8Array;
  readonly traceId: Uint8Array;
  /** Carries the filtered attribute `user: "u1"`. */
  readonly filtered?: boolean;
}

export interface RawPoint {
  readonly start: bigint;
  readonly time: bigint;
  readonly flags: number;
  readonly value: RawValue;
  /** Not on summary points: their message has no exemplars. */
  readonly exemplars?: readonly RawExemplar[];
}

export interface RawMetric {
  readonly name: string;
  readonly kind: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
  readonly temporality: number;
  readonly points: readonly RawPoint[];
}

const DATA_FIELD = { gauge: 5, sum: 7, histogram: 9, exponentialHistogram: 10, summary: 11 } as const;
/** Per value type: the point message's `attributes`, `flags` and `exemplars` fields. */
const POINT_FIELDS = {
  number: { attributes: 7, flags: 8, exemplars: 5 },
  histogram: { attributes: 9, flags: 10, exemplars: 8 },
  exponential: { attributes: 1, flags: 10, exemplars: 11 },
  summary: { attributes: 7, flags: 8, exemplars: undefined },
} as const;

const hasTemporality = (kind: RawMetric['kind']) => kind !== 'gauge' && kind !== 'summary';
const optionalDouble = (field: number, value: number | undefined) =>
  value === undefined ? [] : [pb.double(field, value)];
/** A `KeyValue` with a string value, as message field `field`. */
const keyValue = (field: number, key: string, value: string) =>
  pb.message(field, pb.string(1, key), pb.message(2, pb.string(1, value)));

function exemplarProtobuf(e: RawExemplar): Uint8Array {
  return concat(
    ...(e.filtered ? [keyValue(7, 'user', 'u1')] : []),
    pb.fixed64(2, e.time),
    ...optionalDouble(3, e.asDouble),
    ...(e.asInt === undefined ? [] : [pb.fixed64(6, e.asInt)]),
    ...(e.spanId.length > 0 ? [pb.bytes(4, e.spanId)] : []),
    ...(e.traceId.length > 0 ? [pb.bytes(5, e.traceId)] : []),
  );
}

function pointProtobuf(point: RawPoint): Uint8Array {
  const v = point.value;
  const fields = POINT_FIELDS[v.type];
  const common = [
    keyValue(fields.attributes, 'route', '/pay'),
    pb.fixed64(2, point.start),
    pb.fixed64(3, point.time),
    pb.varint(fields.flags, point.flags),
    ...(fields.exemplars === undefined
      ? []
      : (point.exemplars ?? []).map((e) => pb.message(fields.exemplars, exemplarProtobuf(e)))),
  ];
  if (v.type === 'number') {
    return concat(
      ...common,
      ...optionalDouble(4, v.asDouble),
      ...(v.asInt === undefined ? [] : [pb.fixed64(6, v.asInt)]),
    );
  }
  if (v.type === 'histogram') {
    return concat(
      ...common,
      pb.fixed64(4, v.count),
      ...optionalDouble(5, v.sum),
      ...(v.bucketCounts.length > 0 ? [pb.packedFixed64(6, v.bucketCounts)] : []),
      ...(v.bounds.length > 0 ? [pb.packedDouble(7, v.bounds)] : []),
      ...optionalDouble(11, v.min),
      ...optionalDouble(12, v.max),
    );
  }
  if (v.type === 'summary') {
    return concat(
      ...common,
      pb.fixed64(4, v.count),
      ...optionalDouble(5, v.sum),
      ...v.quantiles.map((q) => pb.message(6, pb.double(1, q.quantile), pb.double(2, q.value))),
    );
  }
  const buckets = (b: RawBuckets) =>
    concat(pb.sint32(1, b.offset), ...(b.counts.length > 0 ? [pb.packedVarint(2, b.counts)] : []));
  return concat(
    ...common,
    pb.fixed64(4, v.count),
    ...optionalDouble(5, v.sum),
    pb.sint32(6, v.scale),
    pb.fixed64(7, v.zeroCount),
    pb.message(8, buckets(v.positive)),
    pb.message(9, buckets(v.negative)),
    ...optionalDouble(12, v.min),
    ...optionalDouble(13, v.max),
  );
}

export function requestProtobuf(metrics: readonly RawMetric[]): Uint8Array {
  const metricBytes = metrics.map((m) =>
    pb.message(
      2,
      pb.string(1, m.name),
      pb.message(
        DATA_FIELD[m.kind],
        ...m.points.map((p) => pb.message(1, pointProtobuf(p))),
        ...(hasTemporality(m.kind) ? [pb.varint(2, m.temporality)] : []),
      ),
    ),
  );
  return pb.message(1, pb.message(2, pb.message(1, pb.string(1, 'scope')), ...metricBytes));
}

/** OTLP/JSON doubles: non-finite as names, -0 as "-0" (a JSON number would lose the sign). */
const double = (v: number | undefined) =>
  v === undefined
    ? undefined
    : Number.isFinite(v) && !Object.is(v, -0)
      ? v
      : Object.is(v, -0)
        ? '-0'
        : String(v);

/** An id as OTLP/JSON writes it: hex (here upper case, which the decoders take as well). */
const hexId = (bytes: Uint8Array) =>
  bytes.length === 0 ? undefined : Buffer.from(bytes).toString('hex').toUpperCase();

function exemplarJson(e: RawExemplar): object {
  return {
    filteredAttributes: e.filtered ? [{ key: 'user', value: { stringValue: 'u1' } }] : undefined,
    timeUnixNano: String(e.time),
    asDouble: double(e.asDouble),
    asInt: e.asInt === undefined ? undefined : String(e.asInt),
    spanId: hexId(e.spanId),
    traceId: hexId(e.traceId),
  };
}

function pointJson(point: RawPoint): object {
  const common = {
    attributes: [{ key: 'route', value: { stringValue: '/pay' } }],
    startTimeUnixNano: String(point.start),
    timeUnixNano: String(point.time),
    flags: point.flags,
    exemplars: point.exemplars?.map(exemplarJson),
  };
  const v = point.value;
  if (v.type === 'number')
    return {
      ...common,
      asDouble: double(v.asDouble),
      asInt: v.asInt === undefined ? undefined : String(v.asInt),
    };
  if (v.type === 'summary') {
    return {
      ...common,
      count: String(v.count),
      sum: double(v.sum),
      quantileValues: v.quantiles.map((q) => ({ quantile: double(q.quantile), value: double(q.value) })),
    };
  }
  const shared = { count: String(v.count), sum: double(v.sum), min: double(v.min), max: double(v.max) };
  if (v.type === 'histogram') {
    return {
      ...common,
      ...shared,
      bucketCounts: v.bucketCounts.map(String),
      explicitBounds: v.bounds.map(double),
    };
  }
  const buckets = (b: RawBuckets) => ({ offset: b.offset, bucketCounts: b.counts.map(String) });
  return {
    ...common,
    ...shared,
    scale: v.scale,
    zeroCount: String(v.zeroCount),
    positive: buckets(v.positive),
    negative: buckets(v.negative),
  };
}

export function requestJson(metrics: readonly RawMetric[]): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            scope: { name: 'scope' },
            metrics: metrics.map((m) => ({
              name: m.name,
              [m.kind]: {
                dataPoints: m.points.map(pointJson),
                ...(hasTemporality(m.kind) ? { aggregationTemporality: m.temporality } : {}),
              },
            })),
          },
        ],
      },
    ],
  });
}

export const ENCODINGS = {
  protobuf: (metrics: readonly RawMetric[]) =>
    decodeExportMetricsServiceRequestProtobuf(requestProtobuf(metrics)),
  json: (metrics: readonly RawMetric[]) => decodeExportMetricsServiceRequestJson(requestJson(metrics)),
} as const;

/** The accepted points of a decoded batch as the exporter receives them (tenant `acme`). */
export function acceptedPoints(batch: InputBatch): SeriesPoint[] {
  return batch.resourceMetrics.flatMap((rm) =>
    rm.scopeMetrics.flatMap((sm) =>
      sm.metrics.flatMap((m) =>
        m.points.map(
          (p): SeriesPoint => ({
            tenant: 'acme',
            resource: rm.resource,
            scope: sm.scope,
            metric: m.metric,
            attributes: p.attributes,
            startTimeUnixNano: p.startTimeUnixNano,
            timeUnixNano: p.timeUnixNano,
            value: p.value,
            ...(p.exemplars === undefined ? {} : { exemplars: p.exemplars }),
          }),
        ),
      ),
    ),
  );
}
