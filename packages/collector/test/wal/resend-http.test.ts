/**
 * Resends over real HTTP, in process (real receiver, write-ahead log and chDB): a byte-identical body is taken
 * for a resend only while the earlier request's 200 may not have reached its client. Two clients that send
 * the same bytes one after the other are both counted; a request whose answer could not be written out is
 * counted once however often it is resent until an answer gets through.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/index.ts';
import { postMetrics } from '../support/http-client.ts';
import { startCollector } from '../support/in-process.ts';
import { encodeRequest, oneSum } from '../support/otlp-requests.ts';
import { tempDir } from '../support/temp-dirs.ts';

let collector: Collector;
let port: number;

beforeAll(async () => {
  ({ collector, port } = await startCollector(tempDir('resend-http'), {
    env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
  }));
  // The fault: for a marked request the connection breaks as the answer is written (the response never
  // finishes), after the request was acknowledged — as when the network or the client drops it.
  collector.server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.headers['x-test-break-answer'] === undefined) return;
    response.end = (() => {
      response.socket?.destroy();
      return response;
    }) as ServerResponse['end'];
  });
});

afterAll(async () => {
  await collector?.stop();
});

async function stored(tenant: string): Promise<number[]> {
  await collector.processor.forceFlush();
  const reader = await collector.exporter.reader();
  return (await reader.sumTotals(tenant)).map((total) => total.total);
}

describe('identical bodies', () => {
  it('two clients sending identical bodies one after the other are both answered 200 and both counted', async () => {
    const body = encodeRequest(oneSum('requests', 5), 'protobuf');
    // `http` opens a connection per request: two clients.
    expect((await postMetrics(port, body, 'protobuf', { 'x-tenant-id': 'twins' })).status).toBe(200);
    expect((await postMetrics(port, body, 'protobuf', { 'x-tenant-id': 'twins' })).status).toBe(200);
    expect(await stored('twins')).toEqual([10]);
  });

  it('a request whose answer could not be written out is counted once when resent', async () => {
    const body = encodeRequest(oneSum('requests', 7), 'protobuf');
    const broken = postMetrics(port, body, 'protobuf', { 'x-tenant-id': 'cut', 'x-test-break-answer': '1' });
    await expect(broken).rejects.toThrow(/socket hang up|ECONNRESET/);
    // The client saw no answer and resends the same bytes: answered, not counted again.
    expect((await postMetrics(port, body, 'protobuf', { 'x-tenant-id': 'cut' })).status).toBe(200);
    const rejected = await collector.metrics.pointsRejected.get();
    expect(rejected.values.find((v) => v.labels.reason === 'duplicate_request')?.value).toBe(1);
    expect(await stored('cut')).toEqual([7]);
    // That answer got through: the same bytes again are a new export.
    expect((await postMetrics(port, body, 'protobuf', { 'x-tenant-id': 'cut' })).status).toBe(200);
    expect(await stored('cut')).toEqual([14]);
  });
});
