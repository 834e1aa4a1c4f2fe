/**
 * The console in a real browser (Debian's Chromium, headless, driven by playwright-core) against a real collector
 * holding real ingested usage (OTLP/JSON over a socket and the stock OpenTelemetry SDK): the key form refuses a
 * wrong key; the overview and tenant pages show what the API answers — the values uPlot holds are read back
 * through the page's test hook and compared with the answers the page got, with the same reads made again here,
 * and with what was sent; the pickers change what is read; the key is kept in sessionStorage only, never in a URL;
 * nothing is loaded from another origin and no CSP violation or script error happens.
 */
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type {
  LatestAnswer,
  LimitsAnswer,
  TimeSeriesAnswer,
  TopAnswer,
  TopTenantsAnswer,
} from '../app/api/types.ts';
import type { ChartSnapshot } from '../app/chart/time-chart.ts';
import {
  type ConsolePage,
  chartData,
  enterKey,
  launchChromium,
  newConsolePage,
  settled,
  settledProblems,
} from './support/browser.ts';
import { ADMIN_KEY, type RunningCollector, startCollector } from './support/collector.ts';
import {
  type DemoTruth,
  expectedBuckets,
  ingestDemoData,
  LIMITS,
  storedGauges,
  TENANTS,
} from './support/demo-data.ts';
import { apiGet } from './support/http-get.ts';

let running: RunningCollector;
let truth: DemoTruth;
let browser: Browser;
let current: ConsolePage | undefined;

beforeAll(async () => {
  running = await startCollector({ limits: LIMITS });
  truth = await ingestDemoData(running.origin, Date.now());
  await running.flush();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await running?.stop();
});
afterEach(async () => {
  await current?.context.close();
  current = undefined;
});

const api = <T>(pathAndQuery: string) => apiGet<T>(running.origin, pathAndQuery, ADMIN_KEY);

async function open(path = '/console/', timezoneId = 'UTC'): Promise<ConsolePage> {
  current = await newConsolePage(browser, running.origin, { timezoneId });
  await current.page.goto(`${running.origin}${path}`);
  return current;
}

async function signedIn(path = '/console/', timezoneId = 'UTC'): Promise<ConsolePage> {
  const opened = await open(path, timezoneId);
  await enterKey(opened.page, ADMIN_KEY);
  return opened;
}

/** The next answer to a GET of `pathname` (set up before the action that makes it). */
function nextAnswer(page: Page, pathname: string, params: Record<string, string> = {}): Promise<Response> {
  return page.waitForResponse((response) => {
    const url = new URL(response.url());
    return (
      url.pathname === pathname &&
      Object.entries(params).every(([name, value]) => url.searchParams.get(name) === value)
    );
  });
}

/** A time series answer as uPlot would hold it: bucket starts in seconds, non-finite values as gaps. */
function asChart(answer: TimeSeriesAnswer): { x: number[]; values: (number | null)[][] } {
  return {
    x: (answer.lines[0]?.points ?? []).map((p) => Date.parse(p.start) / 1000),
    values: answer.lines.map((line) =>
      line.points.map((p) => (typeof p.value === 'number' && Number.isFinite(p.value) ? p.value : null)),
    ),
  };
}

/** The page's answer, the same read made again here, and the chart: all three hold the same numbers. */
async function expectChartMatchesApi(
  page: Page,
  chart: string,
  response: Response,
): Promise<TimeSeriesAnswer> {
  const url = new URL(response.url());
  expect(response.request().headers().authorization).toBe(`Bearer ${ADMIN_KEY}`);
  const pageAnswer = (await response.json()) as TimeSeriesAnswer;
  const again = await api<TimeSeriesAnswer>(`${url.pathname}${url.search}`);
  expect(asChart(pageAnswer)).toEqual(asChart(again));
  const held: ChartSnapshot = await chartData(page, chart);
  expect({ x: held.x, values: held.series.map((s) => s.values) }).toEqual(asChart(again));
  expect(held.x.length).toBeGreaterThan(0);
  return again;
}

/** What was sent, per bucket of the answer (and per value of `groupBy`), in the order of the answer's lines. */
function sentPerBucket(answer: TimeSeriesAnswer, tenant: string | undefined, groupBy?: string): number[][] {
  const startsMs = (answer.lines[0]?.points ?? []).map((p) => Date.parse(p.start));
  const stepMs = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 }[answer.step];
  const lines = expectedBuckets(truth, {
    metric: answer.metric,
    startsMs,
    stepMs,
    ...(tenant === undefined ? {} : { tenant }),
    ...(groupBy === undefined ? {} : { groupBy }),
  });
  return answer.lines.map(
    (line) => lines.get(groupBy === undefined ? '' : (line.key[groupBy] ?? '')) ?? startsMs.map(() => 0),
  );
}

/** No console or page errors, no request off origin, every API answer as the OpenAPI document says. */
async function expectClean(opened: ConsolePage, allowed: RegExp[] = []): Promise<void> {
  const problems = await settledProblems(opened);
  expect(problems.filter((problem) => !allowed.some((pattern) => pattern.test(problem)))).toEqual([]);
}

async function storage(page: Page) {
  return page.evaluate(() => ({
    session: { ...sessionStorage },
    local: { ...localStorage },
    url: location.href,
  }));
}

const UNAUTHORIZED = /status of 401/;

describe('the key', () => {
  it('refuses a wrong key, keeps nothing and returns to the form', async () => {
    const opened = await open();
    const requests: string[] = [];
    opened.page.on('request', (request) => requests.push(request.url()));
    await opened.page.locator('form.key-form').waitFor();
    const refused = nextAnswer(opened.page, '/v1/admin/metrics');
    await enterKey(opened.page, 'not-the-admin-key-0123456789');
    expect((await refused).status()).toBe(401);
    await opened.page.locator('#key-problem:not([hidden])').waitFor();
    expect(await opened.page.locator('#key-problem').textContent()).toMatch(/^Wrong key: /);
    expect(await opened.page.locator('[data-chart]').count()).toBe(0);
    const kept = await storage(opened.page);
    expect(kept.session).toEqual({});
    expect(kept.local).toEqual({});
    expect(requests.some((url) => url.includes('not-the-admin-key'))).toBe(false);
    await expectClean(opened, [UNAUTHORIZED]);
  });

  it('keeps the right key in sessionStorage only, sends it as a bearer credential, never in a URL', async () => {
    const opened = await open();
    const requests: { url: string; authorization: string | undefined }[] = [];
    opened.page.on('request', (request) =>
      requests.push({ url: request.url(), authorization: request.headers().authorization }),
    );
    await enterKey(opened.page, ADMIN_KEY);
    await chartData(opened.page, 'overview-trend');
    const kept = await storage(opened.page);
    expect(Object.values(kept.session)).toEqual([ADMIN_KEY]);
    expect(kept.local).toEqual({});
    expect(kept.url).not.toContain(ADMIN_KEY);
    expect(requests.some((r) => r.url.includes(ADMIN_KEY))).toBe(false);
    // The page's own files are fetched without credentials; every API call carries the key.
    const apiCalls = requests.filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
    expect(apiCalls.length).toBeGreaterThanOrEqual(3);
    for (const call of apiCalls) expect(call.authorization, call.url).toBe(`Bearer ${ADMIN_KEY}`);
    for (const file of requests.filter((r) => new URL(r.url).pathname.startsWith('/console/'))) {
      expect(file.authorization, file.url).toBeUndefined();
    }
    // Entered once: a reload of the tab keeps it.
    await opened.page.reload();
    await chartData(opened.page, 'overview-trend');
    expect(await opened.page.locator('form.key-form').count()).toBe(0);
    // Signing out forgets it.
    await opened.page.locator('[data-action=sign-out]').click();
    await opened.page.locator('form.key-form').waitFor();
    expect((await storage(opened.page)).session).toEqual({});
    await expectClean(opened);
  });

  it('returns to the key form, saying "wrong key", when the API refuses a key it had taken', async () => {
    const opened = await signedIn();
    await chartData(opened.page, 'overview-trend');
    // The collector's key changed, say: the kept key is now refused.
    await opened.page.evaluate(() => {
      for (const name of Object.keys(sessionStorage))
        sessionStorage.setItem(name, 'a-key-that-is-no-more-0123');
    });
    await opened.page.reload();
    await opened.page.locator('#key-problem:not([hidden])').waitFor();
    expect(await opened.page.locator('#key-problem').textContent()).toMatch(/^Wrong key: /);
    expect((await storage(opened.page)).session).toEqual({});
    await expectClean(opened, [UNAUTHORIZED]);
  });
});

describe('the overview', () => {
  it('ranks the tenants and draws the total trend as /v1/admin answers them, and as they were sent', async () => {
    const opened = await open();
    const tenants = nextAnswer(opened.page, '/v1/admin/tenants');
    const trend = nextAnswer(opened.page, '/v1/admin/timeseries');
    await enterKey(opened.page, ADMIN_KEY);
    const tenantsAnswer = (await (await tenants).json()) as TopTenantsAnswer;
    const answer = await expectChartMatchesApi(opened.page, 'overview-trend', await trend);
    expect(answer.metric).toBe('api.requests');
    expect(asChart(answer).values).toEqual(sentPerBucket(answer, undefined));

    // Largest first, as sent: the tenants' weights order them.
    await settled(opened.page);
    const rows = opened.page.locator('[data-table=top-tenants] tbody tr');
    const shown = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-tenant')));
    expect(shown).toEqual(tenantsAnswer.entries.map((e) => e.tenant));
    expect(shown).toEqual(TENANTS.map((t) => t.name));
    await expectClean(opened);
  });

  it('opens a tenant from the ranking with the same metric and range', async () => {
    const opened = await signedIn('/console/?metric=api.requests&range=last-24h&step=1h');
    await chartData(opened.page, 'overview-trend');
    const series = nextAnswer(opened.page, '/v1/usage/globex/timeseries');
    await opened.page.locator('[data-table=top-tenants] a', { hasText: 'globex' }).click();
    const answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await series);
    expect(new URL(opened.page.url()).pathname).toBe('/console/tenants/globex');
    expect([answer.metric, answer.step]).toEqual(['api.requests', '1h']);
    expect(asChart(answer).values).toEqual(sentPerBucket(answer, 'globex'));
    await expectClean(opened);
  });
});

describe('a tenant page', () => {
  it('charts the metric as /v1/usage answers it, with the total over the chart’s buckets', async () => {
    const opened = await open('/console/tenants/acme');
    const series = nextAnswer(opened.page, '/v1/usage/acme/timeseries');
    const total = nextAnswer(opened.page, '/v1/usage/acme/total');
    await enterKey(opened.page, ADMIN_KEY);
    const answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await series);
    // Every bucket as sent, the stock SDK's export in the last one included.
    const sent = sentPerBucket(answer, 'acme');
    expect(asChart(answer).values).toEqual(sent);
    const totalResponse = await total;
    const totalUrl = new URL(totalResponse.url());
    expect([totalUrl.searchParams.get('from'), totalUrl.searchParams.get('to')]).toEqual([
      answer.bucketsFrom,
      answer.bucketsTo,
    ]);
    const totalAnswer = (await totalResponse.json()) as { total: number };
    expect(totalAnswer.total).toBe(sent[0]!.reduce((a, b) => a + b, 0));
    await settled(opened.page);
    expect(await opened.page.locator('[data-total]').textContent()).toBe(
      // {request} is a UCUM annotation (a count): no unit is shown.
      new Intl.NumberFormat('en-US').format(totalAnswer.total),
    );
    await expectClean(opened);
  });

  it('lists the stored metrics in the picker, and follows the range and step pickers', async () => {
    const opened = await signedIn('/console/tenants/acme');
    await chartData(opened.page, 'tenant-usage');
    const options = await opened.page
      .locator('select[name=metric] option')
      .evaluateAll((all) => all.map((o) => (o as HTMLOptionElement).value));
    const stored = await api<{ metrics: { name: string }[] }>('/v1/usage/acme/metrics');
    expect(options).toEqual(stored.metrics.map((m) => m.name));
    expect([...options].sort()).toEqual(['api.requests', 'compute.time', 'queue.depth', 'storage.used']);

    let next = nextAnswer(opened.page, '/v1/usage/acme/timeseries', { step: '1m' });
    await opened.page.locator('select[name=range]').selectOption('last-1h');
    await opened.page.locator('select[name=step]').selectOption('1m');
    let answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await next);
    expect(answer.lines[0]!.points.length).toBeGreaterThanOrEqual(60);
    expect(asChart(answer).values).toEqual(sentPerBucket(answer, 'acme'));
    expect(new URL(opened.page.url()).searchParams.get('step')).toBe('1m');

    // A week at 1d: the 1m step is not offered for 30 days (more buckets than the API answers).
    next = nextAnswer(opened.page, '/v1/usage/acme/timeseries', { step: '1d' });
    await opened.page.locator('select[name=range]').selectOption('last-7d');
    await opened.page.locator('select[name=step]').selectOption('1d');
    answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await next);
    expect(new URL((await next).url()).searchParams.get('tz')).toBe('UTC');
    expect(asChart(answer).values).toEqual(sentPerBucket(answer, 'acme'));
    await opened.page.locator('select[name=range]').selectOption('last-30d');
    await settled(opened.page);
    expect(await opened.page.locator('select[name=step] option[value="1m"]').isDisabled()).toBe(true);
    await expectClean(opened);
  });

  it('splits a sum by an attribute and ranks the attribute values', async () => {
    const opened = await signedIn('/console/tenants/initech?metric=api.requests&range=last-24h&step=1h');
    await chartData(opened.page, 'tenant-usage');
    const split = nextAnswer(opened.page, '/v1/usage/initech/timeseries', { group_by: 'route' });
    // The picker offers the metric's attribute keys, as stored.
    expect(await opened.page.locator('select[name=split] option').allTextContents()).toContain(
      'route (4 values)',
    );
    await opened.page.locator('select[name=split]').selectOption('route');
    const answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await split);
    expect(answer.lines.map((l) => l.key.route).sort()).toEqual(['/cart', '/checkout', '/login', '/search']);
    expect(asChart(answer).values).toEqual(sentPerBucket(answer, 'initech', 'route'));
    const labels = (await chartData(opened.page, 'tenant-usage')).series.map((s) => s.label);
    expect(labels).toEqual(answer.lines.map((l) => `route=${l.key.route}`));

    const top = nextAnswer(opened.page, '/v1/usage/initech/top', { by: 'route' });
    await opened.page.locator('select[name=by]').selectOption('route');
    const topAnswer = (await (await top).json()) as TopAnswer;
    await settled(opened.page);
    const rows = await opened.page
      .locator('[data-table=top] tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)),
      );
    const format = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });
    expect(rows).toEqual(topAnswer.entries.map((e) => [e.value, format.format(e.total as number)]));
    // The busiest route as sent (route weights: /search 3, /cart 1.5, /checkout 1, /login 0.5).
    expect(topAnswer.entries.map((e) => e.value)).toEqual(['/search', '/cart', '/checkout', '/login']);
    await expectClean(opened);
  });

  it('charts a gauge per source and combined', async () => {
    const opened = await open('/console/tenants/umbrella?metric=storage.used&range=last-24h&step=1h');
    const perSource = nextAnswer(opened.page, '/v1/usage/umbrella/timeseries', { kind: 'gauge' });
    await enterKey(opened.page, ADMIN_KEY);
    const answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await perSource);
    expect(answer.lines.map((l) => l.source?.resource['host.name'])).toEqual(['web-1', 'web-2']);
    // The last bucket holds each host's latest value as sent.
    for (const [i, host] of ['web-1', 'web-2'].entries()) {
      const sent = truth.gauges.filter((g) => g.tenant === 'umbrella' && g.host === host);
      expect(asChart(answer).values[i]!.at(-1)).toBe(sent.at(-1)!.value);
    }
    const combined = nextAnswer(opened.page, '/v1/usage/umbrella/timeseries', { combine: 'sum' });
    await opened.page.locator('select[name=combine]').selectOption('sum');
    const sum = await expectChartMatchesApi(opened.page, 'tenant-usage', await combined);
    expect(sum.lines).toHaveLength(1);
    expect(asChart(sum).values[0]!.at(-1)).toBe(
      asChart(answer).values[0]!.at(-1)! + asChart(answer).values[1]!.at(-1)!,
    );
    await expectClean(opened);
  });

  it('shows the latest value of every gauge, and the quota and rate limit with what is left', async () => {
    const opened = await signedIn('/console/tenants/acme');
    await chartData(opened.page, 'tenant-usage');
    await opened.page.locator('[data-table=gauges]').waitFor();
    await opened.page.locator('[data-quota=day]').waitFor();
    const gaugeRows = await opened.page
      .locator('[data-table=gauges] tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const storageLatest = await api<LatestAnswer>('/v1/usage/acme/latest?metric=storage.used');
    const format = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });
    for (const entry of storageLatest.latest) {
      const host = entry.source!.resource['host.name'];
      const sent = truth.gauges.filter((g) => g.tenant === 'acme' && g.host === host).at(-1)!;
      expect(entry.value).toBe(sent.value);
      expect(gaugeRows).toContainEqual([
        'storage.used',
        '–',
        `storage@${host}`,
        `${format.format(sent.value)} By`,
        expect.any(String),
      ]);
    }
    // The stock SDK's observable gauge.
    expect(gaugeRows).toContainEqual([
      'queue.depth',
      'queue=billing',
      'api@sdk-1',
      String(truth.sdkQueueDepth),
      expect.any(String),
    ]);

    const limits = await api<LimitsAnswer>('/v1/usage/acme/limits');
    expect(limits.quotas).toHaveLength(1);
    const quota = limits.quotas[0]!;
    // Every point acme sent counts against its day quota.
    const sentPoints =
      truth.sums.filter((p) => p.tenant === 'acme').length +
      truth.gauges.filter((g) => g.tenant === 'acme').length;
    // + the SDK's gauge point (its counter point is among the sums).
    expect(quota.used).toBe(sentPoints + 1);
    const quotaText = await opened.page.locator('[data-quota=day]').textContent();
    expect(quotaText).toContain(
      `${format.format(quota.remaining)} data points left of this day's ${format.format(50_000)}`,
    );
    expect(
      await opened.page.locator('[data-quota=day] meter').evaluate((m) => (m as HTMLMeterElement).value),
    ).toBe(quota.used);
    // What was left when the page read it: at most what is left now (the burst only refills since), at most the burst.
    const rateText = (await opened.page.locator('[data-rate]').textContent()) ?? '';
    const shown = /^Rate limit: 500 data points\/s, bursts of 5,000 \(([\d,]+) available now\)\.$/.exec(
      rateText,
    );
    expect(shown, rateText).not.toBeNull();
    const available = Number(shown![1]!.replaceAll(',', ''));
    expect(available).toBeLessThanOrEqual(limits.rate!.available);
    expect(limits.rate!.available).toBeLessThanOrEqual(5_000);
    await expectClean(opened);
  });

  it('opens a tenant whose name needs escaping, by name, and says when it has no limits', async () => {
    const opened = await signedIn();
    await chartData(opened.page, 'overview-trend');
    const series = nextAnswer(opened.page, `/v1/usage/${encodeURIComponent('café/eu')}/timeseries`);
    await opened.page.locator('.open-tenant input').fill('café/eu');
    await opened.page.locator('.open-tenant button').click();
    const answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await series);
    expect(new URL(opened.page.url()).pathname).toBe('/console/tenants/caf%C3%A9%2Feu');
    expect(await opened.page.locator('[data-tenant-name]').textContent()).toBe('café/eu');
    expect(asChart(answer).values).toEqual(sentPerBucket(answer, 'café/eu'));
    await opened.page.locator('[data-quota=none]').waitFor();
    expect(await opened.page.locator('[data-rate]').textContent()).toBe('No rate limit.');
    await expectClean(opened);
  });

  it('draws a non-finite gauge value as a gap and shows it as sent', async () => {
    const opened = await open('/console/tenants/hooli?metric=cpu.utilization&range=last-1h&step=1m');
    const next = nextAnswer(opened.page, '/v1/usage/hooli/timeseries', { kind: 'gauge' });
    await enterKey(opened.page, ADMIN_KEY);
    const answer = await expectChartMatchesApi(opened.page, 'tenant-usage', await next);
    const points = answer.lines[0]!.points;
    const stored = storedGauges(truth.gauges.filter((g) => g.metric === 'cpu.utilization'));
    // The API answers the NaN as a string; from there on the chart holds a gap (null), before it the values sent.
    const nanAt = points.findIndex((p) => p.value === 'NaN');
    expect(nanAt).toBeGreaterThan(0);
    const held = (await chartData(opened.page, 'tenant-usage')).series[0]!.values;
    expect(held.slice(nanAt).every((v) => v === null)).toBe(true);
    expect(held.filter((v) => v !== null)).toEqual(
      points.filter((p) => typeof p.value === 'number').map((p) => p.value),
    );
    // Before the NaN, the value stored last before it, carried forward.
    expect(Number.isNaN(stored.at(-1)!.value)).toBe(true);
    expect(held[nanAt - 1]).toBe(stored.at(-2)!.value);
    await opened.page.locator('[data-table=gauges]').waitFor();
    const row = await opened.page
      .locator('[data-table=gauges] tr[data-gauge="cpu.utilization"] td')
      .evaluateAll((tds) => tds.map((td) => td.textContent));
    expect(row.slice(0, 4)).toEqual(['cpu.utilization', '–', 'worker@cpu-1', 'NaN']);
    await expectClean(opened);
  });

  it('says so for a tenant with nothing stored', async () => {
    const opened = await signedIn('/console/tenants/nobody-here');
    await opened.page.locator('[data-panel=usage] .note:not(.loading)').waitFor();
    expect(await opened.page.locator('[data-panel=usage] .note').textContent()).toBe(
      'Nothing stored for tenant nobody-here yet.',
    );
    expect(await opened.page.locator('[data-chart]').count()).toBe(0);
    await expectClean(opened);
  });

  it('reads calendar ranges in the browser’s time zone', async () => {
    const opened = await open(
      '/console/tenants/hooli?metric=api.requests&range=today&step=1h',
      'America/New_York',
    );
    const next = nextAnswer(opened.page, '/v1/usage/hooli/timeseries');
    await enterKey(opened.page, ADMIN_KEY);
    const series = await next;
    const url = new URL(series.url());
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(new Date());
    expect([url.searchParams.get('period'), url.searchParams.get('tz')]).toEqual([today, 'America/New_York']);
    const answer = await expectChartMatchesApi(opened.page, 'tenant-usage', series);
    expect(asChart(answer).values).toEqual(sentPerBucket(answer, 'hooli'));
    await expectClean(opened);
  });
});
