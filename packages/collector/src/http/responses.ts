import type { ServerResponse } from 'node:http';
import { encodeRpcStatus, type OtlpEncoding } from '../otlp/index.ts';

/** The content type of each OTLP encoding, for answers in the request's encoding. */
export const CONTENT_TYPES: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** An error answer: a `google.rpc.Status` body in the given encoding. Returns the status. */
export function sendStatus(
  response: ServerResponse,
  status: number,
  code: number,
  message: string,
  encoding: OtlpEncoding,
): number {
  return send(response, status, encodeRpcStatus({ code, message }, encoding), CONTENT_TYPES[encoding]);
}

export function sendText(
  response: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
): number {
  return send(response, status, Buffer.from(text, 'utf8'), contentType);
}

export function send(
  response: ServerResponse,
  status: number,
  body: Uint8Array,
  contentType: string,
): number {
  response.writeHead(status, { 'content-type': contentType, 'content-length': body.byteLength });
  response.end(body);
  return status;
}
