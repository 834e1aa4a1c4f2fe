import { rmSync } from 'node:fs';
import type { StreamMark } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseMetricExporter } from '../src/index.ts';
import { storeExporter, tempDir } from './support.ts';

let dataDir: string;
let exporter: ClickHouseMetricExporter;

beforeAll(async () => {
  dataDir = tempDir('stream-marks');
  exporter = storeExporter(dataDir);
  await exporter.start();
});

afterAll(async () => {
  await exporter.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
});

function mark(fields: Partial<StreamMark> & Pick<StreamMark, 'key' | 'owner'>): StreamMark {
  return {
    tenant: 'acme',
    kind: 'counted',
    startTimeUnixNano: 1_700_000_000_123_456_789n,
    timeUnixNano: 1_700_000_060_987_654_321n,
    value: { value: 42.5 },
    ...fields,
  };
}

describe('tallyhouse_stream_marks (shared marks of cumulative streams)', () => {
  it('keeps the latest mark per stream, owner and kind, with exact nanosecond times and values', async () => {
    const a = exporter.streamMarks('collector-a');
    const key = '{"stream":1}\u0000"acme"';
    await a.write([mark({ key, owner: 'collector-a', value: { value: 1 } })]);
    await a.write([
      mark({ key, owner: 'collector-a', timeUnixNano: 1_700_000_070_000_000_001n, value: { value: 2 } }),
      mark({ key, owner: 'collector-a', kind: 'claim' }),
    ]);
    const histogram = { count: 3, sum: 7.5, bounds: [1, 5], bucketCounts: [1, 1, 1], min: 0.5, max: 6 };
    await a.write([mark({ key, owner: 'collector-b', value: histogram })]);
    const read = await a.read([{ key, tenant: 'acme' }]);
    const byOwnerKind = Object.fromEntries(read.map((each) => [`${each.owner}/${each.kind}`, each]));
    expect(Object.keys(byOwnerKind).sort()).toEqual([
      'collector-a/claim',
      'collector-a/counted',
      'collector-b/counted',
    ]);
    expect(byOwnerKind['collector-a/counted']).toEqual(
      mark({ key, owner: 'collector-a', timeUnixNano: 1_700_000_070_000_000_001n, value: { value: 2 } }),
    );
    expect(byOwnerKind['collector-b/counted']?.value).toEqual(histogram);
  });

  it('reads only the streams asked for, of the tenants asked for', async () => {
    const a = exporter.streamMarks('collector-a');
    await a.write([
      mark({ key: 'k1', owner: 'collector-a', tenant: 'one' }),
      mark({ key: 'k2', owner: 'collector-a', tenant: 'two' }),
    ]);
    const read = await a.read([{ key: 'k1', tenant: 'one' }]);
    expect(read.map((each) => [each.key, each.tenant])).toEqual([['k1', 'one']]);
    expect(await a.read([])).toEqual([]);
  });

  it("reports other owners' marks of the tenants asked for, written since the previous call", async () => {
    const a = exporter.streamMarks('collector-a');
    const b = exporter.streamMarks('collector-b');
    expect(await a.foreignSince(['moved'])).toEqual([]);
    await b.write([
      mark({ key: 'm1', owner: 'collector-b', tenant: 'moved' }),
      mark({ key: 'm2', owner: 'collector-b', tenant: 'elsewhere' }),
    ]);
    await a.write([mark({ key: 'm3', owner: 'collector-a', tenant: 'moved' })]);
    const foreign = await a.foreignSince(['moved']);
    expect(foreign.map((each) => [each.key, each.owner])).toEqual([['m1', 'collector-b']]);
  });

  it('reads thousands of streams at once, whose keys would not fit one URL (a rebalance moving many tenants)', async () => {
    const a = exporter.streamMarks('collector-bulk');
    // 4,000 keys of about 400 bytes: 1.6 MB of query parameters, past a server's 1 MiB URL limit.
    const streams = Array.from({ length: 4_000 }, (_, i) => ({
      key: `${'["service.name","checkout",'.repeat(14)}"n",${i}]`,
      tenant: `bulk-${i % 50}`,
    }));
    await a.write(streams.map((stream) => mark({ ...stream, owner: 'collector-bulk' })));
    const read = await a.read(streams);
    expect(read).toHaveLength(streams.length);
    expect(new Set(read.map((each) => each.key)).size).toBe(streams.length);
    await a.foreignSince([]);
    expect(await a.foreignSince(Array.from({ length: 20_000 }, (_, i) => `${'t'.repeat(60)}-${i}`))).toEqual(
      [],
    );
  });
});
