/**
 * Tenants move between collectors while they send, and a cumulative stream is never counted twice:
 *
 *   stock OTel SDK apps (6 tenants: 3 cumulative, 3 delta; OTLP/HTTP protobuf and JSON, one export per 100 ms),
 *   and a tenant with a small data-point quota
 *     ──► nginx (127.0.0.1, consistent hash of x-tenant-id)
 *     ──► 3 collector processes (bin.ts, own data dir, flush every 300 ms, shared stream marks on)
 *     ──► one ClickHouse over HTTP (the test endpoint)
 *
 * During ingestion the upstream set changes 3 → 2 → 3 (the removed collector's tenants move, then move back), and
 * a collector is SIGKILLed and restarted on its data directory (its tenants fail over to the others by nginx's
 * next-upstream, then return). Afterwards, per tenant: delta totals exact but for a request the crash left in doubt
 * (see below); cumulative totals never above what the
 * apps last exported, and below it by at most the stated bound per move (nginx's access log gives each tenant's
 * moves); the small-quota tenant admitted within the shared quota's overshoot bound, then refused by every
 * collector. The measured undercount is printed. A second phase routes round-robin: delta apps stay exact, and a
 * cumulative app's stream is reported as misrouted and never counted above its truth.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import {
  type CollectorProcess,
  startCollectorProcess,
} from '../../packages/collector/test/support/collector-process.ts';
import { killStrayProcesses } from '../../packages/collector/test/support/node-process.ts';
import { readStoredTotals, totalsByKey } from '../../packages/collector/test/support/stored-in-child.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { type FleetCollector, sampleValue, startCollectors } from '../support/collectors.ts';
import { ensureNginx, type Nginx, startNginx } from '../support/nginx.ts';
import { startStore, type TestStore } from '../support/stores.ts';
import { expectedTotals, type RunningApp, startTallyingApp } from './support.ts';

/** Tenant names probed through nginx; two per collector are picked, so every collector has tenants to lose. */
const CANDIDATES = Array.from({ length: 30 }, (_, i) => `t-${String(i).padStart(2, '0')}`);
const PER_COLLECTOR = 2;
const INTERVAL_MS = 100;
const FLUSH_MS = 300;
/**
 * The most one tenant's counter grows per export: the tallying app adds at most 7 (route /a) and 5 (route /b)
 * per round, one export per round.
 */
const MAX_EXPORT_INCREASE = 12;
/**
 * Exports one move may leave uncounted: the one between the old owner's last point and the new owner's first,
 * plus, when the move lands while the old owner still holds the stream unresolved (within one flush of its first
 * sight), what that owner held: a flush interval's exports and the one resolving them.
 */
const EXPORTS_PER_MOVE = 2 + Math.ceil(FLUSH_MS / INTERVAL_MS);
const QUOTA_SYNC_MS = 300;
const SMALL_QUOTA = 3_000;
const QUOTA_TENANT = 'small-quota';
/** The quota tenant's requests: this many points (distinct series, value 1), one request per `QUOTA_PACE_MS`. */
const QUOTA_REQUEST_POINTS = 10;
const QUOTA_PACE_MS = 25;
const ENV = {
  TALLYHOUSE_FLUSH_INTERVAL_MS: String(FLUSH_MS),
  TALLYHOUSE_LOG_LEVEL: 'warn',
  TALLYHOUSE_QUOTA_SYNC_MS: String(QUOTA_SYNC_MS),
};

const tempDir = tempDirsRemovedAfterAll();
let store: TestStore | undefined;
let collectors: FleetCollector[] = [];
let nginx: Nginx | undefined;
const restarted: CollectorProcess[] = [];
let apps: RunningApp[] = [];

afterAll(async () => {
  await Promise.all(apps.map((app) => app.finish(5_000).catch(() => undefined)));
  await nginx?.stop();
  await Promise.all([...collectors, ...restarted].map((collector) => collector.kill()));
  await store?.close();
  killStrayProcesses();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('moves tenants 3 → 2 → 3 collectors and through a SIGKILL: delta exact, cumulative never above the truth and within the bound below it', async () => {
  await ensureNginx();
  const started = performance.now();
  store = await startStore('http', tempDir('moves-store'));
  const limitsFile = join(tempDir('moves-limits'), 'limits.json');
  writeFileSync(
    limitsFile,
    JSON.stringify({ tenants: { [QUOTA_TENANT]: { quotaPoints: SMALL_QUOTA, quotaPeriod: 'month' } } }),
  );
  const env = { ...ENV, ...store.collectorEnv, TALLYHOUSE_LIMITS_FILE: limitsFile };
  collectors = await startCollectors({
    count: 3,
    dataDir: (index) => tempDir(`moves-collector-${index}`),
    env,
  });
  const addresses = collectors.map((collector) => collector.address);
  nginx = await startNginx({ dir: tempDir('moves-nginx'), upstreams: addresses, routing: 'tenant-hash' });
  const url = nginx.metricsUrl;
  const TENANTS = await tenantsSpreadOver(nginx, addresses);
  apps = TENANTS.map((tenant, index) =>
    startTallyingApp({
      url,
      tenant,
      service: `${tenant}-app`,
      temporality: index % 2 === 0 ? 'cumulative' : 'delta',
      protocol: index < TENANTS.length / 2 ? 'http-protobuf' : 'http',
      intervalMs: INTERVAL_MS,
    }),
  );
  const quotaSender = startQuotaSender(url);
  await sleep(1_500);
  // Scale down: the third collector's tenants move to the other two, then back.
  await nginx.setUpstreams(addresses.slice(0, 2));
  await sleep(1_500);
  await nginx.setUpstreams(addresses);
  await sleep(1_500);
  // A crash: its tenants fail over (nginx passes a refused connection on), then return once it is back.
  const victim = collectors[1] as FleetCollector;
  await victim.kill();
  await sleep(1_000);
  const back = await startCollectorProcess({ dataDir: victim.dataDir, port: victim.port, env });
  restarted.push(back);
  // nginx tries a failed server again after its fail_timeout (10 s by default): then its tenants return.
  await sleep(12_000);
  const tallies = await Promise.all(apps.map((app) => app.finish()));
  apps = [];
  const quota = await quotaSender.stop();
  // Refused by every collector, whichever it reaches (sent to each directly).
  for (const port of [collectors[0]?.port, back.port, collectors[2]?.port])
    expect((await sendQuotaRequest(`http://127.0.0.1:${port}/v1/metrics`, 1_000_000)).status).toBe(403);
  await sleep(3 * FLUSH_MS);
  const scrapes = await Promise.all(
    [collectors[0], collectors[2]].map((collector) => (collector as FleetCollector).scrape()),
  );
  scrapes.push(await (await fetch(`http://127.0.0.1:${back.port}/metrics`)).text());
  for (const collector of [collectors[0], collectors[2]]) expect(await collector?.stop()).toBe(0);
  expect(await back.stop()).toBe(0);
  collectors = [];

  const stored = totalsByKey(await readStoredTotals('', store.server));
  const truth = expectedTotals(tallies);
  // Each tenant's moves: how often consecutive requests reached different collectors.
  const moves: Record<string, number> = {};
  /** Each tenant's collectors in the order its requests reached them (ports; repeats folded). */
  const routes: Record<string, string[]> = {};
  for (const entry of nginx.accessLog()) {
    const upstream = (entry.upstream.split(', ').at(-1) ?? '').replace('127.0.0.1:', '');
    const route = routes[entry.tenant] ?? [];
    routes[entry.tenant] = route;
    if (route.at(-1) === upstream) continue;
    if (route.length > 0) moves[entry.tenant] = (moves[entry.tenant] ?? 0) + 1;
    route.push(upstream);
  }
  const report = tallies.map((tally, index) => {
    const tenant = tally.tenant;
    const key = `${tenant}/chaos.requests`;
    const bound = (moves[tenant] ?? 0) * EXPORTS_PER_MOVE * MAX_EXPORT_INCREASE;
    return {
      tenant,
      temporality: index % 2 === 0 ? 'cumulative' : 'delta',
      truth: truth[key] ?? 0,
      stored: stored[key] ?? 0,
      undercount: (truth[key] ?? 0) - (stored[key] ?? 0),
      moves: moves[tenant] ?? 0,
      route: (routes[tenant] ?? []).join('→'),
      bound,
    };
  });
  const skipped = scrapes.reduce(
    (sum, text) => sum + sampleValue(text, 'tallyhouse_stream_first_intervals_skipped_total'),
    0,
  );
  const quotaRate = quota.sent / quota.seconds;
  // Each collector sees the others' admissions at most two sync intervals late, plus a request in flight.
  const quotaBound = Math.ceil(quotaRate * ((2 * QUOTA_SYNC_MS) / 1000)) + QUOTA_REQUEST_POINTS;
  console.log(
    `chaos moves summary ${JSON.stringify({
      seconds: Math.round((performance.now() - started) / 1000),
      skipped,
      report,
      quota: {
        quota: SMALL_QUOTA,
        admitted: quota.admitted,
        overshoot: quota.admitted - SMALL_QUOTA,
        bound: quotaBound,
        refused: quota.refused,
        pointsPerSecond: Math.round(quotaRate),
      },
    })}`,
  );
  expect(quota.admitted + quota.unknown, 'the quota was used up').toBeGreaterThan(
    SMALL_QUOTA - QUOTA_REQUEST_POINTS,
  );
  expect(quota.admitted - SMALL_QUOTA, 'overshoot within the bound').toBeLessThanOrEqual(quotaBound);
  expect(quota.refused).toBeGreaterThan(0);
  // The moves happened: every collector change moved some tenants.
  expect(Object.values(moves).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  for (const row of report) {
    if (row.temporality === 'delta') {
      // Nothing acknowledged is lost. A request the killed collector acknowledged whose answer the kill lost, and
      // that its client then resent through nginx to another collector, is counted by both: resends are
      // recognised per collector (its write-ahead log), not across collectors. At most one export per tenant.
      expect(row.undercount, `${row.tenant}: nothing acknowledged lost`).toBeLessThanOrEqual(0);
      expect(-row.undercount, `${row.tenant}: at most one resent export`).toBeLessThanOrEqual(
        MAX_EXPORT_INCREASE,
      );
    } else {
      expect(row.stored, `${row.tenant}: never above the truth`).toBeLessThanOrEqual(row.truth);
      expect(row.undercount, `${row.tenant}: within the bound`).toBeLessThanOrEqual(row.bound);
    }
  }
}, 180_000);

it('round-robin: delta apps stay exact, a cumulative app is reported as misrouted and never counted above its truth', async () => {
  await ensureNginx();
  store ??= await startStore('http', tempDir('moves-store'));
  const env = { ...ENV, ...store.collectorEnv };
  collectors = await startCollectors({
    count: 3,
    dataDir: (index) => tempDir(`round-robin-collector-${index}`),
    env,
  });
  await nginx?.stop();
  const proxy = await startNginx({
    dir: tempDir('round-robin-nginx'),
    upstreams: collectors.map((collector) => collector.address),
    routing: 'round-robin',
  });
  nginx = proxy;
  apps = [
    // Intervals that do not divide evenly: three apps in lockstep would each keep meeting the same upstream.
    {
      tenant: 'rr-cumulative',
      temporality: 'cumulative' as const,
      protocol: 'http-protobuf' as const,
      intervalMs: 100,
    },
    {
      tenant: 'rr-delta-protobuf',
      temporality: 'delta' as const,
      protocol: 'http-protobuf' as const,
      intervalMs: 130,
    },
    { tenant: 'rr-delta-json', temporality: 'delta' as const, protocol: 'http' as const, intervalMs: 170 },
  ].map((app) => startTallyingApp({ url: proxy.metricsUrl, service: `${app.tenant}-app`, ...app }));
  await sleep(4_000);
  const tallies = await Promise.all(apps.map((app) => app.finish()));
  apps = [];
  await sleep(3 * FLUSH_MS);
  const scrapes = await Promise.all(collectors.map((collector) => collector.scrape()));
  for (const collector of collectors) expect(await collector.stop()).toBe(0);
  collectors = [];
  const stored = totalsByKey(await readStoredTotals('', store.server));
  const truth = expectedTotals(tallies);
  const misrouted = scrapes.reduce(
    (sum, text) => sum + sampleValue(text, 'tallyhouse_streams_misrouted_total'),
    0,
  );
  const rows = tallies.map((tally) => {
    const key = `${tally.tenant}/chaos.requests`;
    return { tenant: tally.tenant, truth: truth[key] ?? 0, stored: stored[key] ?? 0 };
  });
  const spread: Record<string, Record<string, number>> = {};
  for (const entry of proxy.accessLog()) {
    const byUpstream = spread[entry.tenant] ?? {};
    spread[entry.tenant] = byUpstream;
    byUpstream[entry.upstream] = (byUpstream[entry.upstream] ?? 0) + 1;
  }
  console.log(`chaos round-robin summary ${JSON.stringify({ misrouted, rows, spread })}`);
  // Round-robin really spread each tenant over the collectors (every request of 3 lockstep apps could not).
  for (const [tenant, byUpstream] of Object.entries(spread))
    expect(Object.keys(byUpstream).length, `${tenant} spread over collectors`).toBeGreaterThanOrEqual(2);
  const [cumulative, ...deltas] = rows;
  for (const row of deltas)
    expect(row.stored, `${row.tenant}: delta exact under round-robin`).toBe(row.truth);
  expect(cumulative!.stored, 'cumulative: never above the truth').toBeLessThanOrEqual(cumulative!.truth);
  expect(misrouted, 'the cumulative stream is reported as misrouted').toBeGreaterThan(0);
}, 120_000);

/** `PER_COLLECTOR` candidate tenants per collector, by where nginx sends them (a GET: 405, nothing counted). */
async function tenantsSpreadOver(proxy: Nginx, addresses: readonly string[]): Promise<string[]> {
  const from = proxy.accessLog().length;
  for (const tenant of CANDIDATES) {
    const response = await fetch(proxy.metricsUrl, { headers: { 'x-tenant-id': tenant } });
    await response.body?.cancel();
  }
  for (let waited = 0; proxy.accessLog().length - from < CANDIDATES.length && waited < 5_000; waited += 50)
    await sleep(50);
  const placed = proxy.accessLog().slice(from);
  const picked = addresses.flatMap((address) =>
    placed
      .filter((entry) => entry.upstream === address)
      .slice(0, PER_COLLECTOR)
      .map((entry) => entry.tenant),
  );
  expect(picked).toHaveLength(PER_COLLECTOR * addresses.length);
  return picked;
}

interface QuotaRun {
  readonly admitted: number;
  readonly refused: number;
  /** Points of requests whose answer was neither 200 nor 403 (a kill, a 502): admitted or not. */
  readonly unknown: number;
  readonly sent: number;
  readonly seconds: number;
}

/** One OTLP/HTTP JSON request of the quota tenant: `QUOTA_REQUEST_POINTS` delta points, series by `batch`. */
function sendQuotaRequest(url: string, batch: number): Promise<Response> {
  const dataPoints = Array.from({ length: QUOTA_REQUEST_POINTS }, (_, i) => ({
    attributes: [{ key: 'n', value: { stringValue: `${batch}-${i}` } }],
    startTimeUnixNano: String(BigInt(Date.now() - 1_000) * 1_000_000n),
    timeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
    asInt: '1',
  }));
  const body = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'quota-app' } }] },
        scopeMetrics: [
          {
            scope: { name: 'chaos' },
            metrics: [
              { name: 'quota.points', sum: { dataPoints, aggregationTemporality: 1, isMonotonic: true } },
            ],
          },
        ],
      },
    ],
  };
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': QUOTA_TENANT },
    body: JSON.stringify(body),
  });
}

/** Sends the quota tenant's requests through `url` until stopped; counts the points admitted (200) and refused (403). */
function startQuotaSender(url: string): { stop(): Promise<QuotaRun> } {
  let stopping = false;
  const started = performance.now();
  const run = (async () => {
    let admitted = 0;
    let refused = 0;
    let unknown = 0;
    let sent = 0;
    for (let batch = 0; !stopping; batch++) {
      const response = await sendQuotaRequest(url, batch).catch(() => undefined);
      if (response !== undefined) {
        await response.body?.cancel();
        sent += QUOTA_REQUEST_POINTS;
        if (response.status === 200) admitted += QUOTA_REQUEST_POINTS;
        else if (response.status === 403) refused += QUOTA_REQUEST_POINTS;
        else unknown += QUOTA_REQUEST_POINTS;
      }
      await sleep(QUOTA_PACE_MS);
    }
    return { admitted, refused, unknown, sent, seconds: (performance.now() - started) / 1000 };
  })();
  return {
    stop() {
      stopping = true;
      return run;
    },
  };
}
