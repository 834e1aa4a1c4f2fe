/**
 * The OTLP/gRPC listener: a grpc-js server with the metrics service, its limits, and a shutdown that lets calls
 * in flight finish. Connection limits keep idle or stalled connections from piling up: an idle connection is
 * closed after `MAX_CONNECTION_IDLE_MS`, every connection after `MAX_CONNECTION_AGE_MS` (+ a grace period for
 * the calls on it; clients reconnect on their own), and a peer that stops answering keepalive pings is dropped.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { settledWithin } from '@tallyhouse/model';
import { exportHandler, METRICS_SERVICE, type OtlpGrpcContext } from './metrics-service.ts';

export const GRPC_LIMITS = {
  /** Close a connection without calls after this long. */
  MAX_CONNECTION_IDLE_MS: 5 * 60_000,
  /** Close any connection after this long (calls on it get `MAX_CONNECTION_AGE_GRACE_MS` to finish). */
  MAX_CONNECTION_AGE_MS: 10 * 60_000,
  MAX_CONNECTION_AGE_GRACE_MS: 30_000,
  /** Ping a quiet connection this often; drop it when a ping is not answered in `KEEPALIVE_TIMEOUT_MS`. */
  KEEPALIVE_TIME_MS: 60_000,
  KEEPALIVE_TIMEOUT_MS: 20_000,
  /** Calls at once on one connection. */
  MAX_CONCURRENT_STREAMS: 100,
} as const;

export interface OtlpGrpcServerOptions extends OtlpGrpcContext {
  /** The largest message, after decompression (TALLYHOUSE_MAX_BODY_BYTES). */
  readonly maxMessageBytes: number;
}

export class OtlpGrpcServer {
  private readonly server: Server;

  constructor(options: OtlpGrpcServerOptions) {
    this.server = new Server({
      // grpc-js applies it to the decompressed message too, so a gzip bomb stops at the limit.
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_connection_idle_ms': GRPC_LIMITS.MAX_CONNECTION_IDLE_MS,
      'grpc.max_connection_age_ms': GRPC_LIMITS.MAX_CONNECTION_AGE_MS,
      'grpc.max_connection_age_grace_ms': GRPC_LIMITS.MAX_CONNECTION_AGE_GRACE_MS,
      'grpc.keepalive_time_ms': GRPC_LIMITS.KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': GRPC_LIMITS.KEEPALIVE_TIMEOUT_MS,
      'grpc.max_concurrent_streams': GRPC_LIMITS.MAX_CONCURRENT_STREAMS,
    });
    this.server.addService(METRICS_SERVICE, { Export: exportHandler(options) });
  }

  /** Listens on `host:port` (0: any free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    // An IPv6 literal needs brackets in a gRPC target.
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(target, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
  }

  /** Stops taking calls, lets those in flight finish; after `graceMs` the rest are cancelled. */
  async shutdown(graceMs: number): Promise<void> {
    await settledWithin(new Promise<void>((resolve) => this.server.tryShutdown(() => resolve())), graceMs);
    this.server.forceShutdown();
  }
}
