/** fast-check generators for batches in the internal model that survive an OTLP round trip unchanged. */

import type {
  Attributes,
  AttributeValue,
  Exemplar,
  ExponentialBuckets,
  InputBatch,
  InputMetric,
  InputPoint,
  PointKind,
} from '@tallyhouse/model';
import { MAX_BUCKETED_TIME_UNIX_NANO } from '@tallyhouse/model';
import fc from 'fast-check';

// -0 becomes 0 in JSON, so it cannot round-trip through both encodings.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));
const count = fc.nat({ max: 2 ** 40 });
// Every time the decoders accept: 1 ns (0 means missing) to the end of what storage can bucket.
const time = fc.bigInt({ min: 1n, max: MAX_BUCKETED_TIME_UNIX_NANO });
const key = fc.oneof(
  fc.constantFrom('service.name', 'tenant.id', 'route', 'a', 'b', ''),
  fc.string({ maxLength: 8 }),
);

const scalar: fc.Arbitrary<AttributeValue> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.boolean(),
  fc.maxSafeInteger(),
  finite,
  fc.constant(null),
);

function sortedKeys(o: Record<string, AttributeValue>): { [key: string]: AttributeValue } {
  const out: Record<string, AttributeValue> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}

export const attributeValue: fc.Arbitrary<AttributeValue> = fc.letrec<{ value: AttributeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(key, tie('value'), { maxKeys: 3 }).map(sortedKeys),
  ),
})).value;

export const attributes: fc.Arbitrary<Attributes> = fc.dictionary(key, attributeValue, { maxKeys: 5 });

const pointBase = fc.record({
  attributes,
  startTimeUnixNano: fc.oneof(fc.constant(0n), time),
  timeUnixNano: time,
});

/** An id of `bytes` bytes as lowercase hex, never all zeros (that means "no id"), or absent. */
const id = (bytes: number) =>
  fc.oneof(
    fc.constant(''),
    fc
      .uint8Array({ minLength: bytes, maxLength: bytes })
      .filter((b) => b.some((byte) => byte !== 0))
      .map((b) => Buffer.from(b).toString('hex')),
  );

const exemplar: fc.Arbitrary<Exemplar> = fc.record({
  filteredAttributes: attributes,
  timeUnixNano: time,
  value: fc.oneof(finite, fc.maxSafeInteger()),
  spanId: id(8),
  traceId: id(16),
});

/** Up to the decoders' bound, in time order (as they hand them on): absent when none. */
const exemplars = fc
  .array(exemplar, { maxLength: 4 })
  .map((list) =>
    list.length === 0
      ? undefined
      : [...list].sort((a, b) =>
          a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0,
        ),
  );

function point<K extends PointKind>(
  value: fc.Arbitrary<InputPoint<K>['value']>,
  withExemplars = true,
): fc.Arbitrary<InputPoint<K>> {
  return fc
    .tuple(pointBase, value, withExemplars ? exemplars : fc.constant(undefined))
    .map(([base, v, e]) => (e === undefined ? { ...base, value: v } : { ...base, value: v, exemplars: e }));
}

const numberValue = fc.record({ value: fc.oneof(finite, fc.maxSafeInteger()) });

const histogramValue = fc
  .record({
    bounds: fc.uniqueArray(finite, { maxLength: 6 }).map((b) => b.sort((x, y) => x - y)),
    sum: finite,
    min: fc.option(finite, { nil: undefined }),
    max: fc.option(finite, { nil: undefined }),
    seed: fc.array(count, { minLength: 7, maxLength: 7 }),
  })
  .map(({ bounds, sum, min, max, seed }) => {
    const bucketCounts = seed.slice(0, bounds.length + 1);
    return { count: bucketCounts.reduce((a, b) => a + b, 0), sum, bounds, bucketCounts, min, max };
  });

const buckets: fc.Arbitrary<ExponentialBuckets> = fc.record({
  offset: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  bucketCounts: fc.array(count, { maxLength: 8 }),
});

const exponentialValue = fc.record({
  count,
  sum: finite,
  scale: fc.integer({ min: -10, max: 20 }),
  zeroCount: count,
  positive: buckets,
  negative: buckets,
  min: fc.option(finite, { nil: undefined }),
  max: fc.option(finite, { nil: undefined }),
});

const summaryValue = fc.record({
  count,
  sum: finite,
  quantileValues: fc.array(
    fc.record({
      quantile: fc.double({ min: 0, max: 1, noNaN: true }).map((q) => (q === 0 ? 0 : q)),
      value: finite,
    }),
    { maxLength: 5 },
  ),
});

const metricInfo = fc.record({
  name: fc.string({ minLength: 1, maxLength: 12 }),
  description: fc.string({ maxLength: 12 }),
  unit: fc.constantFrom('', 'By', 'ms', '{request}'),
});

export const metric: fc.Arbitrary<InputMetric> = fc.oneof(
  fc
    .tuple(
      metricInfo,
      fc.boolean(),
      fc.constantFrom('delta', 'cumulative' as const),
      fc.array(point(numberValue), { minLength: 1, maxLength: 4 }),
    )
    .map(
      ([info, monotonic, temporality, points]): InputMetric => ({
        metric: { ...info, kind: 'sum', monotonic },
        temporality,
        points,
      }),
    ),
  fc.tuple(metricInfo, fc.array(point(numberValue), { minLength: 1, maxLength: 4 })).map(
    ([info, points]): InputMetric => ({
      metric: { ...info, kind: 'gauge', monotonic: false },
      temporality: 'cumulative',
      points,
    }),
  ),
  fc
    .tuple(
      metricInfo,
      fc.constantFrom('delta', 'cumulative' as const),
      fc.array(point(histogramValue), { minLength: 1, maxLength: 3 }),
    )
    .map(
      ([info, temporality, points]): InputMetric => ({
        metric: { ...info, kind: 'histogram', monotonic: false },
        temporality,
        points,
      }),
    ),
  fc
    .tuple(
      metricInfo,
      fc.constantFrom('delta', 'cumulative' as const),
      fc.array(point(exponentialValue), { minLength: 1, maxLength: 3 }),
    )
    .map(
      ([info, temporality, points]): InputMetric => ({
        metric: { ...info, kind: 'exponentialHistogram', monotonic: false },
        temporality,
        points,
      }),
    ),
  // Summaries carry no exemplars in OTLP.
  fc.tuple(metricInfo, fc.array(point(summaryValue, false), { minLength: 1, maxLength: 3 })).map(
    ([info, points]): InputMetric => ({
      metric: { ...info, kind: 'summary', monotonic: false },
      temporality: 'cumulative',
      points,
    }),
  ),
);

/** A schema URL, present or not (the model leaves an empty one out). */
const schemaUrl = fc.option(fc.constantFrom('https://opentelemetry.io/schemas/1.30.0', 'x', 'ü'), {
  nil: undefined,
});

const scope = fc
  .record(
    {
      name: fc.string({ maxLength: 8 }),
      version: fc.string({ maxLength: 5 }),
      attributes: attributes.filter((set) => Object.keys(set).length > 0),
      droppedAttributesCount: fc.integer({ min: 1, max: 0xffff_ffff }),
      schemaUrl: schemaUrl.filter((url) => url !== undefined),
    },
    { requiredKeys: ['name', 'version'] },
  )
  .map((fields) => fields as InputBatch['resourceMetrics'][number]['scopeMetrics'][number]['scope']);

export const batch: fc.Arbitrary<InputBatch> = fc.record({
  resourceMetrics: fc.array(
    fc
      .record({
        resource: attributes,
        schemaUrl,
        scopeMetrics: fc.array(
          fc.record({ scope, metrics: fc.array(metric, { minLength: 1, maxLength: 3 }) }),
          { minLength: 1, maxLength: 2 },
        ),
      })
      // The model has no key for an absent schema URL.
      .map(({ schemaUrl: url, ...rest }) => (url === undefined ? rest : { ...rest, schemaUrl: url })),
    { maxLength: 2 },
  ),
});

export function pointCount(b: InputBatch): number {
  let n = 0;
  for (const rm of b.resourceMetrics)
    for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.points.length;
  return n;
}
