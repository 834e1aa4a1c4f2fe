/**
 * The OTLP/gRPC listener: a grpc-js server with the metrics service, its limits, and a shutdown that lets calls
 * in flight finish. Connection limits keep idle or stalled connections from piling up: an idle connection is
 * closed after `MAX_CONNECTION_IDLE_MS`, every connection after `MAX_CONNECTION_AGE_MS` (+ a grace period for
 * the calls on it; clients reconnect on their own), and a peer that stops answering keepalive pings is dropped.
 */
import type { Http2Server } from 'node:http2';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type Logger, settledWithin } from '@tallyhouse/model';
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
  private readonly options: OtlpGrpcServerOptions;

  constructor(options: OtlpGrpcServerOptions) {
    this.options = options;
    this.server = new Server({
      // grpc-js applies it to the decompressed message too, so a gzip bomb stops at the limit.
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_connection_idle_ms': GRPC_LIMITS.MAX_CONNECTION_IDLE_MS,
      'grpc.max_connection_age_ms': GRPC_LIMITS.MAX_CONNECTION_AGE_MS,
      'grpc.max_connection_age_grace_ms': GRPC_LIMITS.MAX_CONNECTION_AGE_GRACE_MS,
      'grpc.keepalive_time_ms': GRPC_LIMITS.KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': GRPC_LIMITS.KEEPALIVE_TIMEOUT_MS,
      'grpc.max_concurrent_streams': GRPC_LIMITS.MAX_CONCURRENT_STREAMS,
      // No channelz introspection service is served, so its per-call bookkeeping is work for nothing.
      'grpc.enable_channelz': 0,
    });
    this.server.addService(METRICS_SERVICE, { Export: exportHandler(options) });
    widenFlowControlWindow(this.server, options.logger);
  }

  /** Listens on `host:port` (0: any free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    // An IPv6 literal needs brackets in a gRPC target.
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(target, ServerCredentials.createInsecure(), (error, bound) => {
        if (error) return reject(error);
        widenConnectionWindows(this.server, this.options.logger);
        resolve(bound);
      });
    });
  }

  /** Stops taking calls, lets those in flight finish; after `graceMs` the rest are cancelled. */
  async shutdown(graceMs: number): Promise<void> {
    await settledWithin(new Promise<void>((resolve) => this.server.tryShutdown(() => resolve())), graceMs);
    this.server.forceShutdown();
  }
}

/**
 * HTTP/2 flow control: grpc-js keeps the protocol's default 64 KiB receive window, so a client stops mid-message
 * after 64 KiB until the server's event loop, busy with other calls, sends a WINDOW_UPDATE — an export of a few
 * hundred points then waits on the loop several times (measured: gRPC at 0.64× HTTP's points/s, 0.8× with this).
 * grpc-js 1.14 has no option for it, so the window is set through its HTTP/2 server settings (every stream) and
 * on each session (the connection). Both reach into grpc-js internals: if a version drops them, a warning says so
 * and gRPC works as before, only slower.
 */
const FLOW_CONTROL_WINDOW_BYTES = 4 * 1024 * 1024;

interface GrpcServerInternals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<Http2Server, unknown>;
}

function widenFlowControlWindow(server: Server, logger: Logger): void {
  const internals = server as unknown as GrpcServerInternals;
  if (internals.commonServerOptions === undefined) {
    logger.warn(
      {},
      'cannot widen the OTLP/gRPC flow-control window (grpc-js internals changed): gRPC ingest is slower',
    );
    return;
  }
  internals.commonServerOptions.settings = {
    ...internals.commonServerOptions.settings,
    initialWindowSize: FLOW_CONTROL_WINDOW_BYTES,
  };
}

function widenConnectionWindows(server: Server, logger: Logger): void {
  const servers = (server as unknown as GrpcServerInternals).http2Servers;
  if (servers === undefined) {
    logger.warn(
      {},
      'cannot widen the OTLP/gRPC connection window (grpc-js internals changed): gRPC ingest is slower',
    );
    return;
  }
  for (const http2Server of servers.keys())
    http2Server.on('session', (session) => session.setLocalWindowSize(FLOW_CONTROL_WINDOW_BYTES));
}
