/** The exporter logs through this small interface so the collector can route it; attributes stay structured. */
export interface ExporterLogger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** Warnings and errors on stderr (dead letters and refusals must never be silent); debug/info dropped. */
export const defaultLogger: ExporterLogger = {
  debug: noop,
  info: noop,
  warn: (message, attributes) =>
    console.warn(`[tallyhouse/exporter-clickhouse] ${message}`, attributes ?? ''),
  error: (message, attributes) =>
    console.error(`[tallyhouse/exporter-clickhouse] ${message}`, attributes ?? ''),
};

export const silentLogger: ExporterLogger = { debug: noop, info: noop, warn: noop, error: noop };
