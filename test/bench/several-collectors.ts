/**
 * Several collectors behind nginx, one store: aggregate ingest throughput of 1, 2 and 3 collector processes behind
 * a real nginx (consistent hash of the tenant) writing to one ClickHouse over HTTP (the test endpoint: the real
 * engine in its own process), against one collector reached directly (the baseline: what nginx costs). Then the
 * cost of the state the collectors share: one round of a flush's stream-mark lookups (claims written, marks read
 * back) for 1, 100 and 1,000 streams seen for the first time, and one quota sync (counters written, changes read).
 *
 *   npm run bench -w test                  # 2 rounds of 8 s per setup, 8 workers, 500 points per request
 *   npm run bench -w test -- --rounds=3 --duration=4 --clients=16 --points=1000 --tenants=24
 *
 * Load: pre-encoded OTLP/HTTP protobuf delta exports from the real SDK (the collector benchmark's payloads), closed
 * loop, one request in flight per worker. Every setup starts fresh collectors; the store is shared by all setups.
 * The setups take turns over the rounds, in order and then reversed, so none always meets a fuller store; the table
 * gives each setup's median round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickHouseMetricExporter } from '@tallyhouse/exporter-clickhouse';
import { type StreamMark, silentLogger } from '@tallyhouse/model';
import { httpSender } from '../../packages/collector/bench/http-load.ts';
import { runLoad, summarize } from '../../packages/collector/bench/load.ts';
import { buildPayloads } from '../../packages/collector/bench/payloads.ts';
import { killStrayProcesses } from '../../packages/collector/test/support/node-process.ts';
import { type FleetCollector, startCollectors } from '../support/collectors.ts';
import { ensureNginx, type Nginx, startNginx } from '../support/nginx.ts';
import { startStore } from '../support/stores.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    clients: { type: 'string', default: '8' },
    points: { type: 'string', default: '500' },
    tenants: { type: 'string', default: '12' },
  },
});
const durationSeconds = Number(args.duration);
const rounds = Number(args.rounds);
const clients = Number(args.clients);
const pointsPerRequest = Number(args.points);
const tenantCount = Number(args.tenants);

const root = mkdtempSync(join(tmpdir(), 'tallyhouse-bench-fleet-'));
let fleet: FleetCollector[] = [];
let proxy: Nginx | undefined;

interface Row {
  setup: string;
  pointsPerSecond: number;
  p50: number;
  p99: number;
  pushedBack: number;
  failed: number;
}

async function main() {
  await ensureNginx();
  const store = await startStore('http', join(root, 'store'));
  const payloads = await buildPayloads({ tenants: tenantCount, pointsPerRequest, variants: 4 });
  const env = { ...store.collectorEnv, TALLYHOUSE_LOG_LEVEL: 'warn' };
  const rows: Row[] = [];
  const setups: { name: string; collectors: number; viaNginx: boolean }[] = [
    { name: '1 collector, direct', collectors: 1, viaNginx: false },
    { name: '1 collector behind nginx', collectors: 1, viaNginx: true },
    { name: '2 collectors behind nginx', collectors: 2, viaNginx: true },
    { name: '3 collectors behind nginx', collectors: 3, viaNginx: true },
  ];
  const runs: { setup: (typeof setups)[number]; run: number }[] = [];
  for (let round = 0; round < rounds; round++)
    for (const setup of round % 2 === 0 ? setups : [...setups].reverse())
      runs.push({ setup, run: runs.length });
  for (const { setup, run: index } of runs) {
    fleet = await startCollectors({
      count: setup.collectors,
      dataDir: (i) => join(root, `run-${index}-collector-${i}`),
      env,
    });
    proxy = setup.viaNginx
      ? await startNginx({
          dir: join(root, `nginx-${index}`),
          upstreams: fleet.map((collector) => collector.address),
          routing: 'tenant-hash',
        })
      : undefined;
    const base = proxy?.url ?? `http://${fleet[0]!.address}`;
    const sender = httpSender(base, clients);
    const result = await runLoad(sender, { payloads, clients, durationSeconds, warmUpMs: 2_000 }, new Map());
    await sender.close();
    const summary = summarize(result);
    rows.push({
      setup: setup.name,
      pointsPerSecond: Math.round(summary.pointsPerSecond),
      p50: Number(summary.p50.toFixed(1)),
      p99: Number(summary.p99.toFixed(1)),
      pushedBack: result.pushedBack,
      failed: result.failed,
    });
    await proxy?.stop();
    proxy = undefined;
    await Promise.all(fleet.map((collector) => collector.stop()));
    fleet = [];
  }
  const medians = setups.map((setup) => {
    const mine = rows
      .filter((row) => row.setup === setup.name)
      .sort((a, b) => a.pointsPerSecond - b.pointsPerSecond);
    return mine[Math.floor((mine.length - 1) / 2)]!;
  });
  const baseline = medians[0]!.pointsPerSecond;
  console.log(
    `\nSeveral collectors, one store (${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)}; ${clients} workers, ${pointsPerRequest} points/request, ${tenantCount} tenants; median of ${rounds} rounds of ${durationSeconds} s)`,
  );
  console.table(
    medians.map((row) => ({
      ...row,
      rounds: rows
        .filter((each) => each.setup === row.setup)
        .map((each) => each.pointsPerSecond)
        .join(' / '),
      'vs direct': Number((row.pointsPerSecond / baseline).toFixed(2)),
    })),
  );

  // The shared state's lookups, on the same store (what a flush adds when streams are new, and a quota sync).
  const exporter = new ClickHouseMetricExporter({
    dataDir: join(root, 'lookups'),
    env: store.collectorEnv,
    logger: silentLogger,
  });
  await exporter.start();
  const marks = exporter.streamMarks('bench-collector');
  const quotas = exporter.quotaUsage('bench-collector');
  const lookups: Record<string, string | number>[] = [];
  for (const streams of [1, 100, 1_000]) {
    const times: number[] = [];
    for (let round = 0; round < 7; round++) {
      const claims: StreamMark[] = Array.from({ length: streams }, (_, i) => ({
        key: `bench-${streams}-${round}-${i}`,
        tenant: `tenant-${i % tenantCount}`,
        owner: 'bench-collector',
        kind: 'claim',
        startTimeUnixNano: 1_700_000_000_000_000_000n,
        timeUnixNano: 1_700_000_060_000_000_000n + BigInt(round),
        value: { value: i },
      }));
      const started = performance.now();
      await marks.write(claims);
      await marks.read(claims.map((claim) => ({ key: claim.key, tenant: claim.tenant })));
      times.push(performance.now() - started);
    }
    const median = times.sort((a, b) => a - b)[3]!;
    lookups.push({
      'shared state': `stream marks: ${streams} new stream(s) in one flush`,
      'ms per round': Number(median.toFixed(1)),
      'µs per stream': Number(((median * 1000) / streams).toFixed(0)),
    });
  }
  for (const tenants of [1, 1_000]) {
    const times: number[] = [];
    await quotas.readChanged();
    for (let round = 0; round < 7; round++) {
      const now = Date.now();
      const started = performance.now();
      await quotas.write(
        Array.from({ length: tenants }, (_, i) => ({
          tenant: `tenant-${i}`,
          period: 'month' as const,
          periodStartMs: Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1),
          used: round * 10 + i,
        })),
      );
      await quotas.readChanged();
      times.push(performance.now() - started);
    }
    const median = times.sort((a, b) => a - b)[3]!;
    lookups.push({
      'shared state': `quota sync: ${tenants} changed tenant(s)`,
      'ms per round': Number(median.toFixed(1)),
      'µs per stream': '-',
    });
  }
  await exporter.shutdown();
  console.table(lookups);
  await store.close();
}

try {
  await main();
} finally {
  await proxy?.stop().catch(() => undefined);
  await Promise.all(fleet.map((collector) => collector.kill().catch(() => undefined)));
  killStrayProcesses();
  rmSync(root, { recursive: true, force: true });
}
