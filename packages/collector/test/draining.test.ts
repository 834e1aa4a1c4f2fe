/**
 * While the collector drains (after `stop()`), a request already on the wire is pushed back with
 * 503 + Retry-After instead of being accepted into a buffer that is being shut down; what was accepted
 * before `stop()` is flushed to storage.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { postMetrics } from './support/http-client.ts';
import { readDataDir, startCollector } from './support/in-process.ts';
import { encodeRequest, oneSum } from './support/otlp-requests.ts';
import { tempDir } from './support/temp-dirs.ts';

describe('draining', () => {
  it('answers a request whose body completes after stop() with 503 + Retry-After, and flushes what it had', async () => {
    const dataDir = tempDir('draining');
    const { collector, port } = await startCollector(dataDir, {
      env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000', TALLYHOUSE_RETRY_AFTER_SECONDS: '3' },
    });
    const accepted = await postMetrics(port, oneSum('requests', 11), 'protobuf', { 'x-tenant-id': 'early' });
    expect(accepted.status).toBe(200);

    // Headers and half the body are sent before stop(); the rest after it.
    const body = encodeRequest(oneSum('requests', 1), 'protobuf');
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = once(socket, 'close');
    socket.write(
      'POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\nx-tenant-id: late\r\n' +
        `content-length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));

    const stopped = collector.stop();
    socket.write(body.subarray(5));
    const outcome = await stopped;
    await closed;
    expect(outcome).toEqual({ drained: true, errors: [] });

    const answer = Buffer.concat(chunks).toString('latin1');
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/\r\nretry-after: 3\r\n/i);
    expect(answer).toMatch(/shut down.*retry after 3s/);

    await readDataDir(dataDir, async (reader) => {
      expect((await reader.sumTotals('early')).map((t) => t.total)).toEqual([11]);
      expect(await reader.sumTotals('late')).toEqual([]);
    });
  });
});
