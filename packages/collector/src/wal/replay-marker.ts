import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/**
 * Remembers, across a process death, which logged request a replay was working on. Some faults cannot be
 * caught — a heap out-of-memory kills the process — and a request that triggers one would kill every start
 * that replays it. The replay writes the request's LSN here before reading and applying it, and zero after;
 * a start that finds a non-zero LSN knows the previous start died on that request, and quarantines it
 * without touching it again. One death is enough: the first start after the crash that logged the request
 * dies once, the next one starts. (A SIGKILL that happens to land while a request is being replayed sets
 * that request aside too: it is kept whole in the quarantine, not lost.)
 *
 * Plain writes, no fsync: a process death keeps the page cache; a power loss during a replay loses at most
 * the mark, and the next start replays that request again.
 */
export class ReplayMarker {
  private readonly path: string;
  private fd: number | undefined;
  private readonly buffer = Buffer.alloc(8);
  /** The LSN the previous start died on, if it did. */
  readonly diedOn: bigint | undefined;

  constructor(path: string) {
    this.path = path;
    this.diedOn = readMark(path);
  }

  /** About to read and apply request `lsn`. */
  begin(lsn: bigint) {
    this.fd ??= openSync(this.path, 'w');
    this.write(lsn);
  }

  /** Request done (applied or quarantined). */
  end() {
    if (this.fd !== undefined) this.write(0n);
  }

  /** The replay is over: nothing is being applied on its behalf any more. */
  close() {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
  }

  private write(lsn: bigint) {
    this.buffer.writeBigUInt64LE(lsn);
    writeSync(this.fd!, this.buffer, 0, 8, 0);
  }
}

function readMark(path: string): bigint | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const bytes = readFileSync(path);
    if (bytes.length !== 8) return undefined;
    const lsn = bytes.readBigUInt64LE(0);
    return lsn === 0n ? undefined : lsn;
  } catch {
    return undefined;
  }
}
