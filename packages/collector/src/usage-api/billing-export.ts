/**
 * `GET /v1/admin/export`: every tenant's totals of some sum metrics over one billing period, in one streamed
 * answer — JSON lines or CSV. Rows leave as the engine sends them (one statement over the rollups, ordered by
 * tenant, metric, unit and group values), with the socket's back-pressure respected, so memory holds a batch
 * whatever the number of tenants.
 *
 * The status line goes out with the first row: a read refused or failed before it is an ordinary error answer. A
 * failure after it destroys the connection, so a client never takes a cut-off export for a complete one (the
 * chunked body never ends properly). The range answered is in the headers (`x-tallyhouse-from`/`-to`).
 */
import type { ServerResponse } from 'node:http';
import type { PeriodTotal, UsageReader } from '@tallyhouse/exporter-clickhouse';
import { stringify } from 'csv-stringify/sync';
import { readerLimits, type UsageReadLimits } from './read-limits.ts';
import { formatTime } from './time-format.ts';
import type { AdminUsageQuery } from './usage-query.ts';

export type ExportReads = Pick<UsageReader, 'adminPeriodTotals'>;
type ExportQuery = Extract<AdminUsageQuery, { view: 'export' }>;

/** Rows per piece written: few enough to keep slices short, enough to keep writes large. */
const ROWS_PER_WRITE = 512;

const CONTENT_TYPES = { jsonl: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' } as const;

/** Streams the export; resolves with the status sent. Throws (nothing sent yet) when the read fails at once. */
export async function sendBillingExport(
  reader: ExportReads,
  query: ExportQuery,
  limits: UsageReadLimits,
  response: ServerResponse,
): Promise<number> {
  const rows = reader.adminPeriodTotals(
    {
      metrics: query.metrics,
      range: { fromUnixNano: query.fromUnixNano, toUnixNano: query.toUnixNano },
      groupBy: query.groupBy,
    },
    readerLimits(limits),
  );
  const encode = query.format === 'csv' ? csvEncoder(query.groupBy) : jsonLinesEncoder(query.groupBy);
  // The first row (or the end) before the status line: a refusal at the start is still an error answer.
  let next = await rows.next();
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[query.format],
    'cache-control': 'private, no-store',
    'content-disposition': `attachment; filename="${fileName(query)}"`,
    'x-tallyhouse-from': formatTime(query.fromUnixNano as bigint),
    'x-tallyhouse-to': formatTime(query.toUnixNano as bigint),
  });
  try {
    let batch: PeriodTotal[] = [];
    const flush = async () => {
      const text = encode.rows(batch);
      batch = [];
      if (!response.write(text)) await drained(response);
    };
    if (encode.header !== '') response.write(encode.header);
    while (next.done !== true) {
      batch.push(next.value);
      if (batch.length >= ROWS_PER_WRITE) await flush();
      next = await rows.next();
    }
    if (batch.length > 0) await flush();
    response.end();
    return 200;
  } catch (error) {
    response.destroy(error as Error);
    throw Object.assign(error as Error, { afterHeaders: true });
  }
}

/** `usage-2026-03.csv`, or the instants when the range was given by from/to. */
function fileName(query: ExportQuery): string {
  const name =
    query.period ?? `${formatTime(query.fromUnixNano as bigint)}_${formatTime(query.toUnixNano as bigint)}`;
  return `usage-${name.replace(/[^0-9A-Za-z._-]/g, '-')}.${query.format}`;
}

interface Encoder {
  readonly header: string;
  rows(rows: readonly PeriodTotal[]): string;
}

/** One JSON object per line: tenant, metric, unit, the group attributes' values, total, rows. */
function jsonLinesEncoder(groupBy: readonly string[]): Encoder {
  return {
    header: '',
    rows: (rows) =>
      rows
        .map((row) =>
          JSON.stringify({
            tenant: row.tenant,
            metric: row.metricName,
            unit: row.unit,
            // Entries rather than a literal: an attribute named `__proto__` stays an ordinary key.
            attributes: Object.fromEntries(groupBy.map((key, i) => [key, row.groups[i] ?? ''])),
            // A sum of finite values may overflow: JSON has no Infinity, proto3 JSON spells it as a string.
            total: Number.isFinite(row.total) ? row.total : String(row.total),
            rows: row.rows,
          }),
        )
        .join('\n')
        .concat('\n'),
  };
}

/** RFC 4180 CSV with a header row: tenant, metric, unit, one column per group attribute, total, rows. */
function csvEncoder(groupBy: readonly string[]): Encoder {
  return {
    header: stringify([['tenant', 'metric', 'unit', ...groupBy, 'total', 'rows']], {
      record_delimiter: 'windows',
    }),
    rows: (rows) =>
      stringify(
        rows.map((row) => [
          row.tenant,
          row.metricName,
          row.unit,
          ...row.groups,
          String(row.total),
          String(row.rows),
        ]),
        { record_delimiter: 'windows' },
      ),
  };
}

function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', closed);
      resolve();
    };
    const closed = () => {
      response.off('drain', done);
      reject(
        Object.assign(new Error('the client closed the connection during the export'), {
          code: 'ECONNRESET',
        }),
      );
    };
    response.once('drain', done);
    response.once('close', closed);
  });
}
