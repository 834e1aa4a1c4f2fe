/**
 * Without the write-ahead log (TALLYHOUSE_WAL=false) the request is applied before it is answered: a request
 * whose apply throws is quarantined the same way (file, note, counter, log line), answered 200 with its
 * points reported rejected in partial_success, and the collector keeps serving.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/index.ts';
import { postMetrics } from '../support/http-client.ts';
import { startCollector } from '../support/in-process.ts';
import { oneSum } from '../support/otlp-requests.ts';
import { tempDir } from '../support/temp-dirs.ts';
import { INJECTED_MESSAGE, injectApplyFault } from './faults.ts';

let collector: Collector;
let port: number;
const dataDir = tempDir('quarantine-no-wal');

beforeAll(async () => {
  ({ collector, port } = await startCollector(dataDir, {
    env: { TALLYHOUSE_WAL: 'false', TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
  }));
  injectApplyFault(collector.processor, 'poison', 'throw');
});

afterAll(async () => {
  await collector?.stop();
});

describe('without the write-ahead log', () => {
  it('a request whose apply throws is quarantined, answered 200 with its points rejected, and the collector keeps serving', async () => {
    const answer = await postMetrics(port, oneSum('requests', 5), 'json', { 'x-tenant-id': 'poison' });
    expect(answer.status).toBe(200);
    const response = JSON.parse(answer.body.toString());
    expect(response.partialSuccess.rejectedDataPoints).toBe('1');
    expect(response.partialSuccess.errorMessage).toMatch(/request quarantined: .*injected fault/);

    const files = readdirSync(join(dataDir, 'quarantine')).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^nowal-\d+-\d+-1\.bin$/);
    const note = JSON.parse(readFileSync(join(dataDir, 'quarantine', files[1]!), 'utf8'));
    expect(note).toMatchObject({ tenant: 'poison', stage: 'apply', error: { message: INJECTED_MESSAGE } });
    expect(await collector.metrics.text()).toMatch(
      /^tallyhouse_quarantined_requests_total\{stage="apply"\} 1$/m,
    );

    expect((await postMetrics(port, oneSum('requests', 4), 'json', { 'x-tenant-id': 'acme' })).status).toBe(
      200,
    );
    await collector.processor.forceFlush();
    const reader = await collector.exporter.reader();
    expect((await reader.sumTotals('acme')).map((t) => t.total)).toEqual([4]);
    expect(await reader.sumTotals('poison')).toEqual([]);
  });
});
