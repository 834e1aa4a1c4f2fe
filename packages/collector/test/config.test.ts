/**
 * Every collector setting is read from env once and validated with an error naming the variable and the
 * bad value; the defaults are those of ARCHITECTURE.md's environment table.
 */
import { resolve } from 'node:path';
import { resolveExporterConfig } from '@tallyhouse/exporter-clickhouse';
import { ConfigError, MAX_TIMER_MS } from '@tallyhouse/model';
import { resolveFlushOptions } from '@tallyhouse/processor-tenant';
import { describe, expect, it } from 'vitest';
import { MAX_SHUTDOWN_TIMEOUT_MS, shutdownDeadlineMs } from '../src/config.ts';
import { COLLECTOR_DEFAULTS, Collector, loadCollectorConfig } from '../src/index.ts';

/** Runs `loadCollectorConfig(env)` and returns the error it throws. */
function configErrorOf(env: Record<string, string>): Error & { variable?: string; code?: string } {
  try {
    loadCollectorConfig(env);
  } catch (error) {
    return error as Error & { variable?: string };
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('defaults (ARCHITECTURE.md environment table)', () => {
  const config = loadCollectorConfig({});

  it('listens on 127.0.0.1:4318 with header auth on x-tenant-id', () => {
    expect(config.collector).toMatchObject({
      host: '127.0.0.1',
      port: 4318,
      auth: 'header',
      tenantHeader: 'x-tenant-id',
      apiKeysFile: undefined,
      allowTenantOverride: false,
    });
    expect(config.collector).toEqual(COLLECTOR_DEFAULTS);
  });

  it('shares stream marks and quota counters only through a server store (the embedded one has one process)', () => {
    expect(config.collector).toMatchObject({ streamMarks: false, sharedQuotas: false });
    const server = loadCollectorConfig({ CLICKHOUSE_URL: 'http://127.0.0.1:8123' });
    expect(server.collector).toMatchObject({ streamMarks: true, sharedQuotas: true });
    const off = loadCollectorConfig({
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
      TALLYHOUSE_STREAM_MARKS: 'false',
      TALLYHOUSE_SHARED_QUOTAS: 'false',
    });
    expect(off.collector).toMatchObject({ streamMarks: false, sharedQuotas: false });
    const on = loadCollectorConfig({ TALLYHOUSE_STREAM_MARKS: 'true', TALLYHOUSE_SHARED_QUOTAS: 'true' });
    expect(on.collector).toMatchObject({ streamMarks: true, sharedQuotas: true });
  });

  it('uses embedded chDB in ./.tallyhouse with database otel and user default', () => {
    expect(config.exporter).toMatchObject({
      url: undefined,
      username: 'default',
      password: '',
      database: 'otel',
      dataDir: resolve('./.tallyhouse'),
      tenantAttribute: 'tenant.id',
    });
  });

  it('flushes every 10 s or at 50000 series (ARCHITECTURE says 5000; see the processor README), tenant attribute tenant.id, keeping service.name', () => {
    expect(config.processor).toMatchObject({
      flushIntervalMs: 10_000,
      flushMaxSeries: 50_000,
      tenantAttribute: 'tenant.id',
      keepResourceAttributes: ['service.name'],
    });
  });

  it('limits bodies to 16 MiB and tells clients to retry after 5 s', () => {
    expect(config.collector.maxBodyBytes).toBe(16 * 1024 * 1024);
    expect(config.collector.retryAfterSeconds).toBe(5);
    expect(config.collector.logLevel).toBe('info');
  });
});

describe('valid values are read', () => {
  it('reads every collector variable', () => {
    const config = loadCollectorConfig({
      TALLYHOUSE_HOST: '0.0.0.0',
      TALLYHOUSE_PORT: ' 9000 ',
      TALLYHOUSE_AUTH: 'apikey',
      TALLYHOUSE_API_KEYS_FILE: '/etc/tallyhouse/keys.json',
      TALLYHOUSE_TENANT_HEADER: 'X-Org-Id',
      TALLYHOUSE_ALLOW_TENANT_OVERRIDE: 'Yes',
      TALLYHOUSE_MAX_BODY_BYTES: '1024',
      TALLYHOUSE_RETRY_AFTER_SECONDS: '30',
      TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: '2500',
      TALLYHOUSE_LOG_LEVEL: 'debug',
      TALLYHOUSE_FLUSH_INTERVAL_MS: '250',
      TALLYHOUSE_FLUSH_MAX_SERIES: '7',
      TALLYHOUSE_TENANT_ATTRIBUTE: 'org.id',
      CLICKHOUSE_URL: 'https://ch.example:8443',
      CLICKHOUSE_DATABASE: 'usage',
    });
    expect(config.collector).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      auth: 'apikey',
      tenantHeader: 'x-org-id',
      apiKeysFile: '/etc/tallyhouse/keys.json',
      allowTenantOverride: true,
      maxBodyBytes: 1024,
      retryAfterSeconds: 30,
      shutdownTimeoutMs: 2500,
      logLevel: 'debug',
    });
    expect(config.processor).toMatchObject({
      flushIntervalMs: 250,
      flushMaxSeries: 7,
      tenantAttribute: 'org.id',
      shutdownTimeoutMs: 2500,
    });
    expect(config.exporter).toMatchObject({
      url: 'https://ch.example:8443',
      database: 'usage',
      tenantAttribute: 'org.id',
    });
  });

  it.each([
    ['1', true],
    ['true', true],
    ['on', true],
    ['0', false],
    ['false', false],
    ['off', false],
    ['no', false],
    ['', false],
  ])('reads TALLYHOUSE_ALLOW_TENANT_OVERRIDE=%j as %s', (raw, expected) => {
    expect(loadCollectorConfig({ TALLYHOUSE_ALLOW_TENANT_OVERRIDE: raw }).collector.allowTenantOverride).toBe(
      expected,
    );
  });

  it('treats empty variables as unset', () => {
    expect(
      loadCollectorConfig({ TALLYHOUSE_PORT: '', TALLYHOUSE_AUTH: ' ', TALLYHOUSE_LOG_LEVEL: '' }).collector,
    ).toMatchObject({ port: 4318, auth: 'header', logLevel: 'info' });
  });

  it('lets overrides win over env without validating them (port 0 for tests)', () => {
    expect(loadCollectorConfig({ TALLYHOUSE_PORT: '9000' }, { collector: { port: 0 } }).collector.port).toBe(
      0,
    );
  });
});

describe('invalid values are refused with an error naming the variable and the value', () => {
  it.each<[string, string, RegExp]>([
    ['TALLYHOUSE_PORT', 'abc', /expected a positive integer, got "abc"/],
    ['TALLYHOUSE_PORT', '70000', /expected a port 1-65535, got 70000/],
    ['TALLYHOUSE_PORT', '0', /expected a positive integer, got "0"/],
    ['TALLYHOUSE_PORT', '80.5', /got "80\.5"/],
    ['TALLYHOUSE_PORT', '-1', /got "-1"/],
    ['TALLYHOUSE_AUTH', 'oauth', /expected one of header, apikey, got "oauth"/],
    [
      'TALLYHOUSE_LOG_LEVEL',
      'loud',
      /expected one of trace, debug, info, warn, error, fatal, silent, got "loud"/,
    ],
    ['TALLYHOUSE_MAX_BODY_BYTES', '0', /expected a positive integer, got "0"/],
    ['TALLYHOUSE_MAX_BODY_BYTES', '1e6', /got "1e6"/],
    ['TALLYHOUSE_MAX_BODY_BYTES', '100000000000000000000', /got "100000000000000000000"/],
    ['TALLYHOUSE_ALLOW_TENANT_OVERRIDE', 'maybe', /expected true or false, got "maybe"/],
    ['TALLYHOUSE_TENANT_HEADER', 'x tenant', /not a valid HTTP header name: "x tenant"/],
    ['TALLYHOUSE_TENANT_HEADER', 'x-tenant:', /not a valid HTTP header name: "x-tenant:"/],
    ['TALLYHOUSE_RETRY_AFTER_SECONDS', 'soon', /got "soon"/],
    ['TALLYHOUSE_SHUTDOWN_TIMEOUT_MS', '1.5', /got "1\.5"/],
    ['TALLYHOUSE_FLUSH_INTERVAL_MS', '-1', /expected a positive integer, got "-1"/],
    ['TALLYHOUSE_FLUSH_MAX_SERIES', 'many', /got "many"/],
    ['TALLYHOUSE_MAX_BUFFERED_SERIES', '0', /got "0"/],
    ['TALLYHOUSE_MAX_SERIES_PER_TENANT', 'x', /got "x"/],
    ['TALLYHOUSE_TENANT_ATTRIBUTE', ' tenant ', /got " tenant "/],
    ['TALLYHOUSE_DEFAULT_TENANT', 'd'.repeat(129), /129 chars, at most 128/],
  ])('%s=%j', (variable, value, detail) => {
    const error = configErrorOf({ [variable]: value });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^${variable}: `));
    expect(error.message).toMatch(detail);
  });

  it('TALLYHOUSE_AUTH=apikey without TALLYHOUSE_API_KEYS_FILE', () => {
    const error = configErrorOf({ TALLYHOUSE_AUTH: 'apikey' });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe('TALLYHOUSE_API_KEYS_FILE');
    expect(error.message).toBe('TALLYHOUSE_API_KEYS_FILE: must name a file when TALLYHOUSE_AUTH=apikey');
  });

  it.each<[string, string, RegExp]>([
    ['CLICKHOUSE_URL', 'ftp://x', /^CLICKHOUSE_URL: must be http:\/\/ or https:\/\/, got "ftp:"/],
    ['CLICKHOUSE_URL', 'not a url', /^CLICKHOUSE_URL: not a URL: "not a url"/],
    ['CLICKHOUSE_DATABASE', 'otel-prod', /^CLICKHOUSE_DATABASE: .*"otel-prod"/],
    ['TALLYHOUSE_TTL_DAYS', '0', /^TALLYHOUSE_TTL_DAYS: expected a positive integer, got "0"/],
  ])('%s=%j (exporter setting: the same error type as every other setting)', (variable, value, message) => {
    const error = configErrorOf({ [variable]: value });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  it('refuses bad settings when a Collector is constructed, before it opens anything', () => {
    expect(() => new Collector({ env: { TALLYHOUSE_PORT: '70000' } })).toThrow(/^TALLYHOUSE_PORT: /);
    expect(() => new Collector({ env: { CLICKHOUSE_URL: 'ftp://x' } })).toThrow(/CLICKHOUSE_URL/);
  });
});

describe('every duration that reaches a timer fits what Node can schedule (2147483647 ms)', () => {
  it('is the real limit: Node fires a longer timer after 1 ms, and keeps one of exactly the limit waiting', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    let overflowed = false;
    let atLimit = false;
    const over = setTimeout(() => {
      overflowed = true;
    }, MAX_TIMER_MS + 1);
    const exact = setTimeout(() => {
      atLimit = true;
    }, MAX_TIMER_MS);
    await new Promise((resolve) => setTimeout(resolve, 50));
    clearTimeout(over);
    clearTimeout(exact);
    process.off('warning', onWarning);
    expect(overflowed).toBe(true);
    expect(atLimit).toBe(false);
    expect(warnings).toContain('TimeoutOverflowWarning');
  });

  const timerBound = `expected at most ${MAX_TIMER_MS} ms (the longest delay a Node.js timer can wait), got ${MAX_TIMER_MS + 1}`;

  it.each<[string, string]>([
    ['TALLYHOUSE_FLUSH_INTERVAL_MS', timerBound],
    ['TALLYHOUSE_STREAM_STALENESS_MS', timerBound],
    ['TALLYHOUSE_WAL_GROUP_COMMIT_MS', timerBound],
    ['TALLYHOUSE_WAL_DEDUP_WINDOW_MS', timerBound],
    ['TALLYHOUSE_QUERY_CACHE_TTL_MS', timerBound],
  ])('refuses %s=2147483648 naming the maximum, and takes 2147483647', (variable, message) => {
    const error = configErrorOf({ [variable]: String(MAX_TIMER_MS + 1) });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe(variable);
    expect(error.message).toBe(`${variable}: ${message}`);
    expect(() => loadCollectorConfig({ [variable]: String(MAX_TIMER_MS) })).not.toThrow();
  });

  it.each(['TALLYHOUSE_REQUEST_TIMEOUT_MS', 'TALLYHOUSE_RETRY_INITIAL_MS', 'TALLYHOUSE_RETRY_MAX_MS'])(
    'refuses %s=2147483648 naming the maximum, and takes 2147483647 (exporter setting)',
    (variable) => {
      const error = configErrorOf({
        TALLYHOUSE_RETRY_MAX_MS: String(MAX_TIMER_MS),
        [variable]: String(MAX_TIMER_MS + 1),
      });
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.variable).toBe(variable);
      expect(error.message).toBe(`${variable}: ${timerBound}`);
      expect(() =>
        loadCollectorConfig({
          TALLYHOUSE_RETRY_MAX_MS: String(MAX_TIMER_MS),
          [variable]: String(MAX_TIMER_MS),
        }),
      ).not.toThrow();
    },
  );

  it('refuses TALLYHOUSE_SHUTDOWN_TIMEOUT_MS=1100000000: its exit deadline (2 × it + 5 s) would overflow', () => {
    expect(MAX_SHUTDOWN_TIMEOUT_MS).toBe(1_073_739_323);
    expect(shutdownDeadlineMs(MAX_SHUTDOWN_TIMEOUT_MS)).toBeLessThanOrEqual(MAX_TIMER_MS);
    const error = configErrorOf({ TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: '1100000000' });
    expect(error.variable).toBe('TALLYHOUSE_SHUTDOWN_TIMEOUT_MS');
    expect(error.message).toBe(
      `TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: expected at most ${MAX_SHUTDOWN_TIMEOUT_MS} ms (the exit deadline, 2 × this + 5000 ms, must fit the longest delay a Node.js timer can wait, ${MAX_TIMER_MS} ms), got 1100000000`,
    );
    const config = loadCollectorConfig({ TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: String(MAX_SHUTDOWN_TIMEOUT_MS) });
    expect(config.processor.shutdownTimeoutMs).toBe(MAX_SHUTDOWN_TIMEOUT_MS);
    expect(config.exporter.shutdownTimeoutMs).toBe(MAX_SHUTDOWN_TIMEOUT_MS);
  });

  it('bounds the shutdown timeout in the processor and the exporter too, for embedders using them alone', () => {
    const env = { TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: String(MAX_TIMER_MS + 1) };
    expect(() => resolveFlushOptions({}, env)).toThrow(
      `TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: expected at most ${MAX_TIMER_MS} ms`,
    );
    expect(() => resolveExporterConfig({ env })).toThrow(
      `TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: expected at most ${MAX_TIMER_MS} ms`,
    );
    expect(() => resolveFlushOptions({ flushIntervalMs: MAX_TIMER_MS + 1 }, {})).toThrow(
      /^TALLYHOUSE_FLUSH_INTERVAL_MS: expected at most/,
    );
  });

  it('refuses TALLYHOUSE_RETRY_AFTER_SECONDS past 2147483 s: clients wait it out with a Node-sized timer', () => {
    const error = configErrorOf({ TALLYHOUSE_RETRY_AFTER_SECONDS: '2147484' });
    expect(error.variable).toBe('TALLYHOUSE_RETRY_AFTER_SECONDS');
    expect(error.message).toBe(
      'TALLYHOUSE_RETRY_AFTER_SECONDS: expected at most 2147483 s (clients wait it out with a timer, which cannot wait longer), got 2147484',
    );
    expect(
      loadCollectorConfig({ TALLYHOUSE_RETRY_AFTER_SECONDS: '2147483' }).collector.retryAfterSeconds,
    ).toBe(2_147_483);
  });
});
