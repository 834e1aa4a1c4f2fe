/** Chaos-test support: tallying OTel SDK apps as child processes, and the totals they expect in storage. */
import { fileURLToPath } from 'node:url';
import { lastJsonLine, startNodeProcess } from '../../packages/collector/test/support/node-process.ts';

const APP = fileURLToPath(new URL('./tallying-app.ts', import.meta.url));

export interface AppTally {
  readonly tenant: string;
  readonly service: string;
  readonly temporality: 'delta' | 'cumulative';
  readonly totals: Record<string, number>;
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
