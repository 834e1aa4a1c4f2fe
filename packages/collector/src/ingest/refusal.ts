/**
 * Why a request was refused, protocol-neutral: each protocol maps the kind to its own answer (OTLP/HTTP: a status
 * code, a `google.rpc.Code` and `Retry-After`). The kinds are also the `reason` of the `request refused` log line.
 */
export type RefusalKind =
  /** The protocol's framing: a content type it does not speak. */
  | 'content_type'
  /** The protocol's framing: a compression it does not speak. */
  | 'content_encoding'
  /** The protocol's framing: the body does not decompress. */
  | 'bad_compression'
  /** The protocol's framing: the body is over the size limit, raw or decompressed. */
  | 'too_large'
  | 'bad_payload'
  | 'unauthenticated'
  /** Push-back: shutting down, memory, buffer or log full. Retryable. */
  | 'unavailable'
  /** The tenant's rate limit. Retryable. */
  | 'rate_limited'
  /** The tenant's quota. Not retryable (until the period ends). */
  | 'quota_exceeded';

/** A refused request: nothing of it is kept. The message names the problem and is sent to the client. */
export class IngestRefusal extends Error {
  readonly kind: RefusalKind;
  /** Set on the retryable kinds: when the client may try again. */
  readonly retryAfterSeconds: number | undefined;
  readonly tenant: string | undefined;

  constructor(
    kind: RefusalKind,
    message: string,
    extra: { retryAfterSeconds?: number; tenant?: string } = {},
  ) {
    super(message);
    this.kind = kind;
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.tenant = extra.tenant;
  }
}
