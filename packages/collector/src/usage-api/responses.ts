/** The usage API's answers on the wire: JSON bodies, errors as `google.rpc.Status`. */
import type { ServerResponse } from 'node:http';
import { encodeRpcStatus } from '../otlp/index.ts';
import type { Answer } from './answer.ts';

export function sendError(response: ServerResponse, status: number, code: number, message: string): number {
  return send(response, status, Buffer.from(encodeRpcStatus({ code, message }, 'json')));
}

/** Writes the pieces as they are (the socket takes them as a vector), with the total length. */
export function sendAnswer(response: ServerResponse, answer: Answer): number {
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.bytes });
  response.cork();
  for (const part of answer.parts) response.write(part);
  response.end();
  return 200;
}

function send(response: ServerResponse, status: number, body: Buffer): number {
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': body.byteLength });
  response.end(body);
  return status;
}
