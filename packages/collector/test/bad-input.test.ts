/**
 * Bad input over a real socket into a real collector with embedded chDB: every refusal has the exact status,
 * a `google.rpc.Status` body in the request's encoding naming the problem, stores nothing, and leaves the
 * collector serving. Point-level problems answer 200 with `partial_success` and store only the valid points.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/index.ts';
import { concat, pb } from './otlp/otlp-encoder.ts';
import { encodeWithProtobufjs } from './otlp/otlp-proto-reference.ts';
import { type HttpAnswer, http, postMetrics, rawHttp } from './support/http-client.ts';
import { startCollector, storedPoints, totalRowsWritten } from './support/in-process.ts';
import {
  attributes,
  CONTENT_TYPE,
  CUMULATIVE,
  decodeExportResponse,
  decodeStatus,
  type Encoding,
  encodeRequest,
  gaugeMetric,
  NOW_NS,
  numberPoint,
  oneSum,
  otlpRequest,
  sumMetric,
} from './support/otlp-requests.ts';
import { tempDir } from './support/temp-dirs.ts';

const MAX_BODY = 1_000_000;
let collector: Collector;
let port: number;

beforeAll(async () => {
  ({ collector, port } = await startCollector(tempDir('bad-input'), {
    collector: { maxBodyBytes: MAX_BODY },
    // Flushes happen when the tests ask for them.
    env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
  }));
});

afterAll(async () => {
  await collector?.stop();
});

let sequence = 0;
/** A fresh tenant per case, so "nothing stored" is checked where the rejected data would have gone. */
function freshTenant(label: string): string {
  sequence += 1;
  return `${label}-${sequence}`;
}

/** After a bad request: a valid one from another tenant succeeds and is stored. */
async function expectStillServing(encoding: Encoding = 'protobuf') {
  const tenant = freshTenant('after');
  const answer = await postMetrics(port, oneSum('requests', 3), encoding, { 'x-tenant-id': tenant });
  expect(answer.status).toBe(200);
  const stored = await storedPoints(collector, tenant);
  expect(stored.map((p) => [p.metric.name, 'value' in p.value ? p.value.value : undefined])).toEqual([
    ['requests', 3],
  ]);
}

interface Refusal {
  status: number;
  code: number;
  encoding: Encoding;
  message: RegExp;
}

/** Sends a bad request and checks the whole contract of a refusal. */
async function expectRefused(
  send: (tenant: string) => Promise<HttpAnswer>,
  expected: Refusal,
): Promise<HttpAnswer> {
  const tenant = freshTenant('bad');
  const rowsBefore = await totalRowsWritten(collector);
  const answer = await send(tenant);
  expect({ status: answer.status, contentType: answer.headers['content-type'] }).toEqual({
    status: expected.status,
    contentType: CONTENT_TYPE[expected.encoding],
  });
  const status = decodeStatus(answer.body, expected.encoding);
  expect(status.code).toBe(expected.code);
  expect(status.message).toMatch(expected.message);
  expect(await totalRowsWritten(collector)).toBe(rowsBefore);
  expect(await storedPoints(collector, tenant)).toEqual([]);
  expect(collector.processor.stats().bufferedSeries).toBe(0);
  await expectStillServing(expected.encoding);
  return answer;
}

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;
const UNAUTHENTICATED = 16;

const headersOf = (tenant: string, encoding: Encoding) => ({
  'content-type': CONTENT_TYPE[encoding],
  'x-tenant-id': tenant,
});

/** JSON nested `depth` levels deep inside one attribute value. */
function deeplyNestedAttributeJson(depth: number): string {
  const open = '{"arrayValue":{"values":['.repeat(depth);
  const close = ']}}'.repeat(depth);
  const point = `{"attributes":[{"key":"deep","value":${open}{"stringValue":"x"}${close}}],"timeUnixNano":"${NOW_NS}","asDouble":1}`;
  return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"deep","gauge":{"dataPoints":[${point}]}}]}]}]}`;
}

describe('malformed payloads are refused with 400', () => {
  it('refuses garbage bytes sent as protobuf', async () => {
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: headersOf(tenant, 'protobuf'),
          body: Buffer.from('this is not protobuf at all \xff\xfe\xfd', 'latin1'),
        }),
      {
        status: 400,
        code: INVALID_ARGUMENT,
        encoding: 'protobuf',
        message: /invalid OTLP protobuf payload: /,
      },
    );
  });

  it('refuses a protobuf request cut off in the middle', async () => {
    const whole = encodeRequest(oneSum('requests', 1), 'protobuf');
    await expectRefused(
      (tenant) =>
        http(port, { headers: headersOf(tenant, 'protobuf'), body: whole.subarray(0, whole.length - 5) }),
      {
        status: 400,
        code: INVALID_ARGUMENT,
        encoding: 'protobuf',
        message: /invalid OTLP protobuf payload: .*(truncated|ends|past)/i,
      },
    );
  });

  it('refuses a protobuf string field that is not UTF-8', async () => {
    // ExportMetricsServiceRequest{resource_metrics{scope_metrics{metrics{name: 0xff 0xfe}}}}
    const name = Buffer.from([0x0a, 0x02, 0xff, 0xfe]);
    const metrics = Buffer.concat([Buffer.from([0x12, name.length]), name]);
    const scope = Buffer.concat([Buffer.from([0x12, metrics.length]), metrics]);
    const body = Buffer.concat([Buffer.from([0x0a, scope.length]), scope]);
    await expectRefused((tenant) => http(port, { headers: headersOf(tenant, 'protobuf'), body }), {
      status: 400,
      code: INVALID_ARGUMENT,
      encoding: 'protobuf',
      message: /UTF-8/i,
    });
  });

  it('refuses text that is not JSON', async () => {
    await expectRefused(
      (tenant) => http(port, { headers: headersOf(tenant, 'json'), body: '{"resourceMetrics": [' }),
      {
        status: 400,
        code: INVALID_ARGUMENT,
        encoding: 'json',
        message: /invalid OTLP json payload: .*JSON/i,
      },
    );
  });

  it('refuses a JSON body that is not valid UTF-8, as it refuses such protobuf strings', async () => {
    const json = encodeRequest(oneSum('requests', 1), 'json');
    const at = json.indexOf('requests');
    const body = Buffer.concat([json.subarray(0, at + 3), Buffer.from([0xff]), json.subarray(at + 3)]);
    await expectRefused((tenant) => http(port, { headers: headersOf(tenant, 'json'), body }), {
      status: 400,
      code: INVALID_ARGUMENT,
      encoding: 'json',
      message: /UTF-8/i,
    });
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"resourceMetrics"'],
    ['null', 'null'],
    ['a number', '42'],
  ])('refuses JSON whose top level is %s, not an object', async (_label, body) => {
    await expectRefused((tenant) => http(port, { headers: headersOf(tenant, 'json'), body }), {
      status: 400,
      code: INVALID_ARGUMENT,
      encoding: 'json',
      message: /invalid OTLP json payload: .*object/i,
    });
  });

  it('refuses JSON nested 100k levels deep (a bare array)', async () => {
    const body = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    await expectRefused((tenant) => http(port, { headers: headersOf(tenant, 'json'), body }), {
      status: 400,
      code: INVALID_ARGUMENT,
      encoding: 'json',
      message: /invalid OTLP json payload/,
    });
  });

  it('refuses an attribute value nested 30k levels deep (as deep as fits in the body limit)', async () => {
    const body = deeplyNestedAttributeJson(30_000);
    expect(body.length).toBeLessThan(MAX_BODY);
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: { ...headersOf(tenant, 'json'), 'content-encoding': 'gzip' },
          body: gzipSync(body),
        }),
      { status: 400, code: INVALID_ARGUMENT, encoding: 'json', message: /nest|deep|JSON/i },
    );
  });

  it('refuses an attribute value nested 65 levels deep (limit 64) with the field path', async () => {
    await expectRefused(
      (tenant) => http(port, { headers: headersOf(tenant, 'json'), body: deeplyNestedAttributeJson(65) }),
      {
        status: 400,
        code: INVALID_ARGUMENT,
        encoding: 'json',
        message: /resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\].*nest/i,
      },
    );
  });

  it.each([
    ['a word', '"abc"'],
    ['a negative number', '-5'],
    ['a fraction', '1.5'],
    ['an object', '{}'],
  ])('refuses a timeUnixNano that is %s, naming the field', async (_label, time) => {
    const body = `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"t","gauge":{"dataPoints":[{"timeUnixNano":${time},"asDouble":1}]}}]}]}]}`;
    await expectRefused((tenant) => http(port, { headers: headersOf(tenant, 'json'), body }), {
      status: 400,
      code: INVALID_ARGUMENT,
      encoding: 'json',
      message:
        /resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\]\.gauge\.dataPoints\[0\]\.timeUnixNano: /,
    });
  });

  it('refuses resourceMetrics that is not an array', async () => {
    await expectRefused(
      (tenant) => http(port, { headers: headersOf(tenant, 'json'), body: '{"resourceMetrics":"all"}' }),
      { status: 400, code: INVALID_ARGUMENT, encoding: 'json', message: /resourceMetrics/ },
    );
  });
});

describe('content type and encoding', () => {
  it('refuses text/plain with 415, answering in JSON', async () => {
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: { 'content-type': 'text/plain', 'x-tenant-id': tenant },
          body: encodeRequest(oneSum('requests', 1), 'json'),
        }),
      {
        status: 415,
        code: INVALID_ARGUMENT,
        encoding: 'json',
        message: /unsupported content type "text\/plain".*application\/x-protobuf.*application\/json/,
      },
    );
  });

  it('refuses a request without a content type with 415', async () => {
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: { 'x-tenant-id': tenant },
          body: encodeRequest(oneSum('requests', 1), 'protobuf'),
        }),
      { status: 415, code: INVALID_ARGUMENT, encoding: 'json', message: /unsupported content type ""/ },
    );
  });

  it('refuses an unsupported content encoding (br) with 415, answering in the request encoding', async () => {
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: { ...headersOf(tenant, 'protobuf'), 'content-encoding': 'br' },
          body: encodeRequest(oneSum('requests', 1), 'protobuf'),
        }),
      {
        status: 415,
        code: INVALID_ARGUMENT,
        encoding: 'protobuf',
        message: /unsupported content encoding "br"/,
      },
    );
  });

  it('refuses a body declared gzip that is not gzip with 400', async () => {
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: { ...headersOf(tenant, 'json'), 'content-encoding': 'gzip' },
          body: encodeRequest(oneSum('requests', 1), 'json'),
        }),
      { status: 400, code: INVALID_ARGUMENT, encoding: 'json', message: /body is not valid gzip/ },
    );
  });

  it('refuses a gzip body cut off in the middle with 400', async () => {
    const gz = gzipSync(encodeRequest(oneSum('requests', 1), 'protobuf'));
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: { ...headersOf(tenant, 'protobuf'), 'content-encoding': 'gzip' },
          body: gz.subarray(0, gz.length - 10),
        }),
      { status: 400, code: INVALID_ARGUMENT, encoding: 'protobuf', message: /body is not valid gzip/ },
    );
  });
});

describe('size limits apply after decompression (413)', () => {
  const tooLarge = new RegExp(`request body exceeds ${MAX_BODY} bytes \\(after decompression\\)`);

  it('refuses a small gzip that inflates beyond the limit (gzip bomb)', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * MAX_BODY));
    expect(bomb.length).toBeLessThan(MAX_BODY / 10);
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: { ...headersOf(tenant, 'protobuf'), 'content-encoding': 'gzip' },
          body: bomb,
        }),
      { status: 413, code: INVALID_ARGUMENT, encoding: 'protobuf', message: tooLarge },
    );
  });

  it('refuses an oversize body announced by Content-Length, closing the connection', async () => {
    const answer = await expectRefused(
      (tenant) => http(port, { headers: headersOf(tenant, 'json'), body: Buffer.alloc(2 * MAX_BODY, 0x20) }),
      { status: 413, code: INVALID_ARGUMENT, encoding: 'json', message: tooLarge },
    );
    expect(answer.headers.connection).toBe('close');
  });

  it('refuses an oversize chunked body once it passes the limit', async () => {
    await expectRefused(
      (tenant) =>
        http(port, {
          headers: headersOf(tenant, 'protobuf'),
          body: Buffer.alloc(3 * MAX_BODY, 0),
          chunkSize: 64 * 1024,
        }),
      { status: 413, code: INVALID_ARGUMENT, encoding: 'protobuf', message: tooLarge },
    );
  });

  it('refuses a request carrying a 1 MB attribute value (over the 1 MB body limit)', async () => {
    const request = otlpRequest([
      sumMetric('requests', [{ value: 1, attributes: { blob: 'x'.repeat(1024 * 1024) } }]),
    ]);
    await expectRefused(
      (tenant) =>
        http(port, { headers: headersOf(tenant, 'protobuf'), body: encodeRequest(request, 'protobuf') }),
      { status: 413, code: INVALID_ARGUMENT, encoding: 'protobuf', message: tooLarge },
    );
  });

  it('accepts a body of exactly the limit after decompression', async () => {
    // A valid request padded with an unknown field up to MAX_BODY bytes.
    const valid = encodeRequest(oneSum('padded', 1), 'protobuf');
    const padLength = MAX_BODY - valid.length - 1 - 3; // tag byte + 3-byte varint length
    const pad = Buffer.concat([
      Buffer.from([
        (15 << 3) | 2,
        (padLength & 0x7f) | 0x80,
        ((padLength >> 7) & 0x7f) | 0x80,
        padLength >> 14,
      ]),
      Buffer.alloc(padLength),
    ]);
    const body = Buffer.concat([valid, pad]);
    expect(body.length).toBe(MAX_BODY);
    const tenant = freshTenant('exact');
    const answer = await http(port, {
      headers: { ...headersOf(tenant, 'protobuf'), 'content-encoding': 'gzip' },
      body: gzipSync(body),
    });
    expect(answer.status).toBe(200);
    expect((await storedPoints(collector, tenant)).map((p) => p.metric.name)).toEqual(['padded']);
  });
});

/** Posts one JSON sum whose tenant header lines are raw bytes (ones Node's client refuses to send). */
function postWithRawTenantHeader(tenantHeaderLines: Buffer) {
  const json = encodeRequest(oneSum('requests', 1), 'json');
  return rawHttp(
    port,
    Buffer.concat([
      Buffer.from('POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n', 'latin1'),
      tenantHeaderLines,
      Buffer.from(`content-length: ${json.length}\r\nconnection: close\r\n\r\n`, 'latin1'),
      json,
    ]),
  );
}

describe('tenant credentials (401)', () => {
  const body = encodeRequest(oneSum('requests', 1), 'protobuf');

  it('refuses a request without the tenant header', async () => {
    await expectRefused(() => http(port, { headers: { 'content-type': CONTENT_TYPE.protobuf }, body }), {
      status: 401,
      code: UNAUTHENTICATED,
      encoding: 'protobuf',
      message: /^missing tenant: send the x-tenant-id header$/,
    });
  });

  it('refuses an empty tenant header', async () => {
    await expectRefused(
      () => http(port, { headers: { 'content-type': CONTENT_TYPE.protobuf, 'x-tenant-id': '' }, body }),
      { status: 401, code: UNAUTHENTICATED, encoding: 'protobuf', message: /x-tenant-id header: .*empty/ },
    );
  });

  it('refuses a tenant header of 129 characters', async () => {
    await expectRefused(
      () =>
        http(port, {
          headers: { 'content-type': CONTENT_TYPE.protobuf, 'x-tenant-id': 't'.repeat(129) },
          body,
        }),
      {
        status: 401,
        code: UNAUTHENTICATED,
        encoding: 'protobuf',
        message: /x-tenant-id header: .*129 chars, at most 128/,
      },
    );
  });

  it('accepts a tenant header of exactly 128 characters', async () => {
    const tenant = 'u'.repeat(128);
    const answer = await http(port, { headers: headersOf(tenant, 'protobuf'), body });
    expect(answer.status).toBe(200);
    expect(await storedPoints(collector, tenant)).toHaveLength(1);
  });

  it('refuses a tenant header with a tab inside', async () => {
    await expectRefused(
      () => http(port, { headers: { 'content-type': CONTENT_TYPE.protobuf, 'x-tenant-id': 'ac\tme' }, body }),
      {
        status: 401,
        code: UNAUTHENTICATED,
        encoding: 'protobuf',
        message: /x-tenant-id header: .*control character/,
      },
    );
  });

  it('never stores under a tenant header carrying a DEL byte (sent raw; the HTTP parser refuses it)', async () => {
    const rowsBefore = await totalRowsWritten(collector);
    const answer = await postWithRawTenantHeader(Buffer.from('x-tenant-id: ac\x7fme\r\n', 'latin1'));
    // Either Node's parser refuses the header (400) or the collector refuses the tenant (401).
    expect([400, 401]).toContain(answer.status);
    if (answer.status === 401) expect(answer.text).toMatch(/control character/);
    expect(await totalRowsWritten(collector)).toBe(rowsBefore);
    await expectStillServing();
  });

  it('refuses a request carrying the tenant header twice instead of joining the values', async () => {
    const rowsBefore = await totalRowsWritten(collector);
    const answer = await postWithRawTenantHeader(
      Buffer.from('x-tenant-id: alpha\r\nx-tenant-id: beta\r\n', 'latin1'),
    );
    expect(await storedPoints(collector, 'alpha, beta')).toEqual([]);
    expect(answer.status).toBe(401);
    expect(answer.text).toMatch(/x-tenant-id header must appear once/);
    expect(await totalRowsWritten(collector)).toBe(rowsBefore);
  });
  it('never stores a UTF-8 tenant header under a mis-decoded tenant', async () => {
    const answer = await postWithRawTenantHeader(Buffer.from('x-tenant-id: café\r\n', 'utf8'));
    // Node decodes header bytes as latin1: the UTF-8 bytes of "café" read as "cafÃ©".
    expect(await storedPoints(collector, 'caf\u00c3\u00a9')).toEqual([]);
    // Either the tenant is read as UTF-8, or it is refused; both are fine, a third tenant is not.
    if (answer.status === 200) expect(await storedPoints(collector, 'café')).toHaveLength(1);
    else expect(answer.status).toBe(401);
  });
});

describe('clients that go away', () => {
  it('does not count a client that disconnects mid-body as a server error, and keeps serving', async () => {
    const scrape = async () => (await http(port, { method: 'GET', path: '/metrics' })).body.toString();
    const serverErrors = (text: string) =>
      Number(
        /tallyhouse_http_requests_total\{route="\/v1\/metrics",status="500"\} (\d+)/.exec(text)?.[1] ?? 0,
      );
    const before = serverErrors(await scrape());
    const rowsBefore = await totalRowsWritten(collector);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-tenant-id: gone\r\n' +
        'content-length: 1000\r\n\r\n{"resourceMetrics":',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await totalRowsWritten(collector)).toBe(rowsBefore);
    await expectStillServing();
    expect(serverErrors(await scrape()) - before).toBe(0);
  });
});

describe('routes and methods', () => {
  it.each(['GET', 'PUT', 'DELETE'])('answers %s /v1/metrics with 405 and Allow: POST', async (method) => {
    const answer = await expectRefused(
      (tenant) => http(port, { method, headers: { 'x-tenant-id': tenant } }),
      {
        status: 405,
        code: UNIMPLEMENTED,
        encoding: 'json',
        message: new RegExp(`method ${method} not allowed on /v1/metrics; use POST`),
      },
    );
    expect(answer.headers.allow).toBe('POST');
  });

  it('answers an unknown route with 404', async () => {
    await expectRefused(
      (tenant) =>
        http(port, {
          path: '/v1/traces',
          headers: headersOf(tenant, 'protobuf'),
          body: encodeRequest(oneSum('requests', 1), 'protobuf'),
        }),
      { status: 404, code: NOT_FOUND, encoding: 'json', message: /no route POST \/v1\/traces/ },
    );
  });
});

describe('point-level problems answer 200 with partial_success and keep the valid points', () => {
  async function expectPartial(
    request: ReturnType<typeof otlpRequest>,
    encoding: Encoding,
    rejected: number,
    message: RegExp,
    storedSums: [string, number][],
  ) {
    const tenant = freshTenant('partial');
    const answer = await postMetrics(port, request, encoding, { 'x-tenant-id': tenant });
    expect(answer.status).toBe(200);
    const partial = decodeExportResponse(answer.body, encoding);
    expect(partial?.rejectedDataPoints).toBe(rejected);
    expect(partial?.errorMessage).toMatch(new RegExp(`^${rejected} data points? rejected: `));
    expect(partial?.errorMessage).toMatch(message);
    const stored = await storedPoints(collector, tenant);
    expect(
      stored.map((p) => [p.metric.name, 'value' in p.value ? p.value.value : Number.NaN]).sort(),
    ).toEqual(storedSums.sort());
    await expectStillServing(encoding);
  }

  it.each<Encoding>(['protobuf', 'json'])(
    'rejects NaN and ±Infinity sum values and stores the finite ones; a gauge reading is kept as sent (%s)',
    async (encoding) => {
      const request = otlpRequest([
        sumMetric('requests', [
          { value: Number.NaN, attributes: { kind: 'nan' } },
          { value: 7, attributes: { kind: 'finite' } },
          { value: Number.POSITIVE_INFINITY, attributes: { kind: 'inf' } },
        ]),
        // The shared finite-value rule: gauges are readings, never added up, so -Inf is stored (the newer
        // reading wins the merge); a sum's NaN or Inf would poison every total.
        gaugeMetric('temperature', [{ value: Number.NEGATIVE_INFINITY }, { value: 21.5, time: NOW_NS + 1n }]),
        gaugeMetric('pressure', [{ value: Number.NEGATIVE_INFINITY }]),
      ]);
      await expectPartial(request, encoding, 2, /NaN is not accepted; sum values must be finite/, [
        ['requests', 7],
        ['temperature', 21.5],
        ['pressure', Number.NEGATIVE_INFINITY],
      ]);
    },
  );

  it.each<Encoding>(['protobuf', 'json'])(
    'stores Summary points and rejects one with a quantile outside [0, 1], naming the field (%s)',
    async (encoding) => {
      const summary = {
        name: 'latency.summary',
        summary: {
          dataPoints: [0.5, 1.5].map((quantile, i) => ({
            timeUnixNano: String(NOW_NS + BigInt(i)),
            count: '3',
            sum: 12,
            quantileValues: [{ quantile, value: 4 }],
          })),
        },
      };
      await expectPartial(
        otlpRequest([summary, sumMetric('requests', [{ value: 2 }])]),
        encoding,
        1,
        /summary\.dataPoints\[1\]\.quantileValues\[0\]\.quantile: metric "latency\.summary": storage refuses it: 1\.5 is not a quantile/,
        // The summary kept is stored as sent (it has no single value: NaN here).
        [
          ['requests', 2],
          ['latency.summary', Number.NaN],
        ],
      );
    },
  );

  it.each<Encoding>(['protobuf', 'json'])(
    'stores a point with its storable exemplars and warns, rejecting nothing, of one it dropped (%s)',
    async (encoding) => {
      const tenant = freshTenant('exemplars');
      const request = otlpRequest([
        sumMetric('requests', [
          {
            value: 2,
            exemplars: [
              {
                value: 0.25,
                time: NOW_NS - 5n,
                spanId: '00F067AA0BA902B7',
                traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                filteredAttributes: { user: 'u1' },
              },
              { value: 1, spanId: '00f067aa' },
              { value: 3 },
            ],
          },
        ]),
      ]);
      const answer = await postMetrics(port, request, encoding, { 'x-tenant-id': tenant });
      expect(answer.status).toBe(200);
      expect(decodeExportResponse(answer.body, encoding)).toEqual({
        rejectedDataPoints: 0,
        errorMessage:
          '1 exemplar dropped, their points kept: resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[1].spanId: metric "requests": exemplar dropped: "00f067aa" is not an id of 8 bytes (16 hex digits)',
      });
      const stored = await storedPoints(collector, tenant);
      expect(stored.map((p) => [p.metric.name, p.value, p.exemplars])).toEqual([
        [
          'requests',
          { value: 2 },
          [
            {
              filteredAttributes: { user: 'u1' },
              timeUnixNano: NOW_NS - 5n,
              value: 0.25,
              spanId: '00f067aa0ba902b7',
              traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
            },
            { filteredAttributes: {}, timeUnixNano: NOW_NS, value: 3, spanId: '', traceId: '' },
          ],
        ],
      ]);
      await expectStillServing(encoding);
    },
  );

  it.each<Encoding>(['protobuf', 'json'])(
    'rejects a sum with unspecified temporality (%s)',
    async (encoding) => {
      await expectPartial(
        otlpRequest([
          sumMetric('no.temporality', [{ value: 5 }, { value: 6, attributes: { a: 'b' } }], {
            temporality: 0,
          }),
          sumMetric('requests', [{ value: 4 }]),
        ]),
        encoding,
        2,
        /no\.temporality.*temporality|temporality.*no\.temporality/i,
        [['requests', 4]],
      );
    },
  );

  it('rejects a point without a timestamp', async () => {
    const request = otlpRequest([
      gaugeMetric('no.time', [{ value: 1 }]),
      sumMetric('requests', [{ value: 9 }]),
    ]);
    const metrics = (request.resourceMetrics[0] as { scopeMetrics: { metrics: object[] }[] }).scopeMetrics[0]!
      .metrics;
    metrics[0] = { name: 'no.time', gauge: { dataPoints: [{ asDouble: 1, attributes: [] }] } };
    await expectPartial(request, 'json', 1, /timeUnixNano/, [['requests', 9]]);
  });
});

describe('accepted edge cases', () => {
  it('accepts a 500 kB attribute value and stores it intact', async () => {
    const tenant = freshTenant('big-attribute');
    const blob = 'x'.repeat(500 * 1024);
    const answer = await postMetrics(
      port,
      otlpRequest([sumMetric('requests', [{ value: 1, attributes: { blob } }])]),
      'protobuf',
      { 'x-tenant-id': tenant },
    );
    expect(answer.status).toBe(200);
    const [stored] = await storedPoints(collector, tenant);
    expect(stored?.attributes.blob).toBe(blob);
  });

  it('accepts 10k attributes on one point and stores all of them', async () => {
    const tenant = freshTenant('many-attributes');
    const many = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, `v${i}`]));
    const answer = await postMetrics(
      port,
      otlpRequest([sumMetric('requests', [{ value: 1, attributes: many }])]),
      'json',
      { 'x-tenant-id': tenant },
    );
    expect(answer.status).toBe(200);
    const stored = await storedPoints(collector, tenant);
    expect(stored).toHaveLength(1);
    expect(Object.keys(stored[0]!.attributes)).toHaveLength(10_000);
    expect(stored[0]!.attributes.k9999).toBe('v9999');
    await expectStillServing('json');
  });

  it('stores data under the header tenant when the payload carries another tenant.id', async () => {
    const tenant = freshTenant('header-wins');
    const intruder = freshTenant('intruder');
    const request = otlpRequest(
      [sumMetric('requests', [{ value: 5, attributes: { 'tenant.id': intruder, route: '/pay' } }])],
      { 'service.name': 'checkout', 'tenant.id': intruder },
    );
    const answer = await postMetrics(port, request, 'protobuf', { 'x-tenant-id': tenant });
    expect(answer.status).toBe(200);
    expect(decodeExportResponse(answer.body, 'protobuf')).toBeUndefined();
    const stored = await storedPoints(collector, tenant);
    expect(stored.map((p) => ['value' in p.value ? p.value.value : 0, p.tenant])).toEqual([[5, tenant]]);
    expect(
      JSON.stringify(stored, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)),
    ).not.toContain(intruder);
    expect(await storedPoints(collector, intruder)).toEqual([]);
  });

  it.each<[string, Encoding, string]>([
    ['an empty protobuf body', 'protobuf', ''],
    ['an empty JSON object', 'json', '{}'],
    ['an empty resourceMetrics list', 'json', '{"resourceMetrics":[]}'],
  ])('answers %s with 200 and stores nothing', async (_label, encoding, body) => {
    const tenant = freshTenant('empty');
    const rowsBefore = await totalRowsWritten(collector);
    const answer = await http(port, { headers: headersOf(tenant, encoding), body });
    expect(answer.status).toBe(200);
    expect(decodeExportResponse(answer.body, encoding)).toBeUndefined();
    expect(await totalRowsWritten(collector)).toBe(rowsBefore);
    expect(await storedPoints(collector, tenant)).toEqual([]);
  });

  it('converts a cumulative sum to a delta of the first point (sanity check of the read-back)', async () => {
    const tenant = freshTenant('cumulative');
    const answer = await postMetrics(
      port,
      otlpRequest([sumMetric('requests', [{ value: 12 }], { temporality: CUMULATIVE })]),
      'json',
      { 'x-tenant-id': tenant },
    );
    expect(answer.status).toBe(200);
    const reader = await collector.exporter.reader();
    await collector.processor.forceFlush();
    expect(await reader.sumTotals(tenant)).toEqual([
      { metricName: 'requests', unit: '{request}', total: 12, rows: 1 },
    ]);
  });
});

// Keeps the helpers' shapes honest if the builders change.
it('builds attribute lists in OTLP/JSON form', () => {
  expect(attributes({ a: 's', b: 2, c: 1.5, d: true })).toEqual([
    { key: 'a', value: { stringValue: 's' } },
    { key: 'b', value: { intValue: '2' } },
    { key: 'c', value: { doubleValue: 1.5 } },
    { key: 'd', value: { boolValue: true } },
  ]);
  expect(numberPoint({ value: 1, time: 5n, start: 4n })).toEqual({
    attributes: [],
    startTimeUnixNano: '4',
    timeUnixNano: '5',
    asDouble: 1,
  });
});

describe('what is acknowledged is stored: points storage would refuse are refused in the answer', () => {
  /** Rows dead-lettered or failed so far: none may appear for a request that was answered 200. */
  const writeFailures = () => {
    const stats = collector.exporter.stats();
    return stats.rejectedRows + stats.deadLetterRows + stats.deadLetterFileRows + stats.insertFailures;
  };

  /** Posts, flushes, and checks the answer's partial_success and that nothing it took was dead-lettered. */
  async function post(tenant: string, body: Buffer, encoding: Encoding, rejected: number, message?: RegExp) {
    const failuresBefore = writeFailures();
    const answer = await http(port, { headers: headersOf(tenant, encoding), body });
    expect(answer.status).toBe(200);
    const partial = decodeExportResponse(answer.body, encoding);
    expect(partial?.rejectedDataPoints ?? 0).toBe(rejected);
    if (message !== undefined) expect(partial?.errorMessage).toMatch(message);
    const stored = await storedPoints(collector, tenant);
    expect(writeFailures()).toBe(failuresBefore);
    return stored;
  }

  const body = (request: object, encoding: Encoding) =>
    encoding === 'json'
      ? encodeRequest(request as Parameters<typeof encodeRequest>[0], 'json')
      : Buffer.from(encodeWithProtobufjs(request));

  it.each<Encoding>(['protobuf', 'json'])(
    'a point at 2^63 ns is refused in partial_success and the rest of the request is stored (%s)',
    async (encoding) => {
      const request = otlpRequest([
        sumMetric('requests', [
          { value: 5, attributes: { at: 'late' }, time: 2n ** 63n },
          { value: 7, attributes: { at: 'now' } },
        ]),
      ]);
      const stored = await post(
        freshTenant('time-2-63'),
        body(request, encoding),
        encoding,
        1,
        /dataPoints\[0\]\.timeUnixNano: metric "requests": 9223372036854775808 is past/,
      );
      expect(stored.map((p) => [p.attributes.at, 'value' in p.value ? p.value.value : 0])).toEqual([
        ['now', 7],
      ]);
    },
  );

  it.each<Encoding>(['protobuf', 'json'])(
    'a time one nanosecond past 2106-02-07T06:28:15.999999999Z is refused; the last one is stored (%s)',
    async (encoding) => {
      const last = 4_294_967_295_999_999_999n;
      const request = otlpRequest([
        gaugeMetric('temperature', [
          { value: 1, attributes: { at: 'last' }, start: last, time: last },
          { value: 2, attributes: { at: 'past' }, start: 0n, time: last + 1n },
        ]),
      ]);
      const stored = await post(
        freshTenant('time-2106'),
        body(request, encoding),
        encoding,
        1,
        /timeUnixNano/,
      );
      expect(stored.map((p) => [p.attributes.at, p.timeUnixNano])).toEqual([['last', last]]);
    },
  );

  it.each<Encoding>(['protobuf', 'json'])(
    'an exponential offset of -2147483648 is stored (%s)',
    async (encoding) => {
      const request = otlpRequest([
        {
          name: 'latency',
          unit: 'ms',
          exponentialHistogram: {
            aggregationTemporality: 1,
            dataPoints: [
              {
                attributes: attributes({ route: '/pay' }),
                startTimeUnixNano: String(NOW_NS - 10_000_000_000n),
                timeUnixNano: String(NOW_NS),
                count: '3',
                sum: 4.5,
                scale: 0,
                zeroCount: '0',
                positive: { offset: -2147483648, bucketCounts: ['1', '2'] },
                negative: { offset: 2147483647, bucketCounts: [] },
              },
            ],
          },
        },
      ]);
      const stored = await post(freshTenant('offset-int32'), body(request, encoding), encoding, 0);
      expect(stored.map((p) => p.value)).toMatchObject([
        { count: 3, positive: { offset: -2147483648, bucketCounts: [1, 2] } },
      ]);
    },
  );

  it('a JSON string holding an unpaired surrogate is refused with 400, as invalid UTF-8 in protobuf is', async () => {
    const json = encodeRequest(oneSum('requests', 1), 'json').toString('utf8').replace('/pay', '/p\\ud800y');
    await expectRefused((tenant) => http(port, { headers: headersOf(tenant, 'json'), body: json }), {
      status: 400,
      code: INVALID_ARGUMENT,
      encoding: 'json',
      message: /attributes\[0\]\.value\.stringValue: .*UTF-8/,
    });
  });

  it('a Metric carrying its sum twice stores the points of both (protobuf merges the occurrences)', async () => {
    const point = (value: number, route: string) =>
      pb.message(
        1,
        pb.message(7, pb.string(1, 'route'), pb.message(2, pb.string(1, route))),
        pb.fixed64(2, NOW_NS - 10_000_000_000n),
        pb.fixed64(3, NOW_NS),
        pb.double(4, value),
      );
    const metric = concat(
      pb.string(1, 'requests'),
      pb.message(7, point(2, '/a'), pb.varint(2, 1), pb.varint(3, 1)),
      pb.message(7, point(3, '/b')),
    );
    const request = pb.message(1, pb.message(2, pb.message(1, pb.string(1, 'scope')), pb.message(2, metric)));
    const stored = await post(freshTenant('merged-sum'), Buffer.from(request), 'protobuf', 0);
    expect(stored.map((p) => [p.attributes.route, 'value' in p.value ? p.value.value : 0]).sort()).toEqual([
      ['/a', 2],
      ['/b', 3],
    ]);
  });
});
