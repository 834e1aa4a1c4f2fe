/**
 * The two stores a collector can write to, for suites that must hold on both: the embedded engine in the
 * collector's own data directory (the default), and a ClickHouse server over HTTP (`CLICKHOUSE_URL`) — here the
 * real engine behind the test HTTP endpoint, in its own process, which the test can fault, kill and restart.
 */
import { join } from 'node:path';
import { EndpointProcess } from '@tallyhouse/clickhouse-http-endpoint';
import type { StorageServer } from '../../packages/collector/test/support/stored-in-child.ts';
import { openStoredUsage, openStoredUsageOverHttp, type StoredUsage } from './stored-usage.ts';

export type StoreKind = 'embedded' | 'http';
export const STORE_KINDS: readonly StoreKind[] = ['embedded', 'http'];

const USER = 'tallyhouse';
const PASSWORD = 'test-store-password';

export interface TestStore {
  readonly kind: StoreKind;
  /** What a collector needs to write to this store (nothing for the embedded one: its data dir is the store). */
  readonly collectorEnv: Readonly<Record<string, string>>;
  /** The HTTP store's process (fault switch, kill, restart); `undefined` for the embedded store. */
  readonly endpoint: EndpointProcess | undefined;
  /** The HTTP store as the collector's test support reads it (`readStored*` in a child); `undefined` if embedded. */
  readonly server: StorageServer | undefined;
  /**
   * Reads what was stored. Embedded: only once the collector whose data directory `dataDir` is has exited
   * (the engine binds a data directory to one process). HTTP: at any time.
   */
  open(dataDir: string): StoredUsage;
  close(): Promise<void>;
}

/** Starts a store of `kind`; an HTTP store keeps its engine's files under `dir`. */
export async function startStore(kind: StoreKind, dir: string): Promise<TestStore> {
  if (kind === 'embedded') {
    return {
      kind,
      collectorEnv: {},
      endpoint: undefined,
      server: undefined,
      open: (dataDir) => openStoredUsage(dataDir),
      close: async () => {},
    };
  }
  const endpoint = await EndpointProcess.start({
    dataDir: join(dir, 'clickhouse'),
    user: USER,
    password: PASSWORD,
  });
  return {
    kind,
    collectorEnv: { CLICKHOUSE_URL: endpoint.url, CLICKHOUSE_USER: USER, CLICKHOUSE_PASSWORD: PASSWORD },
    endpoint,
    server: { url: endpoint.url, username: USER, password: PASSWORD },
    open: () => openStoredUsageOverHttp({ url: endpoint.url, username: USER, password: PASSWORD }),
    close: () => endpoint.stop(),
  };
}
