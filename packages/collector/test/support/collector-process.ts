/**
 * The real collector (`src/bin.ts`) as a child process, configured by env only, on a loopback port (a free one
 * unless given, so a test can restart it on the same port) and, when given, a data directory. SIGKILL needs a
 * process; so do exit codes and chDB, which binds one data directory per process.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type NodeProcess, type NodeProcessOptions, startNodeProcess } from './node-process.ts';

export const COLLECTOR_BIN = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));

/** A port that was free a moment ago (the kernel picks it; it is released for the collector to bind). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}

export interface CollectorProcess extends NodeProcess {
  readonly port: number;
  /** `http://127.0.0.1:<port>/v1/metrics` */
  readonly metricsUrl: string;
}

export interface CollectorProcessOptions extends Omit<NodeProcessOptions, 'env'> {
  /** TALLYHOUSE_DATA_DIR; unset when not given. */
  readonly dataDir?: string;
  /** TALLYHOUSE_PORT (on 127.0.0.1); a free port when not given. */
  readonly port?: number;
  /** More settings; they win over the ones above. */
  readonly env?: Readonly<Record<string, string>>;
  /** What to wait for before resolving: `/readyz` (default), `/healthz` (storage may be down), or nothing. */
  readonly wait?: 'readyz' | 'healthz' | 'none';
  readonly readyTimeoutMs?: number;
}

export async function startCollectorProcess(
  options: CollectorProcessOptions = {},
): Promise<CollectorProcess> {
  const { dataDir, port: givenPort, env, wait = 'readyz', readyTimeoutMs = 60_000, ...spawn } = options;
  const port = givenPort ?? (await freePort());
  const collector: CollectorProcess = {
    ...startNodeProcess(COLLECTOR_BIN, {
      ...spawn,
      env: {
        ...(dataDir === undefined ? {} : { TALLYHOUSE_DATA_DIR: dataDir }),
        TALLYHOUSE_HOST: '127.0.0.1',
        TALLYHOUSE_PORT: String(port),
        // gRPC only where a test asks for it: a fixed 4317 would collide between parallel test files.
        TALLYHOUSE_GRPC_PORT: 'off',
        ...env,
      },
    }),
    port,
    metricsUrl: `http://127.0.0.1:${port}/v1/metrics`,
  };
  if (wait === 'none') return collector;
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline && collector.running()) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/${wait}`, {
        signal: AbortSignal.timeout(1_000),
      });
      await response.body?.cancel();
      if (response.ok) return collector;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const exit = await collector.kill();
  throw new Error(
    `collector not answering /${wait} on port ${port} (${JSON.stringify(exit)}):\n${collector.output()}`,
  );
}
