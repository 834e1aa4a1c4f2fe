/** Chaos-test support: tallying OTel SDK apps as child processes, and the totals they expect in storage. */
import { fileURLToPath } from 'node:url';
import { lastJsonLine, startNodeProcess } from '../../packages/collector/test/support/node-process.ts';
import type { StoredStreamTotal } from '../../packages/collector/test/support/stored-in-child.ts';

const APP = fileURLToPath(new URL('./tallying-app.ts', import.meta.url));

export interface AppTally {
  readonly tenant: string;
  readonly service: string;
  readonly temporality: 'delta' | 'cumulative';
  readonly totals: Record<string, number>;
  /** `metric route` → acknowledged value (delta: the sum; cumulative: the last). */
  readonly streams: Record<string, number>;
  /** Failed delta exports (`metric route` → value): each counted whole or not at all. */
  readonly inDoubt: Record<string, number>[];
  readonly stats: { exports: number; succeeded: number; failed: number };
}

export interface RunningApp {
  /** SIGTERM; resolves with the app's tally (what the collector acknowledged). */
  finish(timeoutMs?: number): Promise<AppTally>;
}

export function startTallyingApp(options: {
  url: string;
  tenant: string;
  service: string;
  temporality: 'delta' | 'cumulative';
  intervalMs?: number;
}): RunningApp {
  const app = startNodeProcess(APP, {
    args: [
      `--url=${options.url}`,
      `--tenant=${options.tenant}`,
      `--service=${options.service}`,
      `--temporality=${options.temporality}`,
      `--interval-ms=${options.intervalMs ?? 40}`,
    ],
  });
  return {
    async finish(timeoutMs = 30_000) {
      app.child.kill('SIGTERM');
      return lastJsonLine<AppTally>(app, await app.waitForExit(timeoutMs), `app ${options.service}`);
    },
  };
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
 * the values of some subset of its failed exports, each whole (a request the collector acknowledged whose answer
 * a kill lost, and whose client then gave up retrying) — never part of one, never one twice.
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
