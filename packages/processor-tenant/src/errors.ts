/** Every error the processor raises has a stable `code` and a message that names the offending value. */
export class TallyhouseError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class InvalidTenantError extends TallyhouseError {
  constructor(message: string) {
    super('INVALID_TENANT', message);
  }
}

/** The buffer cannot take more series: the caller should retry later (OTLP 503 + Retry-After). */
export class BufferFullError extends TallyhouseError {
  readonly retryable = true;

  constructor(message: string) {
    super('BUFFER_FULL', message);
  }
}

export class ConfigError extends TallyhouseError {
  /** The option or environment variable at fault. */
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('INVALID_CONFIG', `${variable}: ${message}`);
    this.variable = variable;
  }
}

export class ProcessorShutdownError extends TallyhouseError {
  constructor() {
    super('SHUTDOWN', 'the tenant processor is shut down and accepts no more data');
  }
}
