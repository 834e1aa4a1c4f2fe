import { TallyhouseError } from '@tallyhouse/model';

/** The buffer cannot take more series: the caller should retry later (OTLP 503 + Retry-After). */
export class BufferFullError extends TallyhouseError {
  readonly retryable = true;

  constructor(message: string) {
    super('BUFFER_FULL', message);
  }
}

export class ProcessorShutdownError extends TallyhouseError {
  constructor() {
    super('SHUTDOWN', 'the tenant processor is shut down and accepts no more data');
  }
}
