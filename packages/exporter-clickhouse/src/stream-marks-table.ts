/**
 * Shared marks of cumulative streams (see the processor's stream-marks.ts) in the `tallyhouse_stream_marks`
 * table: the latest mark per tenant, stream, owner and kind (`ReplacingMergeTree` by write time, read `FINAL`).
 * Several collectors that share one store resolve a stream's first interval against it, so a stream that moves
 * between them is never counted twice.
 */
import { fromLosslessJson, type StreamMark, type StreamMarks, toLosslessJson } from '@tallyhouse/model';
import type { StorageConnection } from './connection.ts';
import { quoteIdentifier } from './schema/sql.ts';
import { STREAM_MARK_TABLE } from './schema/tables.ts';
import { type SharedTableOptions, WriteTimeCursor } from './write-time-cursor.ts';

const COLUMNS = ['TenantId', 'StreamKey', 'Owner', 'Kind', 'StartTimeUnix', 'TimeUnix', 'Value'] as const;

/**
 * Query parameters travel in the URL, which a server caps (ClickHouse's `http_max_uri_size`, 1 MiB by default):
 * a rebalance can hold thousands of streams at once, so their keys are read in groups of about this many bytes.
 */
const MAX_PARAM_BYTES_PER_QUERY = 256 * 1024;

interface MarkRow {
  TenantId: string;
  StreamKey: string;
  Owner: string;
  Kind: string;
  Start: string;
  Time: string;
  Value: string;
  Written: string;
}

export class ClickHouseStreamMarks implements StreamMarks {
  readonly owner: string;
  private readonly connect: () => Promise<StorageConnection>;
  private readonly database: string;
  /** Where `foreignSince` reads from: set by its first call, moved by every read. */
  private readonly foreign = new WriteTimeCursor();

  constructor(options: SharedTableOptions) {
    this.owner = options.owner;
    this.database = options.database;
    this.connect = options.connect;
  }

  async write(marks: readonly StreamMark[]): Promise<void> {
    if (marks.length === 0) return;
    const connection = await this.connect();
    // Times as integer nanoseconds: a JSON integer is read exactly as DateTime64(9) ticks (as the row encoder does).
    const body = marks
      .map(
        (mark) =>
          `[${JSON.stringify(mark.tenant)},${JSON.stringify(mark.key)},${JSON.stringify(mark.owner)},"${mark.kind}",${mark.startTimeUnixNano},${mark.timeUnixNano},${JSON.stringify(toLosslessJson(mark.value))}]`,
      )
      .join('\n');
    await connection.insertEncoded({
      database: this.database,
      table: STREAM_MARK_TABLE,
      columns: COLUMNS,
      format: 'JSONCompactEachRow',
      body,
      settings: {},
    });
  }

  async read(streams: readonly { readonly key: string; readonly tenant: string }[]): Promise<StreamMark[]> {
    if (streams.length === 0) return [];
    const connection = await this.connect();
    const marks: StreamMark[] = [];
    for (const group of groupsByParamBytes(streams, (stream) => stream.key.length + stream.tenant.length)) {
      const rows = await connection.queryRows<MarkRow>(
        `${this.select()} WHERE TenantId IN {tenants:Array(String)} AND StreamKey IN {keys:Array(String)}`,
        {
          tenants: [...new Set(group.map((stream) => stream.tenant))],
          keys: group.map((stream) => stream.key),
        },
      );
      for (const row of rows) marks.push(toMark(row));
    }
    return marks;
  }

  async foreignSince(tenants: readonly string[]): Promise<StreamMark[]> {
    const connection = await this.connect();
    if (!this.foreign.started) {
      // Marks written before this collector looked are found by `read` of the streams it holds.
      await this.foreign.start(connection);
      return [];
    }
    if (tenants.length === 0) return [];
    const changed = this.foreign.condition();
    const rows: MarkRow[] = [];
    for (const group of groupsByParamBytes(tenants, (tenant) => tenant.length)) {
      rows.push(
        ...(await connection.queryRows<MarkRow>(
          `${this.select()} WHERE TenantId IN {tenants:Array(String)} AND Owner != {owner:String} AND ${changed.sql}`,
          { tenants: group, owner: this.owner, ...changed.params },
        )),
      );
    }
    this.foreign.advance(rows);
    return rows.map(toMark);
  }

  private select(): string {
    return `SELECT TenantId, StreamKey, Owner, Kind, toString(toUnixTimestamp64Nano(StartTimeUnix)) AS Start, toString(toUnixTimestamp64Nano(TimeUnix)) AS Time, Value, toString(WrittenAt) AS Written FROM ${quoteIdentifier(this.database)}.${quoteIdentifier(STREAM_MARK_TABLE)} FINAL`;
  }
}

function toMark(row: MarkRow): StreamMark {
  return {
    key: row.StreamKey,
    tenant: row.TenantId,
    owner: row.Owner,
    kind: row.Kind === 'claim' ? 'claim' : 'counted',
    startTimeUnixNano: BigInt(row.Start),
    timeUnixNano: BigInt(row.Time),
    value: fromLosslessJson(row.Value),
  };
}

/** `items` in order, cut into groups whose parameter text stays near `MAX_PARAM_BYTES_PER_QUERY` (one item at least). */
function groupsByParamBytes<T>(items: readonly T[], size: (item: T) => number): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = 0;
  for (const item of items) {
    // Escaping in the URL can triple a character; quotes and commas add a few bytes.
    const cost = 3 * size(item) + 4;
    if (group.length > 0 && bytes + cost > MAX_PARAM_BYTES_PER_QUERY) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(item);
    bytes += cost;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
