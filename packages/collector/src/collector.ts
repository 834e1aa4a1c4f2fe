import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { type ClickHouseExporterOptions, ClickHouseMetricExporter } from '@tallyhouse/exporter-clickhouse';
import { settledWithin } from '@tallyhouse/model';
import {
  BufferFullError,
  type ConsumeReport,
  ProcessorShutdownError,
  TenantProcessor,
} from '@tallyhouse/processor-tenant';
import { type Logger, pino } from 'pino';
import { createAuthenticator, type TenantAuthenticator } from './auth.ts';
import { collectorId } from './collector-id.ts';
import { type CollectorConfig, type CollectorSettings, loadCollectorConfig } from './config.ts';
import { DataDirLock } from './data-dir-lock.ts';
import { OtlpGrpcServer } from './grpc/grpc-server.ts';
import { answerClientError, Http2Attempts } from './http/http2-attempt.ts';
import { createRequestHandler } from './http/request-handler.ts';
import { IngestSequence } from './ingest/ingest-sequence.ts';
import { LimitPolicy } from './limits/limit-policy.ts';
import { QuotaStore } from './limits/quota-store.ts';
import { SharedQuotaUsage } from './limits/shared-quota-usage.ts';
import { TenantLimiter } from './limits/tenant-limiter.ts';
import { CollectorMetrics } from './metrics.ts';
import { checkDataDir, checkListenAddress, listenError } from './preflight.ts';
import { ReadAccess } from './usage-api/read-access.ts';
import { usageReadLimits } from './usage-api/read-limits.ts';
import { UsageApi } from './usage-api/usage-api.ts';
import { DurableIngest, type IngestRequest, type PendingIngest } from './wal/durable-ingest.ts';
import { Quarantine, quarantinedReport } from './wal/quarantine.ts';
import { encodeData } from './wal/records.ts';

export interface CollectorOptions {
  /** Environment to read settings from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Overrides for tests and embedding; they win over env. */
  readonly collector?: Partial<CollectorSettings>;
  readonly exporter?: ClickHouseExporterOptions;
  readonly logger?: Logger;
}

export interface ShutdownOutcome {
  /** True when everything accepted reached storage (or the exporter's spool/dead-letter file). */
  readonly drained: boolean;
  readonly errors: readonly string[];
}

/**
 * The standalone collector: OTLP/HTTP receiver → tenant resolution → `TenantProcessor` →
 * `ClickHouseMetricExporter`. Every setting is validated when this is constructed.
 */
export class Collector {
  readonly config: CollectorConfig;
  readonly logger: Logger;
  readonly processor: TenantProcessor;
  readonly exporter: ClickHouseMetricExporter;
  readonly metrics: CollectorMetrics;
  readonly server: Server;
  /** The OTLP/gRPC listener (unless `TALLYHOUSE_GRPC_PORT=off`). */
  readonly grpc: OtlpGrpcServer | undefined;
  private readonly ingestSequence: IngestSequence;
  /** HTTP/2 connections on the OTLP/HTTP port, answered with where OTLP/gRPC is. */
  private readonly http2Attempts: Http2Attempts;
  private boundGrpcPort: number | undefined;
  /** The write-ahead log (unless `TALLYHOUSE_WAL=false`). */
  readonly durable: DurableIngest | undefined;
  /** Per-tenant rate limits and quotas at the edge. */
  readonly limiter: TenantLimiter;
  /** `GET /v1/usage/…`. */
  readonly usage: UsageApi;
  private readonly authenticator: TenantAuthenticator;
  private readonly memory: MemoryLimiter;
  /** Held from construction until `stop()` finished: one collector per data directory. */
  private readonly dataDirLock: DataDirLock;
  /** Requests that could not be applied, set aside whole (see wal/quarantine.ts). */
  private readonly quarantine: Quarantine;
  private draining = false;
  private stopping: Promise<ShutdownOutcome> | undefined;

  constructor(options: CollectorOptions = {}) {
    const env = options.env ?? process.env;
    this.config = loadCollectorConfig(env, { collector: options.collector, exporter: options.exporter });
    // Before anything opens a file in the data directory (the write-ahead log, below): a directory that cannot
    // be used is a configuration error naming TALLYHOUSE_DATA_DIR, not a stack trace from deep inside.
    checkDataDir(this.config.exporter.dataDir);
    this.logger =
      options.logger ?? pino({ level: this.config.collector.logLevel, base: { service: 'tallyhouse' } });
    this.authenticator = createAuthenticator(this.config.collector);
    // Before anything in the data directory is read or written (exporter spool, write-ahead log recovery,
    // quota file, chDB): a second collector on the same directory refuses here, having touched nothing.
    this.dataDirLock = DataDirLock.acquire(this.config.exporter.dataDir);
    this.exporter = new ClickHouseMetricExporter({
      env,
      ...options.exporter,
      logger: this.logger.child({ component: 'exporter-clickhouse' }),
      // With the write-ahead log, unwritten batches are replayed from it after a restart.
      upstreamDurable: this.config.collector.wal,
    });
    this.metrics = new CollectorMetrics({
      processor: () => this.processor.stats(),
      exporter: () => this.exporter.stats(),
    });
    const settings = this.config.collector;
    this.quarantine = new Quarantine(
      join(this.config.exporter.dataDir, 'quarantine'),
      this.logger.child({ component: 'quarantine' }),
      (stage) => this.metrics.quarantined.inc({ stage }),
    );
    this.durable = settings.wal
      ? new DurableIngest(
          join(this.config.exporter.dataDir, 'wal'),
          {
            fsync: settings.walFsync,
            groupCommitMs: settings.walGroupCommitMs,
            segmentBytes: settings.walSegmentBytes,
            reserveBytes: settings.walReserveBytes,
            dedupWindowMs: settings.walDedupWindowMs,
            quarantine: this.quarantine,
          },
          this.logger.child({ component: 'wal' }),
        )
      : undefined;
    // This collector's name in what the collectors sharing a store write there (stream marks, quota counters).
    const id = collectorId(this.config.exporter.dataDir);
    this.processor = new TenantProcessor({
      ...this.config.processor,
      next: this.exporter,
      logger: this.logger,
      autoFlush: false,
      flushLog: this.durable?.flushLog,
      streamMarks: settings.streamMarks ? this.exporter.streamMarks(id) : undefined,
      onFlush: (_report, durationMs) => this.afterFlush(durationMs),
    });
    this.durable?.attach(this.processor);
    this.memory = new MemoryLimiter(settings, this.logger, () => void this.processor.flush());
    const policy = LimitPolicy.fromSettings(settings);
    this.limiter = new TenantLimiter(policy, {
      store: new QuotaStore(this.config.exporter.dataDir),
      shared: settings.sharedQuotas
        ? new SharedQuotaUsage(this.exporter.quotaUsage(id), (tenant) => policy.quotaZone(tenant))
        : undefined,
      persistIntervalMs: settings.quotaSyncMs,
      logger: this.logger.child({ component: 'limits' }),
    });
    this.usage = new UsageApi({
      access: new ReadAccess(settings, this.authenticator),
      reader: () => this.exporter.reader(),
      cacheTtlMs: settings.queryCacheTtlMs,
      logger: this.logger.child({ component: 'usage-api' }),
      limits: usageReadLimits(settings),
      retryAfterSeconds: settings.retryAfterSeconds,
      onRead: (outcome) => this.metrics.usageReads.inc({ cache: outcome }),
      onRefused: (reason) => this.metrics.usageReadsRefused.inc({ reason }),
      limitsOf: (tenant) => ({
        quota: this.limiter.quotaUsage(tenant),
        rate: this.limiter.rateStatus(tenant),
      }),
    });
    // One ingest sequence for every protocol: the same checks, log and answer, whichever way a request came.
    this.ingestSequence = new IngestSequence({
      settings: this.config.collector,
      metrics: this.metrics,
      ingest: (request: IngestRequest) => this.ingest(request),
      memoryPressure: () => this.memory.pressure(),
      logger: this.logger,
      isDraining: () => this.draining,
      limiter: this.limiter,
    });
    this.server = createServer(
      { requestTimeout: 60_000, keepAliveTimeout: 5_000 },
      createRequestHandler({
        settings: this.config.collector,
        ingest: this.ingestSequence,
        authenticator: this.authenticator,
        metrics: this.metrics,
        logger: this.logger,
        isDraining: () => this.draining,
        isReady: () => this.exporter.isReady(),
        usage: this.usage,
      }),
    );
    this.http2Attempts = new Http2Attempts({
      grpcPort: () => this.grpcPort,
      logger: this.logger.child({ component: 'receiver' }),
    });
    this.server.on('clientError', (error: Error & { rawPacket?: Buffer }, socket: Socket) => {
      if (Http2Attempts.isHttp2Preface(error)) this.http2Attempts.take(socket, error.rawPacket);
      else answerClientError(error, socket);
    });
    this.grpc =
      settings.grpcPort === 'off'
        ? undefined
        : new OtlpGrpcServer({
            ingest: this.ingestSequence,
            authenticator: this.authenticator,
            tenantHeader: settings.tenantHeader,
            metrics: this.metrics,
            logger: this.logger.child({ component: 'grpc' }),
            maxMessageBytes: settings.maxBodyBytes,
          });
  }

  /** The port OTLP/gRPC listens on once started; `undefined` before, or when gRPC is off. */
  get grpcPort(): number | undefined {
    return this.boundGrpcPort;
  }

  /** Opens storage (schema included), replays the write-ahead log, starts listening. Resolves with the address. */
  async start(): Promise<AddressInfo> {
    const { host, port, grpcPort } = this.config.collector;
    // Before storage is opened and the log replayed (both can take long): a host or port that cannot work fails now.
    await checkListenAddress(host, port);
    if (grpcPort !== 'off') await checkListenAddress(host, grpcPort, 'TALLYHOUSE_GRPC_PORT');
    await this.exporter.start();
    if (this.durable) {
      const summary = await this.durable.replay();
      this.logger.info(
        { ...summary, fromLsn: String(summary.fromLsn), bufferedSeries: this.processor.count() },
        'write-ahead log replayed',
      );
    }
    this.processor.start();
    this.limiter.start();
    await this.limiter.loadShared();
    this.server.listen(port, host);
    try {
      await once(this.server, 'listening');
    } catch (error) {
      // Taken since the preflight probe, say.
      throw listenError(error, host, port);
    }
    const address = this.server.address() as AddressInfo;
    if (this.grpc !== undefined && grpcPort !== 'off') {
      try {
        this.boundGrpcPort = await this.grpc.listen(host, grpcPort);
      } catch (error) {
        throw listenError(error, host, grpcPort, 'TALLYHOUSE_GRPC_PORT');
      }
    }
    this.logger.info(
      {
        address: `${address.address}:${address.port}`,
        grpc: this.grpcPort === undefined ? 'off' : `${address.address}:${this.grpcPort}`,
        storage: this.config.exporter.url ?? `embedded chDB in ${this.config.exporter.dataDir}`,
      },
      'tallyhouse collector listening',
    );
    return address;
  }

  private ingest(request: IngestRequest): Promise<PendingIngest> {
    if (this.durable) return this.durable.ingest(request);
    const options = { tenant: request.tenant, allowAttributeOverride: request.allowAttributeOverride };
    // Without the log, applying is what can fail (buffer full): it happens first, the 200 after.
    let report: ConsumeReport;
    try {
      report = this.processor.consume(request.decoded.batch, options);
    } catch (error) {
      if (error instanceof BufferFullError || error instanceof ProcessorShutdownError) throw error;
      report = this.quarantineUnlogged(request, error);
    }
    return Promise.resolve({
      assess: () => report,
      acknowledge: () => true,
      apply: () => report,
      answered: () => {},
    });
  }

  /** A request whose apply threw, without the log: set aside, answered 200 with its points reported rejected. */
  private quarantineUnlogged(request: IngestRequest, error: unknown): ConsumeReport {
    const arrivalMs = Date.now();
    this.quarantine.keep({
      id: this.quarantine.unloggedId(arrivalMs),
      record: encodeData(request, arrivalMs),
      stage: 'apply',
      error,
      mayBePartlyApplied: true,
    });
    return quarantinedReport(
      request.decoded.acceptedDataPoints,
      `request quarantined: applying it failed (${(error as Error).message}); points applied before the failure may be counted`,
    );
  }

  private afterFlush(durationMs: number) {
    this.metrics.flushDuration.observe(durationMs / 1000);
    try {
      this.durable?.checkpoint(this.exporter.stats().retainedParts === 0);
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, 'cannot write the write-ahead log checkpoint');
    }
  }

  /** Stops accepting data (503 from now on), flushes everything to storage, closes the server. */
  stop(): Promise<ShutdownOutcome> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private async drain(): Promise<ShutdownOutcome> {
    this.draining = true;
    this.logger.info('shutting down: refusing new data, flushing to storage');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const grpcClosed = this.grpc?.shutdown(this.config.collector.shutdownTimeoutMs);
    // New requests are refused from now on (503 / UNAVAILABLE); those in flight finish first, within the budget.
    await settledWithin(this.ingestSequence.whenIdle(), this.config.collector.shutdownTimeoutMs);
    const errors: string[] = [];
    try {
      await this.processor.shutdown();
    } catch (error) {
      errors.push((error as Error).message);
    }
    const unwrittenRows = this.exporter.stats().retainedRows;
    this.durable?.checkpoint(unwrittenRows === 0);
    this.durable?.close();
    await this.limiter.stop();
    this.server.closeAllConnections();
    await closed;
    await grpcClosed;
    this.http2Attempts.close();
    this.dataDirLock.release();
    if (errors.length > 0) {
      this.logger.error({ errors }, 'shutdown finished with data not written');
    } else if (unwrittenRows > 0 && this.durable) {
      // Durable all the same: the log still holds these batches and the next start replays them.
      this.logger.warn(
        { unwrittenRows },
        'shutdown: storage did not take everything in time; the write-ahead log keeps it for the next start',
      );
    } else {
      this.logger.info('shutdown complete: everything accepted was handed to storage');
    }
    return { drained: errors.length === 0, errors };
  }
}

/** Samples resident memory per request (cheap) against the configured soft and hard limits. */
class MemoryLimiter {
  private readonly soft: number | undefined;
  private readonly hard: number | undefined;
  private readonly logger: Logger;
  private readonly relieve: () => void;
  private lastHardWarning = 0;

  constructor(settings: CollectorSettings, logger: Logger, relieve: () => void) {
    this.soft = settings.memorySoftLimitBytes;
    this.hard = settings.memoryHardLimitBytes;
    this.logger = logger;
    this.relieve = relieve;
  }

  pressure(): 'ok' | 'soft' | 'hard' {
    if (this.soft === undefined) return 'ok';
    const rss = process.memoryUsage.rss();
    if (rss < this.soft) return 'ok';
    if (this.hard !== undefined && rss >= this.hard) {
      if (Date.now() - this.lastHardWarning > 5_000) {
        this.lastHardWarning = Date.now();
        this.logger.error(
          { rssBytes: rss, hardLimitBytes: this.hard },
          'memory above the hard limit: refusing data, flushing now',
        );
        this.relieve();
      }
      return 'hard';
    }
    return 'soft';
  }
}
