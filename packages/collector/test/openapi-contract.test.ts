/**
 * The usage API's OpenAPI contract on a real collector over a real socket: `GET /v1/openapi.json` answers without
 * credentials a document that the official OpenAPI 3.1 schema accepts (@seriousme/openapi-schema-validator), every
 * operation in it is answered as it says (non-finite numbers as strings included), and the checker the usage tests
 * run every answer through (`support/openapi-check.ts`) refuses what the document does not allow — so it cannot
 * pass vacuously.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/collector.ts';
import { HTTP_METHODS, type OpenApiDocument, usageApiDocument } from '../src/usage-api/openapi.ts';
import type { HttpAnswer } from './support/http-client.ts';
import {
  type Checked,
  ContractViolation,
  checkHttpAnswer,
  type Exchange,
  OpenApiChecker,
  usageApiChecker,
} from './support/openapi-check.ts';
import {
  gaugeMetric,
  otlpRequest,
  http as plainHttp,
  postMetrics,
  startCollector,
  sumMetric,
  tempDir,
} from './support.ts';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const MINUTE = 60_000_000_000n;
/** A whole minute twenty minutes ago; points at T0 + n minutes. */
const T0 = ((BigInt(Date.now()) * 1_000_000n) / MINUTE) * MINUTE - 20n * MINUTE;
const at = (minutes: number) => T0 + BigInt(minutes) * MINUTE;
const iso = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();
const range = `from=${encodeURIComponent(iso(at(-30)))}&to=${encodeURIComponent(iso(at(10)))}`;

let collector: Collector;
let port: number;
/** Every operation a checked answer was matched to in this file. */
const answered = new Set<string>();

/** A real answer, checked against the document (`undocumented`: a route or method it does not have, on purpose). */
async function call(
  path: string,
  options: { method?: string; headers?: Record<string, string>; undocumented?: boolean } = {},
): Promise<{ answer: HttpAnswer; checked: Checked; exchange: Exchange }> {
  const method = options.method ?? 'GET';
  const headers = options.headers ?? admin;
  const answer = await plainHttp(port, { method, path, headers });
  const checked = checkHttpAnswer({ method, path, headers }, answer, { undocumented: options.undocumented });
  if (checked.operationId !== '') answered.add(checked.operationId);
  const text = answer.body.toString('utf8');
  const json = /^application\/json\b/.test(String(answer.headers['content-type'] ?? ''));
  const body = text === '' ? undefined : json ? JSON.parse(text) : text;
  return {
    answer,
    checked,
    exchange: { method, path, requestHeaders: headers, status: answer.status, headers: answer.headers, body },
  };
}

beforeAll(async () => {
  ({ collector, port } = await startCollector(tempDir('openapi-contract'), {
    env: {
      TALLYHOUSE_ADMIN_KEY: ADMIN_KEY,
      TALLYHOUSE_WAL: 'false',
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
    },
  }));
  const points = otlpRequest([
    // Two rows of 1e308 (different quarter hours, so never merged): their total overflows to Infinity.
    sumMetric('bytes', [
      { value: 1e308, start: at(-21), time: at(-20), attributes: { region: 'eu' } },
      { value: 1e308, start: at(-1), time: at(0), attributes: { region: 'us' } },
    ]),
    sumMetric('requests', [{ value: 3, start: at(0), time: at(1), attributes: { route: '/pay' } }]),
    // A gauge whose latest value is NaN.
    gaugeMetric('temperature', [
      { value: 21.5, time: at(1), attributes: { room: 'a' } },
      { value: Number.NaN, time: at(2), attributes: { room: 'a' } },
    ]),
  ]);
  expect((await postMetrics(port, points, 'json', { 'x-tenant-id': 'acme' })).status).toBe(200);
  await collector.processor.forceFlush();
});

afterAll(async () => {
  await collector?.stop();
});

describe('GET /v1/openapi.json', () => {
  it('answers without credentials a valid OpenAPI 3.1 document (the official schema), cacheable, as built', async () => {
    const { answer } = await call('/v1/openapi.json', { headers: {} });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.headers['cache-control']).toBe('public, max-age=300');
    const served = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
    const validator = new Validator();
    const result = await validator.validate(served);
    expect(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(served).toEqual(JSON.parse(JSON.stringify(usageApiDocument())));
  });

  it('refuses other methods with 405 (Allow: GET), and is counted under its own route', async () => {
    const { answer } = await call('/v1/openapi.json', { method: 'POST', headers: {}, undocumented: true });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET');
    const metrics = (await plainHttp(port, { method: 'GET', path: '/metrics' })).body.toString();
    expect(metrics).toMatch(
      /tallyhouse_http_requests_total\{route="\/v1\/openapi\.json",status="200"\} [1-9]/,
    );
    expect(metrics).toMatch(/tallyhouse_http_requests_total\{route="\/v1\/openapi\.json",status="405"\} 1/);
  });
});

describe('every operation answers as documented', () => {
  it('total: an overflowing sum answers "Infinity", as the document allows', async () => {
    const { answer } = await call(`/v1/usage/acme/total?metric=bytes&${range}`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString()).total).toBe('Infinity');
  });

  it('timeseries: sums grouped, a gauge per source and combined, its NaN as "NaN"', async () => {
    const sums = await call(`/v1/usage/acme/timeseries?metric=requests&step=1m&${range}&group_by=route`);
    expect(sums.answer.status).toBe(200);
    const gauge = await call(`/v1/usage/acme/timeseries?metric=temperature&kind=gauge&step=1m&${range}`);
    expect(gauge.answer.status).toBe(200);
    const { lines } = JSON.parse(gauge.answer.body.toString()) as {
      lines: { points: { value: unknown }[] }[];
    };
    expect(lines[0]?.points.map((p) => p.value)).toContain('NaN');
    const combined = await call(
      `/v1/usage/acme/timeseries?metric=temperature&kind=gauge&step=1m&${range}&combine=max`,
    );
    expect(combined.answer.status).toBe(200);
  });

  it('top and latest (per source and combined; NaN as "NaN")', async () => {
    expect((await call(`/v1/usage/acme/top?metric=bytes&by=region&limit=1`)).answer.status).toBe(200);
    const { answer } = await call('/v1/usage/acme/latest?metric=temperature');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString()).latest[0].value).toBe('NaN');
    expect((await call('/v1/usage/acme/latest?metric=temperature&combine=avg')).answer.status).toBe(200);
  });

  it('the documented refusals: 400 (a parameter the document does not list is recognised as such), 401, 404', async () => {
    const bogus = await call('/v1/usage/acme/total?metric=requests&bogus=1');
    expect(bogus.answer.status).toBe(400);
    expect(bogus.checked.requestProblems.join()).toMatch(/"bogus" is not in the document/);
    expect((await call('/v1/usage/acme/total?metric=requests', { headers: {} })).answer.status).toBe(401);
    expect((await call('/v1/usage/acme/nothing', { undocumented: true })).answer.status).toBe(404);
  });

  it('the calendar: period and tz on total, timeseries (local days) and top', async () => {
    const day = new Date(Number(T0 / 1_000_000n)).toISOString().slice(0, 10);
    for (const path of [
      `/v1/usage/acme/total?metric=requests&period=${day}&tz=America/New_York`,
      `/v1/usage/acme/timeseries?metric=requests&step=1d&period=${day.slice(0, 7)}&tz=Europe/Berlin`,
      `/v1/usage/acme/top?metric=requests&by=route&period=${day.slice(0, 7)}`,
    ]) {
      const { answer } = await call(path);
      expect(answer.status, path).toBe(200);
    }
    const refused = await call('/v1/usage/acme/total?metric=requests&tz=Mars/Olympus&period=2026-03');
    expect(refused.answer.status).toBe(400);
  });

  it('metrics, attributes and limits of a tenant', async () => {
    const metrics = await call('/v1/usage/acme/metrics');
    expect(JSON.parse(metrics.answer.body.toString()).metrics.length).toBe(3);
    const attributes = await call('/v1/usage/acme/attributes?metric=bytes');
    expect(JSON.parse(attributes.answer.body.toString()).keys).toEqual([{ key: 'region', values: 2 }]);
    const limits = await call('/v1/usage/acme/limits');
    expect(JSON.parse(limits.answer.body.toString())).toEqual({ tenant: 'acme', quotas: [], rate: null });
  });

  it('the admin reads: metrics, top tenants, the all-tenant trend and the export (each JSON line checked)', async () => {
    expect((await call('/v1/admin/metrics')).answer.status).toBe(200);
    expect((await call(`/v1/admin/tenants?metric=requests&${range}&limit=5`)).answer.status).toBe(200);
    expect((await call(`/v1/admin/timeseries?metric=requests&step=1h&${range}`)).answer.status).toBe(200);
    const jsonl = await call(`/v1/admin/export?metric=requests&metric=bytes&${range}&group_by=region`);
    expect(jsonl.answer.headers['content-type']).toBe('application/x-ndjson');
    const lines = String(jsonl.exchange.body).trimEnd().split('\n');
    expect(lines.length).toBe(3);
    const checker = usageApiChecker();
    for (const line of lines) checker.checkComponent('ExportLine', JSON.parse(line));
    // Without group_by the two 1e308 rows of `bytes` overflow: "Infinity", as everywhere in the API.
    const overflow = await call(`/v1/admin/export?metric=bytes&${range}`);
    const [line] = String(overflow.exchange.body).trimEnd().split('\n');
    checker.checkComponent('ExportLine', JSON.parse(line!));
    expect(JSON.parse(line!).total).toBe('Infinity');
    const csv = await call(`/v1/admin/export?metric=requests&${range}`, {
      headers: { ...admin, accept: 'text/csv' },
    });
    expect(String(csv.exchange.body)).toMatch(/^tenant,metric,unit,total,rows\r\n/);
    // Every tenant's reads are refused to a tenant's credentials, and the export checks its parameters.
    expect((await call('/v1/admin/metrics', { headers: { 'x-tenant-id': 'acme' } })).answer.status).toBe(401);
    expect((await call(`/v1/admin/export?metric=requests&${range}&format=xml`)).answer.status).toBe(400);
    expect(() => checker.checkComponent('ExportLine', { tenant: 'acme' })).toThrow(ContractViolation);
  });

  it('has answered every operation the document lists', () => {
    // A route added to the document needs a call above.
    const operations = Object.values(usageApiDocument().paths).flatMap((item) =>
      HTTP_METHODS.flatMap((method) => item[method]?.operationId ?? []),
    );
    expect([...answered].sort()).toEqual(operations.sort());
  });
});

describe('the checker refuses what the document does not allow', () => {
  const checker = usageApiChecker();
  const rejects = (exchange: Exchange, message: RegExp, options = {}) => {
    expect(() => checker.check(exchange, options)).toThrow(ContractViolation);
    expect(() => checker.check(exchange, options)).toThrow(message);
  };
  let total: Exchange;
  let gauge: Exchange;

  beforeAll(async () => {
    total = (await call(`/v1/usage/acme/total?metric=requests&${range}`)).exchange;
    gauge = (await call(`/v1/usage/acme/timeseries?metric=temperature&kind=gauge&step=1m&${range}`)).exchange;
  });

  const withBody = (exchange: Exchange, change: (body: Record<string, unknown>) => void): Exchange => {
    const body = structuredClone(exchange.body) as Record<string, unknown>;
    change(body);
    return { ...exchange, body };
  };

  it('passes the real answers it is given (the base of every case below)', () => {
    expect(checker.check(total).response).toBe('200');
    expect(checker.check(gauge).operationId).toBe('getUsageTimeSeries');
  });

  it('a wrong body: a number as text, an extra field, a missing field, a time that is not RFC 3339 UTC', () => {
    const asText = withBody(total, (b) => {
      b.total = '3';
    });
    rejects(asText, /\/total must be number/);
    // The message names the request, the operation and the response.
    rejects(
      asText,
      /^GET \/v1\/usage\/acme\/total\?metric=requests.* → 200 \(operation getUsageTotal.*response 200/,
    );
    rejects(
      withBody(total, (b) => {
        b.currency = 'EUR';
      }),
      /must NOT have additional properties.*"currency"/,
    );
    rejects(
      withBody(total, (b) => {
        delete b.rows;
      }),
      /must have required property 'rows'/,
    );
    rejects(
      withBody(total, (b) => {
        b.from = '2026-03-01 05:00:00';
      }),
      /\/from/,
    );
  });

  it('a time-series line that is neither a sum, a source series nor combined sources', () => {
    rejects(
      withBody(gauge, (b) => {
        (b.lines as Record<string, unknown>[])[0]!.sources = 2;
      }),
      /\/lines\/0 must match exactly one schema in oneOf/,
    );
  });

  it('an undocumented status, route or method, and a documented one called as undocumented', () => {
    rejects(
      { ...total, status: 500 },
      /status 500 is not documented \(documented: 200, 400, 401, 403, 503\)/,
    );
    rejects({ ...total, path: '/v1/usage/acme/everything' }, /no path of the document matches/);
    rejects({ ...total, method: 'DELETE' }, /the document has no DELETE for this path \(it has GET\)/);
    rejects(total, /called as undocumented/, { undocumented: true });
  });

  it('a request the document refuses that got anything but a refusal', () => {
    rejects({ ...total, path: `${total.path}&bogus=1` }, /does not fit the document, yet was answered 200/);
    rejects({ ...total, path: `${total.path}&metric=again` }, /metric is given 2 times/);
    rejects({ ...total, path: '/v1/usage/acme/total' }, /query parameter metric is required/);
    rejects(
      { ...total, path: `/v1/usage/${'x'.repeat(129)}/total?metric=requests` },
      /path parameter tenant/,
    );
  });

  it('an answer without documented credentials, a wrong content type, an error code that is not its status', () => {
    rejects({ ...total, requestHeaders: {} }, /without documented credentials/);
    rejects(
      { ...total, headers: { ...total.headers, 'content-type': 'text/plain' } },
      /content type "text\/plain"/,
    );
    const status = { code: 14, message: 'storage unavailable' };
    rejects({ ...total, status: 400, body: status }, /\/code must be equal to one of the allowed values/);
    rejects(
      { ...total, status: 503, body: status, headers: { 'content-type': 'application/json' } },
      /Retry-After/,
    );
  });

  it('with a document that lists less, real answers the full one allows fail: a parameter, a status', async () => {
    const document = structuredClone(usageApiDocument()) as unknown as {
      paths: Record<string, { get: { parameters: { $ref: string }[]; responses: Record<string, unknown> } }>;
    };
    const operation = document.paths['/v1/usage/{tenant}/total']!.get;
    operation.parameters = operation.parameters.filter((p) => !p.$ref.endsWith('/Service'));
    delete operation.responses['401'];
    const narrow = new OpenApiChecker(document as unknown as OpenApiDocument);
    const withService = await call('/v1/usage/acme/total?metric=requests&service=checkout');
    expect(withService.answer.status).toBe(200);
    expect(() => narrow.check(withService.exchange)).toThrow(/"service" is not in the document/);
    const unauthenticated = await call('/v1/usage/acme/total?metric=requests', { headers: {} });
    expect(() => narrow.check(unauthenticated.exchange)).toThrow(/status 401 is not documented/);
  });
});
