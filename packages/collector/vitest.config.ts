import { bothStoresConfig } from '../../vitest.shared.ts';

/**
 * The usage API suites run twice: on the embedded engine, and with the collector writing to and reading from a
 * ClickHouse server over HTTP — `/v1/usage` answers the same on both.
 */
export default bothStoresConfig(['test/usage-api.test.ts', 'test/usage-bounds.test.ts']);
