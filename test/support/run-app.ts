/** Runs the fixture app (`fixtures/metered-app.ts`) as its own process and returns what it recorded. */
import { fileURLToPath } from 'node:url';
import { lastJsonLine, startNodeProcess } from '../../packages/collector/test/support/node-process.ts';
import type { AppSummary } from '../fixtures/app-summary.ts';

const APP = fileURLToPath(new URL('../fixtures/metered-app.ts', import.meta.url));

export interface AppRun {
  readonly tenant: string;
  readonly instance: string;
  readonly temporality: 'cumulative' | 'delta';
  readonly encoding: 'json' | 'protobuf';
  readonly rounds?: number;
  readonly spoofTenant?: string;
}

export async function runApp(metricsUrl: string, run: AppRun, timeoutMs = 60_000): Promise<AppSummary> {
  // No OTEL_* variables leak in from the test environment: the app is configured by its arguments only.
  const app = startNodeProcess(APP, {
    args: [
      `--url=${metricsUrl}`,
      `--tenant=${run.tenant}`,
      `--instance=${run.instance}`,
      `--temporality=${run.temporality}`,
      `--encoding=${run.encoding}`,
      `--rounds=${run.rounds ?? 4}`,
      ...(run.spoofTenant === undefined ? [] : [`--spoof-tenant=${run.spoofTenant}`]),
    ],
  });
  const label = `app ${run.tenant}/${run.instance} (${run.temporality}, ${run.encoding})`;
  return lastJsonLine<AppSummary>(app, await app.waitForExit(timeoutMs), label);
}
