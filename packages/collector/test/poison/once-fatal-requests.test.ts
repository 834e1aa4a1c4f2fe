/**
 * Requests that once took the collector down for good (exponential-histogram offsets at the int32 limits), or
 * were acknowledged and then never stored (offset −2^31, finite sums whose merge overflowed, times past what
 * storage holds), replayed against the real bin: each is answered, refused points are reported in
 * partial_success, the process keeps serving, what was acknowledged is stored exactly, and a SIGKILL + restart
 * (write-ahead-log replay of the same records) starts cleanly and stores nothing twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollectorProcess } from '../support/collector-process.ts';
import { postJson } from '../support/http-client.ts';
import { killStrayProcesses } from '../support/node-process.ts';
import { readStoredPointCounts } from '../support/stored-in-child.ts';
import { BASE_NS, sumRequest } from '../support/sum-requests.ts';
import { tempDirsRemovedAfterAll } from '../support/temp-dirs.ts';

const tempDir = tempDirsRemovedAfterAll();
afterAll(killStrayProcesses);

interface ExponentialPoint {
  readonly scale: number;
  readonly offset: number;
  readonly bucketCounts: readonly number[];
}

/** One OTLP/JSON request: delta exponential-histogram points of ONE series (same attributes), in order. */
function exponentialRequest(points: readonly ExponentialPoint[]): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'poison' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'latency',
                unit: 's',
                exponentialHistogram: {
                  aggregationTemporality: 1,
                  dataPoints: points.map((point, i) => {
                    const count = point.bucketCounts.reduce((a, b) => a + b, 0);
                    return {
                      startTimeUnixNano: String(BASE_NS + BigInt(i) * 1_000_000n),
                      timeUnixNano: String(BASE_NS + BigInt(i + 1) * 1_000_000n),
                      count: String(count),
                      sum: count,
                      scale: point.scale,
                      zeroCount: '0',
                      positive: { offset: point.offset, bucketCounts: point.bucketCounts.map(String) },
                    };
                  }),
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

/** A request of delta sums of one series (`bytes`): `[time in ns, value]` per point. */
function bytesRequest(points: readonly (readonly [bigint, number])[]): string {
  return sumRequest(
    points.map(([timeNs, value]) => ({ metric: 'bytes', value, startNs: timeNs - 1_000_000n, timeNs })),
    1,
    'poison',
  );
}

const POISON: Record<string, readonly ExponentialPoint[]> = {
  // offset + length − 1 passed int32; a `>>` wrapped it and the merge asked for ~2^31 slots (heap OOM, hang).
  'offsets 0 and 2147483647 at scale 0': [
    { scale: 0, offset: 0, bucketCounts: [1] },
    { scale: 0, offset: 2147483647, bucketCounts: [1, 1] },
  ],
  // Downscaling the first to scale −1 asked for a negative array length (RangeError at apply and at replay).
  'offset 2147483647 at scale 0, then offset 0 at scale −1': [
    { scale: 0, offset: 2147483647, bucketCounts: [1, 1] },
    { scale: -1, offset: 0, bucketCounts: [1] },
  ],
  // A valid sint32 the row encoder's int32 check refused (acknowledged, then dead-lettered).
  'offset −2147483648': [{ scale: 3, offset: -2147483648, bucketCounts: [2, 3] }],
};

describe('requests that once took the collector down', () => {
  it('are answered 200, stored exactly, and a SIGKILL + replay of them starts cleanly', async () => {
    const dataDir = tempDir('poison');
    // A small heap makes a runaway allocation fail in seconds rather than swap the machine.
    const env = { TALLYHOUSE_FLUSH_INTERVAL_MS: '200', NODE_OPTIONS: '--max-old-space-size=512' };
    const first = await startCollectorProcess({ dataDir, env });
    const expected = new Map<string, number>();
    for (const [i, [name, points]] of Object.entries(POISON).entries()) {
      const tenant = `poison-${i}`;
      const answer = await postJson(first.metricsUrl, tenant, exponentialRequest(points));
      expect({ name, status: answer.status, body: answer.body }).toEqual({ name, status: 200, body: '{}' });
      expected.set(
        tenant,
        points.flatMap((p) => p.bucketCounts).reduce((a, b) => a + b, 0),
      );
    }
    // Finite deltas whose sum overflows: acknowledged in full, and kept as two finite rows rather than one ±Inf
    // row storage would refuse (it was dead-lettered after the 200).
    const huge = await postJson(
      first.metricsUrl,
      'poison-huge',
      bytesRequest([
        [BASE_NS, 1e308],
        [BASE_NS + 1n, 1e308],
      ]),
    );
    expect({ status: huge.status, body: huge.body }).toEqual({ status: 200, body: '{}' });
    // A time past what storage can hold is refused in partial_success before the answer (it was acknowledged,
    // then dead-lettered); the rest of the request is stored.
    const late = await postJson(
      first.metricsUrl,
      'poison-late',
      bytesRequest([
        [2n ** 63n, 5],
        [BASE_NS, 7],
      ]),
    );
    expect(late.status).toBe(200);
    expect(JSON.parse(late.body ?? '{}')).toMatchObject({ partialSuccess: { rejectedDataPoints: '1' } });
    // Still serving after the poison was applied, and a flush happened (rows may already be in storage).
    const healthy = await fetch(`http://127.0.0.1:${first.port}/healthz`);
    expect(healthy.status).toBe(200);
    await sleep(600);
    await first.kill();

    // Replays the same records from the write-ahead log.
    const second = await startCollectorProcess({ dataDir, port: first.port, env });
    expect(
      (
        await postJson(
          second.metricsUrl,
          'poison after',
          exponentialRequest([POISON['offset −2147483648']![0]!]),
        )
      ).status,
    ).toBe(200);
    expect(await second.stop()).toBe(0);

    const stored = await readStoredPointCounts(dataDir);
    const counted = new Map(
      stored.filter((row) => row.table === 'exponential_histogram').map((row) => [row.tenant, row.total]),
    );
    expect(Object.fromEntries(counted)).toEqual({ ...Object.fromEntries(expected), 'poison after': 5 });
    const sums = Object.fromEntries(
      stored.filter((row) => row.table === 'sum').map((row) => [row.tenant, row]),
    );
    expect(sums['poison-huge']).toMatchObject({ rows: 2, finiteRows: 2 });
    expect(sums['poison-late']).toMatchObject({ rows: 1, finiteRows: 1, total: 7 });
  }, 120_000);
});
