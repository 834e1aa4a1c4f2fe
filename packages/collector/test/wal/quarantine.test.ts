/**
 * The write-ahead log's pipeline in process (DurableIngest + the real TenantProcessor, batches handed to an
 * in-memory next stage): a request whose apply throws is quarantined and the pipeline goes on; a replay
 * treats it exactly as the live process did, so the batches it re-sends are the live ones, id for id and
 * point for point; a record a replay cannot read, or one the last start died on, is quarantined instead of
 * failing the start. Faults are injected around the real processor's apply for one marked tenant (faults.ts).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SeriesBatch } from '@tallyhouse/model';
import { TenantProcessor } from '@tallyhouse/processor-tenant';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeExportMetricsServiceRequestJson } from '../../src/otlp/index.ts';
import { DurableIngest } from '../../src/wal/durable-ingest.ts';
import { Quarantine, type QuarantineStage } from '../../src/wal/quarantine.ts';
import { ACK, DATA, encodeData, encodeLsn } from '../../src/wal/records.ts';
import { WriteAheadLog } from '../../src/wal/wal.ts';
import { deltaSums } from '../support/sum-requests.ts';
import { tempDirsRemovedAfterAll } from '../support/temp-dirs.ts';
import { type ApplyFault, INJECTED_MESSAGE, injectApplyFault } from './faults.ts';

const tempDir = tempDirsRemovedAfterAll();
const dataDir = () => tempDir('quarantine');

const silent = pino({ level: 'silent' });

/** One incarnation of the pipeline on `dir` (its `wal/` and `quarantine/`), optionally with a fault. */
function incarnation(dir: string, fault?: { tenant: string; fault: ApplyFault }) {
  const handed: SeriesBatch[] = [];
  const counted: QuarantineStage[] = [];
  const quarantine = new Quarantine(join(dir, 'quarantine'), silent, (stage) => counted.push(stage));
  const durable = new DurableIngest(
    join(dir, 'wal'),
    { fsync: 'none', groupCommitMs: 1, segmentBytes: 1 << 20, dedupWindowMs: 60_000, quarantine },
    silent,
  );
  const processor = new TenantProcessor({
    next: {
      consumeBatch: async (batch) => {
        handed.push(batch);
        return { ok: true };
      },
    },
    autoFlush: false,
    flushLog: durable.flushLog,
  });
  durable.attach(processor);
  if (fault) injectApplyFault(processor, fault.tenant, fault.fault);
  return { durable, processor, handed, counted, quarantine };
}

/** Logs, acknowledges and applies one request the way the receiver does (answer written out whole, unless not). */
async function send(
  durable: DurableIngest,
  tenant: string,
  body: string,
  options: { answered?: boolean } = {},
) {
  const pending = await durable.ingest({
    tenant,
    allowAttributeOverride: false,
    encoding: 'json',
    body: Buffer.from(body),
    decoded: decodeExportMetricsServiceRequestJson(body),
  });
  const fresh = pending.acknowledge();
  const report = fresh ? pending.apply() : undefined;
  if (options.answered ?? true) pending.answered();
  return { fresh, report, pending };
}

/** `tenant/metric` → summed value over the batches. */
function totals(batches: readonly SeriesBatch[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const point of batches.flatMap((batch) => batch.points)) {
    const key = `${point.tenant}/${point.metric.name}`;
    out[key] = (out[key] ?? 0) + (point.value as { value: number }).value;
  }
  return out;
}

function quarantineFiles(dir: string): string[] {
  const path = join(dir, 'quarantine');
  return existsSync(path) ? readdirSync(path).sort() : [];
}

describe('a request whose apply throws', () => {
  it('is quarantined (file, note, count) and reported, and the pipeline keeps applying other requests', async () => {
    const dir = dataDir();
    const live = incarnation(dir, { tenant: 'poison', fault: 'throw' });
    await send(live.durable, 'acme', deltaSums(1, { requests: 3 }));
    const poisoned = await send(live.durable, 'poison', deltaSums(2, { requests: 5 }));
    await send(live.durable, 'acme', deltaSums(3, { requests: 4 }));

    expect(poisoned.fresh).toBe(true);
    expect(poisoned.report).toMatchObject({
      acceptedPoints: 0,
      rejectedPoints: 1,
      rejectedByReason: { quarantined: 1 },
    });
    expect(poisoned.report?.rejectionMessages[0]).toMatch(/request quarantined: .*injected fault/);
    expect(live.counted).toEqual(['apply']);
    // Named by the LSN of its DATA record (the first request took 1-3: DATA, ACK, ANSWERED).
    expect(quarantineFiles(dir)).toEqual(['wal-4.bin', 'wal-4.json']);
    const note = JSON.parse(readFileSync(join(dir, 'quarantine', 'wal-4.json'), 'utf8'));
    expect(note).toMatchObject({
      lsn: '4',
      tenant: 'poison',
      encoding: 'json',
      stage: 'apply',
      error: { name: 'RangeError', message: INJECTED_MESSAGE },
    });
    expect(note.error.stack).toMatch(/RangeError/);
    // The DATA record whole: the request body is in it, byte for byte.
    const bin = readFileSync(join(dir, 'quarantine', 'wal-4.bin'));
    expect(bin.subarray(bin.length - Buffer.byteLength(deltaSums(2, { requests: 5 }))).toString()).toBe(
      deltaSums(2, { requests: 5 }),
    );

    await live.processor.flush();
    expect(totals(live.handed)).toEqual({ 'acme/requests': 7 });
    live.durable.close();
  });

  it('is treated by a replay exactly as live: the replayed flush re-sends the live batches, id for id', async () => {
    const dir = dataDir();
    const fault = { tenant: 'poison', fault: 'partial' as const };
    const live = incarnation(dir, fault);
    await send(live.durable, 'acme', deltaSums(1, { requests: 3 }));
    // Two metrics: the first is applied before the throw, the second never.
    await send(live.durable, 'poison', deltaSums(2, { 'applied-before-fault': 5, 'after-fault': 7 }));
    await send(live.durable, 'acme', deltaSums(3, { requests: 4 }));
    await live.processor.flush();
    // A crash: the flush's batches reached storage, the checkpoint was not written.
    live.durable.close();
    expect(totals(live.handed)).toEqual({ 'acme/requests': 7, 'poison/applied-before-fault': 5 });

    const replayed = incarnation(dir, fault);
    const summary = await replayed.durable.replay();
    expect(summary).toMatchObject({ requests: 2, flushes: 1, quarantined: 0, quarantinedEarlier: 1 });
    // The same batches under the same ids: storage drops them as duplicates, nothing counted twice.
    expect(replayed.handed).toEqual(live.handed);
    expect(replayed.counted).toEqual([]);
    expect(quarantineFiles(dir)).toEqual(['wal-4.bin', 'wal-4.json']);
    replayed.durable.close();
  });

  it('that a fixed version applies in full at replay is counted then, and its note says not to re-send it', async () => {
    const dir = dataDir();
    const live = incarnation(dir, { tenant: 'poison', fault: 'throw' });
    await send(live.durable, 'poison', deltaSums(1, { requests: 5 }));
    live.durable.close();

    const fixed = incarnation(dir);
    expect(await fixed.durable.replay()).toMatchObject({ requests: 1, quarantined: 0 });
    await fixed.processor.flush();
    expect(totals(fixed.handed)).toEqual({ 'poison/requests': 5 });
    const note = JSON.parse(readFileSync(join(dir, 'quarantine', 'wal-1.json'), 'utf8'));
    expect(note.appliedNote).toMatch(/do not re-send/);
    fixed.durable.close();
  });
});

describe('a restart never fails on a record', () => {
  it('whose apply throws only at replay: quarantined then, and every later replay does the same', async () => {
    const dir = dataDir();
    // The live process applied it (an older version, say); the version that replays it throws.
    const live = incarnation(dir);
    await send(live.durable, 'acme', deltaSums(1, { requests: 3 }));
    await send(live.durable, 'poison', deltaSums(2, { requests: 5 }));
    live.durable.close();

    const first = incarnation(dir, { tenant: 'poison', fault: 'throw' });
    expect(await first.durable.replay()).toMatchObject({
      requests: 1,
      quarantined: 1,
      quarantinedEarlier: 0,
    });
    expect(first.counted).toEqual(['replay']);
    expect(quarantineFiles(dir)).toEqual(['wal-4.bin', 'wal-4.json']);
    await first.processor.flush();
    expect(totals(first.handed)).toEqual({ 'acme/requests': 3 });
    first.durable.close();

    const second = incarnation(dir, { tenant: 'poison', fault: 'throw' });
    expect(await second.durable.replay()).toMatchObject({ quarantined: 0, quarantinedEarlier: 1 });
    expect(second.counted).toEqual([]);
    second.durable.close();
  });

  it('whose DATA header is malformed or whose body does not decode: quarantined, the rest applied', async () => {
    const dir = dataDir();
    const { wal } = WriteAheadLog.open(join(dir, 'wal', 'segments'), {
      fsync: 'none',
      groupCommitMs: 1,
      segmentBytes: 1 << 20,
    });
    const good = deltaSums(1, { requests: 3 });
    const records = [
      encodeData(
        { tenant: 'acme', encoding: 'json', allowAttributeOverride: false, body: Buffer.from(good) },
        1,
      ),
      Buffer.from([1, 0, 9]), // shorter than a DATA header
      encodeData(
        {
          tenant: 'garbled',
          encoding: 'protobuf',
          allowAttributeOverride: false,
          body: Buffer.from([0xff, 0xff]),
        },
        2,
      ),
    ];
    for (const record of records) wal.append(ACK, encodeLsn(wal.append(DATA, record)));
    wal.close();

    const started = incarnation(dir);
    expect(await started.durable.replay()).toMatchObject({ requests: 1, quarantined: 2 });
    expect(quarantineFiles(dir)).toEqual(['wal-3.bin', 'wal-3.json', 'wal-5.bin', 'wal-5.json']);
    expect(readFileSync(join(dir, 'quarantine', 'wal-3.bin'))).toEqual(records[1]);
    const garbled = JSON.parse(readFileSync(join(dir, 'quarantine', 'wal-5.json'), 'utf8'));
    expect(garbled).toMatchObject({ tenant: 'garbled', stage: 'replay' });
    await started.processor.flush();
    expect(totals(started.handed)).toEqual({ 'acme/requests': 3 });
    started.durable.close();

    const again = incarnation(dir);
    expect(await again.durable.replay()).toMatchObject({
      requests: 1,
      quarantined: 0,
      quarantinedEarlier: 2,
    });
    again.durable.close();
  });

  it('the last start died on while replaying it (out of memory, say): quarantined, never applied again', async () => {
    const dir = dataDir();
    const live = incarnation(dir);
    await send(live.durable, 'acme', deltaSums(1, { requests: 3 }));
    await send(live.durable, 'doomed', deltaSums(2, { requests: 5 }));
    live.durable.close();
    // What a start leaves behind when the process dies while replaying LSN 4 (the DATA of 'doomed').
    writeFileSync(join(dir, 'wal', 'replaying'), encodeLsn(4n));

    const next = incarnation(dir);
    expect(await next.durable.replay()).toMatchObject({ requests: 1, quarantined: 1 });
    expect(existsSync(join(dir, 'wal', 'replaying'))).toBe(false);
    const note = JSON.parse(readFileSync(join(dir, 'quarantine', 'wal-4.json'), 'utf8'));
    expect(note).toMatchObject({ tenant: 'doomed', error: { message: /died while replaying/ } });
    await next.processor.flush();
    expect(totals(next.handed)).toEqual({ 'acme/requests': 3 });
    next.durable.close();

    const later = incarnation(dir);
    expect(await later.durable.replay()).toMatchObject({ requests: 1, quarantinedEarlier: 1 });
    later.durable.close();
  });
});

describe('resends', () => {
  it('an identical body after the first answer went out whole is new data, counted again', async () => {
    const dir = dataDir();
    const live = incarnation(dir);
    const body = deltaSums(1, { requests: 3 });
    expect((await send(live.durable, 'acme', body)).fresh).toBe(true);
    expect((await send(live.durable, 'acme', body)).fresh).toBe(true);
    await live.processor.flush();
    expect(totals(live.handed)).toEqual({ 'acme/requests': 6 });
    live.durable.close();
  });

  it('an identical body while the first answer did not go out is a resend; once the resend is answered, new data', async () => {
    const dir = dataDir();
    const live = incarnation(dir);
    const body = deltaSums(1, { requests: 3 });
    expect((await send(live.durable, 'acme', body, { answered: false })).fresh).toBe(true);
    expect((await send(live.durable, 'acme', body, { answered: false })).fresh).toBe(false);
    expect((await send(live.durable, 'acme', body)).fresh).toBe(false);
    // That resend's answer went out: the client has its 200; the same bytes again are another export.
    expect((await send(live.durable, 'acme', body)).fresh).toBe(true);
    await live.processor.flush();
    expect(totals(live.handed)).toEqual({ 'acme/requests': 6 });
    live.durable.close();
  });

  it('a restart remembers acknowledged requests without an ANSWERED record, and forgets answered ones', async () => {
    const dir = dataDir();
    const live = incarnation(dir);
    const unanswered = deltaSums(1, { requests: 3 });
    const answered = deltaSums(2, { requests: 4 });
    await send(live.durable, 'acme', unanswered, { answered: false });
    await send(live.durable, 'acme', answered);
    live.durable.close();

    const next = incarnation(dir);
    await next.durable.replay();
    expect((await send(next.durable, 'acme', unanswered)).fresh).toBe(false);
    expect((await send(next.durable, 'acme', answered)).fresh).toBe(true);
    await next.processor.flush();
    expect(totals(next.handed)).toEqual({ 'acme/requests': 3 + 4 + 4 });
    next.durable.close();
  });
});
