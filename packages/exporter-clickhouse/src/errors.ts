/** Errors raised by the exporter. Each has a stable `code`; messages name the offending value or variable. */
import { type PointProblemCode, TallyhouseError } from '@tallyhouse/model';

/** The embedded engine (npm `chdb`) could not load on this platform. */
export class EmbeddedEngineUnavailableError extends TallyhouseError {
  constructor(message: string, options?: ErrorOptions) {
    super('TALLYHOUSE_EMBEDDED_ENGINE_UNAVAILABLE', message, options);
  }
}

/** The retry buffer is full: the caller keeps the data and pushes back upstream. */
export class RetentionFullError extends TallyhouseError {
  constructor(message: string) {
    super('TALLYHOUSE_RETENTION_FULL', message);
  }
}

/** `consumeBatch` after `shutdown()` started. */
export class ExporterShutDownError extends TallyhouseError {
  constructor(message: string) {
    super('TALLYHOUSE_EXPORTER_SHUT_DOWN', message);
  }
}

/** A point the encoder refuses to write (it goes to the dead letters instead). */
export class RowEncodingError extends TallyhouseError {
  declare readonly code: RowRejectionCode;

  constructor(code: RowRejectionCode, message: string) {
    super(code, message);
  }
}

export type RowRejectionCode = PointProblemCode;

/** A schema on the server that is newer than this exporter knows. */
export class SchemaVersionError extends TallyhouseError {
  constructor(message: string) {
    super('TALLYHOUSE_SCHEMA_VERSION', message);
  }
}
