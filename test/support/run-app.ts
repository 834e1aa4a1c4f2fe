/** Runs the fixture app (`fixtures/metered-app.ts`) as its own process and returns what it recorded. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppSummary } from '../fixtures/app-summary.ts';
import { SOURCE_CONDITION } from './collector-process.ts';

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
  const args = [
    SOURCE_CONDITION,
    APP,
    `--url=${metricsUrl}`,
    `--tenant=${run.tenant}`,
    `--instance=${run.instance}`,
    `--temporality=${run.temporality}`,
    `--encoding=${run.encoding}`,
    `--rounds=${run.rounds ?? 4}`,
    ...(run.spoofTenant === undefined ? [] : [`--spoof-tenant=${run.spoofTenant}`]),
  ];
  // No OTEL_* variables leak in from the test environment: the app is configured by its arguments only.
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  );
  clearTimeout(timer);
  const label = `app ${run.tenant}/${run.instance} (${run.temporality}, ${run.encoding})`;
  if (code !== 0) throw new Error(`${label} exited with ${code}:\n${stderr}${stdout}`);
  const last = stdout.trim().split('\n').at(-1);
  if (last === undefined) throw new Error(`${label} printed no summary:\n${stderr}`);
  return JSON.parse(last) as AppSummary;
}
