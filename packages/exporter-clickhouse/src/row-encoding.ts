/**
 * Series points → JSONCompactEachRow lines, one table per point kind, columns in `schema/tables.ts` order.
 *
 * - What may be stored is decided by `pointProblem` (`@tallyhouse/model`), the same function the collector's
 *   decoders run before they answer; a refused point is dead-lettered with the problem's code.
 * - The tenant goes to `TenantId` and never into `Attributes` (even if a point still carries the attribute).
 * - Map values are strings: non-string attribute values become canonical JSON (object keys sorted at every depth).
 * - Times are written as integer nanoseconds (a JSON integer is read exactly as DateTime64(9) ticks; the
 *   `bigint` never passes through a float).
 * - Float64 columns: finite numbers as JS shortest round-trip text, `-0` kept, NaN/±Inf as ClickHouse's
 *   `"nan"`/`"inf"`/`"-inf"` — except a sum's `Value`, where a non-finite delta would poison every `sum(Value)`
 *   of the tenant: such points are rejected (dead-lettered with code NON_FINITE_SUM).
 * - Min/Max the source did not record are stored as NaN and read back as `undefined`.
 * - Upstream columns: the resource and scope schema URLs, scope attributes and dropped count as the point carries
 *   them (empty when absent); `Flags` 0 (a merged row has no one point's flags); `AggregationTemporality` 1 on
 *   sums and histograms alike (every such row is a delta).
 * - Summaries: `Count`, `Sum` (NaN/±Inf stored as such: a summary is a reading kept as sent) and the quantiles as
 *   the parallel `ValueAtQuantiles.Quantile`/`.Value` arrays, in the point's order. Their table has no exemplar
 *   columns (an OTLP summary has none).
 * - Exemplars: one element per exemplar in each `Exemplars.*` array, in the point's order. Filtered attributes
 *   are encoded as point attributes are, ids as lowercase hex (`''` when absent). An exemplar that may not be
 *   stored — a value the finite-value rule (`nonFiniteField`) refuses for the point's kind, an id that is not hex
 *   of the right length, a string that is not valid UTF-8 — is dropped, never the row: exemplars are samples,
 *   the row is usage.
 * - A string holding an unpaired UTF-16 surrogate is refused: ClickHouse fails the whole insert on its `\ud…`
 *   escape, which would dead-letter every other row of the part with it.
 */
import {
  type Attributes,
  canonicalJson,
  type Exemplar,
  type ExponentialHistogramValue,
  type HistogramValue,
  MAX_EXEMPLARS_PER_POINT,
  MAX_STORABLE_TIME_UNIX_NANO,
  mostRecentExemplars,
  nonFiniteField,
  type PointKind,
  pointProblem,
  type QuantileValue,
  type SeriesPoint,
  type SummaryValue,
  tenantProblem,
} from '@tallyhouse/model';
import { RowEncodingError, type RowRejectionCode } from './errors.ts';
import {
  CURRENT_ROW_LAYOUT,
  columnNames,
  firstRowLayout,
  layoutColumns,
  METRIC_TABLE_NAMES,
  METRIC_TABLES,
  type MetricTableName,
} from './schema/tables.ts';

export interface EncodedTableRows {
  readonly table: MetricTableName;
  /** One JSONCompactEachRow line per row, without the trailing newline. */
  readonly lines: string[];
  /** Each row's deduplication key: its line in its table's first row layout (see `DEDUPLICATION_COLUMNS`). */
  readonly deduplicationLines: string[];
  /** Tenant of each row (for dead letters). */
  readonly tenants: string[];
  /** The point of each row, in order. */
  readonly points: SeriesPoint[];
}

export interface RejectedPoint {
  readonly point: SeriesPoint;
  readonly table: MetricTableName;
  readonly code: RowRejectionCode;
  readonly message: string;
}

export interface EncodedBatch {
  /** Only tables that have rows, in METRIC_TABLES order. */
  readonly tables: EncodedTableRows[];
  readonly rejected: RejectedPoint[];
}

export interface RowEncodingOptions {
  /** Removed from `Attributes` if present (it lives in `TenantId`). */
  readonly tenantAttribute: string;
}

export function encodeBatch(points: readonly SeriesPoint[], options: RowEncodingOptions): EncodedBatch {
  const byKind = new Map<PointKind, EncodedTableRows>();
  const rejected: RejectedPoint[] = [];
  for (const point of points) {
    const kind = point.metric.kind;
    const table = METRIC_TABLES[kind];
    let encoded: { line: string; deduplicationLine: string };
    try {
      encoded = encodeRowWithKey(point, options);
    } catch (error) {
      // A malformed point (wrong shape from a buggy upstream) is a dead letter too, never a thrown batch.
      if (error instanceof RowEncodingError)
        rejected.push({ point, table, code: error.code, message: error.message });
      else
        rejected.push({
          point,
          table,
          code: 'INVALID_VALUE',
          message: `malformed point: ${(error as Error).message}`,
        });
      continue;
    }
    let rows = byKind.get(kind);
    if (rows === undefined) {
      rows = { table, lines: [], deduplicationLines: [], tenants: [], points: [] };
      byKind.set(kind, rows);
    }
    rows.lines.push(encoded.line);
    rows.deduplicationLines.push(encoded.deduplicationLine);
    rows.tenants.push(point.tenant);
    rows.points.push(point);
  }
  const tables: EncodedTableRows[] = [];
  for (const kind of Object.keys(METRIC_TABLES) as PointKind[]) {
    const rows = byKind.get(kind);
    if (rows !== undefined) tables.push(rows);
  }
  return { tables, rejected };
}

/**
 * `JSON.rawJSON` (Node ≥ 21) lets one native `JSON.stringify` per row emit exact integers for the bigint times:
 * building the row as an array and serialising it natively is several times faster than concatenating text.
 */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
const NEGATIVE_ZERO = rawJSON('-0');

/**
 * What a row's deduplication key covers: the columns of the first row layout its table was written in (layout 1;
 * layout 2 for summaries, which no earlier version stored), the usage a row carries as every released version has
 * encoded it. Columns added later (schema URLs, scope attributes, flags, exemplars) leave a batch's token
 * unchanged, so a batch that an older version wrote and a newer one re-sends — its write-ahead log replayed after
 * an upgrade — is still recognised as a re-send. Positions of those columns in the current layout.
 */
const DEDUPLICATION_COLUMNS: Readonly<Record<MetricTableName, readonly number[]>> = Object.fromEntries(
  METRIC_TABLE_NAMES.map((table) => {
    const current = columnNames(layoutColumns(table, CURRENT_ROW_LAYOUT));
    const key = columnNames(layoutColumns(table, firstRowLayout(table)));
    return [table, key.map((name) => current.indexOf(name))];
  }),
) as unknown as Record<MetricTableName, readonly number[]>;

/** One JSONCompactEachRow line for a point; throws `RowEncodingError` for a point that must not be stored. */
export function encodeRow(point: SeriesPoint, options: RowEncodingOptions): string {
  return encodeRowWithKey(point, options).line;
}

/** The row's line and its deduplication line (the same values in the columns of `DEDUPLICATION_COLUMNS`). */
function encodeRowWithKey(
  point: SeriesPoint,
  options: RowEncodingOptions,
): { line: string; deduplicationLine: string } {
  const problem = tenantProblem(point.tenant);
  if (problem !== undefined) throw new RowEncodingError('INVALID_TENANT', problem);
  const refused = pointProblem(point.metric.kind, point.startTimeUnixNano, point.timeUnixNano, point.value);
  if (refused !== undefined) {
    const field = refused.field === '' ? '' : ` ${refused.field}`;
    throw new RowEncodingError(refused.code, `${describe(point)}:${field} ${refused.reason}`);
  }
  const serviceName = point.resource['service.name'];
  const scope = point.scope;
  const row: unknown[] = [
    point.tenant,
    attributeMapValue(point.resource, undefined),
    point.resourceSchemaUrl ?? '',
    typeof serviceName === 'string' ? serviceName : serviceName == null ? '' : canonicalJson(serviceName),
    scope.name,
    scope.version,
    scope.attributes === undefined ? NO_ATTRIBUTES : attributeMapValue(scope.attributes, undefined),
    droppedCount(scope.droppedAttributesCount),
    scope.schemaUrl ?? '',
    point.metric.name,
    point.metric.description,
    point.metric.unit,
    attributeMapValue(point.attributes, options.tenantAttribute),
    rawJSON(point.startTimeUnixNano.toString()),
    rawJSON(point.timeUnixNano.toString()),
  ];
  const kind = point.metric.kind;
  switch (kind) {
    case 'sum':
      row.push(
        floatValue((point.value as { value: number }).value),
        FLAGS,
        ...exemplarColumns(kind, point.exemplars, options.tenantAttribute),
        DELTA,
        point.metric.monotonic,
      );
      break;
    case 'gauge':
      row.push(
        floatValue((point.value as { value: number }).value),
        FLAGS,
        ...exemplarColumns(kind, point.exemplars, options.tenantAttribute),
      );
      break;
    case 'histogram': {
      const value = point.value as HistogramValue;
      row.push(
        value.count,
        floatValue(value.sum),
        value.bucketCounts,
        floats(value.bounds),
        ...exemplarColumns(kind, point.exemplars, options.tenantAttribute),
        FLAGS,
        optionalFloat(value.min),
        optionalFloat(value.max),
        DELTA,
      );
      break;
    }
    case 'exponentialHistogram': {
      const value = point.value as ExponentialHistogramValue;
      row.push(
        value.count,
        floatValue(value.sum),
        value.scale,
        value.zeroCount,
        value.positive.offset,
        value.positive.bucketCounts,
        value.negative.offset,
        value.negative.bucketCounts,
        ...exemplarColumns(kind, point.exemplars, options.tenantAttribute),
        FLAGS,
        optionalFloat(value.min),
        optionalFloat(value.max),
        DELTA,
      );
      break;
    }
    case 'summary': {
      const value = point.value as SummaryValue;
      row.push(value.count, floatValue(value.sum), ...quantileColumns(value.quantileValues), FLAGS);
      break;
    }
  }
  const line = JSON.stringify(row);
  // JSON.stringify escapes an unpaired surrogate as `\udXXX`; only then are the strings checked one by one.
  if (line.includes('\\ud')) {
    const field = unpairedSurrogateField(point);
    if (field !== undefined) {
      throw new RowEncodingError(
        'INVALID_VALUE',
        `${describe(point)}: ${field} holds an unpaired UTF-16 surrogate, which is not valid UTF-8`,
      );
    }
  }
  const positions = DEDUPLICATION_COLUMNS[METRIC_TABLES[kind]];
  return { line, deduplicationLine: JSON.stringify(positions.map((index) => row[index])) };
}

const isWellFormedNative = (String.prototype as unknown as { isWellFormed(this: string): boolean })
  .isWellFormed;

/** The first string of the row with an unpaired surrogate (nested values are canonical JSON, escaped). */
function unpairedSurrogateField(point: SeriesPoint): string | undefined {
  const texts: [string, unknown][] = [
    ['resource schema URL', point.resourceSchemaUrl],
    ['scope name', point.scope.name],
    ['scope version', point.scope.version],
    ['scope schema URL', point.scope.schemaUrl],
    ['metric name', point.metric.name],
    ['metric description', point.metric.description],
    ['metric unit', point.metric.unit],
  ];
  for (const [field, text] of texts) {
    if (typeof text === 'string' && !isWellFormedNative.call(text)) return field;
  }
  for (const [field, attributes] of [
    ['a resource attribute', point.resource],
    ['a scope attribute', point.scope.attributes ?? NO_ATTRIBUTES],
    ['an attribute', point.attributes],
  ] as const) {
    const key = malformedKey(attributes);
    if (key !== undefined) return `${field} (${JSON.stringify(key)})`;
  }
  return undefined;
}

/** The first key whose key or string value holds an unpaired surrogate (nested values are escaped JSON). */
function malformedKey(attributes: Attributes): string | undefined {
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (!isWellFormedNative.call(key) || (typeof value === 'string' && !isWellFormedNative.call(value))) {
      return key;
    }
  }
  return undefined;
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});
const FLAGS = 0;
/** `AggregationTemporality` of every sum and histogram row: delta (OTLP's `AGGREGATION_TEMPORALITY_DELTA`). */
const DELTA = 1;
const UINT32_MAX = 4_294_967_295;

/** `ScopeDroppedAttrCount` (UInt32): absent is 0; a count outside UInt32 (a malformed point) is stored as 0. */
function droppedCount(count: number | undefined): number {
  return count !== undefined && Number.isInteger(count) && count >= 0 && count <= UINT32_MAX ? count : 0;
}

type ExemplarColumns = [
  filteredAttributes: Attributes[],
  times: unknown[],
  values: unknown[],
  spanIds: string[],
  traceIds: string[],
];

const NO_EXEMPLARS: Readonly<ExemplarColumns> = Object.freeze([
  [],
  [],
  [],
  [],
  [],
]) as Readonly<ExemplarColumns>;
const SPAN_ID = /^(?:[0-9a-f]{16})?$/;
const TRACE_ID = /^(?:[0-9a-f]{32})?$/;

/**
 * The five `Exemplars.*` arrays of a row (parallel, one element per stored exemplar). At most
 * `MAX_EXEMPLARS_PER_POINT`, the most recent, should a point ever carry more.
 */
function exemplarColumns(
  kind: PointKind,
  exemplars: readonly Exemplar[] | undefined,
  tenantAttribute: string,
): Readonly<ExemplarColumns> {
  if (exemplars === undefined || exemplars.length === 0) return NO_EXEMPLARS;
  const kept = exemplars.length > MAX_EXEMPLARS_PER_POINT ? mostRecentExemplars(exemplars) : exemplars;
  const columns: ExemplarColumns = [[], [], [], [], []];
  for (const exemplar of kept) {
    const ids = storableIds(kind, exemplar);
    if (ids === undefined) continue;
    columns[0].push(attributeMapValue(exemplar.filteredAttributes, tenantAttribute));
    columns[1].push(rawJSON(exemplar.timeUnixNano.toString()));
    columns[2].push(floatValue(exemplar.value));
    columns[3].push(ids[0]);
    columns[4].push(ids[1]);
  }
  return columns[0].length === 0 ? NO_EXEMPLARS : columns;
}

/** The lowercase span and trace id of an exemplar that may be stored (see the module comment), else `undefined`. */
function storableIds(kind: PointKind, exemplar: Exemplar): [spanId: string, traceId: string] | undefined {
  // The rule for the point's own value, applied to the exemplar's measurement: a sum's value, a histogram's sum.
  const value = exemplar.value;
  const measured = kind === 'sum' || kind === 'gauge' ? { value } : { sum: value };
  if (typeof value !== 'number' || nonFiniteField(kind, measured) !== undefined) return undefined;
  const time = exemplar.timeUnixNano;
  if (typeof time !== 'bigint' || time < 0n || time > MAX_STORABLE_TIME_UNIX_NANO) return undefined;
  const { spanId, traceId, filteredAttributes } = exemplar;
  if (typeof spanId !== 'string' || typeof traceId !== 'string') return undefined;
  const ids: [string, string] = [spanId.toLowerCase(), traceId.toLowerCase()];
  if (!SPAN_ID.test(ids[0]) || !TRACE_ID.test(ids[1])) return undefined;
  if (typeof filteredAttributes !== 'object' || filteredAttributes === null) return undefined;
  return malformedKey(filteredAttributes) === undefined ? ids : undefined;
}

/** The `ValueAtQuantiles.Quantile` and `.Value` arrays of a summary row: parallel, in the point's order. */
function quantileColumns(
  quantileValues: readonly QuantileValue[],
): [quantiles: unknown[], values: unknown[]] {
  const quantiles: unknown[] = [];
  const values: unknown[] = [];
  for (const { quantile, value } of quantileValues) {
    quantiles.push(floatValue(quantile));
    values.push(floatValue(value));
  }
  return [quantiles, values];
}

/**
 * A Map(LowCardinality(String), String) value: keys sorted, string values, `skipKey` left out. Attribute sets
 * from the processor are already canonical (sorted, all strings in the common case) and are used as they are.
 */
function attributeMapValue(attributes: Attributes, skipKey: string | undefined): Attributes {
  const keys = Object.keys(attributes);
  let canonical = true;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    if (
      key === skipKey ||
      typeof attributes[key] !== 'string' ||
      (index > 0 && (keys[index - 1] as string) >= key)
    ) {
      canonical = false;
      break;
    }
  }
  if (canonical) return attributes;
  if (keys.length > 1) keys.sort();
  const entries: [string, string][] = [];
  for (const key of keys) {
    if (key === skipKey) continue;
    const value = attributes[key];
    if (value === undefined) continue;
    entries.push([key, typeof value === 'string' ? value : canonicalJson(value)]);
  }
  // fromEntries defines own properties: assigning `out["__proto__"]` would drop that attribute.
  return Object.fromEntries(entries);
}

/** The Map text of `attributeMapValue` (for tests: what an attribute set is stored as). */
export function attributeMap(attributes: Attributes, skipKey: string | undefined): string {
  return JSON.stringify(attributeMapValue(attributes, skipKey));
}

/** A Float64 as a JSON value ClickHouse reads back to the same double, including -0, NaN and ±Inf. */
function floatValue(value: number): unknown {
  if (Number.isFinite(value)) return value === 0 && Object.is(value, -0) ? NEGATIVE_ZERO : value;
  if (Number.isNaN(value)) return 'nan';
  return value > 0 ? 'inf' : '-inf';
}

/** Float64 text that ClickHouse reads back to the same double, including -0, NaN and ±Inf. */
export function float(value: number): string {
  return JSON.stringify([floatValue(value)]).slice(1, -1);
}

function optionalFloat(value: number | undefined): unknown {
  return value === undefined ? 'nan' : floatValue(value);
}

function floats(values: readonly number[]): readonly unknown[] {
  for (const value of values) {
    if (!Number.isFinite(value) || Object.is(value, -0)) return values.map(floatValue);
  }
  return values;
}

function describe(point: SeriesPoint): string {
  return `${point.metric.kind} ${JSON.stringify(point.metric.name)} of tenant ${JSON.stringify(point.tenant)}`;
}

/** JSON text of a point for dead letters: bigint as decimal strings, non-finite numbers as their names. */
export function pointToJson(point: SeriesPoint): string {
  return JSON.stringify(point, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
    return value;
  });
}
