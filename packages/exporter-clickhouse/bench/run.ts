/**
 * Rows/s per table: the exporter's `consumeBatch` (encode + token + insert) against a raw `@clickhouse/client`
 * insert of the same rows (pre-built row objects, `JSONEachRow`, the client's usual path) into the same store in
 * the same run. Rounds alternate the order; the median of each is reported. The store is embedded chDB, or
 * (`http`) a ClickHouse server over HTTP: the same engine behind the test endpoint in its own process, so both
 * paths pay the same HTTP round trip and server-side parse.
 *
 *   node --conditions=@tallyhouse/source bench/run.ts [rowsPerTable] [rounds] [embedded|http]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { EndpointProcess } from '@tallyhouse/clickhouse-http-endpoint';
import type { PointKind, SeriesPoint } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import { ClickHouseMetricExporter, openEmbeddedConnection } from '../src/index.ts';
import { METRIC_COLUMNS, METRIC_TABLES } from '../src/schema/tables.ts';

const rowsPerTable = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 5);
const store = process.argv[4] ?? 'embedded';
if (store !== 'embedded' && store !== 'http') throw new Error(`store must be embedded or http, got ${store}`);
const dataDir = mkdtempSync(join(tmpdir(), 'tallyhouse-bench-'));
const T0 = 1_700_000_000_000_000_000n;

function points(kind: PointKind, round: number, path: 'exporter' | 'raw'): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (let i = 0; i < rowsPerTable; i++) {
    const time = T0 + BigInt(round) * 3_600_000_000_000n + BigInt(i) * 1_000_000n;
    const base = {
      // Distinct tenants per round and path: nothing is deduplicated away.
      tenant: `${path}-r${round}-t${i % 20}`,
      // Attribute sets as the processor hands them on: canonical, keys sorted.
      resource: { 'host.name': `host-${i % 50}`, 'service.name': `svc-${i % 5}` },
      scope: { name: 'bench', version: '1.0.0' },
      attributes: {
        method: i % 2 === 0 ? 'GET' : 'POST',
        route: `/api/v1/items/${i % 100}`,
        status: 200 + (i % 3),
      },
      startTimeUnixNano: time - 10_000_000_000n,
      timeUnixNano: time,
    };
    const metric = {
      name: `metric.${kind}.${i % 30}`,
      description: 'bench',
      unit: 'ms',
      kind,
      monotonic: kind === 'sum',
    };
    switch (kind) {
      case 'sum':
      case 'gauge':
        out.push({ ...base, metric, value: { value: i * 0.25 } } as SeriesPoint);
        break;
      case 'histogram':
        out.push({
          ...base,
          metric,
          value: {
            count: 55,
            sum: 1234.5,
            bounds: [0, 5, 10, 25, 50, 75, 100, 250, 500, 1000],
            bucketCounts: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            min: 0.5,
            max: 999,
          },
        } as SeriesPoint);
        break;
      case 'exponentialHistogram':
        out.push({
          ...base,
          metric,
          value: {
            count: 210,
            sum: 4321.5,
            scale: 4,
            zeroCount: 0,
            positive: { offset: 10, bucketCounts: Array.from({ length: 20 }, (_, k) => k + 1) },
            negative: { offset: 0, bucketCounts: [] },
            min: 1,
            max: 90,
          },
        } as SeriesPoint);
        break;
    }
  }
  return out;
}

/** What a column holds when a row has nothing for it (empty map, array or text, zero). */
function emptyValue(type: string): unknown {
  if (type.startsWith('Map(')) return {};
  if (type.startsWith('Array(')) return [];
  if (type.includes('String')) return '';
  return 0;
}

/**
 * The same rows as plain objects, as an application using @clickhouse/client directly would hold them: every
 * column of the table's layout, the ones the point has nothing for with their empty value (as the exporter sends
 * them), so both paths insert rows of the same width.
 */
function rowObjects(kind: PointKind, source: readonly SeriesPoint[]): Record<string, unknown>[] {
  const columns = METRIC_COLUMNS[METRIC_TABLES[kind]];
  const empty = Object.fromEntries(columns.map((column) => [column.name, emptyValue(column.type)]));
  return source.map((point) => {
    const attributes = Object.fromEntries(Object.entries(point.attributes).map(([k, v]) => [k, String(v)]));
    const row: Record<string, unknown> = {
      ...empty,
      TenantId: point.tenant,
      ResourceAttributes: point.resource,
      ServiceName: point.resource['service.name'],
      ScopeName: point.scope.name,
      ScopeVersion: point.scope.version,
      MetricName: point.metric.name,
      MetricDescription: point.metric.description,
      MetricUnit: point.metric.unit,
      Attributes: attributes,
      StartTimeUnix: point.startTimeUnixNano.toString(),
      TimeUnix: point.timeUnixNano.toString(),
    };
    const value = point.value as unknown as Record<string, unknown>;
    switch (kind) {
      case 'sum':
        return { ...row, Value: value.value, AggregationTemporality: 1, IsMonotonic: true };
      case 'gauge':
        return { ...row, Value: value.value };
      case 'histogram':
        return {
          ...row,
          Count: value.count,
          Sum: value.sum,
          BucketCounts: value.bucketCounts,
          ExplicitBounds: value.bounds,
          Min: value.min,
          Max: value.max,
        };
      case 'exponentialHistogram': {
        const positive = value.positive as { offset: number; bucketCounts: number[] };
        const negative = value.negative as { offset: number; bucketCounts: number[] };
        return {
          ...row,
          Count: value.count,
          Sum: value.sum,
          Scale: value.scale,
          ZeroCount: value.zeroCount,
          PositiveOffset: positive.offset,
          PositiveBucketCounts: positive.bucketCounts,
          NegativeOffset: negative.offset,
          NegativeBucketCounts: negative.bucketCounts,
          Min: value.min,
          Max: value.max,
        };
      }
      default:
        throw new Error(`unknown point kind ${String(kind)}`);
    }
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const server =
    store === 'http' ? await EndpointProcess.start({ dataDir: join(dataDir, 'server') }) : undefined;
  const exporter = new ClickHouseMetricExporter({
    dataDir,
    logger: silentLogger,
    env: {},
    ...(server === undefined ? { connection: openEmbeddedConnection(dataDir) } : { url: server.url }),
  });
  await exporter.start();
  const raw = createClient(
    server === undefined ? { connection: openEmbeddedConnection(dataDir) } : { url: server.url },
  );

  // Summaries are not benchmarked: their rows are encoded like a histogram's without buckets.
  const kinds = (Object.keys(METRIC_TABLES) as PointKind[]).filter((kind) => kind !== 'summary');
  const results: { table: string; exporter: number; raw: number }[] = [];
  // Warm-up: one small insert per path and table.
  for (const kind of kinds) {
    await exporter.consumeBatch({ id: `warm-${kind}`, points: points(kind, 999, 'exporter').slice(0, 100) });
    await raw.insert({
      table: `otel.${METRIC_TABLES[kind]}`,
      values: rowObjects(kind, points(kind, 999, 'raw').slice(0, 100)),
      format: 'JSONEachRow',
    });
  }
  for (const kind of kinds) {
    const table = METRIC_TABLES[kind];
    const exporterTimes: number[] = [];
    const rawTimes: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const exporterPoints = points(kind, round, 'exporter');
      const rawRows = rowObjects(kind, points(kind, round, 'raw'));
      const runExporter = async () => {
        const start = performance.now();
        const result = await exporter.consumeBatch({ id: `bench-${kind}-${round}`, points: exporterPoints });
        exporterTimes.push(performance.now() - start);
        if (!result.ok) throw result.error;
      };
      const runRaw = async () => {
        const start = performance.now();
        await raw.insert({ table: `otel.${table}`, values: rawRows, format: 'JSONEachRow' });
        rawTimes.push(performance.now() - start);
      };
      if (round % 2 === 0) {
        await runExporter();
        await runRaw();
      } else {
        await runRaw();
        await runExporter();
      }
    }
    results.push({
      table,
      exporter: rowsPerTable / (median(exporterTimes) / 1000),
      raw: rowsPerTable / (median(rawTimes) / 1000),
    });
  }

  // Both paths must have stored every row.
  for (const kind of kinds) {
    const table = METRIC_TABLES[kind];
    const rows = await raw.query({
      query: `SELECT startsWith(TenantId, 'exporter') AS exporter, count() AS c FROM otel.${table} WHERE TenantId NOT LIKE '%r999%' GROUP BY exporter ORDER BY exporter`,
      format: 'JSONEachRow',
    });
    const counts = (await rows.json()) as { c: string | number }[];
    for (const count of counts) {
      if (Number(count.c) !== rowsPerTable * rounds)
        throw new Error(`${table}: expected ${rowsPerTable * rounds} rows, found ${count.c}`);
    }
  }

  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const into =
    server === undefined ? 'embedded chDB' : 'a ClickHouse server over HTTP (chDB behind the test endpoint)';
  console.log(`\nTallyhouse exporter vs raw @clickhouse/client into ${into}`);
  console.log(
    `${rowsPerTable} rows per insert, median of ${rounds} rounds, ${cpus().length} cores (${cpu}), Node ${process.version}\n`,
  );
  console.log('| table | exporter rows/s | raw client rows/s | ratio |');
  console.log('|---|---:|---:|---:|');
  for (const result of results) {
    console.log(
      `| ${result.table} | ${Math.round(result.exporter).toLocaleString('en-US')} | ${Math.round(result.raw).toLocaleString('en-US')} | ${(result.exporter / result.raw).toFixed(2)}× |`,
    );
  }
  console.log(
    `\ncolumns per table: ${kinds.map((kind) => METRIC_COLUMNS[METRIC_TABLES[kind]].length).join(', ')}`,
  );
  await exporter.shutdown();
  await raw.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
