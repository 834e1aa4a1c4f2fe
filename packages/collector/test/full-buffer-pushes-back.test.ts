/**
 * Push-back: with a tiny series buffer, a request that would grow it past the cap is refused as a whole
 * with 503 + Retry-After (nothing of it stored), while requests that fit, or only update held series, pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/index.ts';
import { http, postMetrics } from './support/http-client.ts';
import { startCollector, storedPoints } from './support/in-process.ts';
import { decodeStatus, type Encoding, otlpRequest, sumMetric } from './support/otlp-requests.ts';
import { tempDir } from './support/temp-dirs.ts';

let collector: Collector;
let port: number;

beforeAll(async () => {
  ({ collector, port } = await startCollector(tempDir('backpressure'), {
    env: {
      TALLYHOUSE_MAX_BUFFERED_SERIES: '5',
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      TALLYHOUSE_RETRY_AFTER_SECONDS: '7',
    },
  }));
});

afterAll(async () => {
  await collector?.stop();
});

/** A request with one sum point per route, each route a distinct series. */
const routes = (prefix: string, count: number, value = 1) =>
  otlpRequest([
    sumMetric(
      'requests',
      Array.from({ length: count }, (_, i) => ({ value, attributes: { route: `/${prefix}/${i}` } })),
    ),
  ]);

const sumOf = async (tenant: string) =>
  (await storedPoints(collector, tenant)).reduce(
    (sum, p) => sum + ('value' in p.value ? p.value.value : Number.NaN),
    0,
  );

async function expectPushedBack(tenant: string, request: ReturnType<typeof routes>, encoding: Encoding) {
  const answer = await postMetrics(port, request, encoding, { 'x-tenant-id': tenant });
  expect(answer.status).toBe(503);
  expect(answer.headers['retry-after']).toBe('7');
  const status = decodeStatus(answer.body, encoding);
  expect(status.code).toBe(14);
  expect(status.message).toMatch(/buffer full: .*maxBufferedSeries=5.*retry after 7s$/);
}

describe('a full series buffer pushes back with 503 and Retry-After', () => {
  it.each<Encoding>(['protobuf', 'json'])(
    'refuses a %s request with more new series than fit, storing nothing of it',
    async (encoding) => {
      const tenant = `too-many-${encoding}`;
      await expectPushedBack(tenant, routes('a', 6), encoding);
      expect(collector.processor.stats().bufferedSeries).toBe(0);
      expect(await storedPoints(collector, tenant)).toEqual([]);
    },
  );

  it('takes requests that fit, refuses the one that overflows, and still takes updates of held series', async () => {
    const tenant = 'filling';
    expect((await postMetrics(port, routes('b', 3), 'protobuf', { 'x-tenant-id': tenant })).status).toBe(200);
    expect((await postMetrics(port, routes('c', 2), 'protobuf', { 'x-tenant-id': tenant })).status).toBe(200);
    expect(collector.processor.stats().bufferedSeries).toBe(5);

    // One more series does not fit, from this tenant or another.
    await expectPushedBack(tenant, routes('d', 1), 'protobuf');
    await expectPushedBack('other-tenant', routes('b', 1), 'json');
    // A request mixing held series with one new series is refused as a whole.
    const mixed = otlpRequest([
      sumMetric('requests', [
        { value: 100, attributes: { route: '/b/0' } },
        { value: 100, attributes: { route: '/z/0' } },
      ]),
    ]);
    await expectPushedBack(tenant, mixed, 'protobuf');

    // Points for series already held merge without growing the buffer.
    expect((await postMetrics(port, routes('b', 3, 10), 'json', { 'x-tenant-id': tenant })).status).toBe(200);

    expect(await sumOf(tenant)).toBe(3 + 2 + 30);
    expect(await storedPoints(collector, 'other-tenant')).toEqual([]);
    expect(collector.processor.stats().bufferedSeries).toBe(0);

    // Once flushed, there is room again.
    expect((await postMetrics(port, routes('e', 5), 'protobuf', { 'x-tenant-id': tenant })).status).toBe(200);
    expect(await sumOf(tenant)).toBe(3 + 2 + 30 + 5);
  });

  it('counts pushed-back points and 503 answers in /metrics', async () => {
    const scrape = async () => (await http(port, { method: 'GET', path: '/metrics' })).body.toString();
    const read = (text: string, key: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${key} `));
      return line === undefined ? 0 : Number(line.slice(key.length + 1));
    };
    const before = await scrape();
    await expectPushedBack('counted', routes('f', 6), 'protobuf');
    const after = await scrape();
    const delta = (key: string) => read(after, key) - read(before, key);
    expect(delta('tallyhouse_data_points_rejected_total{reason="refused_retry_later"}')).toBe(6);
    expect(delta('tallyhouse_http_requests_total{route="/v1/metrics",status="503"}')).toBe(1);
    expect(delta('tallyhouse_data_points_accepted_total')).toBe(0);
  });
});
