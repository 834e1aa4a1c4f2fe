/**
 * Keeps quota counters across restarts in `<dataDir>/limits/`, as a snapshot plus a journal, so that what a
 * persistence tick costs follows the tenants changed in that interval, not the tenants that exist:
 *
 * - `quota-journal-<generation>.jsonl` — one line per changed tenant per interval, appended asynchronously
 *   (`fs.promises`, then fsync). A line holds the tenant's whole counter, `["<tenant>","<period>",<periodStartMs>,<used>]`,
 *   not a delta: replaying a line twice, or after a snapshot that already holds it, changes nothing.
 * - `quota-snapshot.jsonl` — a header line `{"version":2,"generation":<n>}`, then one such line per tenant. Written
 *   whole (temp file, fsync, rename) at start, synchronously, and in the background when the journal has grown
 *   past the snapshot; the background rewrite serialises a slice of tenants per event-loop turn.
 * - `quota-usage.json` — the single JSON file of earlier versions: read when no snapshot exists, then removed.
 *
 * Loading is the snapshot, then the journals of its generation and later, in order. A rewrite first sends new
 * lines to the next generation's journal, then writes the snapshot of that generation from the live counters: a
 * crash before its rename leaves the old snapshot and both journals, which replay to the same counters. A crash
 * loses at most the last interval's lines (a torn last line is skipped): the tenant is then under-counted, never
 * over-counted.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { QUOTA_PERIODS, type QuotaPeriod, type QuotaUsage } from './quota.ts';

const SNAPSHOT_FILE = 'quota-snapshot.jsonl';
const LEGACY_FILE = 'quota-usage.json';
const JOURNAL = /^quota-journal-(\d+)\.jsonl$/;
/** Tenants serialised per event-loop turn by background writes (about a millisecond of work). */
const SLICE = 2_000;
/** The journal is folded into a new snapshot once it is larger than this and than the snapshot. */
const COMPACT_MIN_JOURNAL_BYTES = 8 * 1024 * 1024;

export interface LoadedQuotas {
  readonly usage: Map<string, QuotaUsage>;
  /** Lines or files that could not be read (each skipped); the counters are what could be read. */
  readonly problems: readonly string[];
}

export class QuotaStore {
  /** The directory of the snapshot and journals. */
  readonly dir: string;
  private generation = 0;
  private journal: Promise<FileHandle> | undefined;
  /** Appends and journal switches, in order: lines of an older generation are always written first. */
  private queue: Promise<unknown> = Promise.resolve();
  private journalBytes = 0;
  private snapshotBytes = 0;
  /**
   * After a failed append the file may end in a torn line, so the next append starts on a line of its own. True at
   * first: if the rewrite at start failed, lines go to a journal a crash may have left torn.
   */
  private separate = true;
  private compaction: Promise<void> | undefined;
  private closing = false;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'limits');
  }

  get snapshotPath(): string {
    return join(this.dir, SNAPSHOT_FILE);
  }

  journalPath(generation: number): string {
    return join(this.dir, `quota-journal-${generation}.jsonl`);
  }

  /** What was saved: the snapshot (or the legacy file), then the journals from its generation on. */
  load(): LoadedQuotas {
    const usage = new Map<string, QuotaUsage>();
    const problems: string[] = [];
    let text: string | undefined;
    try {
      text = readFileSync(this.snapshotPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push((error as Error).message);
    }
    if (text !== undefined) {
      this.generation = readSnapshot(text, this.snapshotPath, usage, problems);
    } else {
      readLegacy(join(this.dir, LEGACY_FILE), usage, problems);
    }
    for (const { generation, path } of this.journals()) {
      if (generation < this.generation) continue;
      try {
        readLines(readFileSync(path, 'utf8'), 0, path, usage, problems);
      } catch (error) {
        problems.push((error as Error).message);
      }
      this.generation = generation;
    }
    return { usage, problems };
  }

  /**
   * A full rewrite, synchronously: at start, before requests are served. Later lines go to a journal of the new
   * generation; older journals and the legacy file are removed.
   */
  rewriteSync(entries: Iterable<readonly [string, QuotaUsage]>): void {
    const generation = this.generation + 1;
    mkdirSync(this.dir, { recursive: true });
    const lines = [header(generation)];
    for (const [tenant, usage] of entries) lines.push(line(tenant, usage));
    const text = lines.join('');
    const temp = `${this.snapshotPath}.tmp`;
    const fd = openSync(temp, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.snapshotPath);
    syncDirectory(this.dir);
    this.generation = generation;
    this.snapshotBytes = Buffer.byteLength(text);
    this.journalBytes = 0;
    this.switchJournal(generation);
    this.removeOlder(generation);
  }

  /**
   * Appends the counters of changed tenants to the journal and fsyncs it. Serialised in slices, so a large change
   * set does not hold the event loop; the writing happens off it.
   */
  append(changed: readonly (readonly [string, QuotaUsage])[]): Promise<void> {
    const run = async () => {
      let text = this.separate ? '\n' : '';
      for (let from = 0; from < changed.length; from += SLICE) {
        if (from > 0) await nextTurn();
        const end = Math.min(from + SLICE, changed.length);
        for (let i = from; i < end; i++) text += line(changed[i]![0], changed[i]![1]);
      }
      const opening = this.journal ?? this.openJournal(this.generation);
      this.journal = opening;
      let handle: FileHandle;
      try {
        handle = await opening;
      } catch (error) {
        // Not kept as the journal: the next append tries to open it again.
        if (this.journal === opening) this.journal = undefined;
        throw error;
      }
      try {
        await handle.write(text);
        await handle.datasync();
        this.separate = false;
      } catch (error) {
        this.separate = true;
        throw error;
      }
      this.journalBytes += Buffer.byteLength(text);
    };
    const done = this.queue.then(run);
    this.queue = done.catch(() => undefined);
    return done;
  }

  /** True when the journal has grown enough that a rewrite would shrink the files (and the next start's replay). */
  get shouldCompact(): boolean {
    return (
      this.compaction === undefined &&
      !this.closing &&
      this.journalBytes > Math.max(COMPACT_MIN_JOURNAL_BYTES, this.snapshotBytes)
    );
  }

  /**
   * A full rewrite in the background: new lines go to the next generation's journal from now on; then the live
   * counters are written as that generation's snapshot, a slice per event-loop turn. `entries` is read lazily.
   */
  compact(entries: Iterable<readonly [string, QuotaUsage]>): Promise<void> {
    this.compaction ??= this.rewrite(entries).finally(() => {
      this.compaction = undefined;
    });
    return this.compaction;
  }

  /** Waits for pending appends, abandons a background rewrite (the next start makes one), closes the journal. */
  async close(): Promise<void> {
    this.closing = true;
    await this.compaction?.catch(() => undefined);
    await this.queue;
    const journal = this.journal;
    this.journal = undefined;
    if (journal !== undefined) await (await journal.catch(() => undefined))?.close();
  }

  private async rewrite(entries: Iterable<readonly [string, QuotaUsage]>): Promise<void> {
    const generation = this.generation + 1;
    // Queued, so every line taken before this point lands in the older journal, every later one in the new.
    const switched = this.queue.then(() => {
      this.switchJournal(generation);
      this.journalBytes = 0;
    });
    this.queue = switched.catch(() => undefined);
    await switched;
    const temp = `${this.snapshotPath}.tmp`;
    const handle = await open(temp, 'w');
    let bytes = 0;
    let complete = false;
    try {
      let text = header(generation);
      let count = 0;
      for (const [tenant, usage] of entries) {
        text += line(tenant, usage);
        if (++count % SLICE === 0) {
          await handle.write(text);
          bytes += Buffer.byteLength(text);
          text = '';
          await nextTurn();
          if (this.closing) return;
        }
      }
      await handle.write(text);
      bytes += Buffer.byteLength(text);
      await handle.sync();
      complete = true;
    } finally {
      await handle.close();
      if (!complete) await rm(temp, { force: true });
    }
    await rename(temp, this.snapshotPath);
    const directory = await open(this.dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
    this.snapshotBytes = bytes;
    this.removeOlder(generation);
  }

  /** From now on lines go to `generation`'s journal (opened on first use); the previous one is closed. */
  private switchJournal(generation: number): void {
    const previous = this.journal;
    this.journal = undefined;
    this.generation = generation;
    this.separate = false;
    if (previous !== undefined) void previous.then((handle) => handle.close()).catch(() => undefined);
  }

  private async openJournal(generation: number): Promise<FileHandle> {
    return open(this.journalPath(generation), 'a');
  }

  private journals(): { generation: number; path: string }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .map((name) => ({ match: JOURNAL.exec(name), name }))
      .filter(({ match }) => match !== null)
      .map(({ match, name }) => ({ generation: Number(match![1]), path: join(this.dir, name) }))
      .sort((a, b) => a.generation - b.generation);
  }

  /** Journals older than the snapshot, and the legacy file, are folded into it: removed (best effort). */
  private removeOlder(generation: number): void {
    for (const journal of this.journals()) {
      if (journal.generation < generation) rmSync(journal.path, { force: true });
    }
    rmSync(join(this.dir, LEGACY_FILE), { force: true });
  }
}

function header(generation: number): string {
  return `${JSON.stringify({ version: 2, generation })}\n`;
}

function line(tenant: string, usage: QuotaUsage): string {
  return `${JSON.stringify([tenant, usage.period, usage.periodStartMs, usage.used])}\n`;
}

/** Reads a snapshot into `usage`; returns its generation. */
function readSnapshot(
  text: string,
  path: string,
  usage: Map<string, QuotaUsage>,
  problems: string[],
): number {
  const end = text.indexOf('\n');
  let generation = 0;
  try {
    const head = JSON.parse(end === -1 ? text : text.slice(0, end)) as {
      version?: unknown;
      generation?: unknown;
    };
    if (head.version !== 2 || !Number.isSafeInteger(head.generation)) throw new Error('unknown header');
    generation = head.generation as number;
  } catch (error) {
    problems.push(`${path}: not a quota snapshot (${(error as Error).message})`);
    return 0;
  }
  readLines(text, end + 1, path, usage, problems);
  return generation;
}

/** Reads `[tenant, period, periodStartMs, used]` lines from `start` on; a later line of a tenant wins. */
function readLines(
  text: string,
  start: number,
  path: string,
  usage: Map<string, QuotaUsage>,
  problems: string[],
): void {
  let skipped = 0;
  let from = start;
  while (from < text.length) {
    let end = text.indexOf('\n', from);
    if (end === -1) end = text.length;
    const raw = text.slice(from, end);
    from = end + 1;
    if (raw === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      skipped++;
      continue;
    }
    const entry = validEntry(record);
    if (entry === undefined) skipped++;
    else usage.set(entry[0], entry[1]);
  }
  if (skipped > 0) {
    problems.push(
      `${path}: skipped ${skipped} unreadable line(s) (a torn last line follows a crash mid-write)`,
    );
  }
}

function validEntry(record: unknown): [string, QuotaUsage] | undefined {
  if (!Array.isArray(record) || record.length !== 4) return undefined;
  const [tenant, period, periodStartMs, used] = record as unknown[];
  if (
    typeof tenant !== 'string' ||
    !QUOTA_PERIODS.includes(period as QuotaPeriod) ||
    !Number.isSafeInteger(periodStartMs) ||
    !Number.isSafeInteger(used) ||
    (used as number) < 0
  ) {
    return undefined;
  }
  return [
    tenant,
    { period: period as QuotaPeriod, periodStartMs: periodStartMs as number, used: used as number },
  ];
}

/** The single JSON file of earlier versions: `{ "version": 1, "tenants": { "<tenant>": { period, periodStart, used } } }`. */
function readLegacy(path: string, usage: Map<string, QuotaUsage>, problems: string[]): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push((error as Error).message);
    return;
  }
  try {
    const parsed = JSON.parse(text) as { tenants?: unknown };
    const tenants = typeof parsed.tenants === 'object' && parsed.tenants !== null ? parsed.tenants : {};
    // JSON.parse defines own properties, so a tenant named `__proto__` is an entry here like any other.
    for (const [tenant, raw] of Object.entries(tenants)) {
      const { period, periodStart, used } = (raw ?? {}) as {
        period?: unknown;
        periodStart?: unknown;
        used?: unknown;
      };
      const entry = validEntry([
        tenant,
        period,
        typeof periodStart === 'string' ? Date.parse(periodStart) : NaN,
        used,
      ]);
      if (entry !== undefined) usage.set(entry[0], entry[1]);
    }
  } catch (error) {
    problems.push(`${path}: ${(error as Error).message}`);
  }
}

/** A rename is durable once its directory is synced. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
