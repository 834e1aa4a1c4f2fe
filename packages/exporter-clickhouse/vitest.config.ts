import { bothStoresConfig } from '../../vitest.shared.ts';

/**
 * The storage suites that run twice: on the embedded engine, and (project `http-store`) on a ClickHouse server
 * over HTTP. The others test one path on purpose: the embedded engine's own failures, the HTTP path's faults, or
 * no storage at all.
 */
const STORAGE_SUITES = [
  'test/round-trip.chdb.test.ts',
  'test/schema.chdb.test.ts',
  'test/dedup-across-layouts.chdb.test.ts',
  'test/upgrade-summary-table.chdb.test.ts',
  'test/upgrade-upstream-columns.chdb.test.ts',
  'test/upgrade-gauge-sources.chdb.test.ts',
  'test/gauge-sources.test.ts',
  'test/usage-reader.test.ts',
  'test/usage-limits.test.ts',
  'test/usage-properties.test.ts',
  'test/usage-time-zones.test.ts',
  'test/usage-admin-reads.test.ts',
  'test/stream-marks.chdb.test.ts',
  'test/quota-usage.chdb.test.ts',
];

export default bothStoresConfig(STORAGE_SUITES);
