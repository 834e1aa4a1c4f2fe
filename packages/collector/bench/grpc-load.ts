/**
 * OTLP/gRPC sender for the end-to-end benchmark: grpc-js clients calling `MetricsService/Export` with the same
 * message bytes the HTTP phase posts, the tenant in `x-tenant-id` metadata.
 *
 * Default: one channel (its own HTTP/2 connection) per worker, one call in flight on each. That is what a fleet of
 * instrumented services looks like to the collector — every SDK process has its own channel and its periodic
 * reader exports one batch at a time — and it mirrors the HTTP phase's one request per connection. Fewer channels
 * than workers (`--grpc-channels=1`) model one upstream collector multiplexing concurrent exports on one connection.
 */
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { EXPORT_METHOD_PATH } from '../src/grpc/metrics-service.ts';
import type { Outcome, Sender } from './load.ts';

const CALL_DEADLINE_MS = 30_000;
const passThrough = (bytes: Buffer): Buffer => bytes;

/** Connects `channels` clients to `target` (`host:port`); resolves once every one is ready. */
export async function grpcSender(target: string, channels: number): Promise<Sender> {
  const clients = Array.from(
    { length: channels },
    // Without a local subchannel pool, clients with the same target and options share one connection.
    () => new Client(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
  );
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve, reject) =>
          client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())),
        ),
    ),
  );
  return {
    send(worker, tenant, body): Promise<Outcome> {
      const metadata = new Metadata();
      metadata.set('x-tenant-id', tenant);
      return new Promise((resolve) => {
        clients[worker % channels]!.makeUnaryRequest(
          EXPORT_METHOD_PATH,
          passThrough,
          passThrough,
          body,
          metadata,
          { deadline: Date.now() + CALL_DEADLINE_MS },
          (error: ServiceError | null, response?: Buffer) => {
            if (error === null) {
              // A non-empty response carries partial_success: some points were rejected.
              resolve(response !== undefined && response.length > 0 ? 'partial' : 'ok');
            } else {
              // Push-back and rate limits carry a RetryInfo; RESOURCE_EXHAUSTED without one (quota, size) is final.
              const retryable =
                error.code === status.UNAVAILABLE ||
                (error.code === status.RESOURCE_EXHAUSTED &&
                  error.metadata.get('grpc-status-details-bin').length > 0);
              resolve(retryable ? 'pushed-back' : 'failed');
            }
          },
        );
      });
    },
    async close() {
      for (const client of clients) client.close();
    },
  };
}
