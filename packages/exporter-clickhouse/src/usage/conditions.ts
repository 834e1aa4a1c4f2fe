/**
 * The predicates of a usage read — what the filter selects, and the time span of a raw or rollup sub-read —
 * each value bound on the query builder as a `{pN:Type}` parameter, never spliced into the text.
 */
import { NANOS_PER_SECOND } from '../schema/buckets.ts';
import type { UsageFilter } from './query-types.ts';
import type { QueryBuilder } from './tenant-scope.ts';

/** Metric, service and attribute filters (an attribute matches its value, or any of its values). */
export function filterConditions(q: QueryBuilder, filter: UsageFilter): string[] {
  const conditions: string[] = [];
  if (filter.metric !== undefined) conditions.push(`MetricName = ${q.bind('String', filter.metric)}`);
  if (filter.service !== undefined) conditions.push(`ServiceName = ${q.bind('String', filter.service)}`);
  for (const [key, value] of Object.entries(filter.attributes ?? {})) {
    const column = `Attributes[${q.bind('String', key)}]`;
    conditions.push(
      typeof value === 'string'
        ? `${column} = ${q.bind('String', value)}`
        : `${column} IN ${q.bind('Array(String)', [...value])}`,
    );
  }
  return conditions;
}

/** Raw rows with `from < TimeUnix <= to` (an undefined bound is open). */
export function rawTimeConditions(
  q: QueryBuilder,
  from: bigint | undefined,
  to: bigint | undefined,
): string[] {
  return boundConditions(
    q,
    { from, to },
    (ns) => ns,
    (lower) => `TimeUnix > fromUnixTimestamp64Nano(${lower})`,
    (upper) => `TimeUnix <= fromUnixTimestamp64Nano(${upper})`,
  );
}

/** Rollup buckets with `from <= BucketStart < to` (bounds are whole seconds). */
export function bucketConditions(
  q: QueryBuilder,
  from: bigint | undefined,
  to: bigint | undefined,
): string[] {
  return boundConditions(
    q,
    { from, to },
    (ns) => ns / NANOS_PER_SECOND,
    (lower) => `BucketStart >= toDateTime(${lower}, 'UTC')`,
    (upper) => `BucketStart < toDateTime(${upper}, 'UTC')`,
  );
}

/** A condition per bound that is set, the bound (in ns, converted by `value`) bound as an Int64. */
function boundConditions(
  q: QueryBuilder,
  bounds: { readonly from: bigint | undefined; readonly to: bigint | undefined },
  value: (ns: bigint) => bigint,
  above: (placeholder: string) => string,
  below: (placeholder: string) => string,
): string[] {
  const conditions: string[] = [];
  if (bounds.from !== undefined) conditions.push(above(q.bind('Int64', value(bounds.from).toString())));
  if (bounds.to !== undefined) conditions.push(below(q.bind('Int64', value(bounds.to).toString())));
  return conditions;
}
