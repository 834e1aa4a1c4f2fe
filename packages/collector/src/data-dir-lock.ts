/**
 * One collector per data directory. The lock is taken before anything in the directory is read or written
 * (write-ahead log recovery cuts files and creates segments; the quota file; the exporter's spool and chDB),
 * so a second collector refuses before it has touched anything.
 *
 * Scheme: `<dataDir>/.lock` created with O_CREAT|O_EXCL (`'wx'`), holding JSON about its holder: pid, host
 * name, boot id and pid namespace (Linux), the holder's process start time, when it was taken. The holder
 * refreshes the file's mtime every `HEARTBEAT_MS`, and deletes the file when it stops (and on exit). An
 * existing lock is *stale* — taken over — when its holder is provably gone:
 *
 * - same kernel (boot id) and pid namespace as us: the pid is not running (`kill(pid, 0)` → ESRCH), or runs
 *   a process that started at another time than the holder (the pid was reused), or is our own pid while
 *   this process does not hold the lock (a container restarted: the collector is pid 1 again);
 * - same host name but another boot id: the machine rebooted since;
 * - otherwise (another host or container shares the directory, or no /proc): the heartbeat is older than
 *   `STALE_AFTER_MS`;
 * - an empty or unreadable lock file (its writer died between creating and writing it) older than that.
 *
 * A take-over happens under a second, atomic marker (`.lock.takeover`, mkdir), and re-checks the lock's
 * content under it, so two collectors starting at once over a stale lock cannot both win.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '@tallyhouse/model';

export const LOCK_FILE = '.lock';
const HEARTBEAT_MS = 10_000;
export const STALE_AFTER_MS = 60_000;
/** A take-over marker older than this was left by a start that died mid-take-over. */
const TAKEOVER_STALE_MS = 10_000;

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly bootId?: string;
  readonly pidNamespace?: string;
  /** Start time of the holding process (Linux: clock ticks after boot, /proc/<pid>/stat field 22). */
  readonly processStart?: string;
  readonly acquiredAt: string;
}

export class DataDirLockedError extends ConfigError {
  override readonly code = 'DATA_DIR_LOCKED';
  readonly holder: LockHolder | undefined;
  readonly lockFile: string;

  constructor(dir: string, lockFile: string, holder: LockHolder | undefined, detail = '') {
    const who =
      holder === undefined
        ? 'another collector (its lock file is being written)'
        : `another collector: pid ${holder.pid} on ${holder.host}, since ${holder.acquiredAt}`;
    super(
      'TALLYHOUSE_DATA_DIR',
      `${dir} is in use by ${who}${detail} (lock file ${lockFile}). One collector per data directory: ` +
        'stop that one, or give this one another TALLYHOUSE_DATA_DIR.',
    );
    this.holder = holder;
    this.lockFile = lockFile;
  }
}

/** Locks held by this process, by lock file path: a second Collector here on the same directory is refused. */
const held = new Map<string, DataDirLock>();
let exitHookInstalled = false;

export class DataDirLock {
  readonly path: string;
  readonly holder: LockHolder;
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(path: string, holder: LockHolder) {
    this.path = path;
    this.holder = holder;
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * Takes the data directory's lock (creating the directory if needed), or throws a `DataDirLockedError` naming
   * the holder. Synchronous: the collector's constructor calls it before it opens anything in the directory.
   */
  static acquire(dataDir: string): DataDirLock {
    const dir = resolve(dataDir);
    const path = join(dir, LOCK_FILE);
    mkdirSync(dir, { recursive: true });
    const own = held.get(path);
    if (own !== undefined) throw new DataDirLockedError(dir, path, own.holder, ' (in this very process)');
    for (let attempt = 0; attempt < 5; attempt++) {
      const holder = self();
      if (tryCreate(path, holder)) {
        const lock = new DataDirLock(path, holder);
        held.set(path, lock);
        installExitHook();
        return lock;
      }
      const existing = readLock(path);
      if (existing === undefined) continue; // released meanwhile: try again
      if (!isStale(existing)) throw new DataDirLockedError(dir, path, existing.holder);
      takeOver(path, existing.raw);
    }
    throw new DataDirLockedError(dir, path, readLock(path)?.holder, ' (the lock keeps changing hands)');
  }

  /** Deletes the lock file if it is still ours. Idempotent. */
  release() {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (held.get(this.path) !== this) return;
    held.delete(this.path);
    const current = readLock(this.path);
    if (current?.holder?.pid === this.holder.pid && current.holder.acquiredAt === this.holder.acquiredAt) {
      try {
        unlinkSync(this.path);
      } catch {
        // gone already
      }
    }
  }

  private beat() {
    try {
      const now = new Date();
      utimesSync(this.path, now, now);
    } catch {
      // The file is gone (deleted by hand): nothing to refresh; a new start takes the directory.
    }
  }
}

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous, so it also runs on process.exit(); a SIGKILL leaves the file, and the pid check finds it stale.
  process.on('exit', () => {
    for (const lock of [...held.values()]) lock.release();
  });
}

function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

interface ExistingLock {
  readonly raw: string;
  /** Undefined when the file is empty or not ours to parse. */
  readonly holder: LockHolder | undefined;
  readonly ageMs: number;
}

function readLock(path: string): ExistingLock | undefined {
  let raw: string;
  let mtimeMs: number;
  try {
    raw = readFileSync(path, 'utf8');
    mtimeMs = statSync(path).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return { raw, holder: parseHolder(raw), ageMs: Date.now() - mtimeMs };
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    if (typeof value.host !== 'string' || typeof value.acquiredAt !== 'string') return undefined;
    return value as LockHolder;
  } catch {
    return undefined;
  }
}

/** True when the lock's holder is provably gone (see the module comment). */
function isStale(existing: ExistingLock): boolean {
  const holder = existing.holder;
  if (holder === undefined) return existing.ageMs > STALE_AFTER_MS;
  const me = self();
  const sameKernel =
    me.bootId !== undefined && holder.bootId !== undefined
      ? me.bootId === holder.bootId && me.pidNamespace === holder.pidNamespace
      : me.host === holder.host && me.bootId === undefined && holder.bootId === undefined;
  if (sameKernel) {
    // Not held by this process (checked before): a previous incarnation that had our pid.
    if (holder.pid === process.pid) return true;
    if (!isRunning(holder.pid)) return true;
    const start = processStart(holder.pid);
    return holder.processStart !== undefined && start !== undefined && start !== holder.processStart;
  }
  if (
    me.host === holder.host &&
    me.bootId !== undefined &&
    holder.bootId !== undefined &&
    me.bootId !== holder.bootId
  )
    return true;
  return existing.ageMs > STALE_AFTER_MS;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes a stale lock file, under an exclusive take-over marker, and only if it still holds what was judged
 * stale: another start may have taken the directory in between.
 */
function takeOver(path: string, staleContent: string) {
  const marker = `${path}.takeover`;
  try {
    mkdirSync(marker);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (ageMs(marker) > TAKEOVER_STALE_MS) removeMarker(marker);
    else sleepSync(50);
    return; // the caller tries again
  }
  try {
    if (readLock(path)?.raw === staleContent) unlinkSync(path);
  } finally {
    removeMarker(marker);
  }
}

function removeMarker(marker: string) {
  try {
    rmdirSync(marker);
  } catch {
    // removed by the start that found it stale
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let cachedSelf: Omit<LockHolder, 'acquiredAt'> | undefined;

function self(): LockHolder {
  cachedSelf ??= {
    pid: process.pid,
    host: hostname(),
    bootId: readOptional(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidNamespace: readOptional(() => readlinkSync('/proc/self/ns/pid')),
    processStart: processStart(process.pid),
  };
  return { ...cachedSelf, acquiredAt: new Date().toISOString() };
}

/** Linux: field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
function processStart(pid: number): string | undefined {
  return readOptional(() => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  });
}

function readOptional(read: () => string | undefined): string | undefined {
  try {
    const value = read();
    return value === '' ? undefined : value;
  } catch {
    return undefined;
  }
}
