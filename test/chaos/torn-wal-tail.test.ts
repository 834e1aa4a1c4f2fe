/**
 * Chaos (c): the collector is SIGKILLed with acknowledged data only in its write-ahead log (no flush yet), then
 * the last segment is damaged: cut mid-record, or garbage appended. The restart must not fail: it reports the
 * damage in its log, serves, and storage ends up with exactly the acknowledged requests whose records survived.
 */
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollectorProcess } from '../../packages/collector/test/support/collector-process.ts';
import { postJson } from '../../packages/collector/test/support/http-client.ts';
import { killStrayProcesses } from '../../packages/collector/test/support/node-process.ts';
import { readStoredTotals, totalsByKey } from '../../packages/collector/test/support/stored-in-child.ts';
import { BASE_NS, sumRequest } from '../../packages/collector/test/support/sum-requests.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';

const tempDir = tempDirsRemovedAfterAll();
afterAll(killStrayProcesses);

// No flush before the kill: everything acknowledged lives only in the log.
const ENV = { TALLYHOUSE_FLUSH_INTERVAL_MS: '600000', TALLYHOUSE_LOG_LEVEL: 'info' };
/** An ACK record: 17 header bytes + an 8-byte LSN. */
const ACK_BYTES = 25;

function lastSegment(dir: string): string {
  const segments = join(dir, 'wal', 'segments');
  const names = readdirSync(segments)
    .filter((name) => name.endsWith('.wal') && statSync(join(segments, name)).size > 0)
    .sort();
  const last = names.at(-1);
  if (last === undefined) throw new Error(`no non-empty segment in ${segments}`);
  return join(segments, last);
}

/** Byte offset of the last ACK record (type 2) in a segment: frames are u32 length | u32 crc | u8 type | … */
function lastAckOffset(segment: string): number {
  const bytes = readFileSync(segment);
  let last = -1;
  for (let offset = 0; offset + 17 <= bytes.length; offset += 17 + bytes.readUInt32LE(offset)) {
    if (bytes.readUInt8(offset + 8) === 2) last = offset;
  }
  if (last < 0) throw new Error(`no ACK record in ${segment}`);
  return last;
}

async function send(url: string, value: number, at: bigint): Promise<number | 'error'> {
  const body = sumRequest([{ metric: 'calls', value, stream: 's', startNs: at - 1_000n, timeNs: at }], 1);
  return (await postJson(url, 'acme', body)).status;
}

describe('a damaged WAL tail after SIGKILL', () => {
  for (const damage of ['cut mid-record', 'garbage appended'] as const) {
    it(`${damage}: starts, reports the damage, serves, and keeps every surviving acknowledged request`, async () => {
      const dir = tempDir('chaos-torn');
      const first = await startCollectorProcess({ dataDir: dir, env: ENV });
      const { port } = first;
      let acknowledged = 0;
      // Sequential requests: the log is DATA 1, ACK 1, DATA 2, ACK 2, … with value i for request i.
      for (let i = 1; i <= 20; i++) {
        expect(await send(first.metricsUrl, i, BASE_NS + BigInt(i) * 1_000_000n)).toBe(200);
        acknowledged += i;
      }
      await first.kill();

      const segment = lastSegment(dir);
      if (damage === 'cut mid-record') {
        // Half of the last ACK is gone (and the ANSWERED record after it): request 20 was never applied as far
        // as the log can tell.
        truncateSync(segment, lastAckOffset(segment) + Math.floor(ACK_BYTES / 2));
        acknowledged -= 20;
      } else {
        appendFileSync(segment, Buffer.from('\u0000\u0001 torn write, not a record \u00ff'.repeat(5)));
      }

      const second = await startCollectorProcess({ dataDir: dir, port, env: ENV });
      expect(await second.waitForOutput(/write-ahead log damaged: kept the valid prefix/)).toBe(true);
      const damageLine = second
        .output()
        .split('\n')
        .find((line) => line.includes('write-ahead log damaged'));
      console.log(`torn tail (${damage}): ${damageLine}`);
      for (let i = 1; i <= 5; i++) {
        expect(await send(second.metricsUrl, 100, BASE_NS + BigInt(100 + i) * 1_000_000n)).toBe(200);
        acknowledged += 100;
      }
      await second.kill();
      // And once more: the repaired log must not send it into a crash loop.
      const third = await startCollectorProcess({ dataDir: dir, port, env: ENV });
      expect(third.output()).not.toMatch(/write-ahead log damaged/);
      expect(await third.stop()).toBe(0);

      expect(totalsByKey(await readStoredTotals(dir))).toEqual({ 'acme/calls': acknowledged });
    }, 120_000);
  }
});
