/**
 * Hourly and daily usage rollups: one AggregatingMergeTree table per rollup family and grain, fed by a
 * materialized view on the raw table, keyed by tenant + metric + service + unit + attributes + bucket, plus what
 * else tells the family's series apart (bounds for histograms; the source — resource attributes and scope — for
 * gauges). Buckets follow `buckets.ts`.
 *
 * Migration 2 created the sum, gauge and histogram families. Migration 3 replaced the gauge family: gauges from
 * different sources (hosts, scopes) with equal attributes are different series, so their latest values may not
 * share a rollup row. The migration-2 gauge family stays described here because migration 2 still creates it
 * (a migration's statements never change); migration 3 drops it.
 */
import { bucketExpression } from './buckets.ts';
import {
  createTableStatements,
  dedupSetting,
  dropTableStatements,
  engine,
  localTable,
  onCluster,
  qualified,
  type SchemaOptions,
} from './sql.ts';
import { METRIC_TABLES } from './tables.ts';

export type RollupKind = 'sum' | 'gauge' | 'histogram';
export type RollupGrain = '1h' | '1d';

export const ROLLUP_KINDS: readonly RollupKind[] = ['sum', 'gauge', 'histogram'];
export const ROLLUP_GRAINS: readonly RollupGrain[] = ['1h', '1d'];

/** A set of rollup tables (one per grain) and their views: what they roll up and how their series are keyed. */
interface RollupFamily {
  readonly kind: RollupKind;
  /** Tables are `<stem>_<grain>`, their views `<stem>_<grain>_mv`. */
  readonly stem: string;
  /** Key columns beyond the common ones, in table and sort-key order: name and type. */
  readonly extraKeys: readonly (readonly [name: string, type: string])[];
}

const SUM_FAMILY: RollupFamily = { kind: 'sum', stem: 'tallyhouse_usage_sum', extraKeys: [] };
/** Histograms with different bounds are different rows: they are never merged bucket-wise. */
const HISTOGRAM_FAMILY: RollupFamily = {
  kind: 'histogram',
  stem: 'tallyhouse_usage_histogram',
  extraKeys: [['ExplicitBounds', 'Array(Float64)']],
};
/** Migration 2's gauges: sources mixed (dropped by migration 3). */
const GAUGE_FAMILY_V2: RollupFamily = { kind: 'gauge', stem: 'tallyhouse_usage_gauge', extraKeys: [] };
/** Gauges per source series: the latest value of one source never competes with another source's. */
const GAUGE_SOURCE_FAMILY: RollupFamily = {
  kind: 'gauge',
  stem: 'tallyhouse_usage_gauge_source',
  extraKeys: [
    ['ResourceAttributes', 'Map(LowCardinality(String), String)'],
    ['ScopeName', 'LowCardinality(String)'],
    ['ScopeVersion', 'LowCardinality(String)'],
  ],
};

/** The families reads use, per kind. */
const CURRENT_FAMILIES: Readonly<Record<RollupKind, RollupFamily>> = {
  sum: SUM_FAMILY,
  gauge: GAUGE_SOURCE_FAMILY,
  histogram: HISTOGRAM_FAMILY,
};

/** The table a read of `kind` at `grain` uses. */
export function rollupTable(kind: RollupKind, grain: RollupGrain): string {
  return familyTable(CURRENT_FAMILIES[kind], grain);
}

function familyTable(family: RollupFamily, grain: RollupGrain): string {
  return `${family.stem}_${grain}`;
}

function familyView(family: RollupFamily, grain: RollupGrain): string {
  return `${familyTable(family, grain)}_mv`;
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

function keyNames(family: RollupFamily): string[] {
  const key = ['TenantId', 'MetricName', 'BucketStart', 'ServiceName', 'MetricUnit', 'Attributes'];
  return [...key, ...family.extraKeys.map(([name]) => name)];
}

/** Projection of each rollup column, in table column order (the backfill INSERT names them; views match by name). */
function projection(family: RollupFamily, grain: RollupGrain): [column: string, expression: string][] {
  const keys: [string, string][] = [
    ['TenantId', 'TenantId'],
    ['MetricName', 'MetricName'],
    ['MetricUnit', 'MetricUnit'],
    ['ServiceName', 'ServiceName'],
    ['Attributes', 'Attributes'],
    ...family.extraKeys.map(([name]): [string, string] => [name, name]),
    ['BucketStart', bucketExpression(grain)],
  ];
  switch (family.kind) {
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

function createRollupTableStatements(
  options: SchemaOptions,
  family: RollupFamily,
  grain: RollupGrain,
): string[] {
  const columns = [
    ...KEY_COLUMNS,
    ...family.extraKeys.map(([name, type]) => `    ${name} ${type}`),
    "    BucketStart DateTime('UTC')",
    ...VALUE_COLUMNS[family.kind],
  ];
  return createTableStatements(options, {
    table: familyTable(family, grain),
    columns,
    engine: engine(options, 'AggregatingMergeTree'),
    partitionBy: grain === '1h' ? 'toYYYYMM(BucketStart)' : 'toYear(BucketStart)',
    orderBy: `(${keyNames(family).join(', ')})`,
    // Retried inserts into the raw table are deduplicated in the views' targets too (dependent-view dedup).
    settings: ['index_granularity = 8192', dedupSetting(options)],
  });
}

/**
 * The SELECT a view runs on each inserted block (sharded: on each shard's local table, into its local rollup, so a
 * tenant's rollups live on the shard of its rows), and the backfill runs once on existing rows.
 */
function rollupSelect(options: SchemaOptions, family: RollupFamily, grain: RollupGrain): string {
  const columns = projection(family, grain).map(([column, expression]) =>
    column === expression ? column : `${expression} AS ${column}`,
  );
  return [
    `SELECT ${columns.join(', ')}`,
    `FROM ${qualified(options, localTable(options, METRIC_TABLES[family.kind]))}`,
    `GROUP BY ${keyNames(family).join(', ')}`,
  ].join('\n');
}

function createRollupViewStatement(options: SchemaOptions, family: RollupFamily, grain: RollupGrain): string {
  return [
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(options, familyView(family, grain))}${onCluster(options)}`,
    `TO ${qualified(options, localTable(options, familyTable(family, grain)))}`,
    'AS',
    rollupSelect(options, family, grain),
  ].join('\n');
}

/**
 * Rolls up the raw rows written before the view existed. Guarded by "the rollup is empty", so a re-run (a forced
 * migration after a table went missing) never counts a row twice. Runs before the view is created: a view sees
 * only rows inserted after it exists.
 */
function rollupBackfillStatement(options: SchemaOptions, family: RollupFamily, grain: RollupGrain): string {
  const target = qualified(options, familyTable(family, grain));
  const select = rollupSelect(options, family, grain).replace(
    '\nGROUP BY',
    `\nWHERE (SELECT count() FROM ${target}) = 0\nGROUP BY`,
  );
  const columns = projection(family, grain).map(([column]) => column);
  return `INSERT INTO ${target} (${columns.join(', ')})\n${select}`;
}

/** Table, backfill (single node only: an INSERT has no `ON CLUSTER`), then view — per grain of the family. */
function familyStatements(options: SchemaOptions, family: RollupFamily): string[] {
  const statements: string[] = [];
  for (const grain of ROLLUP_GRAINS) {
    statements.push(...createRollupTableStatements(options, family, grain));
    if (options.cluster === undefined) statements.push(rollupBackfillStatement(options, family, grain));
    statements.push(createRollupViewStatement(options, family, grain));
  }
  return statements;
}

/**
 * Migration 2: sums, gauges (sources mixed) and histograms. On a cluster the backfill is left out (run
 * `rollupBackfillStatements` on one replica of each shard before writers resume).
 */
export function rollupMigrationStatements(options: SchemaOptions): string[] {
  return [SUM_FAMILY, GAUGE_FAMILY_V2, HISTOGRAM_FAMILY].flatMap((family) =>
    familyStatements(options, family),
  );
}

/**
 * Migration 3: gauge rollups keyed by source too. The new tables are created and backfilled from the raw rows
 * (which keep every source), their views created, and only then migration 2's gauge views and tables dropped
 * (views first, so no insert feeds a table being dropped). New names, not the old ones recreated: a forced re-run
 * of migration 2 then never backfills source-less rows into a table reads would take as per source.
 */
export function gaugeSourceMigrationStatements(options: SchemaOptions): string[] {
  const drops = ROLLUP_GRAINS.flatMap((grain) => [
    `DROP VIEW IF EXISTS ${qualified(options, familyView(GAUGE_FAMILY_V2, grain))}${onCluster(options)}`,
    ...dropTableStatements(options, familyTable(GAUGE_FAMILY_V2, grain)),
  ]);
  return [...familyStatements(options, GAUGE_SOURCE_FAMILY), ...drops];
}

/** The backfill of every rollup reads use (for clusters: run on one replica per shard after migrating). */
export function rollupBackfillStatements(options: SchemaOptions): string[] {
  return ROLLUP_KINDS.flatMap((kind) =>
    ROLLUP_GRAINS.map((grain) => rollupBackfillStatement(options, CURRENT_FAMILIES[kind], grain)),
  );
}
