/**
 * OTLP/gRPC push-back: a full series buffer answers UNAVAILABLE with a `google.rpc.RetryInfo` of
 * TALLYHOUSE_RETRY_AFTER_SECONDS, the message naming the limit as the HTTP path does; nothing of the request is
 * kept, and a request that fits is taken.
 */
import { join } from 'node:path';
import { Client, credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Collector } from '../../src/index.ts';
import { encodeRequest, otlpRequest, startCollector, storedPoints, sumMetric, tempDir } from '../support.ts';
import { exportCall, retryDelaySeconds } from './grpc-client.ts';

const dir = tempDir('grpc-push-back');
let collector: Collector;
let client: Client;

beforeAll(async () => {
  ({ collector } = await startCollector(join(dir, 'data'), {
    collector: { grpcPort: 0 },
    env: {
      TALLYHOUSE_MAX_BUFFERED_SERIES: '5',
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      TALLYHOUSE_RETRY_AFTER_SECONDS: '7',
    },
  }));
  client = new Client(`127.0.0.1:${collector.grpcPort}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await collector?.stop();
});

const routes = (count: number) =>
  encodeRequest(
    otlpRequest([
      sumMetric(
        'requests',
        Array.from({ length: count }, (_, i) => ({ value: 1, attributes: { route: `/r${i}` } })),
      ),
    ]),
    'protobuf',
  );

it('answers a full buffer with UNAVAILABLE and RetryInfo, keeping nothing of the request', async () => {
  const { error } = await exportCall(client, routes(6), 'too-many');
  expect(error?.code).toBe(status.UNAVAILABLE);
  expect(error?.details).toMatch(/buffer full: .*maxBufferedSeries=5.*retry after 7s$/);
  expect(retryDelaySeconds(error!)).toBe(7);
  expect(collector.processor.stats().bufferedSeries).toBe(0);
  expect(await storedPoints(collector, 'too-many')).toEqual([]);
  expect((await exportCall(client, routes(5), 'fits')).error).toBeUndefined();
  expect(await storedPoints(collector, 'fits')).toHaveLength(5);
});
