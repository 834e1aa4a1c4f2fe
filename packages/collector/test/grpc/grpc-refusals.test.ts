/**
 * What the OTLP/gRPC receiver answers to what it must refuse, with a raw grpc-js client (bytes as sent, any
 * metadata): bad payloads INVALID_ARGUMENT, missing credentials UNAUTHENTICATED, oversize and gzip bombs
 * RESOURCE_EXHAUSTED at TALLYHOUSE_MAX_BODY_BYTES after decompression, a rate limit RESOURCE_EXHAUSTED with a
 * `google.rpc.RetryInfo`, a quota RESOURCE_EXHAUSTED without one. Nothing refused is stored, and the collector
 * keeps serving.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/index.ts';
import { encodeRequest, oneSum, startCollector, storedPoints, tempDir } from '../support.ts';
import { exportCall, retryDelaySeconds } from './grpc-client.ts';

const MAX_BODY_BYTES = 1024 * 1024;
const dir = tempDir('grpc-refusals');
let collector: Collector;
let client: Client;
let gzipClient: Client;

beforeAll(async () => {
  const limits = join(dir, 'limits.json');
  writeFileSync(
    limits,
    JSON.stringify({
      tenants: { 'rate-limited': { ratePointsPerSecond: 0.01, burst: 1 }, 'over-quota': { quotaPoints: 1 } },
    }),
  );
  ({ collector } = await startCollector(join(dir, 'data'), {
    collector: { grpcPort: 0 },
    env: {
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      TALLYHOUSE_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      TALLYHOUSE_LIMITS_FILE: limits,
      TALLYHOUSE_RETRY_AFTER_SECONDS: '7',
    },
  }));
  const target = `127.0.0.1:${collector.grpcPort}`;
  client = new Client(target, credentials.createInsecure());
  gzipClient = new Client(target, credentials.createInsecure(), {
    'grpc.default_compression_algorithm': 2, // gzip
  });
});

afterAll(async () => {
  client?.close();
  gzipClient?.close();
  await collector?.stop();
});

const valid = (value: number) => encodeRequest(oneSum('requests', value), 'protobuf');

async function stillServing(tenant: string) {
  const { error } = await exportCall(client, valid(1), tenant);
  expect(error).toBeUndefined();
}

describe('OTLP/gRPC refusals', () => {
  it('takes a gzip-compressed export (grpc-encoding: gzip)', async () => {
    const { error } = await exportCall(gzipClient, valid(5), 'gzipped');
    expect(error).toBeUndefined();
    expect(await storedPoints(collector, 'gzipped')).toHaveLength(1);
  });

  it.each([
    ['garbage bytes', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])],
    ['a truncated message', valid(3).subarray(0, 20)],
  ])(
    'refuses %s with INVALID_ARGUMENT naming the payload problem, storing nothing',
    async (_label, bytes) => {
      const { error } = await exportCall(client, bytes, 'bad-payload');
      expect(error?.code).toBe(status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(/^invalid OTLP protobuf payload: /);
      expect(await storedPoints(collector, 'bad-payload')).toEqual([]);
      await stillServing('bad-payload-after');
    },
  );

  it('refuses a call without a tenant with UNAUTHENTICATED naming the header', async () => {
    const { error } = await exportCall(client, valid(2), undefined);
    expect(error?.code).toBe(status.UNAUTHENTICATED);
    expect(error?.details).toBe('missing tenant: send the x-tenant-id header');
    expect(retryDelaySeconds(error!)).toBeUndefined();
  });

  it('refuses a message over TALLYHOUSE_MAX_BODY_BYTES with RESOURCE_EXHAUSTED, storing nothing', async () => {
    const big = Buffer.concat([valid(9), Buffer.alloc(MAX_BODY_BYTES)]);
    const { error } = await exportCall(client, big, 'oversize');
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    // grpc-js refuses it before the handler runs, in its own words: the size against the limit.
    expect(error?.details).toMatch(/^Received message larger than max \(\d+ vs 1048576\)/);
    expect(await storedPoints(collector, 'oversize')).toEqual([]);
    await stillServing('oversize');
  });

  it('stops a gzip bomb at the limit after decompression', async () => {
    const bomb = Buffer.alloc(64 * MAX_BODY_BYTES); // 64 MiB of zeros: about 64 KiB gzipped
    const { error } = await exportCall(gzipClient, bomb, 'bomb');
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error?.details).toMatch(/decompresses to a size larger than 1048576/);
    expect(await storedPoints(collector, 'bomb')).toEqual([]);
    await stillServing('bomb');
  });

  it('answers a rate limit with RESOURCE_EXHAUSTED and a RetryInfo, a quota without one (not retryable)', async () => {
    expect((await exportCall(client, valid(1), 'rate-limited')).error).toBeUndefined();
    const limited = (await exportCall(client, valid(1), 'rate-limited')).error!;
    expect(limited.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(limited.details).toMatch(/rate limit/);
    expect(retryDelaySeconds(limited)).toBeGreaterThan(0);

    expect((await exportCall(client, valid(1), 'over-quota')).error).toBeUndefined();
    const overQuota = (await exportCall(client, valid(1), 'over-quota')).error!;
    expect(overQuota.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(overQuota.details).toMatch(/quota/);
    expect(retryDelaySeconds(overQuota)).toBeUndefined();
    const stored = await storedPoints(collector, 'over-quota');
    expect(stored.reduce((n, p) => n + (p.value as { value: number }).value, 0)).toBe(1);
  });

  it('counts every call in tallyhouse_grpc_calls_total by status code', async () => {
    const text = await collector.metrics.text();
    expect(text).toMatch(/tallyhouse_grpc_calls_total\{method="Export",code="OK"\} \d+/);
    expect(text).toMatch(/tallyhouse_grpc_calls_total\{method="Export",code="INVALID_ARGUMENT"\} 2/);
  });
});
