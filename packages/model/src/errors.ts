/**
 * The base of every error a Tallyhouse stage raises on purpose: a stable `code` callers branch on, and a
 * message that names the offending value, variable, field or tenant.
 */
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

/** A setting that cannot be used. The message starts with the variable (or option) at fault. */
export class ConfigError extends TallyhouseError {
  /** The environment variable (or, for settings without one, the option) at fault. */
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('INVALID_CONFIG', `${variable}: ${message}`);
    this.variable = variable;
  }
}
