/**
 * A real collector in this process, on a free loopback port, with the embedded engine in a temporary data
 * directory and — unless told otherwise — the admin key set, so it serves the console.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collector } from '@tallyhouse/collector';

export const ADMIN_KEY = 'console-test-admin-key-0123456789';

export interface RunningCollector {
  readonly collector: Collector;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Writes everything received so far to storage. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export interface CollectorSetup {
  /** TALLYHOUSE_ADMIN_KEY; `null` for none (the console is off). */
  readonly adminKey?: string | null;
  /** The per-tenant limits file's content (TALLYHOUSE_LIMITS_FILE). */
  readonly limits?: object;
  readonly env?: Readonly<Record<string, string>>;
}

export async function startCollector(setup: CollectorSetup = {}): Promise<RunningCollector> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tallyhouse-console-'));
  const adminKey = setup.adminKey === undefined ? ADMIN_KEY : setup.adminKey;
  const env: Record<string, string> = {
    TALLYHOUSE_DATA_DIR: join(dataDir, 'data'),
    TALLYHOUSE_LOG_LEVEL: 'silent',
    // Only flush() flushes: what arrives together is merged together (the tests' truth models one flush).
    TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
    ...(adminKey === null ? {} : { TALLYHOUSE_ADMIN_KEY: adminKey }),
    ...setup.env,
  };
  if (setup.limits !== undefined) {
    env.TALLYHOUSE_LIMITS_FILE = join(dataDir, 'limits.json');
    writeFileSync(env.TALLYHOUSE_LIMITS_FILE, JSON.stringify(setup.limits));
  }
  // An explicit env: CLICKHOUSE_URL and the like from the surroundings do not apply.
  const collector = new Collector({ env, collector: { host: '127.0.0.1', port: 0, grpcPort: 'off' } });
  const { port } = await collector.start();
  return {
    collector,
    port,
    origin: `http://127.0.0.1:${port}`,
    flush: () => collector.processor.forceFlush().then(() => undefined),
    async stop() {
      await collector.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
