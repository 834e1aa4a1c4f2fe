/**
 * The OTLP/HTTP port says what it is: a gRPC client or a plain HTTP/2 client connecting to it gets an answer
 * naming the OTLP/gRPC port (gRPC: UNIMPLEMENTED; HTTP/2: 505) and a warning is logged, instead of a silent reset;
 * HTTP/1.1 goes on as before, malformed HTTP/1 requests included.
 */
import { connect } from 'node:http2';
import { join } from 'node:path';
import { Client, credentials, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Collector } from '../../src/index.ts';
import { encodeRequest, oneSum, postMetrics, rawHttp, startCollector, tempDir } from '../support.ts';
import { exportCall } from './grpc-client.ts';

const dir = tempDir('http2-on-http');
const logLines: { msg: string; grpcPort?: number }[] = [];
let collector: Collector;
let port: number;

beforeAll(async () => {
  const logger = pino({ level: 'warn' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
  ({ collector, port } = await startCollector(join(dir, 'data'), { collector: { grpcPort: 0 }, logger }));
});

afterAll(async () => {
  await collector?.stop();
});

it('answers a gRPC call on the HTTP port with UNIMPLEMENTED naming the gRPC port, and logs it', async () => {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const { error } = await exportCall(client, encodeRequest(oneSum('requests', 1), 'protobuf'), 'acme');
  client.close();
  expect(error?.code).toBe(status.UNIMPLEMENTED);
  expect(error?.details).toBe(
    `this is the OTLP/HTTP port, HTTP/1.1 only; send OTLP/gRPC to port ${collector.grpcPort}`,
  );
  expect(logLines).toContainEqual(
    expect.objectContaining({
      msg: `HTTP/2 connection on the OTLP/HTTP port, which speaks HTTP/1.1: OTLP/gRPC listens on port ${collector.grpcPort}`,
      grpcPort: collector.grpcPort,
    }),
  );
});

it('answers a plain HTTP/2 request with 505 and the same explanation', async () => {
  const session = connect(`http://127.0.0.1:${port}`);
  const stream = session.request({ ':method': 'POST', ':path': '/v1/metrics' });
  stream.end();
  const [statusCode, body] = await new Promise<[number, string]>((resolve, reject) => {
    let headerStatus = 0;
    let text = '';
    stream.on('response', (headers) => {
      headerStatus = Number(headers[':status']);
    });
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    stream.on('end', () => resolve([headerStatus, text]));
    stream.on('error', reject);
  });
  session.close();
  expect(statusCode).toBe(505);
  expect(body).toContain(`send OTLP/gRPC to port ${collector.grpcPort}`);
});

it('still serves HTTP/1.1, and answers a malformed HTTP/1 request with 400 as before', async () => {
  const answer = await postMetrics(port, oneSum('requests', 2), 'protobuf', { 'x-tenant-id': 'acme' });
  expect(answer.status).toBe(200);
  const malformed = await rawHttp(port, Buffer.from('GARBAGE / HTTP/1.1\r\n\r\n'));
  expect(malformed.status).toBe(400);
});
