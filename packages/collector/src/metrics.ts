import type { ExporterStats } from '@tallyhouse/exporter-clickhouse';
import type { ProcessorStats } from '@tallyhouse/processor-tenant';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The collector's own counters, in Prometheus text at `GET /metrics`. Request-path counters are
 * incremented as requests happen; processor and exporter figures are read from their `stats()` at scrape time.
 */
export class CollectorMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly grpcCalls: Counter<'method' | 'code'>;
  readonly pointsReceived: Counter;
  readonly pointsAccepted: Counter;
  readonly pointsRejected: Counter<'reason'>;
  readonly flushDuration: Histogram;
  readonly usageReads: Counter<'cache'>;
  readonly usageReadsRefused: Counter<'reason'>;
  readonly quarantined: Counter<'stage'>;

  constructor(sources: { processor: () => ProcessorStats; exporter: () => ExporterStats }) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'tallyhouse_http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'status'],
      registers,
    });
    this.grpcCalls = new Counter({
      name: 'tallyhouse_grpc_calls_total',
      help: 'OTLP/gRPC calls by method and status code name',
      labelNames: ['method', 'code'],
      registers,
    });
    this.pointsReceived = new Counter({
      name: 'tallyhouse_data_points_received_total',
      help: 'Data points in decoded requests',
      registers,
    });
    this.pointsAccepted = new Counter({
      name: 'tallyhouse_data_points_accepted_total',
      help: 'Data points accepted into the buffer',
      registers,
    });
    this.pointsRejected = new Counter({
      name: 'tallyhouse_data_points_rejected_total',
      help: 'Data points rejected, by reason (invalid data, missing tenant, rate_limited, quota_exceeded, refused while full…)',
      labelNames: ['reason'],
      registers,
    });
    this.flushDuration = new Histogram({
      name: 'tallyhouse_flush_duration_seconds',
      help: 'Duration of a flush from the buffer to storage',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.usageReads = new Counter({
      name: 'tallyhouse_usage_reads_total',
      help: 'Usage reads answered, by cache outcome (miss = a query ran, hit, coalesced = shared a running query)',
      labelNames: ['cache'],
      registers,
    });
    this.usageReadsRefused = new Counter({
      name: 'tallyhouse_usage_reads_refused_total',
      help: 'Usage reads refused by a bound: too_large (400, a size limit), timeout (503, the time limit), busy (503, the concurrency cap)',
      labelNames: ['reason'],
      registers,
    });
    this.quarantined = new Counter({
      name: 'tallyhouse_quarantined_requests_total',
      help: 'Acknowledged requests set aside whole in <data dir>/quarantine because applying (or, at a replay, reading) them failed, by stage (apply, replay)',
      labelNames: ['stage'],
      registers,
    });
    this.fromProcessor(sources.processor, registers);
    this.fromExporter(sources.exporter, registers);
  }

  private fromProcessor(stats: () => ProcessorStats, registers: Registry[]) {
    gauge(
      'tallyhouse_series_buffered',
      'Series held in the buffer, including those in flight to storage',
      registers,
      () => {
        const s = stats();
        return s.bufferedSeries + s.inFlightSeries;
      },
    );
    gauge(
      'tallyhouse_cumulative_streams_tracked',
      'Cumulative source streams remembered for delta conversion',
      registers,
      () => stats().trackedStreams,
    );
    counter(
      'tallyhouse_series_overflow_folds_total',
      'New series folded into a tenant overflow series (series cap)',
      registers,
      () => stats().overflowFolds,
    );
    counter(
      'tallyhouse_flush_failures_total',
      'Flushes where storage did not take everything (kept and retried)',
      registers,
      () => stats().failedFlushes,
    );
    counter(
      'tallyhouse_cumulative_resets_total',
      'Cumulative stream resets detected',
      registers,
      () => stats().cumulativeResets,
    );
    counter(
      'tallyhouse_stream_first_intervals_held_total',
      'First intervals of cumulative streams held for resolution against shared marks',
      registers,
      () => stats().heldFirstIntervals,
    );
    counter(
      'tallyhouse_stream_first_intervals_skipped_total',
      'First intervals not counted: another collector counted the stream (tenant moved; the bounded undercount)',
      registers,
      () => stats().skippedFirstIntervals,
    );
    counter(
      'tallyhouse_stream_skipped_amount_total',
      'What the skipped first intervals amounted to, where a mark told (sum values, histogram counts)',
      registers,
      () => stats().skippedAmount,
    );
    counter(
      'tallyhouse_streams_misrouted_total',
      'Cumulative streams another collector counted between two points here (route by tenant)',
      registers,
      () => stats().misroutedStreams,
    );
    counter(
      'tallyhouse_stream_mark_failures_total',
      'Flushes whose shared-mark round failed (held first intervals wait for the next flush)',
      registers,
      () => stats().failedMarkRounds,
    );
  }

  private fromExporter(stats: () => ExporterStats, registers: Registry[]) {
    new Counter({
      name: 'tallyhouse_rows_written_total',
      help: 'Rows inserted into ClickHouse per table',
      labelNames: ['table'],
      registers,
      collect() {
        this.reset();
        for (const [table, rows] of Object.entries(stats().rowsWritten)) this.inc({ table }, rows);
      },
    });
    counter(
      'tallyhouse_insert_retries_total',
      'Insert attempts of retained table parts',
      registers,
      () => stats().retries,
    );
    counter(
      'tallyhouse_insert_failures_total',
      'Failed insert attempts',
      registers,
      () => stats().insertFailures,
    );
    gauge(
      'tallyhouse_retained_rows',
      'Rows kept for retry after a failed insert',
      registers,
      () => stats().retainedRows,
    );
    gauge(
      'tallyhouse_retained_bytes',
      'Encoded bytes kept for retry',
      registers,
      () => stats().retainedBytes,
    );
    counter('tallyhouse_dead_letters_total', 'Rows dead-lettered (table or file)', registers, () => {
      const s = stats();
      return s.deadLetterRows + s.deadLetterFileRows;
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

function gauge(name: string, help: string, registers: Registry[], read: () => number) {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

function counter(name: string, help: string, registers: Registry[], read: () => number) {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
