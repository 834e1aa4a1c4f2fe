import { silentLogger } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { FlushSchedule } from '../src/flush-schedule.ts';
import type { FlushReport } from '../src/flusher.ts';

const DRAINED: FlushReport = { sent: 1, retained: 0, errors: [] };
const RETAINED: FlushReport = { sent: 0, retained: 1, errors: [] };

/** A schedule whose flushes resolve when the test says so, with the report it gives. */
function scheduled(options = { flushIntervalMs: 60_000, flushMaxSeries: 10 }) {
  const pending: ((report: FlushReport) => void)[] = [];
  const schedule = new FlushSchedule(
    () => new Promise((resolve) => pending.push(resolve)),
    options,
    silentLogger,
  );
  return { schedule, pending };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('FlushSchedule', () => {
  it('runs one flush at a time: a call during a flush gets that flush', async () => {
    const { schedule, pending } = scheduled();
    const first = schedule.flush();
    expect(schedule.flush()).toBe(first);
    const after = schedule.flushAfterRunning();
    pending.shift()!(DRAINED);
    await first;
    await nextTurn();
    expect(pending).toHaveLength(1);
    pending.shift()!(DRAINED);
    expect(await after).toBe(DRAINED);
  });

  it('flushes once the buffer reaches flushMaxSeries, not inside the call', async () => {
    const { schedule, pending } = scheduled();
    schedule.sizeChanged(9);
    schedule.sizeChanged(10);
    expect(pending).toHaveLength(0);
    await nextTurn();
    expect(pending).toHaveLength(1);
  });

  it('after a flush that retained points, the size trigger waits for the interval', async () => {
    const { schedule, pending } = scheduled();
    const failed = schedule.flush();
    pending.shift()!(RETAINED);
    await failed;
    schedule.sizeChanged(50);
    await nextTurn();
    expect(pending).toHaveLength(0);
  });
});
