import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ClickHouseExporterOptions,
  ClickHouseMetricExporter,
  type ExporterLogger,
} from '@tallyhouse/exporter-clickhouse';
import { TenantProcessor } from '@tallyhouse/processor-tenant';
import { type Logger, pino } from 'pino';
import { createAuthenticator, type TenantAuthenticator } from './auth.ts';
import { type CollectorConfig, type CollectorSettings, loadCollectorConfig } from './config.ts';
import { CollectorMetrics } from './metrics.ts';
import { createRequestHandler } from './receiver.ts';

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
  private readonly authenticator: TenantAuthenticator;
  private draining = false;
  private stopping: Promise<ShutdownOutcome> | undefined;

  constructor(options: CollectorOptions = {}) {
    const env = options.env ?? process.env;
    this.config = loadCollectorConfig(env, { collector: options.collector, exporter: options.exporter });
    this.logger =
      options.logger ?? pino({ level: this.config.collector.logLevel, base: { service: 'tallyhouse' } });
    this.authenticator = createAuthenticator(this.config.collector);
    this.exporter = new ClickHouseMetricExporter({
      env,
      ...options.exporter,
      logger: exporterLogger(this.logger),
    });
    this.metrics = new CollectorMetrics({
      processor: () => this.processor.stats(),
      exporter: () => this.exporter.stats(),
    });
    this.processor = new TenantProcessor({
      ...this.config.processor,
      next: this.exporter,
      logger: this.logger,
      onFlush: (_report, durationMs) => this.metrics.flushDuration.observe(durationMs / 1000),
    });
    this.server = createServer(
      { requestTimeout: 60_000, keepAliveTimeout: 5_000 },
      createRequestHandler({
        settings: this.config.collector,
        authenticator: this.authenticator,
        processor: this.processor,
        metrics: this.metrics,
        logger: this.logger,
        isReady: () => this.exporter.isReady(),
        isDraining: () => this.draining,
      }),
    );
  }

  /** Opens storage (schema included) and starts listening. Resolves with the bound address. */
  async start(): Promise<AddressInfo> {
    await this.exporter.start();
    const { host, port } = this.config.collector;
    this.server.listen(port, host);
    await once(this.server, 'listening');
    const address = this.server.address() as AddressInfo;
    this.logger.info(
      {
        address: `${address.address}:${address.port}`,
        storage: this.config.exporter.url ?? `embedded chDB in ${this.config.exporter.dataDir}`,
      },
      'tallyhouse collector listening',
    );
    return address;
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
    const errors: string[] = [];
    try {
      await this.processor.shutdown();
    } catch (error) {
      errors.push((error as Error).message);
    }
    this.server.closeAllConnections();
    await closed;
    if (errors.length > 0) this.logger.error({ errors }, 'shutdown finished with data not written');
    else this.logger.info('shutdown complete: everything accepted was handed to storage');
    return { drained: errors.length === 0, errors };
  }
}

function exporterLogger(logger: Logger): ExporterLogger {
  const child = logger.child({ component: 'exporter-clickhouse' });
  return {
    debug: (message, attributes) => child.debug(attributes ?? {}, message),
    info: (message, attributes) => child.info(attributes ?? {}, message),
    warn: (message, attributes) => child.warn(attributes ?? {}, message),
    error: (message, attributes) => child.error(attributes ?? {}, message),
  };
}
