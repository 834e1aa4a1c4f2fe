/**
 * Stored values back to what was written: Float64s as JSONEachRow writes them, and whole rows back to series
 * points (`UsageReader.points`): which columns a row is read with (`storedColumnReads`) and how it is decoded.
 */
import type {
  Attributes,
  Exemplar,
  InstrumentationScopeInfo,
  PointKind,
  QuantileValue,
  SeriesPoint,
} from '@tallyhouse/model';
import type { ColumnDefinition } from '../schema/tables.ts';

/**
 * The select list that reads every column of a stored row for `decodeRow`. Times come as decimal nanosecond
 * strings (`<column>Nano`): a DateTime64's text depends on the session's time zone, a JSON number would round.
 */
export function storedColumnReads(columns: readonly ColumnDefinition[]): string[] {
  return columns.map((column) => {
    const name = column.name.includes('.') ? `\`${column.name}\`` : column.name;
    if (column.type === 'DateTime64(9)')
      return `toString(toUnixTimestamp64Nano(${name})) AS ${column.name}Nano`;
    if (column.type === 'Array(DateTime64(9))') {
      return `arrayMap(t -> toString(toUnixTimestamp64Nano(t)), ${name}) AS \`${column.name}Nano\``;
    }
    return name;
  });
}

/** A Float64 as JSONEachRow writes it (non-finite values quoted: `nan`, `inf`, `-inf`). */
export function decodeFloat(value: unknown): number {
  if (typeof value === 'number') return value;
  switch (value) {
    case 'nan':
    case '-nan':
      return Number.NaN;
    case 'inf':
    case '+inf':
      return Number.POSITIVE_INFINITY;
    case '-inf':
      return Number.NEGATIVE_INFINITY;
    default:
      return Number(value);
  }
}

function decodeOptional(value: unknown): number | undefined {
  const number = decodeFloat(value);
  return Number.isNaN(number) ? undefined : number;
}

function decodeInts(value: unknown): number[] {
  return (value as unknown[]).map((item) => Number(item));
}

/** The scope as the model has it: attributes, dropped count and schema URL only when set. */
function decodeScope(row: Record<string, unknown>): InstrumentationScopeInfo {
  const attributes = row.ScopeAttributes as Attributes | undefined;
  const dropped = Number(row.ScopeDroppedAttrCount ?? 0);
  const schemaUrl = (row.ScopeSchemaUrl as string | undefined) ?? '';
  return {
    name: row.ScopeName as string,
    version: row.ScopeVersion as string,
    ...(attributes === undefined || Object.keys(attributes).length === 0 ? {} : { attributes }),
    ...(dropped === 0 ? {} : { droppedAttributesCount: dropped }),
    ...(schemaUrl === '' ? {} : { schemaUrl }),
  };
}

/** The `Exemplars.*` arrays back to exemplars, in stored order; `undefined` when the row has none. */
function decodeExemplars(row: Record<string, unknown>): Exemplar[] | undefined {
  const times = row['Exemplars.TimeUnixNano'] as string[] | undefined;
  if (times === undefined || times.length === 0) return undefined;
  const attributes = row['Exemplars.FilteredAttributes'] as Attributes[];
  const values = row['Exemplars.Value'] as unknown[];
  const spanIds = row['Exemplars.SpanId'] as string[];
  const traceIds = row['Exemplars.TraceId'] as string[];
  return times.map((time, index) => ({
    filteredAttributes: attributes[index] as Attributes,
    timeUnixNano: BigInt(time),
    value: decodeFloat(values[index]),
    spanId: spanIds[index] as string,
    traceId: traceIds[index] as string,
  }));
}

/** The `ValueAtQuantiles.*` arrays back to a summary's quantile values, in stored order. */
function decodeQuantiles(row: Record<string, unknown>): QuantileValue[] {
  const quantiles = row['ValueAtQuantiles.Quantile'] as unknown[];
  const values = row['ValueAtQuantiles.Value'] as unknown[];
  return quantiles.map((quantile, index) => ({
    quantile: decodeFloat(quantile),
    value: decodeFloat(values[index]),
  }));
}

/**
 * One stored row back to a series point (see `points`), read with `storedColumnReads`. Fields the model keeps
 * optional (schema URLs, scope attributes and dropped count, exemplars) are absent when stored empty.
 */
export function decodeRow(kind: PointKind, row: Record<string, unknown>): SeriesPoint {
  const resourceSchemaUrl = (row.ResourceSchemaUrl as string | undefined) ?? '';
  const exemplars = decodeExemplars(row);
  const common = {
    tenant: row.TenantId as string,
    resource: row.ResourceAttributes as Record<string, string>,
    ...(resourceSchemaUrl === '' ? {} : { resourceSchemaUrl }),
    scope: decodeScope(row),
    attributes: row.Attributes as Record<string, string>,
    startTimeUnixNano: BigInt(row.StartTimeUnixNano as string),
    timeUnixNano: BigInt(row.TimeUnixNano as string),
    ...(exemplars === undefined ? {} : { exemplars }),
  };
  const info = {
    name: row.MetricName as string,
    description: row.MetricDescription as string,
    unit: row.MetricUnit as string,
  };
  switch (kind) {
    case 'sum':
      return {
        ...common,
        metric: { ...info, kind, monotonic: row.IsMonotonic === true || row.IsMonotonic === 'true' },
        value: { value: decodeFloat(row.Value) },
      };
    case 'gauge':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: { value: decodeFloat(row.Value) },
      };
    case 'histogram':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: {
          count: Number(row.Count),
          sum: decodeFloat(row.Sum),
          bounds: (row.ExplicitBounds as unknown[]).map(decodeFloat),
          bucketCounts: decodeInts(row.BucketCounts),
          min: decodeOptional(row.Min),
          max: decodeOptional(row.Max),
        },
      };
    case 'exponentialHistogram':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: {
          count: Number(row.Count),
          sum: decodeFloat(row.Sum),
          scale: Number(row.Scale),
          zeroCount: Number(row.ZeroCount),
          positive: {
            offset: Number(row.PositiveOffset),
            bucketCounts: decodeInts(row.PositiveBucketCounts),
          },
          negative: {
            offset: Number(row.NegativeOffset),
            bucketCounts: decodeInts(row.NegativeBucketCounts),
          },
          min: decodeOptional(row.Min),
          max: decodeOptional(row.Max),
        },
      };
    case 'summary':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: { count: Number(row.Count), sum: decodeFloat(row.Sum), quantileValues: decodeQuantiles(row) },
      };
  }
}
