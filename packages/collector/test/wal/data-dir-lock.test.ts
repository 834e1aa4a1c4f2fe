/**
 * One collector per data directory: the lock is taken before anything in the directory is read or written,
 * refused while its holder lives, and taken over once the holder is provably gone (see data-dir-lock.ts).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataDirLock,
  DataDirLockedError,
  LOCK_FILE,
  type LockHolder,
  STALE_AFTER_MS,
} from '../../src/data-dir-lock.ts';
import { startCollectorProcess } from '../support/collector-process.ts';
import { postJson } from '../support/http-client.ts';
import { killStrayProcesses } from '../support/node-process.ts';
import { sumRequest } from '../support/sum-requests.ts';
import { tempDirsRemovedAfterAll } from '../support/temp-dirs.ts';

const tempDir = tempDirsRemovedAfterAll();
const children: ChildProcess[] = [];
afterAll(() => {
  killStrayProcesses();
  for (const child of children) child.kill('SIGKILL');
});

const dataDir = () => tempDir('lock');

/** What this process writes into a lock file (boot id, pid namespace…), with some fields replaced. */
function holderLike(dir: string, changes: Partial<LockHolder>): LockHolder {
  const lock = DataDirLock.acquire(dir);
  const mine = JSON.parse(readFileSync(lock.path, 'utf8')) as LockHolder;
  lock.release();
  return { ...mine, ...changes };
}

function writeLock(dir: string, content: LockHolder | string, ageMs = 0) {
  const path = join(dir, LOCK_FILE);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
}

function refusal(dir: string): DataDirLockedError | undefined {
  try {
    DataDirLock.acquire(dir).release();
    return undefined;
  } catch (error) {
    if (error instanceof DataDirLockedError) return error;
    throw error;
  }
}

async function runningProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  return child;
}

describe('the data directory lock', () => {
  it('is refused to a second taker in the same process, naming TALLYHOUSE_DATA_DIR and the pid, until released', () => {
    const dir = dataDir();
    const lock = DataDirLock.acquire(dir);
    const error = refusal(dir);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect(error?.code).toBe('DATA_DIR_LOCKED');
    expect(error?.message).toMatch(new RegExp(`^TALLYHOUSE_DATA_DIR: .* pid ${process.pid} `));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(refusal(dir)).toBeUndefined();
  });

  it('creates a data directory that does not exist yet', () => {
    const dir = join(dataDir(), 'not', 'yet');
    const lock = DataDirLock.acquire(dir);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    lock.release();
  });

  it('is refused while the pid in the lock file runs', async () => {
    const dir = dataDir();
    const holder = await runningProcess();
    writeLock(dir, holderLike(dir, { pid: holder.pid!, processStart: undefined }));
    expect(refusal(dir)?.message).toMatch(new RegExp(`pid ${holder.pid} `));
  });

  it('is taken over when the pid in the lock file is not running (a SIGKILLed collector)', () => {
    const dir = dataDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeLock(dir, holderLike(dir, { pid: dead }));
    const lock = DataDirLock.acquire(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('is taken over when the pid runs but is another process than the holder (the pid was reused)', async () => {
    const dir = dataDir();
    const other = await runningProcess();
    writeLock(dir, holderLike(dir, { pid: other.pid!, processStart: '1' }));
    if (!existsSync(`/proc/${other.pid}/stat`)) return; // no /proc: start times cannot be compared
    DataDirLock.acquire(dir).release();
  });

  it('held from another host: refused while its heartbeat is fresh, taken over once it is older than the stale limit', () => {
    const dir = dataDir();
    const elsewhere = holderLike(dir, { host: 'elsewhere', bootId: 'another-kernel', pid: 4242 });
    writeLock(dir, elsewhere, 1_000);
    expect(refusal(dir)?.message).toMatch(/pid 4242 on elsewhere/);
    writeLock(dir, elsewhere, STALE_AFTER_MS + 5_000);
    DataDirLock.acquire(dir).release();
  });

  it('an empty lock file (its writer died before writing it) is left alone while young, taken over when old', () => {
    const dir = dataDir();
    writeLock(dir, '', 1_000);
    expect(refusal(dir)).toBeInstanceOf(DataDirLockedError);
    writeLock(dir, '', STALE_AFTER_MS + 5_000);
    DataDirLock.acquire(dir).release();
  });
});

/** Relative path → sha256 of every file under `dir`. */
function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative))) {
      const path = join(relative, name);
      if (statSync(join(dir, path)).isDirectory()) walk(path);
      else
        out[path] = createHash('sha256')
          .update(readFileSync(join(dir, path)))
          .digest('hex');
    }
  };
  walk('');
  return out;
}

describe('a second collector on the same data directory', () => {
  it('refuses before touching anything (exit 2, names TALLYHOUSE_DATA_DIR and the holder pid; WAL files byte-identical); a stale lock is taken over', async () => {
    const dir = dataDir();
    const env = { TALLYHOUSE_FLUSH_INTERVAL_MS: '600000', TALLYHOUSE_LOG_LEVEL: 'info' };
    const first = await startCollectorProcess({ dataDir: dir, env });
    const body = sumRequest([{ metric: 'm', value: 1, stream: 's', startNs: 1n, timeNs: 2n }], 1);
    expect((await postJson(first.metricsUrl, 'acme', body)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the ANSWERED record is appended after the 200
    const before = digests(join(dir, 'wal'));
    const lockBefore = readFileSync(join(dir, LOCK_FILE), 'utf8');

    const second = await startCollectorProcess({ dataDir: dir, env, wait: 'none' });
    expect((await second.exited).code).toBe(2);
    expect(second.output()).toMatch(
      new RegExp(`TALLYHOUSE_DATA_DIR: ${dir} is in use by another collector: pid ${first.child.pid} `),
    );
    expect(digests(join(dir, 'wal'))).toEqual(before);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(lockBefore);

    // SIGKILL leaves the lock file behind; its pid is gone, so the next start takes the directory.
    await first.kill();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    const third = await startCollectorProcess({ dataDir: dir, env });
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(third.child.pid);
    expect(await third.waitForOutput(/write-ahead log replayed/)).toBe(true);
    expect(await third.stop()).toBe(0);
    // A clean stop releases it.
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  }, 120_000);
});
