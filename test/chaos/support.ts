/** Chaos-test support: tallying OTel SDK apps as child processes, and the totals they expect in storage. */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { lastJsonLine, startNodeProcess } from '../../packages/collector/test/support/node-process.ts';
import type { StoredStreamTotal } from '../../packages/collector/test/support/stored-in-child.ts';

const APP = fileURLToPath(new URL('./tallying-app.ts', import.meta.url));

export interface AppTally {
  readonly tenant: string;
  readonly service: string;
  readonly temporality: 'delta' | 'cumulative';
  readonly protocol: 'http' | 'http-protobuf' | 'grpc';
  readonly totals: Record<string, number>;
  /** `metric route` → acknowledged value (delta: the sum; cumulative: the last). */
  readonly streams: Record<string, number>;
  /**
   * Failed delta exports (`metric route` → value): each counted whole or not at all. Not those that certainly
   * never left the client (`stats.unsent`): storage must not hold them.
   */
  readonly inDoubt: Record<string, number>[];
  /** `unsent`: of the failed, those that certainly never left the client (gRPC without a connection). */
  readonly stats: { exports: number; succeeded: number; failed: number; unsent: number };
  /** Failed exports by error message (first line, digits masked as N). */
  readonly failures: Record<string, number>;
  /** How long the final exports took until one succeeded (60 s at most). */
  readonly finalMs: number;
}

export interface RunningApp {
  /** SIGTERM; resolves with the app's tally (what the collector acknowledged). */
  finish(timeoutMs?: number): Promise<AppTally>;
}

/**
 * Starts a tallying app. `protocol` `http` (default) exports to `url` (`http://127.0.0.1:<port>/v1/metrics`),
 * `grpc` to `grpcUrl` (`http://127.0.0.1:<grpcPort>`).
 */
export function startTallyingApp(options: {
  url: string;
  tenant: string;
  service: string;
  temporality: 'delta' | 'cumulative';
  protocol?: 'http' | 'http-protobuf' | 'grpc';
  grpcUrl?: string;
  intervalMs?: number;
}): RunningApp {
  const protocol = options.protocol ?? 'http';
  if (protocol === 'grpc' && options.grpcUrl === undefined) throw new Error('a gRPC app needs grpcUrl');
  const app = startNodeProcess(APP, {
    args: [
      `--url=${protocol === 'grpc' ? options.grpcUrl : options.url}`,
      `--protocol=${protocol}`,
      `--tenant=${options.tenant}`,
      `--service=${options.service}`,
      `--temporality=${options.temporality}`,
      `--interval-ms=${options.intervalMs ?? 40}`,
    ],
  });
  return {
    async finish(timeoutMs = 90_000) {
      app.child.kill('SIGTERM');
      return lastJsonLine<AppTally>(app, await app.waitForExit(timeoutMs), `app ${options.service}`);
    },
  };
}

/**
 * Three apps exporting every 100 ms through `url`: a delta, a cumulative and a delta one, for the tenants given
 * (in that order): what the storage chaos runs keep up while storage misbehaves.
 */
export function startStorageChaosApps(url: string, tenants: readonly [string, string, string]): RunningApp[] {
  const [first, second, third] = tenants;
  return [
    startTallyingApp({
      url,
      tenant: first,
      service: `${first}-delta`,
      temporality: 'delta',
      intervalMs: 100,
    }),
    startTallyingApp({
      url,
      tenant: second,
      service: `${second}-cum`,
      temporality: 'cumulative',
      intervalMs: 100,
    }),
    startTallyingApp({
      url,
      tenant: third,
      service: `${third}-delta`,
      temporality: 'delta',
      intervalMs: 100,
    }),
  ];
}

/**
 * Waits until the collector at `metricsUrl` retains no rows for storage (its exporter's backoff brings every
 * retained part back), or `timeoutMs` passed.
 */
export async function waitForStorageDrain(metricsUrl: string, timeoutMs: number): Promise<void> {
  const retainedRows = async () => {
    const text = await (await fetch(metricsUrl.replace('/v1/metrics', '/metrics'))).text();
    return Number(/^tallyhouse_retained_rows (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  };
  const until = performance.now() + timeoutMs;
  while ((await retainedRows()) > 0 && performance.now() < until) await sleep(250);
}

/** Expected `tenant/metric` totals from the apps' tallies. */
export function expectedTotals(tallies: readonly AppTally[]): Record<string, number> {
  const expected: Record<string, number> = {};
  for (const tally of tallies)
    for (const [metric, total] of Object.entries(tally.totals))
      expected[`${tally.tenant}/${metric}`] = (expected[`${tally.tenant}/${metric}`] ?? 0) + total;
  return expected;
}

/**
 * Compares each app's streams with storage and returns what storage cannot be explained by. A cumulative app's
 * streams must equal its last acknowledged values. A delta app's streams must hold what it got a 200 for plus
 * the values of some subset of its failed exports in doubt, each whole (a request the collector acknowledged
 * whose answer a kill lost, and which its client did not retry or gave up retrying) — never part of one, never
 * one twice.
 */
export function unexplainedStorage(
  tallies: readonly AppTally[],
  stored: readonly StoredStreamTotal[],
): string[] {
  const problems: string[] = [];
  for (const tally of tallies) {
    const storedStreams = new Map(
      stored
        .filter((row) => row.tenant === tally.tenant && row.service === tally.service)
        .map((row) => [`${row.metric} ${row.route}`, row.total]),
    );
    const keys = [...new Set([...Object.keys(tally.streams), ...storedStreams.keys()])].sort();
    const excess = keys.map((key) => (storedStreams.get(key) ?? 0) - (tally.streams[key] ?? 0));
    const candidates = tally.temporality === 'delta' ? tally.inDoubt : [];
    if (
      !isSubsetSum(
        excess,
        candidates.map((values) => keys.map((key) => values[key] ?? 0)),
      )
    )
      problems.push(
        `${tally.tenant}/${tally.service}: stored minus acknowledged per stream ${JSON.stringify(
          Object.fromEntries(keys.map((key, i) => [key, excess[i]])),
        )} is not the sum of whole failed exports ${JSON.stringify(candidates)}`,
      );
  }
  return problems;
}

/** Whether `target` is the component-wise sum of some subset of `vectors` (the empty one included). */
function isSubsetSum(target: readonly number[], vectors: readonly (readonly number[])[]): boolean {
  let reachable = new Set([target.map(() => 0).join(',')]);
  for (const vector of vectors) {
    const next = new Set(reachable);
    for (const key of reachable)
      next.add(
        key
          .split(',')
          .map((value, i) => Number(value) + (vector[i] ?? 0))
          .join(','),
      );
    reachable = next;
  }
  return reachable.has(target.join(','));
}
