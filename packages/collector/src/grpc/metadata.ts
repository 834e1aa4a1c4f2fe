/**
 * gRPC metadata as the authenticator reads headers. Metadata text values are ASCII only (HTTP/2 header rules; the
 * clients refuse anything else), so a tenant with other characters travels in the binary header
 * `<tenant header>-bin` (e.g. `x-tenant-id-bin`) as its UTF-8 bytes. Either form counts as the tenant header; both
 * at once are ambiguous, as a repeated header is.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { DistinctHeaders } from '../auth.ts';

/** The credential headers of a call: the tenant header (text or `-bin`), `authorization`, `x-api-key`. */
export function metadataHeaders(metadata: Metadata, tenantHeader: string): DistinctHeaders {
  const headers: DistinctHeaders = {};
  const tenant = [...textValues(metadata, tenantHeader), ...binaryValues(metadata, `${tenantHeader}-bin`)];
  if (tenant.length > 0) headers[tenantHeader] = tenant;
  for (const name of ['authorization', 'x-api-key']) {
    const values = textValues(metadata, name);
    if (values.length > 0) headers[name] = values;
  }
  return headers;
}

function textValues(metadata: Metadata, name: string): string[] {
  return metadata.get(name).filter((value): value is string => typeof value === 'string');
}

/** Bytes as one latin1 character each: what an HTTP header with these bytes looks like to the authenticator. */
function binaryValues(metadata: Metadata, name: string): string[] {
  return metadata
    .get(name)
    .filter((value): value is Buffer => Buffer.isBuffer(value))
    .map((value) => value.toString('latin1'));
}
