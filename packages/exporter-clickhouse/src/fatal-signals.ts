/**
 * The embedded engine (ClickHouse inside chDB) installs its own handlers for the fatal signals when it loads.
 * They hand the signal to a listener thread that the embedded engine never runs, so the process stops in the
 * handler instead of dying: a V8 "heap out of memory" (which ends in `abort()`) or a native crash would leave
 * the process hanging forever, holding its data directory, where a supervisor expects it to exit and restarts
 * it. Node's signal machinery (libuv) puts a signal back to its default disposition when the last listener
 * for it is removed, so adding and removing one listener restores the default: the process dies as Node's own
 * would, with the signal's exit status and Node's report on stderr.
 */
const FATAL_SIGNALS = ['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE'] as const;

export function restoreDefaultFatalSignals(): void {
  const ignore = () => {};
  for (const signal of FATAL_SIGNALS) {
    // Leave signals alone that the application itself listens to: their disposition is its own choice.
    if (process.listenerCount(signal) > 0) continue;
    process.on(signal, ignore);
    process.off(signal, ignore);
  }
}
