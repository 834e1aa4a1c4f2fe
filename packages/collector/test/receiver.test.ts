/**
 * Happy paths of the collector's HTTP surface over a real socket, with embedded chDB storage: both OTLP
 * encodings, gzip, partial success, health/readiness/metrics endpoints, series merging across requests,
 * and cumulative-to-delta conversion per source stream. Then the ingest sequence alone, without HTTP, as a
 * second protocol uses it.
 */
import { gzipSync } from 'node:zlib';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { type SeriesPoint, silentLogger } from '@tallyhouse/model';
import type { ConsumeReport } from '@tallyhouse/processor-tenant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/index.ts';
import { type IngestCall, type IngestDependencies, IngestSequence } from '../src/ingest/ingest-sequence.ts';
import type { PendingIngest } from '../src/ingest/intake.ts';
import { IngestRefusal } from '../src/ingest/refusal.ts';
import { CollectorMetrics } from '../src/metrics.ts';
import {
  CONTENT_TYPE,
  CUMULATIVE,
  DELTA,
  decodeExportResponse,
  type Encoding,
  encodeRequest,
  gaugeMetric,
  http,
  NOW_NS,
  oneSum,
  otlpRequest,
  postMetrics,
  startCollector,
  storedPoints,
  sumMetric,
  tempDir,
} from './support.ts';

let collector: Collector;
let port: number;

beforeAll(async () => {
  ({ collector, port } = await startCollector(tempDir('receiver'), {
    env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
  }));
});

afterAll(async () => {
  await collector?.stop();
});

const pointValue = (point: SeriesPoint): number => ('value' in point.value ? point.value.value : Number.NaN);

/** Parses Prometheus text into `name{labels}` → value. */
async function scrape(): Promise<Map<string, number>> {
  const answer = await http(port, { method: 'GET', path: '/metrics' });
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>();
  for (const line of answer.body.toString('utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

describe('POST /v1/metrics stores what it accepts', () => {
  it.each<[Encoding, boolean]>([
    ['protobuf', false],
    ['json', false],
    ['protobuf', true],
    ['json', true],
  ])(
    'accepts %s (gzip: %s) and stores sum and gauge rows under the header tenant',
    async (encoding, gzip) => {
      const tenant = `happy-${encoding}-${gzip ? 'gzip' : 'plain'}`;
      const request = otlpRequest(
        [
          sumMetric('http.requests', [{ value: 4, attributes: { route: '/pay', ok: true, code: 200 } }]),
          gaugeMetric('queue.depth', [{ value: 17.5, attributes: { queue: 'a' } }]),
        ],
        { 'service.name': 'checkout', 'host.name': 'web-1' },
      );
      const raw = encodeRequest(request, encoding);
      const answer = await http(port, {
        headers: {
          'content-type': CONTENT_TYPE[encoding],
          'x-tenant-id': tenant,
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        },
        body: gzip ? gzipSync(raw) : raw,
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe(CONTENT_TYPE[encoding]);
      // Full success: the empty response message.
      expect(answer.body.toString('utf8')).toBe(encoding === 'json' ? '{}' : '');
      const stored = await storedPoints(collector, tenant);
      expect(
        stored.map((p) => ({
          tenant: p.tenant,
          kind: p.metric.kind,
          name: p.metric.name,
          value: pointValue(p),
          attributes: p.attributes,
          resource: p.resource,
          scope: p.scope,
        })),
      ).toEqual([
        {
          tenant,
          kind: 'sum',
          name: 'http.requests',
          value: 4,
          attributes: { route: '/pay', ok: 'true', code: '200' },
          resource: { 'service.name': 'checkout' },
          scope: { name: 'collector-test', version: '1.0.0' },
        },
        {
          tenant,
          kind: 'gauge',
          name: 'queue.depth',
          value: 17.5,
          attributes: { queue: 'a' },
          // A gauge keeps its whole source; the sum above keeps only service.name.
          resource: { 'host.name': 'web-1', 'service.name': 'checkout' },
          scope: { name: 'collector-test', version: '1.0.0' },
        },
      ]);
    },
  );

  it('takes data from the stock OpenTelemetry OTLP/HTTP exporter', async () => {
    const tenant = 'stock-exporter';
    const exporter = new OTLPMetricExporter({
      url: `http://127.0.0.1:${port}/v1/metrics`,
      headers: { 'x-tenant-id': tenant },
    });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'billing' }),
      readers: [reader],
    });
    const counter = provider.getMeter('stock').createCounter('invoices.created');
    counter.add(3, { plan: 'pro' });
    counter.add(4, { plan: 'pro' });
    await provider.forceFlush();
    await provider.shutdown();
    const stored = await storedPoints(collector, tenant);
    expect(stored.map((p) => [p.metric.name, p.attributes, pointValue(p), p.resource])).toEqual([
      ['invoices.created', { plan: 'pro' }, 7, { 'service.name': 'billing' }],
    ]);
  });

  it('accepts application/protobuf and a content type with parameters', async () => {
    for (const [contentType, tenant] of [
      ['application/protobuf', 'ct-protobuf'],
      ['Application/JSON; charset=utf-8', 'ct-json'],
    ] as const) {
      const encoding: Encoding = contentType.startsWith('Application/JSON') ? 'json' : 'protobuf';
      const answer = await http(port, {
        headers: { 'content-type': contentType, 'x-tenant-id': tenant },
        body: encodeRequest(otlpRequest([sumMetric('c', [{ value: 1 }])]), encoding),
      });
      expect(answer.status).toBe(200);
      expect(await storedPoints(collector, tenant)).toHaveLength(1);
    }
  });
});

describe('partial_success', () => {
  const mixed = () =>
    otlpRequest([sumMetric('requests', [{ value: Number.NaN, attributes: { a: '1' } }, { value: 2 }])]);

  it('is encoded as ExportMetricsServiceResponse protobuf that the OTel SDK reads', async () => {
    const answer = await postMetrics(port, mixed(), 'protobuf', { 'x-tenant-id': 'partial-pb' });
    expect(answer.status).toBe(200);
    const sdkView = ProtobufMetricsSerializer.deserializeResponse(new Uint8Array(answer.body));
    expect(sdkView.partialSuccess?.rejectedDataPoints).toBe(1);
    expect(sdkView.partialSuccess?.errorMessage).toMatch(/^1 data point rejected: .*requests/);
    expect(decodeExportResponse(answer.body, 'protobuf')).toEqual(sdkView.partialSuccess);
  });

  it('is encoded in proto3 JSON with rejectedDataPoints as an int64 string', async () => {
    const answer = await postMetrics(port, mixed(), 'json', { 'x-tenant-id': 'partial-json' });
    expect(answer.status).toBe(200);
    const body = JSON.parse(answer.body.toString('utf8')) as {
      partialSuccess: { rejectedDataPoints: unknown; errorMessage: unknown };
    };
    expect(Object.keys(body)).toEqual(['partialSuccess']);
    expect(body.partialSuccess.rejectedDataPoints).toBe('1');
    expect(body.partialSuccess.errorMessage).toMatch(/^1 data point rejected: .*requests/);
    expect((await storedPoints(collector, 'partial-json')).map(pointValue)).toEqual([2]);
  });
});

describe('health, readiness and metrics endpoints', () => {
  it('answers GET and HEAD /healthz with 200', async () => {
    const get = await http(port, { method: 'GET', path: '/healthz' });
    expect([get.status, get.body.toString()]).toEqual([200, 'ok\n']);
    const head = await http(port, { method: 'HEAD', path: '/healthz' });
    expect([head.status, head.body.length]).toEqual([200, 0]);
  });

  it('answers GET /readyz with 200 once storage and schema are ready', async () => {
    const answer = await http(port, { method: 'GET', path: '/readyz' });
    expect([answer.status, answer.body.toString()]).toEqual([200, 'ready\n']);
  });

  it('answers POST /healthz and POST /metrics with 405', async () => {
    const healthz = await http(port, { method: 'POST', path: '/healthz' });
    expect([healthz.status, healthz.headers.allow]).toEqual([405, 'GET']);
    const metrics = await http(port, { method: 'POST', path: '/metrics' });
    expect([metrics.status, metrics.headers.allow]).toEqual([405, 'GET']);
  });

  it('counts requests, data points and written rows in Prometheus text', async () => {
    const before = await scrape();
    const at = (map: Map<string, number>, key: string) => map.get(key) ?? 0;
    const tenant = 'scraped';
    const ok = await postMetrics(
      port,
      otlpRequest([
        sumMetric('requests', [{ value: 1 }, { value: Number.NaN, attributes: { a: 'b' } }]),
        gaugeMetric('g', [{ value: 1 }]),
      ]),
      'protobuf',
      { 'x-tenant-id': tenant },
    );
    expect(ok.status).toBe(200);
    const bad = await postMetrics(port, Buffer.from([0xff]), 'protobuf', { 'x-tenant-id': tenant });
    expect(bad.status).toBe(400);

    const buffered = await scrape();
    expect(at(buffered, 'tallyhouse_series_buffered')).toBe(2);

    await collector.processor.forceFlush();
    const after = await scrape();
    const delta = (key: string) => at(after, key) - at(before, key);
    expect(delta('tallyhouse_http_requests_total{route="/v1/metrics",status="200"}')).toBe(1);
    expect(delta('tallyhouse_http_requests_total{route="/v1/metrics",status="400"}')).toBe(1);
    // The scrapes themselves are counted once they are answered.
    expect(delta('tallyhouse_http_requests_total{route="/metrics",status="200"}')).toBe(2);
    expect(delta('tallyhouse_data_points_received_total')).toBe(3);
    expect(delta('tallyhouse_data_points_accepted_total')).toBe(2);
    expect(delta('tallyhouse_data_points_rejected_total{reason="invalid_data"}')).toBe(1);
    expect(delta('tallyhouse_rows_written_total{table="otel_metrics_sum"}')).toBe(1);
    expect(delta('tallyhouse_rows_written_total{table="otel_metrics_gauge"}')).toBe(1);
    expect(at(after, 'tallyhouse_series_buffered')).toBe(0);
    expect(after.has('tallyhouse_flush_duration_seconds_count')).toBe(true);
  });
});

describe('merging and temporality', () => {
  it('merges requests of one tenant from different hosts into one series (only service.name kept)', async () => {
    const tenant = 'merge-hosts';
    for (const [host, value] of [
      ['web-1', 1],
      ['web-2', 2],
      ['web-3', 3.5],
    ] as const) {
      const answer = await postMetrics(
        port,
        otlpRequest(
          [sumMetric('requests', [{ value, attributes: { route: '/pay' } }], { temporality: DELTA })],
          {
            'service.name': 'checkout',
            'host.name': host,
          },
        ),
        host === 'web-2' ? 'json' : 'protobuf',
        { 'x-tenant-id': tenant },
      );
      expect(answer.status).toBe(200);
    }
    expect(collector.processor.stats().bufferedSeries).toBe(1);
    const stored = await storedPoints(collector, tenant);
    expect(stored.map((p) => [p.resource, p.attributes, pointValue(p)])).toEqual([
      [{ 'service.name': 'checkout' }, { route: '/pay' }, 6.5],
    ]);
  });

  it('keeps different services and attribute sets of one tenant apart', async () => {
    const tenant = 'merge-apart';
    for (const [service, route] of [
      ['checkout', '/pay'],
      ['checkout', '/refund'],
      ['search', '/pay'],
    ] as const) {
      const answer = await postMetrics(
        port,
        otlpRequest([sumMetric('requests', [{ value: 1, attributes: { route } }])], {
          'service.name': service,
        }),
        'protobuf',
        { 'x-tenant-id': tenant },
      );
      expect(answer.status).toBe(200);
    }
    const stored = await storedPoints(collector, tenant);
    expect(stored.map((p) => `${p.resource['service.name']} ${p.attributes.route}`).sort()).toEqual([
      'checkout /pay',
      'checkout /refund',
      'search /pay',
    ]);
  });

  it('converts cumulative sums to deltas per source stream: two instances sending 10 then 15 total 30', async () => {
    const tenant = 'cumulative-two-instances';
    const start = NOW_NS - 60_000_000_000n;
    const send = async (instance: string, value: number, time: bigint) => {
      const answer = await postMetrics(
        port,
        otlpRequest([sumMetric('requests', [{ value, start, time }], { temporality: CUMULATIVE })], {
          'service.name': 'checkout',
          'service.instance.id': instance,
        }),
        'protobuf',
        { 'x-tenant-id': tenant },
      );
      expect(answer.status).toBe(200);
    };
    await send('i-1', 10, NOW_NS - 20_000_000_000n);
    await send('i-2', 10, NOW_NS - 20_000_000_000n);
    await collector.processor.forceFlush();
    await send('i-1', 15, NOW_NS - 10_000_000_000n);
    await send('i-2', 15, NOW_NS - 10_000_000_000n);
    await collector.processor.forceFlush();
    const reader = await collector.exporter.reader();
    const totals = await reader.sumTotals(tenant);
    expect(totals.map((t) => [t.metricName, t.total])).toEqual([['requests', 30]]);
    const stored = await storedPoints(collector, tenant);
    // Every stored sum row is a delta, and none carries the instance.
    expect(stored.every((p) => Object.keys(p.resource).join() === 'service.name')).toBe(true);
    expect(stored.map(pointValue).reduce((a, b) => a + b, 0)).toBe(30);
  });

  it('treats a cumulative decrease as a reset: 10, 15, then 4 from one stream total 19', async () => {
    const tenant = 'cumulative-reset';
    const start = NOW_NS - 60_000_000_000n;
    for (const [value, ago] of [
      [10, 30n],
      [15, 20n],
      [4, 10n],
    ] as const) {
      const answer = await postMetrics(
        port,
        otlpRequest([
          sumMetric('requests', [{ value, start, time: NOW_NS - ago * 1_000_000_000n }], {
            temporality: CUMULATIVE,
          }),
        ]),
        'json',
        { 'x-tenant-id': tenant },
      );
      expect(answer.status).toBe(200);
      await collector.processor.forceFlush();
    }
    const reader = await collector.exporter.reader();
    expect((await reader.sumTotals(tenant)).map((t) => t.total)).toEqual([19]);
  });
});

describe('the ingest sequence without HTTP (what another protocol reuses)', () => {
  const report: ConsumeReport = {
    acceptedPoints: 1,
    rejectedPoints: 0,
    rejectedByReason: {},
    rejectionMessages: [],
  };
  const body = encodeRequest(oneSum('requests', 1), 'json');

  /** Records a step, then returns what the step returns. */
  const step = <T>(steps: string[], name: string, value: T): T => {
    steps.push(name);
    return value;
  };

  function sequence(steps: string[], overrides: Partial<IngestDependencies> = {}) {
    const pending: PendingIngest = {
      assess: () => step(steps, 'assess', report),
      acknowledge: () => {
        steps.push('acknowledge');
        queueMicrotask(() => steps.push('next microtask'));
        return true;
      },
      apply: () => step(steps, 'apply', report),
      answered: () => steps.push('answered'),
    };
    const unscraped = () => {
      throw new Error('not scraped in this test');
    };
    return new IngestSequence({
      settings: { retryAfterSeconds: 5, allowTenantOverride: false },
      metrics: new CollectorMetrics({ processor: unscraped, exporter: unscraped }),
      logger: silentLogger,
      ingest: async () => step(steps, 'intake', pending),
      memoryPressure: () => 'ok',
      isDraining: () => false,
      ...overrides,
    });
  }

  function call(steps: string[], tenant: IngestCall['tenant'] = { ok: true, tenant: 'acme' }): IngestCall {
    return {
      tenant,
      encoding: 'json',
      readBody: async () => step(steps, 'read body', body),
      respond: (answer, delivered) => {
        steps.push(`respond ${JSON.stringify(answer)}`);
        delivered();
      },
    };
  }

  it('reads the body after the checks, then logs, acknowledges, answers and applies in one synchronous block', async () => {
    const steps: string[] = [];
    await sequence(steps).run(call(steps));
    expect(steps).toEqual([
      'read body',
      'intake',
      'assess',
      'acknowledge',
      'respond {"rejectedDataPoints":0,"errorMessage":""}',
      'answered',
      'apply',
      'next microtask',
    ]);
  });

  it('refuses without reading the body: push-back while draining, then an unauthenticated caller', async () => {
    const steps: string[] = [];
    const draining = sequence(steps, { isDraining: () => true }).run(call(steps));
    await expect(draining).rejects.toThrow(IngestRefusal);
    await expect(draining).rejects.toMatchObject({
      kind: 'unavailable',
      message: 'collector is shutting down; retry after 5s',
      retryAfterSeconds: 5,
    });
    const unauthenticated = sequence(steps).run(call(steps, { ok: false, message: 'invalid API key' }));
    await expect(unauthenticated).rejects.toMatchObject({
      kind: 'unauthenticated',
      message: 'invalid API key',
    });
    expect(steps).toEqual([]);
  });

  it("turns the intake's refusal codes into push-backs and passes any other error on", async () => {
    const full = Object.assign(new Error('buffer full: 200000 series'), { code: 'BUFFER_FULL' });
    const refused = sequence([], { ingest: () => Promise.reject(full) }).run(call([]));
    await expect(refused).rejects.toMatchObject({
      kind: 'unavailable',
      message: 'buffer full: 200000 series; retry after 5s',
      retryAfterSeconds: 5,
    });
    const bug = new Error('bug');
    await expect(sequence([], { ingest: () => Promise.reject(bug) }).run(call([]))).rejects.toBe(bug);
  });
});
