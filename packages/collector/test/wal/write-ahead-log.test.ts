/**
 * The write-ahead log on its own: records survive a reopen byte for byte, group commit batches fsyncs,
 * segments rotate and are deleted only when wholly committed, and damage (a torn tail at any byte, a bad
 * checksum in the middle) is cut off and reported without ever throwing on open.
 */

import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type WalOptions, WalWriteError, WriteAheadLog } from '../../src/wal/wal.ts';
import { tempDirsRemovedAfterAll } from '../support/temp-dirs.ts';

const tempDir = tempDirsRemovedAfterAll();
const freshDir = () => tempDir('wal');

const GROUP: WalOptions = { fsync: 'group', groupCommitMs: 2, segmentBytes: 1 << 20 };

function body(i: number, size = 40): Buffer {
  return Buffer.from(`record-${i}-`.padEnd(size, String.fromCharCode(97 + (i % 26))));
}

function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .sort();
}

/** Writes `count` records with one sync at the end and closes the log. */
async function writeLog(dir: string, count: number, options: WalOptions = GROUP): Promise<bigint[]> {
  const { wal } = WriteAheadLog.open(dir, options);
  const lsns: bigint[] = [];
  for (let i = 0; i < count; i++) lsns.push(wal.append(1 + (i % 4), body(i)));
  await wal.sync();
  wal.close();
  return lsns;
}

describe('WriteAheadLog round trip', () => {
  it('recovers every synced record with its type, LSN and body, and continues the LSN sequence', async () => {
    const dir = freshDir();
    const lsns = await writeLog(dir, 50);
    expect(lsns).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
    const { wal, recovered } = WriteAheadLog.open(dir, GROUP);
    expect(recovered.damage).toBeUndefined();
    expect(recovered.records.map((r) => r.lsn)).toEqual(lsns);
    recovered.records.forEach((record, i) => {
      expect(record.type).toBe(1 + (i % 4));
      expect(Buffer.compare(record.body, body(i))).toBe(0);
    });
    expect(wal.append(1, body(99))).toBe(51n);
    await wal.sync();
    wal.close();
    const again = WriteAheadLog.open(dir, GROUP);
    expect(again.recovered.records.map((r) => r.lsn).at(-1)).toBe(51n);
    again.wal.close();
  });

  it('starts at the minimum next LSN when the log holds less (after a checkpoint deleted it)', () => {
    const dir = freshDir();
    const { wal, recovered } = WriteAheadLog.open(dir, GROUP, 1_000n);
    expect(recovered.records).toEqual([]);
    expect(wal.append(1, body(0))).toBe(1_000n);
    wal.close();
  });

  it('keeps an empty record body', async () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, GROUP);
    wal.append(7, new Uint8Array(0));
    await wal.sync();
    wal.close();
    const { wal: reopened, recovered } = WriteAheadLog.open(dir, GROUP);
    expect(recovered.records).toHaveLength(1);
    expect(recovered.records[0]?.body.length).toBe(0);
    expect(recovered.damage).toBeUndefined();
    reopened.close();
  });
});

describe('group commit', () => {
  it('resolves every concurrent sync, each only once its record is covered', async () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, { ...GROUP, groupCommitMs: 5 });
    const order: number[] = [];
    const syncs: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      wal.append(1, body(i));
      syncs.push(wal.sync().then(() => void order.push(i)));
    }
    await Promise.all(syncs);
    expect(order).toHaveLength(200);
    wal.close();
    expect(WriteAheadLog.open(dir, GROUP).recovered.records).toHaveLength(200);
  });

  it('batches the appends of one group-commit window into few fsync rounds', async () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, { ...GROUP, groupCommitMs: 20 });
    // Counted through the resolution ticks: waiters of one fsync resolve together, in one macrotask.
    const batches = new Set<number>();
    let tick = 0;
    const ticker = setInterval(() => tick++, 1);
    const syncs: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) {
      wal.append(1, body(i));
      syncs.push(wal.sync().then(() => void batches.add(tick)));
    }
    await Promise.all(syncs);
    clearInterval(ticker);
    expect(batches.size).toBeLessThanOrEqual(2);
    wal.close();
  });

  it('sync() with nothing new to make durable resolves at once', async () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, GROUP);
    await expect(wal.sync()).resolves.toBeUndefined();
    wal.close();
  });
});

describe('fsync policies', () => {
  for (const fsync of ['none', 'always', 'group'] as const) {
    it(`policy ${fsync}: appends and syncs round-trip after close`, async () => {
      const dir = freshDir();
      await writeLog(dir, 30, { fsync, groupCommitMs: 1, segmentBytes: 1 << 20 });
      const { wal, recovered } = WriteAheadLog.open(dir, { fsync, groupCommitMs: 1, segmentBytes: 1 << 20 });
      expect(recovered.records).toHaveLength(30);
      expect(recovered.damage).toBeUndefined();
      wal.close();
    });
  }

  it('policy none: sync() resolves immediately (no durability promise)', async () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, { fsync: 'none', groupCommitMs: 1_000, segmentBytes: 1 << 20 });
    wal.append(1, body(1));
    const started = performance.now();
    await wal.sync();
    expect(performance.now() - started).toBeLessThan(500);
    wal.close();
  });
});

describe('rotation and truncateThrough', () => {
  const SMALL: WalOptions = { fsync: 'group', groupCommitMs: 1, segmentBytes: 300 };

  it('rotates into segments named by their first LSN and recovers across them in order', async () => {
    const dir = freshDir();
    await writeLog(dir, 40, SMALL);
    const names = segments(dir);
    expect(names.length).toBeGreaterThan(5);
    const firsts = names.map((name) => BigInt(/segment-(\d+)\.wal/.exec(name)?.[1] ?? '0'));
    expect(firsts[0]).toBe(1n);
    const { wal, recovered } = WriteAheadLog.open(dir, SMALL);
    expect(recovered.records.map((r) => Number(r.lsn))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(recovered.damage).toBeUndefined();
    wal.close();
  });

  it('deletes only whole segments at or below the LSN, never the one being written', async () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, SMALL);
    for (let i = 0; i < 40; i++) wal.append(1, body(i));
    await wal.sync();
    const before = segments(dir);
    const firsts = before.map((name) => BigInt(/segment-(\d+)\.wal/.exec(name)?.[1] ?? '0'));
    // An LSN inside the third segment: the first two go, the third (holds LSNs above) stays.
    const third = firsts[2]!;
    const deleted = wal.truncateThrough(third);
    expect(deleted).toBe(2);
    expect(segments(dir)).toEqual(before.slice(2));
    // Everything: all but the current segment go.
    wal.truncateThrough(wal.lastLsn());
    const left = segments(dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toBe(before.at(-1));
    wal.append(1, body(1));
    await wal.sync();
    wal.close();
    const { wal: reopened, recovered } = WriteAheadLog.open(dir, SMALL);
    expect(recovered.damage).toBeUndefined();
    expect(recovered.records.at(-1)?.lsn).toBe(41n);
    reopened.close();
  });

  it('keeps a segment when the LSN ends before its last record', async () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, SMALL);
    for (let i = 0; i < 20; i++) wal.append(1, body(i));
    const before = segments(dir);
    const secondFirst = BigInt(/segment-(\d+)\.wal/.exec(before[1]!)?.[1] ?? '0');
    expect(wal.truncateThrough(secondFirst - 2n)).toBe(0);
    expect(segments(dir)).toEqual(before);
    wal.close();
  });
});

describe('damage', () => {
  it('a torn last record, cut at every byte, keeps the prefix, reports it, and accepts new appends', async () => {
    const template = freshDir();
    await writeLog(template, 6);
    const [name] = segments(template);
    const full = readFileSync(join(template, name!));
    const recordBytes = 17 + body(0).length;
    const lastStart = full.length - recordBytes;
    for (let cut = lastStart; cut < full.length; cut++) {
      const dir = freshDir();
      writeFileSync(join(dir, name!), full.subarray(0, cut));
      let opened: ReturnType<typeof WriteAheadLog.open> | undefined;
      expect(() => {
        opened = WriteAheadLog.open(dir, GROUP);
      }).not.toThrow();
      const { wal, recovered } = opened!;
      expect(recovered.records.map((r) => r.lsn)).toEqual([1n, 2n, 3n, 4n, 5n]);
      if (cut === lastStart) expect(recovered.damage).toBeUndefined();
      else {
        expect(recovered.damage).toMatchObject({ offset: lastStart, bytesDropped: cut - lastStart });
        expect(recovered.damage?.reason).toMatch(/torn/);
        expect(statSync(join(dir, name!)).size).toBe(lastStart);
      }
      expect(wal.append(2, body(77))).toBe(6n);
      await wal.sync();
      wal.close();
      const after = WriteAheadLog.open(dir, GROUP);
      expect(after.recovered.damage).toBeUndefined();
      expect(after.recovered.records.map((r) => r.lsn)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
      expect(after.recovered.records.at(-1)?.body.toString()).toBe(body(77).toString());
      after.wal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('garbage appended after the last record is cut off and reported', async () => {
    const dir = freshDir();
    await writeLog(dir, 5);
    const [name] = segments(dir);
    const size = statSync(join(dir, name!)).size;
    appendFileSync(join(dir, name!), Buffer.from('0123456789abcdef0123456789abcdef-garbage'));
    const { wal, recovered } = WriteAheadLog.open(dir, GROUP);
    expect(recovered.records).toHaveLength(5);
    expect(recovered.damage?.offset).toBe(size);
    expect(statSync(join(dir, name!)).size).toBe(size);
    wal.close();
  });

  it('a zero-filled tail (file extended, data never written) is damage, not records', async () => {
    const dir = freshDir();
    await writeLog(dir, 5);
    const [name] = segments(dir);
    appendFileSync(join(dir, name!), Buffer.alloc(4096));
    const { wal, recovered } = WriteAheadLog.open(dir, GROUP);
    expect(recovered.records).toHaveLength(5);
    expect(recovered.damage?.reason).toBeDefined();
    wal.close();
  });

  it('a bad checksum in the middle keeps the prefix and moves later segments aside to damaged/', async () => {
    const dir = freshDir();
    const small: WalOptions = { fsync: 'group', groupCommitMs: 1, segmentBytes: 300 };
    await writeLog(dir, 40, small);
    const names = segments(dir);
    expect(names.length).toBeGreaterThan(3);
    const victim = join(dir, names[1]!);
    const bytes = readFileSync(victim);
    const secondRecord = 17 + body(0).length;
    bytes[secondRecord + 20] = bytes[secondRecord + 20]! ^ 0xff; // a body byte of its second record
    writeFileSync(victim, bytes);
    const firstOfVictim = BigInt(/segment-(\d+)\.wal/.exec(names[1]!)?.[1] ?? '0');

    const { wal, recovered } = WriteAheadLog.open(dir, small);
    expect(recovered.records.at(-1)?.lsn).toBe(firstOfVictim);
    expect(recovered.damage).toMatchObject({ offset: secondRecord, reason: 'checksum mismatch' });
    expect(recovered.damage?.segmentsMovedAside.map((p) => p.split('/').at(-1))).toEqual(names.slice(2));
    expect(readdirSync(join(dir, 'damaged')).sort()).toEqual(names.slice(2));
    expect(recovered.damage?.bytesDropped).toBeGreaterThan(bytes.length - secondRecord);
    // The log goes on after the kept prefix.
    expect(wal.append(1, body(1))).toBe(firstOfVictim + 1n);
    await wal.sync();
    wal.close();
    const after = WriteAheadLog.open(dir, small);
    expect(after.recovered.damage).toBeUndefined();
    expect(after.recovered.records.at(-1)?.lsn).toBe(firstOfVictim + 1n);
    after.wal.close();
  });

  it('an implausible length field is damage, not an allocation', async () => {
    const dir = freshDir();
    await writeLog(dir, 3);
    const [name] = segments(dir);
    const header = Buffer.alloc(17);
    header.writeUInt32LE(0xfffffff0, 0);
    appendFileSync(join(dir, name!), header);
    const { wal, recovered } = WriteAheadLog.open(dir, GROUP);
    expect(recovered.records).toHaveLength(3);
    expect(recovered.damage?.reason).toMatch(/implausible/);
    wal.close();
  });
});

describe('an unwritable log', () => {
  it('refuses appends with WalWriteError once its segment cannot be written', () => {
    const dir = freshDir();
    const { wal } = WriteAheadLog.open(dir, GROUP);
    wal.close(); // the fd is gone: the next write fails like a revoked or broken file would
    expect(() => wal.append(1, body(1))).toThrow(WalWriteError);
    expect(existsSync(dir)).toBe(true);
  });
});

describe('a full disk (a 256 KiB tmpfs; needs root, skipped otherwise)', () => {
  const mountPoint = tempDir('wal-tmpfs');
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
  afterAll(() => {
    if (mounted) execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  });

  it.skipIf(!mounted)(
    'refuses appends when the disk is full, and records appended after space returns survive a reopen',
    async () => {
      const dir = join(mountPoint, 'wal');
      const { wal } = WriteAheadLog.open(dir, GROUP);
      const big = Buffer.alloc(10_000, 0x61);
      let written = 0;
      let refused: unknown;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        try {
          wal.append(1, big);
          written++;
        } catch (error) {
          refused = error;
        }
      }
      expect(refused).toBeInstanceOf(WalWriteError);
      await wal.sync();
      // Space comes back (an operator grows the volume): the log must go on with readable records.
      execFileSync('mount', ['-o', 'remount,size=1m', mountPoint], { stdio: 'ignore' });
      const after = wal.append(2, Buffer.from('after the disk was full'));
      await wal.sync();
      wal.close();
      const { wal: reopened, recovered } = WriteAheadLog.open(dir, GROUP);
      expect(recovered.records.filter((r) => r.type === 1)).toHaveLength(written);
      // The record appended (and synced: it would be acknowledged) after the failure must survive a restart.
      // Fails today: the failed append left a partial frame in the segment, so recovery stops there.
      expect(recovered.records.at(-1)?.lsn).toBe(after);
      expect(recovered.damage).toBeUndefined();
      reopened.close();
    },
  );
});
