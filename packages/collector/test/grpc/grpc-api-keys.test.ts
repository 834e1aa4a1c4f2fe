/**
 * API-key mode over OTLP/gRPC: the key in `authorization: Bearer` or `x-api-key` metadata decides the tenant (a
 * tenant of any characters, the key ASCII); a wrong key is UNAUTHENTICATED and stores nothing; the tenant metadata
 * does not override the key.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Collector } from '../../src/index.ts';
import { hashApiKey } from '../../src/index.ts';
import {
  encodeRequest,
  oneSum,
  startCollector,
  storedPoints,
  tempDir,
  totalRowsWritten,
} from '../support.ts';
import { exportCall } from './grpc-client.ts';

const dir = tempDir('grpc-api-keys');
let collector: Collector;
let client: Client;

beforeAll(async () => {
  const keys = join(dir, 'keys.json');
  writeFileSync(keys, JSON.stringify({ [hashApiKey('key-globex-0123456789')]: 'globex-é' }));
  ({ collector } = await startCollector(join(dir, 'data'), {
    collector: { grpcPort: 0 },
    env: {
      TALLYHOUSE_AUTH: 'apikey',
      TALLYHOUSE_API_KEYS_FILE: keys,
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
    },
  }));
  client = new Client(`127.0.0.1:${collector.grpcPort}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await collector?.stop();
});

const call = async (metadata: Record<string, string>, value: number) =>
  (await exportCall(client, encodeRequest(oneSum('requests', value), 'protobuf'), metadata)).error;

it('takes the tenant from the key, as Bearer or x-api-key, whatever the tenant metadata says', async () => {
  expect(await call({ authorization: 'Bearer key-globex-0123456789' }, 2)).toBeUndefined();
  expect(await call({ 'x-api-key': 'key-globex-0123456789', 'x-tenant-id': 'intruder' }, 3)).toBeUndefined();
  const stored = await storedPoints(collector, 'globex-é');
  expect(stored.reduce((n, p) => n + (p.value as { value: number }).value, 0)).toBe(5);
  expect(await storedPoints(collector, 'intruder')).toEqual([]);
});

it('refuses a wrong or missing key with UNAUTHENTICATED, storing nothing', async () => {
  const before = await totalRowsWritten(collector);
  const wrong = await call({ authorization: 'Bearer not-a-key' }, 7);
  expect(wrong?.code).toBe(status.UNAUTHENTICATED);
  expect(wrong?.details).toBe('invalid API key');
  const missing = await call({ 'x-tenant-id': 'globex' }, 7);
  expect(missing?.code).toBe(status.UNAUTHENTICATED);
  expect(missing?.details).toMatch(/^missing API key/);
  expect(await totalRowsWritten(collector)).toBe(before);
});
