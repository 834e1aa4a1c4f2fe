/**
 * A lean OTLP/gRPC sender for the benchmark: gRPC's wire format written directly on Node's HTTP/2 client (a POST
 * with `content-type: application/grpc`, the message behind its 5-byte length prefix, the status in the trailers).
 * The receiver under test is the same grpc-js server either way; this client costs the shared CPU about what
 * undici costs the HTTP phase, where grpc-js's client costs about twice that (see the README), so the two phases
 * compare the receivers rather than the client libraries. One HTTP/2 connection per worker, as in `grpc-load.ts`.
 */

import { once } from 'node:events';
import { type ClientHttp2Session, connect } from 'node:http2';
import { EXPORT_METHOD_PATH } from '../src/grpc/metrics-service.ts';
import type { Outcome, Sender } from './load.ts';

const GRPC_OK = '0';
const GRPC_UNAVAILABLE = '14';
const GRPC_RESOURCE_EXHAUSTED = '8';

export async function grpcWireSender(host: string, port: number, connections: number): Promise<Sender> {
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < connections; i++) {
    const session = connect(`http://${host}:${port}`);
    await once(session, 'connect');
    sessions.push(session);
  }
  return {
    send(worker, tenant, body): Promise<Outcome> {
      const stream = sessions[worker % connections]!.request({
        ':method': 'POST',
        ':path': EXPORT_METHOD_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': '30S',
        'x-tenant-id': tenant,
      });
      const prefix = Buffer.allocUnsafe(5);
      prefix[0] = 0; // not compressed
      prefix.writeUInt32BE(body.length, 1);
      stream.write(prefix);
      stream.end(body);
      return new Promise((resolve) => {
        let grpcStatus: string | undefined;
        let retryInfo = false;
        let responseBytes = 0;
        const readStatus = (headers: Record<string, unknown>) => {
          if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
          if (headers['grpc-status-details-bin'] !== undefined) retryInfo = true;
        };
        stream.on('response', readStatus); // trailers-only answers carry the status here
        stream.on('trailers', readStatus);
        stream.on('data', (chunk: Buffer) => {
          responseBytes += chunk.length;
        });
        stream.on('error', () => resolve('failed'));
        stream.on('close', () => {
          if (grpcStatus === GRPC_OK) resolve(responseBytes > 5 ? 'partial' : 'ok');
          else if (grpcStatus === GRPC_UNAVAILABLE || (grpcStatus === GRPC_RESOURCE_EXHAUSTED && retryInfo))
            resolve('pushed-back');
          else resolve('failed');
        });
      });
    },
    async close() {
      for (const session of sessions) session.close();
    },
  };
}
