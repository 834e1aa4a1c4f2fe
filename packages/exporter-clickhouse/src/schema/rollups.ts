/**
 * Hourly and daily usage rollups: one AggregatingMergeTree table per point kind and grain, fed by a
 * materialized view on the raw table, keyed by tenant + metric + service + unit + attributes (+ bounds for
 * histograms) + bucket. Buckets follow `buckets.ts`.
 */
import { bucketExpression } from './buckets.ts';
import {
  createTableStatement,
  dedupSetting,
  engine,
  onCluster,
  qualified,
  type SchemaOptions,
} from './sql.ts';
import { METRIC_TABLES } from './tables.ts';

export type RollupKind = 'sum' | 'gauge' | 'histogram';
export type RollupGrain = '1h' | '1d';

export const ROLLUP_KINDS: readonly RollupKind[] = ['sum', 'gauge', 'histogram'];
export const ROLLUP_GRAINS: readonly RollupGrain[] = ['1h', '1d'];

export function rollupTable(kind: RollupKind, grain: RollupGrain): string {
  return `tallyhouse_usage_${kind}_${grain}`;
}

function rollupView(kind: RollupKind, grain: RollupGrain): string {
  return `${rollupTable(kind, grain)}_mv`;
}

const KEY_COLUMNS = [
  '    TenantId LowCardinality(String)',
  '    MetricName LowCardinality(String)',
  '    MetricUnit LowCardinality(String)',
  '    ServiceName LowCardinality(String)',
  '    Attributes Map(LowCardinality(String), String)',
];

const VALUE_COLUMNS: Record<RollupKind, string[]> = {
  sum: ['    Value SimpleAggregateFunction(sum, Float64)', '    Rows SimpleAggregateFunction(sum, UInt64)'],
  gauge: [
    '    Latest AggregateFunction(argMax, Float64, DateTime64(9))',
    '    LatestTime SimpleAggregateFunction(max, DateTime64(9))',
    '    Rows SimpleAggregateFunction(sum, UInt64)',
  ],
  histogram: [
    '    Count SimpleAggregateFunction(sum, UInt64)',
    '    Sum SimpleAggregateFunction(sum, Float64)',
    '    BucketCounts AggregateFunction(sumForEach, Array(UInt64))',
    '    Rows SimpleAggregateFunction(sum, UInt64)',
  ],
};

/** Histograms with different bounds are different rows: they are never merged bucket-wise. */
function keyNames(kind: RollupKind): string[] {
  const key = ['TenantId', 'MetricName', 'BucketStart', 'ServiceName', 'MetricUnit', 'Attributes'];
  return kind === 'histogram' ? [...key, 'ExplicitBounds'] : key;
}

/** Projection of each rollup column, in table column order (the backfill INSERT names them; views match by name). */
function projection(kind: RollupKind, grain: RollupGrain): [column: string, expression: string][] {
  const keys: [string, string][] = [
    ['TenantId', 'TenantId'],
    ['MetricName', 'MetricName'],
    ['MetricUnit', 'MetricUnit'],
    ['ServiceName', 'ServiceName'],
    ['Attributes', 'Attributes'],
  ];
  if (kind === 'histogram') keys.push(['ExplicitBounds', 'ExplicitBounds']);
  keys.push(['BucketStart', bucketExpression(grain)]);
  switch (kind) {
    case 'sum':
      return [...keys, ['Value', 'sum(Value)'], ['Rows', 'count()']];
    case 'gauge':
      return [
        ...keys,
        ['Latest', 'argMaxState(Value, TimeUnix)'],
        ['LatestTime', 'max(TimeUnix)'],
        ['Rows', 'count()'],
      ];
    case 'histogram':
      return [
        ...keys,
        ['Count', 'sum(Count)'],
        ['Sum', 'sum(Sum)'],
        ['BucketCounts', 'sumForEachState(BucketCounts)'],
        ['Rows', 'count()'],
      ];
  }
}

export function createRollupTableStatement(
  options: SchemaOptions,
  kind: RollupKind,
  grain: RollupGrain,
): string {
  const columns = [...KEY_COLUMNS];
  if (kind === 'histogram') columns.push('    ExplicitBounds Array(Float64)');
  columns.push("    BucketStart DateTime('UTC')", ...VALUE_COLUMNS[kind]);
  return createTableStatement(options, {
    table: rollupTable(kind, grain),
    columns,
    engine: engine(options, 'AggregatingMergeTree'),
    partitionBy: grain === '1h' ? 'toYYYYMM(BucketStart)' : 'toYear(BucketStart)',
    orderBy: `(${keyNames(kind).join(', ')})`,
    // Retried inserts into the raw table are deduplicated in the views' targets too (dependent-view dedup).
    settings: ['index_granularity = 8192', dedupSetting(options)],
  });
}

/** The SELECT a view runs on each inserted block, and the backfill runs once on existing rows. */
function rollupSelect(options: SchemaOptions, kind: RollupKind, grain: RollupGrain): string {
  const groupBy = keyNames(kind).join(', ');
  const columns = projection(kind, grain).map(([column, expression]) =>
    column === expression ? column : `${expression} AS ${column}`,
  );
  return [
    `SELECT ${columns.join(', ')}`,
    `FROM ${qualified(options, METRIC_TABLES[kind])}`,
    `GROUP BY ${groupBy}`,
  ].join('\n');
}

export function createRollupViewStatement(
  options: SchemaOptions,
  kind: RollupKind,
  grain: RollupGrain,
): string {
  return [
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(options, rollupView(kind, grain))}${onCluster(options)}`,
    `TO ${qualified(options, rollupTable(kind, grain))}`,
    'AS',
    rollupSelect(options, kind, grain),
  ].join('\n');
}

/**
 * Rolls up the raw rows written before the view existed. Guarded by "the rollup is empty", so a re-run (a forced
 * migration after a table went missing) never counts a row twice. Runs before the view is created: a view sees
 * only rows inserted after it exists.
 */
function rollupBackfillStatement(options: SchemaOptions, kind: RollupKind, grain: RollupGrain): string {
  const target = qualified(options, rollupTable(kind, grain));
  const select = rollupSelect(options, kind, grain).replace(
    '\nGROUP BY',
    `\nWHERE (SELECT count() FROM ${target}) = 0\nGROUP BY`,
  );
  const columns = projection(kind, grain).map(([column]) => column);
  return `INSERT INTO ${target} (${columns.join(', ')})\n${select}`;
}

/**
 * Migration 2. On a cluster the backfill is left out (an INSERT has no `ON CLUSTER`; run
 * `rollupBackfillStatements` on one replica of each shard before writers resume).
 */
export function rollupMigrationStatements(options: SchemaOptions): string[] {
  const statements: string[] = [];
  for (const kind of ROLLUP_KINDS) {
    for (const grain of ROLLUP_GRAINS) {
      statements.push(createRollupTableStatement(options, kind, grain));
      if (options.cluster === undefined) statements.push(rollupBackfillStatement(options, kind, grain));
      statements.push(createRollupViewStatement(options, kind, grain));
    }
  }
  return statements;
}

export function rollupBackfillStatements(options: SchemaOptions): string[] {
  return ROLLUP_KINDS.flatMap((kind) =>
    ROLLUP_GRAINS.map((grain) => rollupBackfillStatement(options, kind, grain)),
  );
}
