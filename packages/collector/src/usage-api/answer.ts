/**
 * A usage read's JSON answer: the query run through the exporter's `UsageReader`, serialised within the limits.
 * Tenant reads (`readAnswer`) and the admin key's reads over every tenant (`readAdminAnswer`; its streamed
 * billing export is `billing-export.ts`).
 */
import type {
  CombinedGaugeLatest,
  GaugeLatest,
  TimeSeries,
  TimeSeriesLine,
  UsageReader,
} from '@tallyhouse/exporter-clickhouse';
import { Slicer } from '@tallyhouse/model';
import {
  readerLimits,
  USAGE_LIMIT_VARIABLES,
  UsageAnswerTooLargeError,
  type UsageReadLimits,
} from './read-limits.ts';
import { formatTime } from './time-format.ts';
import type { AdminUsageQuery, UsageQuery } from './usage-query.ts';

/**
 * Runs the query and serialises the answer once, in pieces (a large answer is never copied into one buffer),
 * refused as soon as it passes TALLYHOUSE_USAGE_MAX_BYTES. The event loop is handed back between slices.
 */
export type TenantReads = Pick<
  UsageReader,
  'total' | 'timeSeries' | 'topN' | 'gaugeLatest' | 'metrics' | 'attributeKeys'
>;
export type AdminReads = Pick<UsageReader, 'adminMetrics' | 'adminTopTenants' | 'adminTimeSeries'>;

export async function readAnswer(
  reader: TenantReads,
  query: Exclude<UsageQuery, { view: 'limits' }>,
  limits: UsageReadLimits,
): Promise<Answer> {
  const out = new AnswerWriter(limits.maxBytes);
  const readLimits = readerLimits(limits);
  if (query.view === 'metrics') {
    const metrics = await reader.metrics(query.tenant, readLimits);
    out.write(JSON.stringify({ tenant: query.tenant, metrics }));
    return out.finish();
  }
  if (query.view === 'attributes') {
    const keys = await reader.attributeKeys(query.tenant, query.metric, readLimits);
    out.write(JSON.stringify({ tenant: query.tenant, metric: query.metric, keys }));
    return out.finish();
  }
  const { filter, echo: selection } = filterOf(query);
  const echo = { tenant: query.tenant, ...selection };
  switch (query.view) {
    case 'total': {
      const { total, rows } = await reader.total(query.tenant, filter, readLimits);
      out.write(JSON.stringify({ ...echo, total: number(total), rows }));
      return out.finish();
    }
    case 'top': {
      const entries = await reader.topN(
        query.tenant,
        { ...filter, by: query.by, limit: query.limit },
        readLimits,
      );
      out.write(
        JSON.stringify({
          ...echo,
          by: query.by,
          limit: query.limit,
          entries: entries.map((e) => ({ value: e.value, total: number(e.total), rows: e.rows })),
        }),
      );
      return out.finish();
    }
    case 'latest': {
      const latest = await reader.gaugeLatest(
        query.tenant,
        { ...filter, ...(query.combine === undefined ? {} : { combine: query.combine }) },
        readLimits,
      );
      out.write(
        JSON.stringify({
          ...echo,
          ...(query.combine === undefined ? {} : { combine: query.combine }),
          latest: latest.map(latestJson),
        }),
      );
      return out.finish();
    }
    case 'timeseries': {
      const series = await reader.timeSeries(
        query.tenant,
        {
          ...filter,
          kind: query.kind,
          step: query.step,
          range: { fromUnixNano: query.fromUnixNano, toUnixNano: query.toUnixNano },
          ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
          ...(query.combine === undefined ? {} : { combine: query.combine }),
          ...(query.timeZone === undefined ? {} : { timeZone: query.timeZone }),
        },
        readLimits,
      );
      const head = {
        ...echo,
        kind: query.kind,
        step: series.step,
        ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
        ...(query.combine === undefined ? {} : { combine: query.combine }),
      };
      await writeSeries(out, head, series);
      return out.finish();
    }
  }
}

/**
 * Every tenant's usage (the admin key only): the metrics stored, the tenants with the largest totals of a sum
 * metric, and a sum metric's time series over every tenant.
 */
export async function readAdminAnswer(
  reader: AdminReads,
  query: Exclude<AdminUsageQuery, { view: 'export' }>,
  limits: UsageReadLimits,
): Promise<Answer> {
  const out = new AnswerWriter(limits.maxBytes);
  const readLimits = readerLimits(limits);
  switch (query.view) {
    case 'metrics':
      out.write(JSON.stringify({ metrics: await reader.adminMetrics(readLimits) }));
      return out.finish();
    case 'tenants': {
      const { filter, echo } = filterOf(query);
      const entries = await reader.adminTopTenants({ ...filter, limit: query.limit }, readLimits);
      out.write(
        JSON.stringify({
          ...echo,
          limit: query.limit,
          entries: entries.map((e) => ({ tenant: e.tenant, total: number(e.total), rows: e.rows })),
        }),
      );
      return out.finish();
    }
    case 'timeseries': {
      const { filter, echo } = filterOf(query);
      const series = await reader.adminTimeSeries(
        {
          ...filter,
          kind: 'sum',
          step: query.step,
          range: { fromUnixNano: query.fromUnixNano, toUnixNano: query.toUnixNano },
          ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
          ...(query.timeZone === undefined ? {} : { timeZone: query.timeZone }),
        },
        readLimits,
      );
      const head = {
        ...echo,
        kind: 'sum',
        step: series.step,
        ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
      };
      await writeSeries(out, head, series);
      return out.finish();
    }
  }
}

type FilteredQuery = Extract<UsageQuery | AdminUsageQuery, { attributes: unknown }>;

/** The reader's filter of a query, and its echo in the answer (the range as answered, how it was named). */
function filterOf(query: FilteredQuery) {
  const attributes = Object.fromEntries(
    Object.entries(query.attributes).map(([key, values]) => [key, values.length === 1 ? values[0]! : values]),
  );
  const filter = {
    metric: query.metric,
    ...(query.service === undefined ? {} : { service: query.service }),
    attributes,
    range: {
      ...(query.fromUnixNano === undefined ? {} : { fromUnixNano: query.fromUnixNano }),
      ...(query.toUnixNano === undefined ? {} : { toUnixNano: query.toUnixNano }),
    },
  };
  const echo = {
    metric: query.metric,
    from: query.fromUnixNano === undefined ? null : formatTime(query.fromUnixNano),
    to: query.toUnixNano === undefined ? null : formatTime(query.toUnixNano),
    ...(query.period === undefined ? {} : { period: query.period }),
    ...(query.timeZone === undefined ? {} : { tz: query.timeZone }),
    ...(query.service === undefined ? {} : { service: query.service }),
    attributes,
  };
  return { filter, echo };
}

/** A time series answer: `head`, the buckets answered, then its lines, written piece by piece. */
async function writeSeries(out: AnswerWriter, head: object, series: TimeSeries): Promise<void> {
  {
    const json = JSON.stringify({
      ...head,
      // The buckets actually answered: the range widened outwards to whole steps (local days with tz).
      bucketsFrom: formatTime(series.fromUnixNano),
      bucketsTo: formatTime(series.toUnixNano),
    });
    out.write(`${json.slice(0, -1)},"lines":[`);
    // Every line has the same bucket starts: each is formatted once, not once per line.
    const slicer = new Slicer();
    const starts = (series.lines[0]?.points ?? []).map((p) => p.startUnixNano);
    const startJson: string[] = new Array(starts.length);
    for (let i = 0; i < starts.length; i++) {
      startJson[i] = JSON.stringify(formatTime(starts[i] as bigint));
      if ((i & SLICE_CHECK) === SLICE_CHECK && slicer.due()) await slicer.pause();
    }
    for (const [index, line] of series.lines.entries()) {
      out.write(`${index === 0 ? '' : ','}${lineHead(line).slice(0, -1)},"points":[`);
      // Points in blocks, each its own piece of the answer: no long string to flatten, no large copy.
      const points = line.points;
      for (let first = 0; first < points.length; first += BLOCK) {
        const block: string[] = [];
        for (let i = first; i < Math.min(points.length, first + BLOCK); i++) {
          const p = points[i]!;
          const start =
            p.startUnixNano === starts[i] ? startJson[i] : JSON.stringify(formatTime(p.startUnixNano));
          block.push(`{"start":${start},"value":${valueJson(p.value)}}`);
        }
        out.write(`${first === 0 ? '' : ','}${block.join(',')}`);
        await slicer.tick();
      }
      out.write(']}');
      await slicer.tick();
    }
    out.write(']}');
  }
}

/** An answer: its JSON in pieces, as written (a large answer is never copied into one buffer). */
export interface Answer {
  readonly parts: readonly Buffer[];
  readonly bytes: number;
}

/** An answer's JSON in pieces, refused as soon as it passes TALLYHOUSE_USAGE_MAX_BYTES. */
class AnswerWriter {
  private readonly parts: Buffer[] = [];
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  write(text: string): void {
    const part = Buffer.from(text, 'utf8');
    this.bytes += part.byteLength;
    if (this.bytes > this.maxBytes) {
      throw new UsageAnswerTooLargeError(
        `the answer is larger than ${USAGE_LIMIT_VARIABLES.maxBytes}=${this.maxBytes} bytes; narrow the query: ` +
          'a shorter range, a larger step, a filter (attr.<key>, service), or no group_by',
      );
    }
    this.parts.push(part);
  }

  finish(): Answer {
    return { parts: this.parts, bytes: this.bytes };
  }
}

/** Loops over points look at the clock once per this many + 1. */
const SLICE_CHECK = 1_023;
/** Points serialised into one piece of the answer. */
const BLOCK = 1_024;

/** A line's JSON before its points: its key, and for gauges the unit and the source (or how many were combined). */
function lineHead(line: TimeSeriesLine): string {
  return JSON.stringify({
    key: line.key,
    ...(line.unit === undefined ? {} : { unit: line.unit }),
    ...(line.source === undefined ? {} : { source: line.source }),
    ...(line.sources === undefined ? {} : { sources: line.sources }),
  });
}

/** One latest gauge value: per source series (naming the source), or the sources combined (counting them). */
function latestJson(entry: GaugeLatest | CombinedGaugeLatest) {
  return {
    unit: entry.unit,
    attributes: entry.attributes,
    ...('source' in entry ? { source: entry.source } : { sources: entry.sources }),
    value: number(entry.value),
    time: formatTime(entry.timeUnixNano),
  };
}

/** A point's value as JSON: `null` before a gauge's first value, non-finite values as proto3 JSON strings. */
function valueJson(value: number | undefined): string {
  if (value === undefined) return 'null';
  // String() of a finite number is its JSON text.
  return Number.isFinite(value) ? String(value) : `"${String(value)}"`;
}

/** Non-finite values (gauges may hold them) as proto3 JSON spells them; JSON has no NaN. */
function number(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}
