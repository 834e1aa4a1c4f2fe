#!/usr/bin/env node
import { ConfigError, MAX_TIMER_MS } from '@tallyhouse/model';
import { hashApiKey } from './auth.ts';
import { Collector } from './collector.ts';
import { shutdownDeadlineMs } from './config.ts';

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
    // Host, port and data directory are checked first thing in here, before storage is opened.
    await collector.start();
  } catch (error) {
    // Every setting error of every package is a ConfigError (preflight and data-dir lock errors included).
    if (error instanceof ConfigError) {
      // One line naming the variable: an operator's mistake, not a crash, so no stack trace.
      console.error(`tallyhouse: invalid configuration: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  collector.logger.info({ signal }, 'signal received');
  // The processor drains, then the exporter drains, each within TALLYHOUSE_SHUTDOWN_TIMEOUT_MS; past both
  // (plus a margin) something is stuck, and exiting non-zero beats hanging forever.
  // Config bounds TALLYHOUSE_SHUTDOWN_TIMEOUT_MS so this fits one timer; min() guards embedders' overrides.
  const hardDeadlineMs = Math.min(
    shutdownDeadlineMs(collector.config.collector.shutdownTimeoutMs),
    MAX_TIMER_MS,
  );
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
