/**
 * The billing export's wire behaviour, on a `UsageApi` served over a real socket: what only a fault shows (a read
 * that fails after rows went out must never look like a complete export), and encodings of awkward values (CSV
 * quoting, an attribute named `__proto__`). Its consistency with the per-tenant totals on real data is in
 * `usage-calendar-admin.test.ts`. The reader here wraps no storage: the fault is the point.
 */
import { once } from 'node:events';
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PeriodTotal, UsageReader } from '@tallyhouse/exporter-clickhouse';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { HeaderAuthenticator } from '../src/auth.ts';
import { loadCollectorConfig } from '../src/config.ts';
import { ReadAccess } from '../src/usage-api/read-access.ts';
import { UsageApi } from '../src/usage-api/usage-api.ts';
import { usageApiChecker } from './support/openapi-check.ts';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const contract = usageApiChecker();
const servers: Server[] = [];

afterAll(() => {
  for (const server of servers) server.close();
});

/** A UsageApi whose export yields `rows`, then fails with `failure` if given. */
async function serve(rows: PeriodTotal[], failure?: Error): Promise<number> {
  const settings = loadCollectorConfig({ TALLYHOUSE_ADMIN_KEY: ADMIN_KEY }).collector;
  const api = new UsageApi({
    access: new ReadAccess(settings, new HeaderAuthenticator(settings.tenantHeader)),
    reader: async () =>
      ({
        async *adminPeriodTotals() {
          for (const row of rows) yield row;
          if (failure !== undefined) throw failure;
        },
      }) as unknown as UsageReader,
    cacheTtlMs: 0,
    logger: pino({ level: 'silent' }),
  });
  const server = createServer((request, response) => void api.handleAdmin(request, response));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * The answer as received: status, body so far, and whether it ended cleanly or was cut off. A complete answer is
 * checked against the OpenAPI document (a JSON-lines body line by line).
 */
async function fetchExport(port: number, query: string) {
  const path = `/v1/admin/export?${query}`;
  const requestHeaders = { authorization: `Bearer ${ADMIN_KEY}` };
  const answer = await new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
    complete: boolean;
  }>((resolve, reject) => {
    const request = httpGet({ host: '127.0.0.1', port, path, headers: requestHeaders }, (response) => {
      let body = '';
      const done = (complete: boolean) =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, complete });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => done(true));
      response.on('error', () => done(false));
    });
    request.on('error', reject);
  });
  if (answer.complete) {
    const json = /^application\/json\b/.test(String(answer.headers['content-type']));
    contract.check({
      method: 'GET',
      path,
      requestHeaders,
      status: answer.status,
      headers: answer.headers,
      body: json ? JSON.parse(answer.body) : answer.body,
    });
    if (answer.headers['content-type'] === 'application/x-ndjson') {
      for (const line of answer.body.trimEnd().split('\n'))
        contract.checkComponent('ExportLine', JSON.parse(line));
    }
  }
  return answer;
}

const row = (tenant: string, groups: string[], total: number): PeriodTotal => ({
  tenant,
  metricName: 'requests',
  unit: '{request}',
  groups,
  total,
  rows: 1,
});

describe('the billing export on the wire', () => {
  it('a read that fails after rows went out cuts the connection: the export never ends cleanly', async () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => row(`tenant-${i}`, [], i));
    const port = await serve(rows, new Error('storage went away'));
    const answer = await fetchExport(port, 'metric=requests&period=2026-03');
    expect(answer.status).toBe(200);
    expect(answer.complete).toBe(false);
    expect(answer.body.split('\n').length).toBeGreaterThan(1);
    // Without the fault, the same rows end cleanly, every one of them.
    const whole = await fetchExport(await serve(rows), 'metric=requests&period=2026-03');
    expect(whole.complete).toBe(true);
    expect(whole.body.trimEnd().split('\n')).toHaveLength(2_000);
  });

  it('a read that fails before the first row is an ordinary error answer', async () => {
    const port = await serve([], new Error('storage down'));
    const answer = await fetchExport(port, 'metric=requests&period=2026-03');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 14 });
  });

  it('CSV quotes what needs quoting; JSON lines keep an attribute named __proto__ as a plain key', async () => {
    const awkward = [row('a,"b"\nc', ['eu, west', '=1+1'], 3), row('0', ['', ''], 0.5)];
    const port = await serve(awkward);
    const csv = await fetchExport(
      port,
      'metric=requests&period=2026-03&group_by=region&group_by=__proto__&format=csv',
    );
    expect(csv.body).toBe(
      'tenant,metric,unit,region,__proto__,total,rows\r\n' +
        '"a,""b""\nc",requests,{request},"eu, west",=1+1,3,1\r\n' +
        '0,requests,{request},,,0.5,1\r\n',
    );
    const jsonl = await fetchExport(
      port,
      'metric=requests&period=2026-03&group_by=region&group_by=__proto__',
    );
    const [first] = jsonl.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(Object.keys(first.attributes)).toEqual(['region', '__proto__']);
    expect(first).toMatchObject({ tenant: 'a,"b"\nc', total: 3 });
  });
});
