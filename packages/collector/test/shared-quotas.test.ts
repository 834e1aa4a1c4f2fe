/**
 * A tenant's data-point quota holds across every collector writing to one store: three collectors (in this
 * process, each with its own data dir) share a ClickHouse over HTTP — the real engine behind the test endpoint.
 * Requests of one tenant spread over all three (the worst case: round-robin) are refused once the tenant's total
 * reaches the quota, within the stated overshoot — what the other collectors admitted in two sync intervals —
 * and every collector refuses it after one more interval. A collector started later (a scale-up, or a restart
 * without its data dir) knows the tenant's usage before it serves its first request.
 */
import { join } from 'node:path';
import { EndpointProcess } from '@tallyhouse/clickhouse-http-endpoint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/collector.ts';
import { otlpRequest, postMetrics, startCollector, sumMetric, tempDir } from './support.ts';

const dir = tempDir('shared-quotas');
const USER = 'tallyhouse';
const PASSWORD = 'shared-quota-test';
const QUOTA = 1_000;
const SYNC_MS = 200;
const POINTS_PER_REQUEST = 10;
/** One request every this many ms, over all collectors: 500 points/s. */
const PACE_MS = 20;

let endpoint: EndpointProcess;
const collectors: { collector: Collector; port: number }[] = [];

const env = () => ({
  CLICKHOUSE_URL: endpoint.url,
  CLICKHOUSE_USER: USER,
  CLICKHOUSE_PASSWORD: PASSWORD,
  TALLYHOUSE_QUOTA_POINTS: String(QUOTA),
  TALLYHOUSE_QUOTA_PERIOD: 'day',
  TALLYHOUSE_QUOTA_SYNC_MS: String(SYNC_MS),
  TALLYHOUSE_FLUSH_INTERVAL_MS: '500',
});

beforeAll(async () => {
  endpoint = await EndpointProcess.start({
    dataDir: join(dir, 'clickhouse'),
    user: USER,
    password: PASSWORD,
  });
  for (let i = 0; i < 3; i++)
    collectors.push(await startCollector(join(dir, `collector-${i}`), { env: env() }));
}, 120_000);

afterAll(async () => {
  for (const { collector } of collectors) await collector.stop();
  await endpoint?.stop();
});

const request = (batch: number) =>
  otlpRequest([
    sumMetric(
      'requests',
      Array.from({ length: POINTS_PER_REQUEST }, (_, i) => ({
        value: 1,
        attributes: { n: String(i), batch: String(batch) },
      })),
    ),
  ]);
const send = (port: number, tenant: string, batch: number) =>
  postMetrics(port, request(batch), 'protobuf', { 'x-tenant-id': tenant });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a quota shared by several collectors', () => {
  it('round-robin over three collectors: admitted within two sync intervals of the others’ traffic past the quota, then refused everywhere', async () => {
    const tenant = 'round-robin';
    let admitted = 0;
    let firstRefusal: number | undefined;
    const started = performance.now();
    for (let batch = 0; batch < 200; batch++) {
      const { port } = collectors[batch % collectors.length]!;
      const answer = await send(port, tenant, batch);
      if (answer.status === 200) admitted += POINTS_PER_REQUEST;
      else {
        expect(answer.status).toBe(403);
        expect(answer.body.toString()).toContain('quota');
        firstRefusal ??= batch;
      }
      await sleep(PACE_MS);
    }
    const seconds = (performance.now() - started) / 1000;
    const rate = (200 * POINTS_PER_REQUEST) / seconds;
    // The others' counters are at most one of their sync intervals old when written, and one of ours when read.
    const bound = Math.ceil(rate * ((2 * SYNC_MS) / 1000)) + 2 * POINTS_PER_REQUEST;
    console.log(
      `[shared-quotas] round-robin over 3 collectors at ${Math.round(rate)} points/s, sync ${SYNC_MS} ms: admitted ${admitted} of a ${QUOTA} quota (overshoot ${admitted - QUOTA}; bound ${bound}); first refusal at request ${firstRefusal}`,
    );
    expect(firstRefusal).toBeDefined();
    expect(admitted).toBeGreaterThan(QUOTA - POINTS_PER_REQUEST);
    expect(admitted).toBeLessThanOrEqual(QUOTA + bound);
    await sleep(3 * SYNC_MS);
    for (const { port } of collectors) expect((await send(port, tenant, 1_000)).status).toBe(403);
  });

  it('a tenant that moves to another collector keeps its period’s usage there', async () => {
    const tenant = 'mover';
    const [a, b] = collectors;
    for (let batch = 0; batch < 70; batch++) expect((await send(a!.port, tenant, batch)).status).toBe(200);
    await sleep(3 * SYNC_MS);
    let admittedOnB = 0;
    for (let batch = 70; batch < 120; batch++)
      if ((await send(b!.port, tenant, batch)).status === 200) admittedOnB += POINTS_PER_REQUEST;
    // Per collector, a quota would have let b admit a full 1,000 more.
    expect(admittedOnB).toBe(QUOTA - 700);
  });

  it('a collector started later (scale-up, or a restart without its data dir) counts the usage before its first request', async () => {
    const tenant = 'late';
    for (let batch = 0; batch < 99; batch++)
      expect((await send(collectors[0]!.port, tenant, batch)).status).toBe(200);
    await sleep(3 * SYNC_MS);
    const late = await startCollector(join(dir, 'collector-late'), { env: env() });
    collectors.push(late);
    expect((await send(late.port, tenant, 99)).status).toBe(200);
    expect((await send(late.port, tenant, 100)).status).toBe(403);
    const usage = late.collector.limiter.quotaUsage(tenant);
    expect(usage).toMatchObject({ used: QUOTA, points: QUOTA, period: 'day', timeZone: 'UTC' });
  });
});
