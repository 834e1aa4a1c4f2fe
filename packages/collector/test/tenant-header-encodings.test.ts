/**
 * A tenant header with characters beyond ASCII reaches the same tenant whichever way a stock client puts it on the
 * wire: Node's HTTP client (the stock OTLP/HTTP JSON and protobuf exporters) sends U+0080–U+00FF as single latin1
 * bytes, curl, Go and most others send UTF-8. Both resolve to the one tenant string, stored as such; control
 * characters and the other tenant rules still refuse.
 */
import { validateHeaderValue } from 'node:http';
import { join } from 'node:path';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import type { SeriesPoint } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/index.ts';
import { encodeRequest, oneSum, rawHttp, startCollector, storedPoints, tempDir } from './support.ts';

const dir = tempDir('tenant-encodings');
let collector: Collector;
let port: number;

beforeAll(async () => {
  ({ collector, port } = await startCollector(join(dir, 'data'), {
    env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
  }));
});

afterAll(async () => {
  await collector?.stop();
});

const total = (points: SeriesPoint[]) =>
  points.reduce((sum, p) => sum + (p.value as { value: number }).value, 0);

/** One delta counter export through a stock exporter with `x-tenant-id: tenant`. */
async function exportThrough(exporter: PushMetricExporter, value: number): Promise<void> {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'encodings' }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
  });
  provider.getMeter('encodings').createCounter('requests').add(value);
  await provider.forceFlush();
  await provider.shutdown();
}

/** A request whose tenant header carries exactly `bytes`. */
function postRawTenant(bytes: Buffer) {
  const body = encodeRequest(oneSum('requests', 1), 'json');
  const head = Buffer.from(
    `POST /v1/metrics HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\nx-tenant-id: `,
    'latin1',
  );
  return rawHttp(port, Buffer.concat([head, bytes, Buffer.from('\r\n\r\n'), body]));
}

describe('non-ASCII tenant headers', () => {
  it('resolves the stock JSON and protobuf exporters (latin1 bytes) and a UTF-8 client to one tenant', async () => {
    const options = (tenant: string) => ({
      url: `http://127.0.0.1:${port}/v1/metrics`,
      headers: { 'x-tenant-id': tenant },
      temporalityPreference: AggregationTemporality.DELTA,
    });
    await exportThrough(new JsonExporter(options('globex-é')), 3);
    await exportThrough(new ProtobufExporter(options('globex-é')), 4);
    expect((await postRawTenant(Buffer.from('globex-é', 'utf8'))).status).toBe(200);
    expect((await postRawTenant(Buffer.from('globex-é', 'latin1'))).status).toBe(200);
    expect(total(await storedPoints(collector, 'globex-é'))).toBe(9);
    // Never under the mis-decoded forms.
    expect(await storedPoints(collector, 'globex-Ã©')).toEqual([]);
  });

  it('takes characters beyond U+00FF from a UTF-8 client (Node refuses to send them in a header)', async () => {
    expect((await postRawTenant(Buffer.from('租户-42', 'utf8'))).status).toBe(200);
    expect(total(await storedPoints(collector, '租户-42'))).toBe(1);
    // Why only raw UTF-8 clients can: Node's HTTP client refuses a header character beyond U+00FF.
    expect(() => validateHeaderValue('x-tenant-id', '租户')).toThrow(/Invalid character/);
  });

  it('still refuses control characters, however they are encoded', async () => {
    for (const bytes of [Buffer.from('acme\u0085', 'latin1'), Buffer.from('acme\u0085', 'utf8')]) {
      const answer = await postRawTenant(bytes);
      expect(answer.status).toBe(401);
      expect(answer.text).toMatch(/control character/);
    }
  });
});
