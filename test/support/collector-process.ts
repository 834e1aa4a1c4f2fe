/**
 * The real collector (`packages/collector/src/bin.ts`) as a child process, configured by env only, on a free
 * loopback port with its own data directory. Everything here is bounded in time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const COLLECTOR_BIN = fileURLToPath(new URL('../../packages/collector/src/bin.ts', import.meta.url));
export const SOURCE_CONDITION = '--conditions=@tallyhouse/source';

export interface CollectorProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** `http://127.0.0.1:<port>/v1/metrics` */
  readonly metricsUrl: string;
  readonly dataDir: string;
  /** Everything the collector wrote to stdout and stderr so far (pino JSON lines). */
  output(): string;
  /** SIGTERM, then waits for the exit; resolves with the exit code (SIGKILL after `timeoutMs`, code null). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** A port that was free a moment ago (the kernel picks it; we release it for the collector to bind). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}

export async function startCollector(options: {
  dataDir: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<CollectorProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [SOURCE_CONDITION, COLLECTOR_BIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      TALLYHOUSE_DATA_DIR: options.dataDir,
      TALLYHOUSE_HOST: '127.0.0.1',
      TALLYHOUSE_PORT: String(port),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const collector: CollectorProcess = {
    child,
    port,
    metricsUrl: `http://127.0.0.1:${port}/v1/metrics`,
    dataDir: options.dataDir,
    output: () => output,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return collector;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await collector.stop(2_000);
  throw new Error(`the collector did not become ready on port ${port}:\n${output}`);
}
