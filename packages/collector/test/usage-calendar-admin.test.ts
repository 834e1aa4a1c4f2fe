/**
 * The usage API in a customer's calendar, and the admin key's reads over every tenant, on a real collector over a
 * real socket reading real chDB: `period` + `tz` on total/timeseries/top (New York days of 23 and 25 hours),
 * `/metrics`, `/limits` (a quota in the tenant's time zone), `/v1/admin/(metrics|tenants|timeseries|export)`, the
 * billing export as JSON lines and CSV equal to the per-tenant totals to the unit. The truth is computed here
 * from the points sent, with Intl's calendar, not with the code under test.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/collector.ts';
import { contractChecked } from './support/openapi-check.ts';
import {
  otlpRequest,
  http as plainHttp,
  postMetrics,
  startCollector,
  sumMetric,
  tempDir,
} from './support.ts';

const dir = tempDir('usage-calendar-admin');
/** Every usage answer is checked against the OpenAPI document. */
const http = contractChecked(plainHttp);
const ADMIN_KEY = 'admin-key-0123456789abcdef';
const ACME_KEY = 'acme-key-0123456789';
const GLOBEX_KEY = 'globex-key-0123456789';
const ZERO_KEY = 'zero-key-0123456789';
const NY = 'America/New_York';
const TENANTS = { acme: ACME_KEY, globex: GLOBEX_KEY, '0': ZERO_KEY } as const;
type Tenant = keyof typeof TENANTS;
const MS = 1_000_000n;

interface Sent {
  readonly tenant: Tenant;
  readonly timeMs: number;
  readonly value: number;
  readonly region: string;
}
const sent: Sent[] = [];

/** The local date of the instant just before `timeMs` (a delta point stamped on midnight closes the day before). */
const formats = new Map<string, Intl.DateTimeFormat>();
const localDate = (timeMs: number, zone: string) => {
  let format = formats.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: zone, dateStyle: 'short' });
    formats.set(zone, format);
  }
  return format.format(timeMs - 1);
};
const truth = (keep: (point: Sent) => boolean) =>
  sent.filter(keep).reduce((total, point) => total + point.value, 0);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
async function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  options: { undocumented?: boolean } = {},
): Promise<Answer> {
  const answer = await http(port, { method: 'GET', path, headers }, options);
  return { status: answer.status, headers: answer.headers, body: answer.body.toString('utf8') };
}
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const admin = bearer(ADMIN_KEY);
const json = (answer: Answer) => JSON.parse(answer.body) as Record<string, unknown>;

let collector: Collector;
let port: number;

beforeAll(async () => {
  const keysFile = join(dir, 'keys.json');
  writeFileSync(
    keysFile,
    JSON.stringify(Object.fromEntries(Object.entries(TENANTS).map(([tenant, key]) => [key, tenant]))),
  );
  const limitsFile = join(dir, 'limits.json');
  writeFileSync(
    limitsFile,
    JSON.stringify({
      tenants: {
        acme: { quotaPoints: 1_000_000, quotaPeriod: 'month', quotaTimeZone: NY },
        globex: { ratePointsPerSecond: 50_000, burst: 100_000 },
      },
    }),
  );
  ({ collector, port } = await startCollector(join(dir, 'data'), {
    env: {
      TALLYHOUSE_AUTH: 'apikey',
      TALLYHOUSE_API_KEYS_FILE: keysFile,
      TALLYHOUSE_LIMITS_FILE: limitsFile,
      TALLYHOUSE_ADMIN_KEY: ADMIN_KEY,
      TALLYHOUSE_QUERY_CACHE_TTL_MS: '0',
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      TALLYHOUSE_WAL: 'false',
    },
  }));
  // Points every 97 minutes around March 2026 (spring forward on the 8th) and November (fall back on the 1st),
  // plus points exactly on New York and UTC midnights. Each point is its own series (`n`): the processor merges
  // a series' points within a flush, which would move a point's value to the series' latest time.
  const times: number[] = [];
  for (const [from, to] of [
    ['2026-02-26T00:00:00Z', '2026-04-03T00:00:00Z'],
    ['2026-10-29T00:00:00Z', '2026-11-04T00:00:00Z'],
  ] as const) {
    for (let t = Date.parse(from); t < Date.parse(to); t += 97 * 60_000) times.push(t);
  }
  times.push(Date.parse('2026-03-01T05:00:00Z'), Date.parse('2026-04-01T04:00:00Z'));
  times.push(Date.parse('2026-03-08T05:00:00Z'), Date.parse('2026-03-09T04:00:00Z'));
  times.push(Date.parse('2026-03-09T00:00:00Z'), Date.parse('2026-11-02T05:00:00Z'));
  const names = Object.keys(TENANTS) as Tenant[];
  const byTenant = new Map<Tenant, object[]>();
  times.forEach((timeMs, i) => {
    const tenant = names[i % names.length]!;
    const region = ['eu', 'us', ''][Math.floor(i / 3) % 3]!;
    const value = (i % 7) + 1 + (tenant === 'globex' ? 10 : 0);
    sent.push({ tenant, timeMs, value, region });
    const time = BigInt(timeMs) * MS;
    const attributes: Record<string, string | number> = { n: i, ...(region === '' ? {} : { region }) };
    byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), { value, attributes, start: time - MS, time }]);
  });
  for (const [tenant, points] of byTenant) {
    const body = otlpRequest([sumMetric('requests', points as never)]);
    expect((await postMetrics(port, body, 'json', bearer(TENANTS[tenant]))).status).toBe(200);
  }
  await collector.processor.forceFlush();
}, 60_000);

afterAll(async () => {
  await collector?.stop();
});

const march = (point: Sent) => localDate(point.timeMs, NY).startsWith('2026-03');

describe('periods and time zones on tenant reads', () => {
  it('total: a New York month, a UTC month, and the range echoed', async () => {
    const ny = await get(port, `/v1/usage/acme/total?metric=requests&period=2026-03&tz=${NY}`, admin);
    expect(ny.status).toBe(200);
    expect(json(ny)).toMatchObject({
      tenant: 'acme',
      period: '2026-03',
      tz: NY,
      from: '2026-03-01T05:00:00.000Z',
      to: '2026-04-01T04:00:00.000Z',
      total: truth((p) => p.tenant === 'acme' && march(p)),
    });
    const utc = await get(port, '/v1/usage/acme/total?metric=requests&period=2026-03', admin);
    expect(json(utc).total).toBe(
      truth((p) => p.tenant === 'acme' && localDate(p.timeMs, 'UTC').startsWith('2026-03')),
    );
    expect(json(utc).total).not.toBe(json(ny).total);
    const day = await get(
      port,
      `/v1/usage/0/total?metric=requests&period=2026-03-08&tz=${NY}`,
      bearer(ZERO_KEY),
    );
    expect(json(day)).toMatchObject({
      tenant: '0',
      from: '2026-03-08T05:00:00.000Z',
      to: '2026-03-09T04:00:00.000Z',
      total: truth((p) => p.tenant === '0' && localDate(p.timeMs, NY) === '2026-03-08'),
    });
  });

  it('timeseries at 1d: local days, 23 hours on spring-forward day and 25 on fall-back day, each equal to the truth', async () => {
    for (const [query, longDay, hours] of [
      [`period=2026-03&tz=${NY}`, '2026-03-08', 23],
      [`from=2026-10-30T12:00:00Z&to=2026-11-03T12:00:00Z&tz=${NY}`, '2026-11-01', 25],
    ] as const) {
      const answer = await get(port, `/v1/usage/globex/timeseries?metric=requests&step=1d&${query}`, admin);
      expect(answer.status, answer.body).toBe(200);
      const series = json(answer) as { lines: { points: { start: string; value: number }[] }[] };
      const points = series.lines[0]!.points;
      const starts = points.map((p) => Date.parse(p.start));
      for (const [i, point] of points.entries()) {
        const date = localDate(starts[i]! + 1, NY);
        expect(new Date(starts[i]!).toLocaleTimeString('en-GB', { timeZone: NY }), date).toBe('00:00:00');
        expect(point.value, date).toBe(
          truth((p) => p.tenant === 'globex' && localDate(p.timeMs, NY) === date),
        );
        const next = starts[i + 1];
        if (date === longDay && next !== undefined) expect((next - starts[i]!) / 3_600_000).toBe(hours);
      }
      if (query.startsWith('period')) expect(points).toHaveLength(31);
    }
  });

  it('top by an attribute over a New York month', async () => {
    const answer = await get(
      port,
      `/v1/usage/acme/top?metric=requests&by=region&period=2026-03&tz=${NY}`,
      admin,
    );
    const entries = json(answer).entries as { value: string; total: number }[];
    expect(Object.fromEntries(entries.map((e) => [e.value, e.total]))).toEqual({
      eu: truth((p) => p.tenant === 'acme' && march(p) && p.region === 'eu'),
      us: truth((p) => p.tenant === 'acme' && march(p) && p.region === 'us'),
    });
  });

  it.each([
    ['tz=Mars/Olympus&period=2026-03', 'tz', /"Mars\/Olympus" is not an IANA time zone/],
    ['period=2026-13', 'period', /not a date that exists/],
    ['period=March', 'period', /expected a month \(YYYY-MM\) or a day \(YYYY-MM-DD\)/],
    ['period=2026-03&from=2026-03-01T00:00:00Z', 'period', /either period or from\/to/],
    [`tz=${NY}&from=2026-03-01T00:00:00Z`, 'tz', /only with period .* or step=1d/],
  ])('refuses %s with a 400 naming %s', async (query, parameter, message) => {
    const answer = await get(port, `/v1/usage/acme/total?metric=requests&${query}`, admin);
    expect(answer.status).toBe(400);
    expect(json(answer).message).toMatch(new RegExp(`^${parameter}: `));
    expect(json(answer).message).toMatch(message);
  });

  it('tz on a 1h time series changes nothing and is refused', async () => {
    const answer = await get(
      port,
      `/v1/usage/acme/timeseries?metric=requests&step=1h&period=2026-03-08&tz=${NY}`,
      admin,
    );
    expect(answer.status).toBe(200); // with period, tz names the day; the buckets are UTC hours
    const refused = await get(
      port,
      `/v1/usage/acme/timeseries?metric=requests&step=1h&from=2026-03-08T00:00:00Z&to=2026-03-09T00:00:00Z&tz=${NY}`,
      admin,
    );
    expect(refused.status).toBe(400);
    expect(json(refused).message).toMatch(/^tz: /);
  });
});

describe('what a tenant has: metrics and limits', () => {
  it('/metrics lists the metrics stored for the tenant', async () => {
    const answer = await get(port, '/v1/usage/acme/metrics', bearer(ACME_KEY));
    expect(json(answer)).toEqual({
      tenant: 'acme',
      metrics: [{ name: 'requests', unit: '{request}', kind: 'sum' }],
    });
    expect((await get(port, '/v1/usage/acme/metrics?metric=x', bearer(ACME_KEY))).status).toBe(400);
  });

  it('/attributes lists the attribute keys of a metric with how many values each has', async () => {
    const answer = await get(port, '/v1/usage/acme/attributes?metric=requests', bearer(ACME_KEY));
    const regions = new Set(sent.filter((p) => p.tenant === 'acme' && p.region !== '').map((p) => p.region));
    const ns = sent.filter((p) => p.tenant === 'acme').length;
    expect(json(answer)).toEqual({
      tenant: 'acme',
      metric: 'requests',
      keys: [
        { key: 'n', values: ns },
        { key: 'region', values: regions.size },
      ],
    });
    const missing = await get(port, '/v1/usage/acme/attributes', bearer(ACME_KEY));
    expect(missing.status).toBe(400);
    expect(json(missing).message).toBe('metric: required');
  });

  it('/limits: the quota in the tenant’s time zone with what is used and left, the rate limit', async () => {
    const acme = json(await get(port, '/v1/usage/acme/limits', bearer(ACME_KEY)));
    const points = sent.filter((p) => p.tenant === 'acme').length;
    const now = Date.now();
    const [quota] = acme.quotas as Record<string, unknown>[];
    expect(quota).toMatchObject({
      period: 'month',
      timeZone: NY,
      limit: 1_000_000,
      used: points,
      remaining: 1_000_000 - points,
    });
    // The running New York month: it started at a New York midnight on the 1st, and ends at the next one.
    const start = Date.parse(quota!.periodStart as string);
    const end = Date.parse(quota!.resetsAt as string);
    expect(start).toBeLessThanOrEqual(now);
    expect(end).toBeGreaterThan(now);
    for (const edge of [start, end]) {
      expect(new Date(edge).toLocaleString('en-GB', { timeZone: NY })).toMatch(/^01\/\d\d\/\d{4}, 00:00:00$/);
    }
    expect(acme.rate).toBeNull();
    const globex = json(await get(port, '/v1/usage/globex/limits', bearer(GLOBEX_KEY)));
    expect(globex).toEqual({
      tenant: 'globex',
      quotas: [],
      // Rested since its points were sent (50,000 points/s): the whole burst is available.
      rate: { pointsPerSecond: 50_000, burst: 100_000, available: 100_000 },
    });
    expect((await get(port, '/v1/usage/globex/limits', bearer(ACME_KEY))).status).toBe(403);
  });
});

describe('admin reads over every tenant', () => {
  it('need the admin key: a tenant key is refused with 403, a wrong key with 401', async () => {
    const tenant = await get(port, '/v1/admin/metrics', bearer(ACME_KEY));
    expect(tenant.status).toBe(403);
    expect(json(tenant).message).toMatch(/needs the admin key/);
    expect((await get(port, '/v1/admin/metrics', bearer(`${ADMIN_KEY}x`))).status).toBe(401);
    expect((await get(port, '/v1/admin/metrics')).status).toBe(401);
    expect((await get(port, '/v1/admin/nothing', admin, { undocumented: true })).status).toBe(404);
  });

  it('metrics, top tenants and the all-tenant trend', async () => {
    expect(json(await get(port, '/v1/admin/metrics', admin))).toEqual({
      metrics: [{ name: 'requests', unit: '{request}', kind: 'sum' }],
    });
    const top = json(
      await get(port, `/v1/admin/tenants?metric=requests&period=2026-03&tz=${NY}&limit=2`, admin),
    );
    const totals = (Object.keys(TENANTS) as Tenant[])
      .map((tenant) => ({ tenant, total: truth((p) => p.tenant === tenant && march(p)) }))
      .sort((a, b) => b.total - a.total);
    expect(
      (top.entries as { tenant: string; total: number }[]).map(({ tenant, total }) => ({ tenant, total })),
    ).toEqual(totals.slice(0, 2));
    const trend = json(
      await get(port, `/v1/admin/timeseries?metric=requests&step=1d&period=2026-03&tz=${NY}`, admin),
    );
    const points = (trend.lines as { points: { start: string; value: number }[] }[])[0]!.points;
    expect(points).toHaveLength(31);
    for (const point of points) {
      const date = localDate(Date.parse(point.start) + 1, NY);
      expect(point.value, date).toBe(truth((p) => localDate(p.timeMs, NY) === date));
    }
  });

  it('the billing export as JSON lines: every tenant and region, equal to /total per tenant to the unit', async () => {
    const answer = await get(
      port,
      `/v1/admin/export?metric=requests&period=2026-03&tz=${NY}&group_by=region`,
      admin,
    );
    expect(answer.status, answer.body).toBe(200);
    expect(answer.headers['content-type']).toBe('application/x-ndjson');
    expect(answer.headers['content-disposition']).toBe('attachment; filename="usage-2026-03.jsonl"');
    expect(answer.headers['x-tallyhouse-from']).toBe('2026-03-01T05:00:00.000Z');
    const lines = answer.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { tenant: Tenant; attributes: { region: string }; total: number });
    expect(lines).toHaveLength(9); // 3 tenants × (eu, us, none)
    for (const line of lines) {
      const region = line.attributes.region;
      expect(line, JSON.stringify(line)).toMatchObject({ metric: 'requests', unit: '{request}' });
      expect(line.total).toBe(truth((p) => p.tenant === line.tenant && march(p) && p.region === region));
      if (region !== '') {
        const perTenant = json(
          await get(
            port,
            `/v1/usage/${encodeURIComponent(line.tenant)}/total?metric=requests&period=2026-03&tz=${NY}&attr.region=${region}`,
            admin,
          ),
        );
        expect(perTenant.total).toBe(line.total);
      }
    }
  });

  it('the billing export as CSV (Accept: text/csv, or format=csv), one total per tenant without group_by', async () => {
    const answer = await get(port, `/v1/admin/export?metric=requests&period=2026-03&tz=${NY}`, {
      ...admin,
      accept: 'text/csv',
    });
    expect(answer.headers['content-type']).toBe('text/csv; charset=utf-8');
    const [header, ...rows] = answer.body.trimEnd().split('\r\n');
    expect(header).toBe('tenant,metric,unit,total,rows');
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      const [tenant, metric, unit, total] = row.split(',');
      expect([metric, unit]).toEqual(['requests', '{request}']);
      const perTenant = json(
        await get(port, `/v1/usage/${tenant}/total?metric=requests&period=2026-03&tz=${NY}`, admin),
      );
      expect(Number(total)).toBe(perTenant.total);
    }
    const byParameter = await get(
      port,
      `/v1/admin/export?metric=requests&period=2026-03&tz=${NY}&format=csv`,
      admin,
    );
    expect(byParameter.body).toBe(answer.body);
  });

  it.each([
    ['period=2026-03', 'metric', /required/],
    ['metric=requests', 'period', /required/],
    ['metric=requests&period=2026-03&format=xlsx', 'format', /expected one of jsonl, csv/],
    ['metric=requests&period=2026-03&group_by=a&group_by=a', 'group_by', /named twice/],
    ['metric=requests&period=2026-03&attr.region=eu', 'attr.region', /unknown parameter/],
  ])('refuses an export with %s (400 naming %s)', async (query, parameter, message) => {
    const answer = await get(port, `/v1/admin/export?${query}`, admin);
    expect(answer.status).toBe(400);
    expect(json(answer).message).toMatch(new RegExp(`^${parameter}: `));
    expect(json(answer).message).toMatch(message);
  });
});
