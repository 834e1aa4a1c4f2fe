import { resolve } from 'node:path';
import { ConfigError } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config.ts';
import { resolveExporterConfig } from '../src/index.ts';

describe('resolveExporterConfig', () => {
  it('with no options and no environment: embedded chDB under ./.tallyhouse, database otel', () => {
    const config = resolveExporterConfig({ env: {} });
    expect(config.url).toBeUndefined();
    expect(config.database).toBe('otel');
    expect(config.dataDir).toBe(resolve('./.tallyhouse'));
    expect(config.username).toBe('default');
    expect(config.password).toBe('');
    expect(config.createSchema).toBe(true);
    expect(config.retryInitialDelayMs).toBe(1000);
    expect(config.retryMaxDelayMs).toBe(30_000);
    expect(config.maxRetainedRows).toBe(DEFAULTS.maxRetainedRows);
    expect(config.spool).toBe(false);
  });

  it('reads the environment', () => {
    const config = resolveExporterConfig({
      env: {
        CLICKHOUSE_URL: 'https://ch.example:8443',
        CLICKHOUSE_USER: 'writer',
        CLICKHOUSE_PASSWORD: 's3cret',
        CLICKHOUSE_DATABASE: 'usage',
        TALLYHOUSE_DATA_DIR: '/var/lib/tallyhouse',
        TALLYHOUSE_TENANT_ATTRIBUTE: 'org.id',
        TALLYHOUSE_CREATE_SCHEMA: 'false',
        TALLYHOUSE_TTL_DAYS: '400',
        TALLYHOUSE_CLICKHOUSE_CLUSTER: 'main',
        TALLYHOUSE_ASYNC_INSERT: 'on',
        TALLYHOUSE_RETRY_INITIAL_MS: '200',
        TALLYHOUSE_RETRY_MAX_MS: '5000',
        TALLYHOUSE_RETAIN_MAX_ROWS: '10',
        TALLYHOUSE_RETAIN_MAX_BYTES: '1000',
        TALLYHOUSE_SPOOL: '1',
        TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: '0',
        TALLYHOUSE_DEDUP_WINDOW: '100',
        TALLYHOUSE_REQUEST_TIMEOUT_MS: '1500',
      },
    });
    expect(config).toMatchObject({
      url: 'https://ch.example:8443',
      username: 'writer',
      password: 's3cret',
      database: 'usage',
      dataDir: '/var/lib/tallyhouse',
      tenantAttribute: 'org.id',
      createSchema: false,
      ttlDays: 400,
      cluster: 'main',
      asyncInsert: true,
      retryInitialDelayMs: 200,
      retryMaxDelayMs: 5000,
      maxRetainedRows: 10,
      maxRetainedBytes: 1000,
      spool: true,
      shutdownTimeoutMs: 0,
      dedupWindow: 100,
      requestTimeoutMs: 1500,
    });
  });

  it('reads a sharded cluster only with its cluster name and a server URL, naming the variable otherwise', () => {
    const env = { CLICKHOUSE_URL: 'http://ch:8123', TALLYHOUSE_CLICKHOUSE_CLUSTER: 'main' };
    expect(resolveExporterConfig({ env }).sharded).toBe(false);
    expect(resolveExporterConfig({ env: { ...env, TALLYHOUSE_CLICKHOUSE_SHARDED: 'true' } }).sharded).toBe(
      true,
    );
    for (const partial of [
      { CLICKHOUSE_URL: 'http://ch:8123', TALLYHOUSE_CLICKHOUSE_SHARDED: 'true' },
      { TALLYHOUSE_CLICKHOUSE_CLUSTER: 'main', TALLYHOUSE_CLICKHOUSE_SHARDED: 'true' },
    ]) {
      const error = (() => {
        try {
          resolveExporterConfig({ env: partial });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).toMatch(
        /TALLYHOUSE_CLICKHOUSE_SHARDED.*TALLYHOUSE_CLICKHOUSE_CLUSTER.*CLICKHOUSE_URL/,
      );
    }
  });

  it('lets options win over the environment', () => {
    const config = resolveExporterConfig({ database: 'mine', env: { CLICKHOUSE_DATABASE: 'theirs' } });
    expect(config.database).toBe('mine');
  });

  it.each([
    [{ CLICKHOUSE_URL: 'not a url' }, /CLICKHOUSE_URL/],
    [{ CLICKHOUSE_URL: 'ftp://x' }, /CLICKHOUSE_URL/],
    [{ CLICKHOUSE_DATABASE: 'drop table;' }, /CLICKHOUSE_DATABASE/],
    [{ TALLYHOUSE_CLICKHOUSE_CLUSTER: 'a b' }, /TALLYHOUSE_CLICKHOUSE_CLUSTER/],
    [{ TALLYHOUSE_TTL_DAYS: '0' }, /TALLYHOUSE_TTL_DAYS/],
    [{ TALLYHOUSE_TTL_DAYS: 'ten' }, /TALLYHOUSE_TTL_DAYS/],
    [{ TALLYHOUSE_SPOOL: 'maybe' }, /TALLYHOUSE_SPOOL/],
    [{ TALLYHOUSE_RETRY_INITIAL_MS: '5000', TALLYHOUSE_RETRY_MAX_MS: '10' }, /TALLYHOUSE_RETRY_MAX_MS/],
    [{ TALLYHOUSE_RETAIN_MAX_ROWS: '-1' }, /TALLYHOUSE_RETAIN_MAX_ROWS/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => resolveExporterConfig({ env })).toThrow(ConfigError);
    expect(() => resolveExporterConfig({ env })).toThrow(message);
  });
});
