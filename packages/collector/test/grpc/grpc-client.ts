/** A raw OTLP/gRPC client for tests: message bytes as given, any metadata; and the RetryInfo of a status. */
import { type Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import { EXPORT_METHOD_PATH } from '../../src/grpc/metrics-service.ts';

/** One `Export` call with `bytes` as the message; `tenant` in `x-tenant-id`, or the metadata entries given. */
export function exportCall(
  via: Client,
  bytes: Buffer,
  tenant: string | Readonly<Record<string, string>> | undefined,
): Promise<{ error?: ServiceError; response?: Buffer }> {
  const metadata = new Metadata();
  const entries = typeof tenant === 'string' ? { 'x-tenant-id': tenant } : (tenant ?? {});
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return new Promise((resolve) => {
    via.makeUnaryRequest(
      EXPORT_METHOD_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      metadata,
      { deadline: Date.now() + 10_000 },
      (error: ServiceError | null, response?: Buffer) => resolve(error ? { error } : { response }),
    );
  });
}

/** The `retry_delay` seconds of a `google.rpc.RetryInfo` in `grpc-status-details-bin`, if there is one. */
export function retryDelaySeconds(error: ServiceError): number | undefined {
  const [details] = error.metadata.get('grpc-status-details-bin') as Buffer[];
  if (details === undefined) return undefined;
  const status = fields(details);
  const any = fields(status.get(3)![0] as Buffer);
  const typeUrl = (any.get(1)![0] as Buffer).toString();
  if (typeUrl !== 'type.googleapis.com/google.rpc.RetryInfo') throw new Error(`unexpected detail ${typeUrl}`);
  const duration = fields(fields(any.get(2)![0] as Buffer).get(1)![0] as Buffer);
  return Number(duration.get(1)?.[0] ?? 0);
}

/** Just enough protobuf reading for the status details: varint and length-delimited fields. */
function fields(bytes: Buffer): Map<number, (number | Buffer)[]> {
  const out = new Map<number, (number | Buffer)[]>();
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 1;
    for (;;) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * shift;
      shift *= 128;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    let value: number | Buffer;
    if (key % 8 === 0) value = varint();
    else {
      const length = varint();
      value = bytes.subarray(at, at + length);
      at += length;
    }
    const field = Math.floor(key / 8);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}
