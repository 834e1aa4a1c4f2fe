/**
 * The public surface of the collector when it is embedded rather than run as `tallyhouse`: the collector itself,
 * its configuration, the API-key hash for `TALLYHOUSE_API_KEYS`, and the start-up error. Everything else is
 * internal to the package.
 */
export { hashApiKey } from './auth.ts';
export { Collector, type CollectorOptions, type ShutdownOutcome } from './collector.ts';
export {
  type AuthMode,
  COLLECTOR_DEFAULTS,
  type CollectorConfig,
  type CollectorSettings,
  type LogLevel,
  loadCollectorConfig,
} from './config.ts';
export { type PreflightCode, PreflightError } from './preflight.ts';
export type { FsyncPolicy } from './wal/wal.ts';
