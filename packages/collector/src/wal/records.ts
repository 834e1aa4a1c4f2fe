/**
 * The write-ahead log's record types and bodies. Every body is parsed defensively: a record whose content does
 * not parse is reported with a `MalformedRecordError`, never thrown at a start as anything else (the CRC rules
 * out disk damage, so such a record can only come from a writer bug; it must not stop the collector).
 */

import { fromLosslessJson } from '@tallyhouse/model';

/** The request body as received (decompressed), with its encoding, tenant and arrival time. */
export const DATA = 1;
/** Request `lsn` is acknowledged: it counts from here on (a replay applies it at this point). */
export const ACK = 2;
export const FLUSH_START = 3;
export const FLUSH_SETTLED = 4;
/** Request `lsn` failed to apply (or could not be read): set aside in the quarantine. Body: u64 lsn | u8 how. */
export const QUARANTINED = 5;
/** The 200 for request `lsn` was handed to the OS in full: an identical body after it is new data. Body: u64 lsn. */
export const ANSWERED = 6;
/** Held first intervals of cumulative streams were resolved against shared marks: how each is counted (JSON). */
export const STREAMS_RESOLVED = 7;

/** How a quarantined request is treated by every later replay. */
export const Disposition = {
  /** Applying it threw part-way: a replay applies it again the same way (same code, same throw, same state). */
  THREW: 0,
  /** Nothing of it was or will be applied (unreadable, or the process died applying it): replays skip it. */
  SKIPPED: 1,
} as const;
export type Disposition = (typeof Disposition)[keyof typeof Disposition];

export class MalformedRecordError extends Error {
  readonly code = 'WAL_MALFORMED_RECORD';
}

export type BodyEncoding = 'protobuf' | 'json';

export interface DataRecord {
  readonly encoding: BodyEncoding;
  readonly allowAttributeOverride: boolean;
  readonly arrivalMs: number;
  readonly tenant: string;
  readonly body: Buffer;
}

const DATA_HEADER_BYTES = 12;
// ignoreBOM: a tenant that starts with U+FEFF must replay as the same tenant, not lose its first character.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// DATA body: u8 encoding | u8 flags | u64 arrival ms | u16 tenant length | tenant (utf8) | request body
export function encodeData(
  request: { tenant: string; encoding: BodyEncoding; allowAttributeOverride: boolean; body: Uint8Array },
  arrivalMs: number,
): Buffer {
  const tenant = Buffer.from(request.tenant, 'utf8');
  const header = Buffer.allocUnsafe(DATA_HEADER_BYTES + tenant.length);
  header.writeUInt8(request.encoding === 'protobuf' ? 0 : 1, 0);
  header.writeUInt8(request.allowAttributeOverride ? 1 : 0, 1);
  header.writeBigUInt64LE(BigInt(arrivalMs), 2);
  header.writeUInt16LE(tenant.length, 10);
  tenant.copy(header, 12);
  return Buffer.concat([header, request.body]);
}

export function decodeData(body: Buffer): DataRecord {
  if (body.length < DATA_HEADER_BYTES)
    throw new MalformedRecordError(`DATA record of ${body.length} bytes: shorter than its header`);
  const encoding = body.readUInt8(0);
  const flags = body.readUInt8(1);
  if (encoding > 1 || flags > 1)
    throw new MalformedRecordError(`DATA record with encoding ${encoding}, flags ${flags}`);
  const arrival = body.readBigUInt64LE(2);
  if (arrival > BigInt(Number.MAX_SAFE_INTEGER))
    throw new MalformedRecordError(`DATA record with arrival time ${arrival}`);
  const tenantLength = body.readUInt16LE(10);
  if (DATA_HEADER_BYTES + tenantLength > body.length)
    throw new MalformedRecordError(
      `DATA record: tenant of ${tenantLength} bytes in a record of ${body.length}`,
    );
  let tenant: string;
  try {
    tenant = UTF8.decode(body.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + tenantLength));
  } catch {
    throw new MalformedRecordError('DATA record: tenant is not valid UTF-8');
  }
  return {
    encoding: encoding === 0 ? 'protobuf' : 'json',
    allowAttributeOverride: flags === 1,
    arrivalMs: Number(arrival),
    tenant,
    body: body.subarray(DATA_HEADER_BYTES + tenantLength),
  };
}

/** What can be read of a DATA record for a quarantine note, even when the record as a whole does not parse. */
export function describeData(body: Buffer): { tenant?: string; arrivalMs?: number; encoding?: BodyEncoding } {
  try {
    const { tenant, arrivalMs, encoding } = decodeData(body);
    return { tenant, arrivalMs, encoding };
  } catch {
    return {};
  }
}

export function encodeLsn(lsn: bigint): Buffer {
  const buffer = Buffer.allocUnsafe(8);
  buffer.writeBigUInt64LE(lsn);
  return buffer;
}

/** The LSN an ACK or ANSWERED record refers to. */
export function decodeLsn(body: Buffer, type: string): bigint {
  if (body.length !== 8)
    throw new MalformedRecordError(`${type} record of ${body.length} bytes (expected 8)`);
  return body.readBigUInt64LE(0);
}

export function encodeQuarantined(lsn: bigint, how: Disposition): Buffer {
  const buffer = Buffer.allocUnsafe(9);
  buffer.writeBigUInt64LE(lsn);
  buffer.writeUInt8(how, 8);
  return buffer;
}

export function decodeQuarantined(body: Buffer): { lsn: bigint; how: Disposition } {
  if (body.length !== 9)
    throw new MalformedRecordError(`QUARANTINED record of ${body.length} bytes (expected 9)`);
  const how = body.readUInt8(8);
  if (how !== Disposition.THREW && how !== Disposition.SKIPPED)
    throw new MalformedRecordError(`QUARANTINED record with disposition ${how}`);
  return { lsn: body.readBigUInt64LE(0), how };
}

/** A FLUSH_START, FLUSH_SETTLED or STREAMS_RESOLVED body (JSON, lossless where values matter). */
export function decodeJson<T>(body: Buffer, type: string): T {
  try {
    return fromLosslessJson<T>(body.toString('utf8'));
  } catch (error) {
    throw new MalformedRecordError(`${type} record is not JSON: ${(error as Error).message}`);
  }
}
