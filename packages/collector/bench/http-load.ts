/** OTLP/HTTP protobuf sender for the end-to-end benchmark: an `undici` pool, one request in flight per connection. */
import { Pool } from 'undici';
import type { Outcome, Sender } from './load.ts';

export function httpSender(base: string, connections: number): Sender {
  const pool = new Pool(base, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  return {
    async send(_worker, tenant, body): Promise<Outcome> {
      try {
        const response = await pool.request({
          path: '/v1/metrics',
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', 'x-tenant-id': tenant },
          body,
        });
        const answer = Buffer.from(await response.body.arrayBuffer());
        if (response.statusCode === 200) {
          // A non-empty protobuf response carries partial_success: some points were rejected.
          return answer.length > 0 ? 'partial' : 'ok';
        }
        return response.statusCode === 429 || response.statusCode === 503 ? 'pushed-back' : 'failed';
      } catch {
        return 'failed';
      }
    },
    close: () => pool.close(),
  };
}
