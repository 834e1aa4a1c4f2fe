/** Errors raised by the exporter. Each has a stable `code`; messages name the offending value or variable. */

export class ExporterConfigError extends Error {
  readonly code = 'TALLYHOUSE_EXPORTER_CONFIG';
  override readonly name = 'ExporterConfigError';
}

/** The embedded engine (npm `chdb`) could not load on this platform. */
export class EmbeddedEngineUnavailableError extends Error {
  readonly code = 'TALLYHOUSE_EMBEDDED_ENGINE_UNAVAILABLE';
  override readonly name = 'EmbeddedEngineUnavailableError';
}

/** The retry buffer is full: the caller keeps the data and pushes back upstream. */
export class RetentionFullError extends Error {
  readonly code = 'TALLYHOUSE_RETENTION_FULL';
  override readonly name = 'RetentionFullError';
}

/** `consumeBatch`/`export` after `shutdown()` started. */
export class ExporterShutDownError extends Error {
  readonly code = 'TALLYHOUSE_EXPORTER_SHUT_DOWN';
  override readonly name = 'ExporterShutDownError';
}

/** A point the encoder refuses to write (it goes to the dead letters instead). */
export class RowEncodingError extends Error {
  readonly code: RowRejectionCode;
  override readonly name = 'RowEncodingError';
  constructor(code: RowRejectionCode, message: string) {
    super(message);
    this.code = code;
  }
}

export type RowRejectionCode = 'INVALID_TENANT' | 'NON_FINITE_SUM' | 'TIME_OUT_OF_RANGE' | 'INVALID_VALUE';

/** A schema on the server that is newer than this exporter knows. */
export class SchemaVersionError extends Error {
  readonly code = 'TALLYHOUSE_SCHEMA_VERSION';
  override readonly name = 'SchemaVersionError';
}
