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
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { writeFileDurably } from '@tallyhouse/model';
import type { QuotaUsage } from './quota.ts';
import {
  counterLine,
  readCounterLines,
  readLegacyFile,
  readSnapshot,
  snapshotHeader,
} from './quota-file-format.ts';

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
      readLegacyFile(join(this.dir, LEGACY_FILE), usage, problems);
    }
    for (const { generation, path } of this.journals()) {
      if (generation < this.generation) continue;
      try {
        readCounterLines(readFileSync(path, 'utf8'), 0, path, usage, problems);
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
    const lines = [snapshotHeader(generation)];
    for (const [tenant, usage] of entries) lines.push(counterLine(tenant, usage));
    const text = lines.join('');
    writeFileDurably(this.snapshotPath, text);
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
        for (let i = from; i < end; i++) text += counterLine(changed[i]![0], changed[i]![1]);
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
      let text = snapshotHeader(generation);
      let count = 0;
      for (const [tenant, usage] of entries) {
        text += counterLine(tenant, usage);
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
