/** What a decoder throws for a malformed request, for tests that check its code, path and message. */
import { OtlpDecodeError } from '../../src/otlp/index.ts';

/** The `OtlpDecodeError` that `decode(input)` throws; any other outcome fails the test. */
export function decodeErrorOf<T>(decode: (input: T) => unknown, input: T): OtlpDecodeError {
  try {
    decode(input);
  } catch (error) {
    if (error instanceof OtlpDecodeError) return error;
    throw error;
  }
  throw new Error('expected an OtlpDecodeError');
}
