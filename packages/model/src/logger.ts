/**
 * The one logging contract of every stage: pino's argument order (structured details first, then the
 * message), so the collector hands its pino logger to each stage as it is, and embedders pass theirs.
 */
export interface Logger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

const noop = (): void => {};

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * Warnings and errors on stderr, prefixed with the package name; debug and info dropped. The default of a
 * stage used inside an app: refusals and dead letters must never be silent.
 */
export function consoleLogger(prefix: string): Logger {
  return {
    debug: noop,
    info: noop,
    warn: (details, message) => console.warn(`[${prefix}] ${message}`, details),
    error: (details, message) => console.error(`[${prefix}] ${message}`, details),
  };
}
