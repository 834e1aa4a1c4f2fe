/** Chaos-test support: tallying OTel SDK apps as child processes, a seeded random, a bounded sleep. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const APP = fileURLToPath(new URL('./tallying-app.ts', import.meta.url));
const SOURCE_CONDITION = '--conditions=@tallyhouse/source';

export interface AppTally {
  readonly tenant: string;
  readonly service: string;
  readonly temporality: 'delta' | 'cumulative';
  readonly totals: Record<string, number>;
  readonly stats: { exports: number; succeeded: number; failed: number };
}

export interface RunningApp {
  readonly child: ChildProcess;
  /** SIGTERM; resolves with the app's tally (what the collector acknowledged). */
  finish(timeoutMs?: number): Promise<AppTally>;
}

const live = new Set<ChildProcess>();

export function killAllApps() {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export function startTallyingApp(options: {
  url: string;
  tenant: string;
  service: string;
  temporality: 'delta' | 'cumulative';
  intervalMs?: number;
}): RunningApp {
  const child = spawn(
    process.execPath,
    [
      SOURCE_CONDITION,
      APP,
      `--url=${options.url}`,
      `--tenant=${options.tenant}`,
      `--service=${options.service}`,
      `--temporality=${options.temporality}`,
      `--interval-ms=${options.intervalMs ?? 40}`,
    ],
    {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    async finish(timeoutMs = 30_000) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      const last = stdout.trim().split('\n').at(-1);
      if (code !== 0 || last === undefined)
        throw new Error(`app ${options.service} exited with ${code}:\n${stderr}\n${stdout}`);
      return JSON.parse(last) as AppTally;
    },
  };
}

/** Mulberry32: seeded, so a failing run can be replayed with CHAOS_SEED. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Expected `tenant/metric` totals from the apps' tallies. */
export function expectedTotals(tallies: readonly AppTally[]): Record<string, number> {
  const expected: Record<string, number> = {};
  for (const tally of tallies)
    for (const [metric, total] of Object.entries(tally.totals))
      expected[`${tally.tenant}/${metric}`] = (expected[`${tally.tenant}/${metric}`] ?? 0) + total;
  return expected;
}
