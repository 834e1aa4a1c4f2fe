#!/usr/bin/env node
import { ConfigError } from '@tallyhouse/processor-tenant';
import { hashApiKey } from './auth.ts';
import { Collector } from './collector.ts';

// `tallyhouse` runs the collector, configured by env; `tallyhouse hash-key <key>` prints a key's hash
// for TALLYHOUSE_API_KEYS_FILE, so plain keys need not be stored.

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'hash-key') {
    if (argv[1] === undefined) {
      console.error('usage: tallyhouse hash-key <api-key>');
      return 2;
    }
    console.log(hashApiKey(argv[1]));
    return 0;
  }
  let collector: Collector;
  try {
    collector = new Collector();
  } catch (error) {
    if (error instanceof ConfigError || (error as { code?: string }).code === 'TALLYHOUSE_EXPORTER_CONFIG') {
      console.error(`tallyhouse: invalid configuration: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
  await collector.start();
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  collector.logger.info({ signal }, 'signal received');
  // The processor drains, then the exporter drains, each within TALLYHOUSE_SHUTDOWN_TIMEOUT_MS; past both
  // (plus a margin) something is stuck, and exiting non-zero beats hanging forever.
  const hardDeadlineMs = 2 * collector.config.collector.shutdownTimeoutMs + 5_000;
  const deadline = setTimeout(() => {
    collector.logger.fatal(
      { hardDeadlineMs },
      'shutdown deadline passed; exiting with data possibly unwritten',
    );
    process.exit(1);
  }, hardDeadlineMs);
  const outcome = await collector.stop();
  clearTimeout(deadline);
  return outcome.drained ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('tallyhouse: failed to start:', error);
    process.exitCode = 1;
  },
);
