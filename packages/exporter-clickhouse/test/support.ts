/** Test support: temp dirs, point builders, and fault injection wrapped around the real connection. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ClickHouseError } from '@clickhouse/client';
import { EndpointProcess, testStoreEnv } from '@tallyhouse/clickhouse-http-endpoint';
import type {
  ExponentialHistogramValue,
  HistogramValue,
  PointKind,
  SeriesBatch,
  SeriesPoint,
  SummaryValue,
} from '@tallyhouse/model';
import { type Env, silentLogger } from '@tallyhouse/model';
import { embeddedDataPath } from '../src/connection.ts';
import {
  type ClickHouseConnection,
  ClickHouseMetricExporter,
  openEmbeddedConnection,
  openStorageConnection,
  type QueryConnection,
  resolveExporterConfig,
  type SchemaOptions,
  type StorageConnection,
} from '../src/index.ts';
import { encodeBatch } from '../src/row-encoding.ts';
import { ensureSchema, MIGRATIONS } from '../src/schema/migrations.ts';
import { quoteIdentifier } from '../src/schema/sql.ts';
import {
  CURRENT_ROW_LAYOUT,
  layoutColumns,
  METRIC_TABLE_NAMES,
  METRIC_TABLES,
  type MetricTableName,
  type RowLayout,
} from '../src/schema/tables.ts';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tallyhouse-${prefix}-`));
}

/**
 * The store the storage suites run on. Embedded (default): the engine in each test's data directory. `http` (the
 * `http-store` vitest project): a ClickHouse server over HTTP — the same engine behind the test endpoint, one
 * process per test file (the endpoint's `http-store-setup.ts`) — so one suite proves both paths (the exporter inserts through
 * chDB's raw insert embedded, through HTTP inserts otherwise).
 */
export const TEST_STORE: 'embedded' | 'http' =
  process.env.TALLYHOUSE_TEST_STORE === 'http' ? 'http' : 'embedded';

/** The environment an exporter reads its store from: nothing (embedded) or the HTTP store's URL and user. */
export function storeEnv(): Env {
  return testStoreEnv();
}

/** Where an exporter or a reader finds a store. */
export interface StoreOptions {
  readonly dataDir: string;
  readonly env: Env;
  readonly connection?: ClickHouseConnection;
}

/**
 * Options for an exporter or reader on the test store (`env`: where it is, `storeEnv()` unless handed over):
 * embedded, a connection of its own to the engine in `dataDir`; HTTP, the URL in `env`.
 */
export function storeConnection(dataDir: string, env: Env = storeEnv()): StoreOptions {
  return env.CLICKHOUSE_URL === undefined
    ? { dataDir, env, connection: openEmbeddedConnection(dataDir) }
    : { dataDir, env };
}

/** An exporter writing to the test store (embedded: the engine in `dataDir`). */
export function storeExporter(dataDir: string): ClickHouseMetricExporter {
  return new ClickHouseMetricExporter({ ...storeConnection(dataDir), logger: silentLogger });
}

/** Another connection to the test store, for readers and SQL of the test's own. */
export function storeStorage(dataDir: string, env: Env = storeEnv()): StorageConnection {
  return openStorageConnection(resolveExporterConfig(storeConnection(dataDir, env)));
}

/**
 * A connection to the embedded engine in `dataDir`, on either store: upgrade tests build an older data directory
 * with it (an older exporter's writes go through the engine's raw insert), then `handOverToTestStore`.
 */
export function embeddedStorage(dataDir: string): StorageConnection {
  return openStorageConnection(
    resolveExporterConfig({ dataDir, env: {}, connection: openEmbeddedConnection(dataDir) }),
  );
}

/**
 * Where the store of the engine files in `dataDir` is (the `env` of `storeConnection` and `storeStorage`), once an
 * older data directory was built there through `builder` (an `embeddedStorage`; every other embedded connection to
 * it must be closed). Embedded: the engine in place. HTTP: the files served by an endpoint process of their own —
 * an older data directory opened by the current exporter over HTTP.
 */
export async function handOverToTestStore(dataDir: string, builder: StorageConnection): Promise<Env> {
  // Embedded, the builder's engine session is the one every later connection shares: it stays open.
  if (TEST_STORE === 'embedded') return storeEnv();
  await builder.close();
  const user = process.env.TALLYHOUSE_TEST_CLICKHOUSE_USER ?? 'default';
  const password = process.env.TALLYHOUSE_TEST_CLICKHOUSE_PASSWORD ?? '';
  // Stopped with this test process (EndpointProcess kills its child on exit).
  const endpoint = await EndpointProcess.start({ dataDir: embeddedDataPath(dataDir), user, password });
  return { CLICKHOUSE_URL: endpoint.url, CLICKHOUSE_USER: user, CLICKHOUSE_PASSWORD: password };
}

/** `connection`'s plain `queryRows` path (no client), telling `record` every statement first. */
export function recordingConnection(
  connection: StorageConnection,
  record: (sql: string, params: Record<string, unknown> | undefined) => void,
): QueryConnection {
  return {
    queryRows: <T>(sql: string, params?: Record<string, unknown>) => {
      record(sql, params);
      return connection.queryRows<T>(sql, params);
    },
  };
}

const T0 = 1_700_000_000_123_456_789n;

interface PointOptions {
  tenant?: string;
  name?: string;
  attributes?: SeriesPoint['attributes'];
  start?: bigint;
  time?: bigint;
  service?: string;
}

function base(kind: PointKind, options: PointOptions) {
  return {
    tenant: options.tenant ?? 'acme',
    resource: { 'service.name': options.service ?? 'checkout' },
    scope: { name: 'tallyhouse-test', version: '1.0.0' },
    attributes: options.attributes ?? { route: '/pay' },
    startTimeUnixNano: options.start ?? T0,
    timeUnixNano: options.time ?? T0 + 10_000_000_001n,
    metric: {
      name: options.name ?? `test.${kind}`,
      description: `a ${kind}`,
      unit: kind === 'sum' ? '{request}' : 'ms',
      kind,
      monotonic: kind === 'sum',
    },
  };
}

export function sumPoint(value: number, options: PointOptions = {}): SeriesPoint<'sum'> {
  const point = base('sum', options);
  return { ...point, metric: { ...point.metric, kind: 'sum' }, value: { value } };
}

export function gaugePoint(value: number, options: PointOptions = {}): SeriesPoint<'gauge'> {
  const point = base('gauge', options);
  return { ...point, metric: { ...point.metric, kind: 'gauge', monotonic: false }, value: { value } };
}

export function histogramPoint(
  value: Partial<HistogramValue> = {},
  options: PointOptions = {},
): SeriesPoint<'histogram'> {
  const point = base('histogram', options);
  return {
    ...point,
    metric: { ...point.metric, kind: 'histogram', monotonic: false },
    value: { count: 6, sum: 123.5, bounds: [10, 100], bucketCounts: [1, 3, 2], min: 0.5, max: 250, ...value },
  };
}

export function expHistogramPoint(
  value: Partial<ExponentialHistogramValue> = {},
  options: PointOptions = {},
): SeriesPoint<'exponentialHistogram'> {
  const point = base('exponentialHistogram', options);
  return {
    ...point,
    metric: { ...point.metric, kind: 'exponentialHistogram', monotonic: false },
    value: {
      count: 7,
      sum: 42.25,
      scale: 3,
      zeroCount: 1,
      positive: { offset: -2, bucketCounts: [1, 2, 3] },
      negative: { offset: 1, bucketCounts: [0] },
      min: -1.5,
      max: 20,
      ...value,
    },
  };
}

export function summaryPoint(
  value: Partial<SummaryValue> = {},
  options: PointOptions = {},
): SeriesPoint<'summary'> {
  const point = base('summary', options);
  return {
    ...point,
    metric: { ...point.metric, kind: 'summary', monotonic: false },
    value: {
      count: 12,
      sum: 300.75,
      quantileValues: [
        { quantile: 0, value: 1.5 },
        { quantile: 0.5, value: 20 },
        { quantile: 0.99, value: 88.25 },
        { quantile: 1, value: 90 },
      ],
      ...value,
    },
  };
}

/** Every point kind, in `METRIC_TABLES` order. */
export const POINT_KINDS = Object.keys(METRIC_TABLES) as PointKind[];

/** One point of each of `kinds` (default: every kind) for `tenant`, in that order. */
export function mixedBatch(
  id: string,
  tenant = 'acme',
  value = 1,
  kinds: readonly PointKind[] = POINT_KINDS,
): SeriesBatch {
  const of: Record<PointKind, () => SeriesPoint> = {
    sum: () => sumPoint(value, { tenant }),
    gauge: () => gaugePoint(value * 2, { tenant }),
    histogram: () => histogramPoint({}, { tenant }),
    exponentialHistogram: () => expHistogramPoint({}, { tenant }),
    summary: () => summaryPoint({}, { tenant }),
  };
  return { id, points: kinds.map((kind) => of[kind]()) };
}

export function tooManyParts(): ClickHouseError {
  return new ClickHouseError({
    message: 'Too many parts (300). Merges are processing significantly slower than inserts',
    code: '252',
    type: 'TOO_MANY_PARTS',
  });
}

export function typeMismatch(): ClickHouseError {
  return new ClickHouseError({
    message: 'Type mismatch in VALUES section',
    code: '53',
    type: 'TYPE_MISMATCH',
  });
}

export function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
}

export type FaultMode =
  /** Throw without touching ClickHouse. */
  | 'before'
  /** Let ClickHouse apply the insert, then throw (the ack was lost). */
  | 'after'
  /** Throw a client timeout at once, and apply the insert a moment later (the server was just slow). */
  | 'timeout-then-apply';

export interface Fault {
  /** Matches inserts into this table (its name, or the name's end: `.otel_metrics_sum`). Default: every insert. */
  readonly table?: string;
  /** How many matching inserts fail. */
  times: number;
  readonly mode: FaultMode;
  readonly error: () => Error;
}

/**
 * The real connection with faults injected into INSERT statements (`exec` with values); everything else, and
 * every insert not matched by a fault, goes straight to the real engine.
 */
export class FaultInjectingConnection implements ClickHouseConnection {
  readonly inner: ClickHouseConnection;
  readonly faults: Fault[] = [];
  /** Inserts that reached the engine: table and deduplication token. */
  readonly applied: { statement: string; token: string | undefined }[] = [];
  private readonly late = new Set<Promise<unknown>>();

  constructor(inner: ClickHouseConnection) {
    this.inner = inner;
  }

  /** Adds a fault; the returned entry can be changed later (e.g. `times = 0` when "the server is back"). */
  fail(fault: Omit<Fault, 'times'> & { times?: number }): Fault {
    const entry: Fault = { ...fault, times: fault.times ?? 1 };
    this.faults.push(entry);
    return entry;
  }

  /** Waits for inserts applied after their caller already saw a timeout. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.late]);
  }

  ping(params: Parameters<ClickHouseConnection['ping']>[0]) {
    return this.inner.ping(params);
  }
  query(params: Parameters<ClickHouseConnection['query']>[0]) {
    return this.inner.query(params);
  }
  insert(params: Parameters<ClickHouseConnection['insert']>[0]) {
    return this.inner.insert(params);
  }
  command(params: Parameters<ClickHouseConnection['command']>[0]) {
    return this.inner.command(params);
  }
  close() {
    return this.inner.close();
  }

  async exec(params: Parameters<ClickHouseConnection['exec']>[0]) {
    const statement = params.query;
    if (!statement.startsWith('INSERT') || params.values === undefined) return this.inner.exec(params);
    const token = params.clickhouse_settings?.insert_deduplication_token as string | undefined;
    let result: Awaited<ReturnType<ClickHouseConnection['exec']>> | undefined;
    await this.intercept(
      statement,
      token,
      async () => {
        result = await this.inner.exec(params);
      },
      async () => {
        for await (const _chunk of params.values as Readable) {
          // discard, like a transport that failed mid-request
        }
      },
    );
    if (result === undefined) throw new Error('unreachable');
    return result;
  }

  /** `chdb/connection`'s raw insert (the embedded fast path), with the same faults. */
  get chdb(): RawInsertExtension {
    const inner = (this.inner as unknown as { chdb: RawInsertExtension }).chdb;
    return {
      ...inner,
      rawInsert: async (params) => {
        await this.intercept(
          `INSERT INTO ${params.table}`,
          params.settings?.insert_deduplication_token as string | undefined,
          async () => {
            await inner.rawInsert(params);
          },
          async () => {},
        );
      },
    };
  }

  private async intercept(
    statement: string,
    token: string | undefined,
    run: () => Promise<void>,
    discard: () => Promise<void>,
  ): Promise<void> {
    const plain = statement.replace(/`/g, '');
    const fault = this.faults.find(
      (candidate) =>
        candidate.times > 0 && (candidate.table === undefined || insertsInto(plain, candidate.table)),
    );
    if (fault === undefined) {
      await run();
      this.applied.push({ statement: plain, token });
      return;
    }
    fault.times -= 1;
    switch (fault.mode) {
      case 'before':
        await discard();
        throw fault.error();
      case 'after':
        await run();
        this.applied.push({ statement: plain, token });
        throw fault.error();
      case 'timeout-then-apply': {
        const late = (async () => {
          await new Promise((resolve) => setImmediate(resolve));
          await run();
          this.applied.push({ statement: plain, token });
        })();
        this.late.add(late);
        throw fault.error();
      }
    }
  }
}

/** Whether an insert statement names `table` (so `.otel_metrics_sum` never matches `….otel_metrics_summary`). */
function insertsInto(statement: string, table: string): boolean {
  return statement.split(/[\s(]+/).some((word) => word.endsWith(table));
}

interface RawInsertExtension {
  rawInsert(params: { table: string; settings?: Record<string, unknown> }): Promise<unknown>;
}

/**
 * The embedded connection of an exporter that predates row layout `layout`: every metric-table insert keeps
 * only that layout's columns (the rows an older exporter wrote: it encoded those columns the same way). Lets a
 * test build a data directory at an old schema version with the current exporter.
 */
export function olderLayoutConnection(dataDir: string, layout: RowLayout): ClickHouseConnection {
  const inner = openEmbeddedConnection(dataDir);
  const raw = (inner as unknown as { chdb: { rawInsert(params: RawInsertParams): Promise<unknown> } }).chdb;
  const chdb = {
    ...raw,
    rawInsert: (params: RawInsertParams) => {
      const table = METRIC_TABLE_NAMES.find((name) => params.table.endsWith(`.${name}`));
      if (table === undefined) return raw.rawInsert(params);
      const current = layoutColumns(table, CURRENT_ROW_LAYOUT).map((column) => column.name);
      if (params.columns.join() !== current.join()) throw new Error(`unexpected columns ${params.columns}`);
      return raw.rawInsert({
        ...params,
        columns: layoutColumns(table, layout).map((column) => column.name),
        values: Buffer.from(inOlderLayout(table, params.values.toString('utf8'), layout), 'utf8'),
      });
    },
  };
  return new Proxy(inner, {
    get: (target, property) => {
      if (property === 'chdb') return chdb;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Writes `points` into `database` as an exporter of row layout `layout` wrote them, through any store's plain SQL
 * path (an `INSERT … FORMAT JSONCompactEachRow` with the rows inline): how a test puts old rows into the HTTP
 * store, where no embedded raw insert exists.
 */
export async function writeInOlderLayout(
  storage: StorageConnection,
  database: string,
  points: readonly SeriesPoint[],
  layout: RowLayout,
): Promise<void> {
  for (const rows of encodeBatch(points, { tenantAttribute: 'tenant.id' }).tables) {
    const columns = layoutColumns(rows.table, layout).map((column) => quoteIdentifier(column.name));
    const body = inOlderLayout(rows.table, `${rows.lines.join('\n')}\n`, layout);
    await storage.command(
      `INSERT INTO ${quoteIdentifier(database)}.${rows.table} (${columns.join(', ')}) FORMAT JSONCompactEachRow\n${body}`,
    );
  }
}

/** A JSONCompactEachRow body of the current layout with only `layout`'s columns (what an older exporter wrote). */
export function inOlderLayout(table: MetricTableName, body: string, layout: RowLayout): string {
  const current = layoutColumns(table, CURRENT_ROW_LAYOUT).map((column) => column.name);
  const keep = layoutColumns(table, layout).map((column) => current.indexOf(column.name));
  const lines = body.split('\n').filter((line) => line !== '');
  const projected = lines.map((line) => {
    const row = parseExactly(line) as unknown[];
    return JSON.stringify(keep.map((index) => row[index]));
  });
  return `${projected.join('\n')}\n`;
}

interface RawInsertParams {
  table: string;
  columns: readonly string[];
  values: Buffer;
  settings?: Record<string, unknown>;
}

/** JSON.parse keeping every number's text (nanosecond times exceed a double). */
function parseExactly(text: string): unknown {
  const json = JSON as unknown as {
    rawJSON(text: string): unknown;
    parse(
      text: string,
      reviver: (key: string, value: unknown, context: { source?: string }) => unknown,
    ): unknown;
  };
  return json.parse(text, (_key, value, context) =>
    typeof value === 'number' && context?.source !== undefined ? json.rawJSON(context.source) : value,
  );
}

/** The schema options of a single-node data directory in database `otel`, as the exporter's defaults give. */
export const SINGLE_NODE_SCHEMA: SchemaOptions = {
  database: 'otel',
  cluster: undefined,
  replicationPath: '',
  replicaName: '',
  ttlDays: undefined,
  dedupWindow: 10_000,
};

/**
 * A data directory at schema `version` (the migrations up to it only) and an exporter that writes what that
 * version's exporter wrote (row layout 1 before version 4, then 2) and migrates nothing: how an upgrade test
 * builds the directory the current exporter then opens. `storage` runs the migrations.
 */
export async function exporterAtSchemaVersion(
  dataDir: string,
  version: number,
  storage: StorageConnection,
): Promise<ClickHouseMetricExporter> {
  await ensureSchema(schemaExecutor(storage), SINGLE_NODE_SCHEMA, silentLogger, {
    migrations: MIGRATIONS.filter((migration) => migration.version <= version),
  });
  return new ClickHouseMetricExporter({
    dataDir,
    env: {},
    logger: silentLogger,
    createSchema: false,
    connection: olderLayoutConnection(dataDir, version < 4 ? 1 : 2),
  });
}

/** What `ensureSchema` runs its statements through, over a test's own connection. */
export function schemaExecutor(storage: StorageConnection) {
  return {
    command: (sql: string) => storage.command(sql),
    queryRows: <T>(sql: string) => storage.queryRows<T>(sql),
  };
}
