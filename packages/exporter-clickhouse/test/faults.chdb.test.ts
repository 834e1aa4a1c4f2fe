import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PointKind } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ClickHouseMetricExporter,
  type ClickHouseMetricExporterOptions,
  openEmbeddedConnection,
  RetentionFullError,
} from '../src/index.ts';
import { METRIC_TABLES } from '../src/schema/tables.ts';
import {
  connectionRefused,
  FaultInjectingConnection,
  mixedBatch,
  sumPoint,
  tempDir,
  tooManyParts,
  typeMismatch,
} from './support.ts';

// One chDB data directory for the whole file (one per process); every test uses its own database.
const dataDir = tempDir('faults');
const open: ClickHouseMetricExporter[] = [];
/** Reads counts on its own connection, so it works after an exporter closed its own. */
const observer = openEmbeddedConnection(dataDir);
let databases = 0;

function setup(options: Partial<ClickHouseMetricExporterOptions> = {}) {
  const connection = new FaultInjectingConnection(openEmbeddedConnection(dataDir));
  const database = options.database ?? `faults_${++databases}`;
  const exporter = new ClickHouseMetricExporter({
    dataDir,
    database,
    connection,
    logger: silentLogger,
    env: {},
    // Retries are driven by forceFlush() below; no test waits on a clock.
    retryInitialDelayMs: 1,
    retryMaxDelayMs: 2,
    random: () => 0,
    shutdownTimeoutMs: 5_000,
    ...options,
  });
  open.push(exporter);
  return { exporter, connection, database };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((exporter) => exporter.shutdown()));
});

afterAll(async () => {
  await observer.close();
});

/** Runs retry passes until nothing is retained (bounded, so a bug fails the test instead of hanging). */
async function drain(exporter: ClickHouseMetricExporter): Promise<void> {
  for (let pass = 0; pass < 50 && exporter.stats().retainedParts > 0; pass++) await exporter.forceFlush();
  expect(exporter.stats().retainedParts).toBe(0);
}

async function rowCounts(_connection: FaultInjectingConnection, database: string, tenant: string) {
  const counts: Record<string, number> = {};
  const sql = (table: string) => `SELECT count() AS c FROM ${database}.${table} WHERE TenantId = '${tenant}'`;
  for (const kind of Object.keys(METRIC_TABLES) as PointKind[]) {
    const result = await observer.query({ query: `${sql(METRIC_TABLES[kind])} FORMAT JSONEachRow` });
    let text = '';
    for await (const chunk of result.stream) text += Buffer.from(chunk as Uint8Array).toString('utf8');
    counts[kind] = Number((JSON.parse(text.trim()) as { c: string | number }).c);
  }
  return counts;
}

const once = { sum: 1, gauge: 1, histogram: 1, exponentialHistogram: 1, summary: 1 };

describe('retryable failures: kept, retried, written exactly once', () => {
  it('keeps a batch whose inserts fail three times and writes it once', async () => {
    const { exporter, connection, database } = setup();
    await exporter.start();
    connection.fail({ mode: 'before', times: 15, error: tooManyParts });
    expect(await exporter.consumeBatch(mixedBatch('b-three', 'acme'))).toEqual({ ok: true });
    expect(exporter.stats().retainedParts).toBe(5);
    await drain(exporter);
    expect(await rowCounts(connection, database, 'acme')).toEqual(once);
    expect(exporter.stats().retries).toBeGreaterThanOrEqual(3);
    expect(exporter.stats().rowsWritten).toEqual({
      otel_metrics_sum: 1,
      otel_metrics_gauge: 1,
      otel_metrics_histogram: 1,
      otel_metrics_exponential_histogram: 1,
      otel_metrics_summary: 1,
    });
  });

  it('re-sends only the table that failed when one table of five fails', async () => {
    // A backoff long enough that no timer retries before the count below (a 0 ms one races the batch's other
    // inserts); drain() forces the retry.
    const { exporter, connection, database } = setup({
      retryInitialDelayMs: 60_000,
      retryMaxDelayMs: 60_000,
      random: () => 0.5,
    });
    await exporter.start();
    connection.fail({ table: '.otel_metrics_histogram', mode: 'before', error: tooManyParts });
    expect(await exporter.consumeBatch(mixedBatch('b-one-of-five', 'acme'))).toEqual({ ok: true });
    expect(exporter.stats().retainedParts).toBe(1);
    await drain(exporter);
    expect(await rowCounts(connection, database, 'acme')).toEqual(once);
    // The embedded fast path (chdb/connection's raw insert) is the one under test.
    for (const insert of connection.applied)
      expect(insert.statement).toMatch(/^INSERT INTO faults_\d+\.otel_metrics_\w+$/);
    const sent = connection.applied.map((insert) => insert.statement.match(/\.(otel_metrics_\w+)/)?.[1]);
    expect(sent.sort()).toEqual([
      'otel_metrics_exponential_histogram',
      'otel_metrics_gauge',
      'otel_metrics_histogram',
      'otel_metrics_sum',
      'otel_metrics_summary',
    ]);
  });

  it('does not double count when a timed-out insert is applied later by the server', async () => {
    const { exporter, connection, database } = setup();
    await exporter.start();
    connection.fail({ mode: 'timeout-then-apply', times: 5, error: () => new Error('Timeout error.') });
    expect(await exporter.consumeBatch(mixedBatch('b-timeout', 'acme'))).toEqual({ ok: true });
    await drain(exporter);
    await connection.settled();
    expect(await rowCounts(connection, database, 'acme')).toEqual(once);
    // Each table's rows reached the engine twice (late original + retry) under one token.
    const tokens = connection.applied.map((insert) => insert.token);
    expect(tokens).toHaveLength(10);
    expect(new Set(tokens).size).toBe(5);
  });

  it('does not double count when ClickHouse applied the insert but the acknowledgement was lost', async () => {
    const { exporter, connection, database } = setup();
    await exporter.start();
    connection.fail({
      mode: 'after',
      times: 5,
      error: () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    });
    expect(await exporter.consumeBatch(mixedBatch('b-after', 'acme'))).toEqual({ ok: true });
    await drain(exporter);
    expect(await rowCounts(connection, database, 'acme')).toEqual(once);
  });

  it('recreates a table that was dropped underneath it and writes the retained rows', async () => {
    const { exporter, connection, database } = setup();
    await exporter.start();
    await connection.inner.command({ query: `DROP TABLE ${database}.otel_metrics_gauge` });
    expect(await exporter.consumeBatch(mixedBatch('b-dropped', 'acme'))).toEqual({ ok: true });
    await drain(exporter);
    expect(await rowCounts(connection, database, 'acme')).toEqual(once);
  });

  it('hands points back when the retry buffer is full, and a re-send of them adds no duplicates', async () => {
    const { exporter, connection, database } = setup({ maxRetainedRows: 3 });
    await exporter.start();
    const fault = connection.fail({ mode: 'before', times: 1000, error: connectionRefused });
    const batch = mixedBatch('b-full', 'acme');
    const result = await exporter.consumeBatch(batch);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(RetentionFullError);
    expect(result.failed).toHaveLength(2);
    expect(exporter.stats().retainedRows).toBe(3);
    expect(exporter.stats().refusedPoints).toBe(2);
    // Exactly the points it did not take: retained + failed = the batch.
    const kinds = result.failed.map((point) => point.metric.kind).sort();
    expect(kinds).toEqual(['exponentialHistogram', 'summary']);
    const attemptsWhenFull = exporter.stats().insertAttempts;

    // While the buffer is full, handed-back parts are not even attempted (an attempt that might apply
    // could not be retained, and the upstream re-send would count it twice).
    const whileFull = await exporter.consumeBatch({ id: batch.id, points: result.failed });
    expect(whileFull.ok).toBe(false);
    expect(exporter.stats().insertAttempts).toBe(attemptsWhenFull);

    fault.times = 0; // ClickHouse is back: the retained parts drain, then the re-send fits
    await drain(exporter);
    expect(await exporter.consumeBatch({ id: batch.id, points: result.failed })).toEqual({ ok: true });
    await drain(exporter);
    expect(await rowCounts(connection, database, 'acme')).toEqual(once);
  });
});

describe('permanent failures: dead letters, never silence', () => {
  it('puts the rows of a table that can never take them into tallyhouse_dead_letters and writes the rest', async () => {
    const { exporter, connection, database } = setup();
    await exporter.start();
    connection.fail({ table: '.otel_metrics_gauge', mode: 'before', error: typeMismatch });
    expect(await exporter.consumeBatch(mixedBatch('b-permanent', 'tenant-x'))).toEqual({ ok: true });
    expect(exporter.stats().retainedParts).toBe(0);
    expect(await rowCounts(connection, database, 'tenant-x')).toEqual({ ...once, gauge: 0 });
    const result = await connection.inner.query({
      query: `SELECT TenantId, TableName, BatchId, ErrorCode, Payload FROM ${database}.tallyhouse_dead_letters FORMAT JSONEachRow`,
    });
    let text = '';
    for await (const chunk of result.stream) text += Buffer.from(chunk as Uint8Array).toString('utf8');
    const letters = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      TenantId: 'tenant-x',
      TableName: 'otel_metrics_gauge',
      BatchId: 'b-permanent',
      ErrorCode: 'TYPE_MISMATCH',
    });
    expect(JSON.parse(letters[0]!.Payload!)[0]).toBe('tenant-x');
    expect(exporter.stats().deadLetterRows).toBe(1);
  });

  it('writes dead letters to a file under the data dir when ClickHouse cannot take them either', async () => {
    const { exporter, connection } = setup();
    await exporter.start();
    connection.fail({ table: '.otel_metrics_sum', mode: 'before', error: typeMismatch });
    connection.fail({ table: 'tallyhouse_dead_letters', mode: 'before', error: connectionRefused });
    expect(
      await exporter.consumeBatch({ id: 'b-file', points: [sumPoint(7, { tenant: 'tenant-file' })] }),
    ).toEqual({ ok: true });
    const lines = readFileSync(join(dataDir, 'dead-letters', 'dead-letters.ndjson'), 'utf8')
      .trim()
      .split('\n');
    const mine = lines
      .map((line) => JSON.parse(line) as Record<string, string>)
      .filter((letter) => letter.batchId === 'b-file');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      tenant: 'tenant-file',
      table: 'otel_metrics_sum',
      errorCode: 'TYPE_MISMATCH',
    });
    expect(exporter.stats().deadLetterFileRows).toBe(1);
  });

  it('treats an unknown table as permanent when schema creation is off', async () => {
    const { exporter } = setup({ createSchema: false, database: 'never_created' });
    expect(
      await exporter.consumeBatch({ id: 'b-noschema', points: [sumPoint(1, { tenant: 'tenant-noschema' })] }),
    ).toEqual({ ok: true });
    expect(exporter.stats().retainedParts).toBe(0);
    const lines = readFileSync(join(dataDir, 'dead-letters', 'dead-letters.ndjson'), 'utf8')
      .trim()
      .split('\n');
    const mine = lines
      .map((line) => JSON.parse(line) as Record<string, string>)
      .filter((letter) => letter.batchId === 'b-noschema');
    expect(mine.map((letter) => letter.errorCode)).toEqual(['UNKNOWN_DATABASE']);
  });
});

describe('shutdown and spool', () => {
  it('shutdown() stops at its deadline and reports what it could not write (dead-letter file without spool)', async () => {
    const { exporter, connection } = setup({ shutdownTimeoutMs: 20 });
    await exporter.start();
    connection.fail({ mode: 'before', times: 1_000_000, error: connectionRefused });
    expect(await exporter.consumeBatch(mixedBatch('b-shutdown', 'tenant-down'))).toEqual({ ok: true });
    const report = await exporter.shutdownWithReport();
    expect(report.unwrittenRows).toBe(5);
    expect(report.keptIn).toBe('dead-letter-file');
    expect(report.unwritten.map((part) => part.table).sort()).toEqual([
      'otel_metrics_exponential_histogram',
      'otel_metrics_gauge',
      'otel_metrics_histogram',
      'otel_metrics_sum',
      'otel_metrics_summary',
    ]);
    const lines = readFileSync(join(dataDir, 'dead-letters', 'dead-letters.ndjson'), 'utf8')
      .trim()
      .split('\n');
    const mine = lines
      .map((line) => JSON.parse(line) as Record<string, string>)
      .filter((letter) => letter.batchId === 'b-shutdown');
    expect(mine.map((letter) => letter.errorCode)).toEqual(Array(5).fill('SHUTDOWN_UNWRITTEN'));
    expect(await exporter.consumeBatch(mixedBatch('b-late', 'tenant-down'))).toMatchObject({ ok: false });
  });

  it('shutdown() drains what it can before the deadline', async () => {
    const { exporter, connection, database } = setup({ shutdownTimeoutMs: 60_000 });
    await exporter.start();
    connection.fail({ mode: 'before', times: 6, error: tooManyParts });
    expect(await exporter.consumeBatch(mixedBatch('b-drain', 'tenant-drain'))).toEqual({ ok: true });
    const report = await exporter.shutdownWithReport();
    expect(report.unwrittenRows).toBe(0);
    expect(await rowCounts(connection, database, 'tenant-drain')).toEqual(once);
  });

  it('replays spooled parts at the next start, and the replay of an already applied insert adds nothing', async () => {
    const spoolDir = tempDir('spool');
    const first = setup({ dataDir: spoolDir, spool: true, shutdownTimeoutMs: 0, database: 'spooled' });
    await first.exporter.start();
    // The sum insert is applied but never acknowledged; the others fail outright.
    first.connection.fail({
      table: '.otel_metrics_sum',
      mode: 'after',
      times: 1_000_000,
      error: connectionRefused,
    });
    first.connection.fail({ mode: 'before', times: 1_000_000, error: connectionRefused });
    const batch = mixedBatch('b-spool', 'tenant-spool');
    expect(await first.exporter.consumeBatch(batch)).toEqual({ ok: true });
    expect(first.exporter.stats().spooledParts).toBe(5);
    const report = await first.exporter.shutdownWithReport();
    expect(report.keptIn).toBe('spool');

    // "Restart": a new exporter on the same data dir (spool dir is the dataDir's, the engine is this file's).
    const second = setup({ dataDir: spoolDir, spool: true, database: 'spooled' });
    expect(second.exporter.stats().replayedParts).toBe(5);
    await drain(second.exporter);
    expect(await rowCounts(second.connection, 'spooled', 'tenant-spool')).toEqual(once);
    expect(second.exporter.stats().spooledParts).toBe(0);
    // A replayed part holds the rows as encoded: every kind reads back as sent, a summary with its quantiles.
    const reader = await second.exporter.reader();
    for (const point of batch.points) {
      expect(await reader.points('tenant-spool', point.metric.kind)).toEqual([point]);
    }
  });
});
