/**
 * The collector's command (`packages/collector/src/bin.ts`, what `npm start` runs) as a child process, configured
 * by env only: a second collector next to the in-process one (the embedded engine takes one data directory per
 * process).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../collector/src/bin.ts', import.meta.url));

export interface CollectorProcess {
  readonly port: number;
  readonly origin: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startCollectorProcess(
  env: Readonly<Record<string, string>>,
): Promise<CollectorProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tallyhouse-console-process-'));
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@tallyhouse/source', BIN], {
    env: {
      PATH: process.env.PATH ?? '',
      TALLYHOUSE_DATA_DIR: dataDir,
      TALLYHOUSE_HOST: '127.0.0.1',
      TALLYHOUSE_PORT: String(port),
      TALLYHOUSE_GRPC_PORT: 'off',
      TALLYHOUSE_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return { port, origin: `http://127.0.0.1:${port}`, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`the collector did not get ready on port ${port}:\n${output}`);
}
