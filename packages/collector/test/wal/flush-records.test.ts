/**
 * What the flush log keeps of the processor's state (checkpoints, STREAMS_RESOLVED records) comes back exactly:
 * a held point's value becomes a stored row on replay, and a row that differs by one -0 or ±Inf gets another
 * deduplication token — storage would count it twice (found by the seeded fuzz campaign).
 */
import { join } from 'node:path';
import type { Resolution, StreamSnapshotEntry } from '@tallyhouse/processor-tenant';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FlushRecords, readCheckpoint } from '../../src/wal/flush-records.ts';
import { decodeJson, STREAMS_RESOLVED } from '../../src/wal/records.ts';
import { WriteAheadLog } from '../../src/wal/wal.ts';
import { tempDirsRemovedAfterAll } from '../support/temp-dirs.ts';

const tempDir = tempDirsRemovedAfterAll();

/** Deep equality with `Object.is` for numbers: -0 is not 0, NaN is NaN. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  const keysA = Object.keys(a).filter((key) => (a as Record<string, unknown>)[key] !== undefined);
  const keysB = Object.keys(b).filter((key) => (b as Record<string, unknown>)[key] !== undefined);
  return (
    keysA.length === keysB.length &&
    keysA.every((key) => same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
  );
}

const histogram = {
  count: 3,
  sum: -0,
  scale: 2,
  zeroCount: 0,
  positive: { offset: 2_147_483_646, bucketCounts: [1, 2] },
  negative: { offset: -2_147_483_648, bucketCounts: [] },
  min: Number.NEGATIVE_INFINITY,
  max: Number.POSITIVE_INFINITY,
};

const held: StreamSnapshotEntry = {
  key: '"t"["fz.stream","seq-0"]',
  tenant: '0',
  startTimeUnixNano: '1700000000000000000',
  timeUnixNano: '9223372036854775808',
  value: histogram,
  lastSeenMs: 1_000,
  pending: {
    metric: {
      name: 'latency',
      unit: 'ms',
      kind: 'exponentialHistogram',
      monotonic: false,
      description: '',
    },
    first: {
      startTimeUnixNano: '1700000000000000000',
      timeUnixNano: '9223372036854775808',
      value: histogram,
    },
    base: { startTimeUnixNano: '1', timeUnixNano: '2', value: { ...histogram, sum: Number.NaN } },
    place: {
      slotKey: 'slot',
      attributes: { ratio: Number.NaN, offset: -0, nested: { $n: 'NaN' }, ['__proto__']: 'data' },
      resource: { 'service.name': 'api' },
    },
  },
};

describe('the flush log keeps the processor state exactly', () => {
  it('a checkpoint gives back the stream snapshot taken, non-finite numbers, -0 and tag-like keys included', async () => {
    const dir = tempDir('flush-records');
    const { wal } = WriteAheadLog.open(join(dir, 'wal'), {
      fsync: 'none',
      groupCommitMs: 1,
      segmentBytes: 1 << 20,
    });
    const checkpointPath = join(dir, 'checkpoint.json');
    const records = new FlushRecords(wal, { checkpointPath, keepSegmentsMs: 0 }, pino({ level: 'silent' }));
    const label = records.started(Date.now());
    await records.taken(label, [held]);
    records.settled(label, []);
    expect(records.checkpoint(true)).toBe(true);
    wal.close();
    const checkpoint = readCheckpoint(checkpointPath);
    expect(checkpoint?.streams).toHaveLength(1);
    expect(same(checkpoint?.streams[0], held)).toBe(true);
    // Plain JSON, as checkpoints were written before, would not have.
    expect(same(JSON.parse(JSON.stringify(held)), held)).toBe(false);
  });

  it('a STREAMS_RESOLVED record gives back the resolutions, their base values exactly', async () => {
    const dir = tempDir('flush-records');
    const walDir = join(dir, 'wal');
    const { wal } = WriteAheadLog.open(walDir, { fsync: 'none', groupCommitMs: 1, segmentBytes: 1 << 20 });
    const records = new FlushRecords(
      wal,
      { checkpointPath: join(dir, 'checkpoint.json'), keepSegmentsMs: 0 },
      pino({ level: 'silent' }),
    );
    const resolutions: Resolution[] = [
      {
        key: held.key,
        firstTimeUnixNano: '9223372036854775808',
        count: 'from',
        base: { startTimeUnixNano: '1', timeUnixNano: '2', value: { value: -0 } },
      },
      {
        key: 'other',
        firstTimeUnixNano: '5',
        count: 'none',
        skipped: Number.POSITIVE_INFINITY,
        misrouted: true,
      },
    ];
    records.resolved(resolutions);
    await wal.sync();
    wal.close();
    const { wal: reopened, recovered } = WriteAheadLog.open(walDir, {
      fsync: 'none',
      groupCommitMs: 1,
      segmentBytes: 1 << 20,
    });
    reopened.close();
    const record = recovered.records.find((each) => each.type === STREAMS_RESOLVED);
    expect(record).toBeDefined();
    expect(same(decodeJson<Resolution[]>(record!.body, 'STREAMS_RESOLVED'), resolutions)).toBe(true);
  });
});
