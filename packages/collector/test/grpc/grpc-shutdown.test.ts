/**
 * Shutdown with an OTLP/gRPC call in flight: the call, whole before the drain began, is finished — answered OK and
 * its data in storage — before the log closes; calls after the drain began are refused; the collector stops cleanly.
 */
import { join } from 'node:path';
import { Client, credentials, status } from '@grpc/grpc-js';
import { expect, it, vi } from 'vitest';
import { encodeRequest, oneSum, readDataDir, startCollector, tempDir } from '../support.ts';
import { exportCall } from './grpc-client.ts';

it('answers the call in flight at shutdown and keeps what it acknowledged', async () => {
  const dataDir = join(tempDir('grpc-shutdown'), 'data');
  const { collector } = await startCollector(dataDir, {
    collector: { grpcPort: 0 },
    env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
  });
  const client = new Client(`127.0.0.1:${collector.grpcPort}`, credentials.createInsecure());
  // Holds the call between decode and the write-ahead log, so the drain begins while it is in flight.
  let entered!: () => void;
  const inFlight = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const durable = collector.durable!;
  const ingest = durable.ingest.bind(durable);
  vi.spyOn(durable, 'ingest').mockImplementation(async (request) => {
    entered();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return ingest(request);
  });
  const call = exportCall(client, encodeRequest(oneSum('requests', 6), 'protobuf'), 'acme');
  await inFlight;
  const stopped = collector.stop();
  const late = await exportCall(client, encodeRequest(oneSum('requests', 1), 'protobuf'), 'acme');
  const { error } = await call;
  const outcome = await stopped;
  client.close();

  expect(late.error?.code).toBe(status.UNAVAILABLE);
  expect(outcome.drained).toBe(true);
  const stored = await readDataDir(dataDir, (reader) => reader.total('acme', { metric: 'requests' }));
  expect(error).toBeUndefined();
  expect(stored.total).toBe(6);
});
