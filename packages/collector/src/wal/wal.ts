import {
  closeSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  truncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDirectory, writeAll } from '@tallyhouse/model';

/**
 * Write-ahead log: numbered segment files of length-prefixed, checksummed records, each with a log sequence
 * number (LSN). Appends are synchronous writes (cheap: page cache); durability comes from `sync()`, which
 * batches fsyncs (group commit). Recovery reads every segment, stops at the first torn or corrupt record,
 * cuts the damaged tail off and moves later segments aside, so a damaged log never stops a restart.
 *
 * Frame: u32 body length | u32 crc32(type, lsn, body) | u8 type | u64 lsn | body (little endian).
 */

export type FsyncPolicy = 'group' | 'always' | 'none';

export interface WalOptions {
  /** Rotate to a new segment once the current one is this large. */
  readonly segmentBytes: number;
  /** `group`: one fsync for all appends within `groupCommitMs`; `always`: one per `sync()`; `none`: never. */
  readonly fsync: FsyncPolicy;
  readonly groupCommitMs: number;
  /** Free space request data may not use, kept for flush records and checkpoints (which free space again). */
  readonly reserveBytes?: number;
}

export interface WalRecord {
  readonly type: number;
  readonly lsn: bigint;
  readonly body: Buffer;
}

export interface WalDamage {
  readonly segment: string;
  readonly offset: number;
  readonly reason: string;
  /** Bytes cut from the damaged segment, plus the size of later segments moved aside. */
  readonly bytesDropped: number;
  readonly segmentsMovedAside: readonly string[];
}

export interface RecoveredLog {
  readonly records: readonly WalRecord[];
  readonly damage: WalDamage | undefined;
}

const HEADER_BYTES = 17;
const MAX_BODY_BYTES = 512 * 1024 * 1024;
const SEGMENT = /^segment-(\d{20})\.wal$/;

export class WalWriteError extends Error {
  readonly code = 'WAL_UNWRITABLE';
}

export class WriteAheadLog {
  readonly dir: string;
  private readonly options: WalOptions;
  private fd: number;
  private segmentPath: string;
  private segmentSize: number;
  private nextLsn: bigint;
  private appendedLsn: bigint;
  private syncedLsn: bigint;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing = false;
  private waiters: { lsn: bigint; resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Set when an fsync failed: durability can no longer be promised, so appends are refused. */
  private broken: Error | undefined;

  private constructor(dir: string, options: WalOptions, nextLsn: bigint) {
    this.dir = dir;
    this.options = options;
    this.nextLsn = nextLsn;
    this.appendedLsn = nextLsn - 1n;
    this.syncedLsn = nextLsn - 1n;
    this.segmentPath = '';
    this.fd = -1;
    this.segmentSize = 0;
    this.openSegment();
  }

  /** Recovers the log in `dir` (created if missing) and opens a fresh segment for appends. */
  static open(
    dir: string,
    options: WalOptions,
    minimumNextLsn = 1n,
  ): { wal: WriteAheadLog; recovered: RecoveredLog } {
    mkdirSync(dir, { recursive: true });
    const recovered = recover(dir);
    const lastLsn = recovered.records.at(-1)?.lsn ?? 0n;
    const next = lastLsn + 1n > minimumNextLsn ? lastLsn + 1n : minimumNextLsn;
    return { wal: new WriteAheadLog(dir, options, next), recovered };
  }

  /** Appends a record (written to the OS, not yet durable) and returns its LSN. */
  append(type: number, body: Uint8Array): bigint {
    if (this.broken)
      throw new WalWriteError(`write-ahead log unusable after a failed fsync: ${this.broken.message}`);
    const lsn = this.nextLsn;
    const frame = encodeFrame(type, lsn, body);
    try {
      writeAll(this.fd, frame);
    } catch (error) {
      this.dropPartialFrame();
      throw new WalWriteError(`cannot append to ${this.segmentPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.nextLsn++;
    this.appendedLsn = lsn;
    this.segmentSize += frame.length;
    if (this.segmentSize >= this.options.segmentBytes) this.rotate();
    return lsn;
  }

  /** A write that failed midway (disk full) must not leave a torn frame in front of later records. */
  private dropPartialFrame() {
    try {
      ftruncateSync(this.fd, this.segmentSize);
    } catch {
      // The segment keeps a torn tail; recovery cuts it off, but records appended after it would be lost.
      this.broken = new WalWriteError(`cannot remove a partial record from ${this.segmentPath}`);
    }
  }

  /** Throws a `WalWriteError` unless `bytes` more leave the reserve free on the log's file system. */
  ensureRoom(bytes: number) {
    const stats = statfsSync(this.dir);
    const free = stats.bavail * stats.bsize;
    const reserve = this.options.reserveBytes ?? 0;
    if (free - bytes < reserve) {
      throw new WalWriteError(
        `data directory nearly full: ${free} bytes free in ${this.dir}, ${reserve} kept in reserve for flushes`,
      );
    }
  }

  /** Resolves once every record appended before the call is durable on disk. */
  sync(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const target = this.appendedLsn;
    if (this.options.fsync === 'none' || target <= this.syncedLsn) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ lsn: target, resolve, reject });
      this.scheduleSync();
    });
  }

  lastLsn(): bigint {
    return this.appendedLsn;
  }

  /**
   * Deletes whole segments whose records all have LSN ≤ `lsn` (everything in them is in storage) and that
   * were last written before `writtenBeforeMs` (younger ones are still needed, e.g. to recognise resends).
   */
  truncateThrough(lsn: bigint, writtenBeforeMs = Number.POSITIVE_INFINITY): number {
    const segments = listSegments(this.dir);
    let deleted = 0;
    for (let i = 0; i + 1 < segments.length; i++) {
      // A segment holds LSNs from its own first LSN up to (next segment's first LSN - 1).
      const nextFirst = segments[i + 1]!.firstLsn;
      if (nextFirst - 1n > lsn || segments[i]!.path === this.segmentPath) break;
      if (statSync(segments[i]!.path).mtimeMs >= writtenBeforeMs) break;
      rmSync(segments[i]!.path, { force: true });
      deleted++;
    }
    return deleted;
  }

  close() {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    if (this.fd >= 0) {
      try {
        if (this.options.fsync !== 'none') fsyncSync(this.fd);
      } finally {
        closeSync(this.fd);
        this.fd = -1;
      }
    }
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  private scheduleSync() {
    if (this.syncing || this.syncTimer) return;
    const delay = this.options.fsync === 'group' ? this.options.groupCommitMs : 0;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.runSync();
    }, delay);
  }

  private runSync() {
    this.syncing = true;
    const covered = this.appendedLsn;
    fsync(this.fd, (error) => {
      this.syncing = false;
      if (error) {
        this.broken = new WalWriteError(`fsync of ${this.segmentPath} failed: ${error.message}`, {
          cause: error,
        });
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.broken);
        return;
      }
      this.syncedLsn = covered;
      const still: typeof this.waiters = [];
      for (const waiter of this.waiters) {
        if (waiter.lsn <= covered) waiter.resolve();
        else still.push(waiter);
      }
      this.waiters = still;
      if (still.length > 0) this.scheduleSync();
    });
  }

  private rotate() {
    // The finished segment is made durable before records go elsewhere; rotation is rare (segmentBytes).
    if (this.options.fsync !== 'none') fsyncSync(this.fd);
    this.syncedLsn = this.appendedLsn;
    closeSync(this.fd);
    this.openSegment();
  }

  private openSegment() {
    this.segmentPath = join(this.dir, segmentName(this.nextLsn));
    this.fd = openSync(this.segmentPath, 'a');
    this.segmentSize = statSync(this.segmentPath).size;
    if (this.options.fsync !== 'none') fsyncDirectory(this.dir);
  }
}

function encodeFrame(type: number, lsn: bigint, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32LE(body.length, 0);
  frame.writeUInt8(type, 8);
  frame.writeBigUInt64LE(lsn, 9);
  frame.set(body, HEADER_BYTES);
  frame.writeUInt32LE(crc32(frame.subarray(8)), 4);
  return frame;
}

function segmentName(firstLsn: bigint): string {
  return `segment-${firstLsn.toString().padStart(20, '0')}.wal`;
}

function listSegments(dir: string): { path: string; name: string; firstLsn: bigint }[] {
  return readdirSync(dir)
    .map((name) => ({ name, match: SEGMENT.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({ path: join(dir, name), name, firstLsn: BigInt(match[1]!) }))
    .sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0));
}

/** Reads all segments in order; the first damaged record ends the log (see the module comment). */
function recover(dir: string): RecoveredLog {
  const records: WalRecord[] = [];
  const segments = listSegments(dir);
  for (const [index, segment] of segments.entries()) {
    const bytes = readFileSync(segment.path);
    const { parsed, damage } = parseSegment(bytes, records.at(-1)?.lsn ?? 0n);
    records.push(...parsed);
    if (damage === undefined) continue;
    truncateSync(segment.path, damage.offset);
    const later = segments.slice(index + 1);
    const aside = moveAside(
      dir,
      later.map((s) => s.path),
    );
    const laterBytes = later.reduce((sum, s) => sum + statSync(join(dir, 'damaged', s.name)).size, 0);
    return {
      records,
      damage: {
        segment: segment.path,
        offset: damage.offset,
        reason: damage.reason,
        bytesDropped: bytes.length - damage.offset + laterBytes,
        segmentsMovedAside: aside,
      },
    };
  }
  return { records, damage: undefined };
}

function parseSegment(
  bytes: Buffer,
  previousLsn: bigint,
): { parsed: WalRecord[]; damage?: { offset: number; reason: string } } {
  const parsed: WalRecord[] = [];
  let offset = 0;
  let lastLsn = previousLsn;
  while (offset < bytes.length) {
    if (bytes.length - offset < HEADER_BYTES)
      return { parsed, damage: { offset, reason: 'torn record header' } };
    const length = bytes.readUInt32LE(offset);
    if (length > MAX_BODY_BYTES)
      return { parsed, damage: { offset, reason: `implausible record length ${length}` } };
    const end = offset + HEADER_BYTES + length;
    if (end > bytes.length) return { parsed, damage: { offset, reason: 'torn record body' } };
    if (crc32(bytes.subarray(offset + 8, end)) !== bytes.readUInt32LE(offset + 4)) {
      return { parsed, damage: { offset, reason: 'checksum mismatch' } };
    }
    const lsn = bytes.readBigUInt64LE(offset + 9);
    if (lsn <= lastLsn)
      return { parsed, damage: { offset, reason: `LSN ${lsn} does not follow ${lastLsn}` } };
    parsed.push({ type: bytes.readUInt8(offset + 8), lsn, body: bytes.subarray(offset + HEADER_BYTES, end) });
    lastLsn = lsn;
    offset = end;
  }
  return { parsed };
}

function moveAside(dir: string, paths: readonly string[]): string[] {
  if (paths.length === 0) return [];
  const damaged = join(dir, 'damaged');
  mkdirSync(damaged, { recursive: true });
  return paths.map((path) => {
    const target = join(damaged, path.slice(dir.length + 1));
    renameSync(path, target);
    return target;
  });
}
