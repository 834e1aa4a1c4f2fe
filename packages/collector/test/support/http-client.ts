/**
 * HTTP clients for a collector under test: a raw client that reads early answers (413 while the body is still
 * being sent), raw socket bytes (headers Node's client refuses to send), and a bounded JSON poster that never
 * throws (for clients of a collector that may be SIGKILLed at any moment).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { CONTENT_TYPE, type Encoding, encodeRequest, type OtlpRequest } from './otlp-requests.ts';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpCall {
  method?: string;
  path?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** Send the body in chunks of this size without a Content-Length (Transfer-Encoding: chunked). */
  chunkSize?: number;
}

/**
 * One request on a fresh connection. Resolves with the answer even when the server answers before the body
 * is fully sent and then closes the connection (the 413 case).
 */
export function http(port: number, call: HttpCall = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = typeof call.body === 'string' ? Buffer.from(call.body) : call.body;
    const headers: Record<string, string | number> = { ...call.headers };
    if (body !== undefined && call.chunkSize === undefined) headers['content-length'] = body.length;
    let answered = false;
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: call.method ?? 'POST',
        path: call.path ?? '/v1/metrics',
        headers,
        agent: false,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (body === undefined) {
      req.end();
    } else if (call.chunkSize === undefined) {
      req.end(body);
    } else {
      const size = call.chunkSize;
      let offset = 0;
      const pump = () => {
        while (offset < body.length && !req.destroyed) {
          const chunk = body.subarray(offset, offset + size);
          offset += size;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!req.destroyed) req.end();
      };
      pump();
    }
  });
}

/** Posts an OTLP request object in the given encoding. */
export function postMetrics(
  port: number,
  body: OtlpRequest | Buffer,
  encoding: Encoding,
  headers: Record<string, string | number> = {},
): Promise<HttpAnswer> {
  return http(port, {
    headers: { 'content-type': CONTENT_TYPE[encoding], ...headers },
    body: Buffer.isBuffer(body) ? body : encodeRequest(body, encoding),
  });
}

/** Sends raw bytes on a socket (header bytes Node's client refuses to send) and returns the raw answer. */
export function rawHttp(port: number, bytes: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    // Write without half-closing: Node's server drops a connection whose client ended before a delayed
    // answer (the write-ahead log's fsync delays it). Requests send `connection: close` to end the exchange.
    socket.write(bytes);
  });
}

export interface PostResult {
  readonly status: number | 'error';
  readonly retryAfter?: string | null;
  readonly body?: string;
}

/** Posts an OTLP/JSON body to `url` for `tenant`; a refused connection or a timeout is status `'error'`. */
export async function postJson(
  url: string,
  tenant: string,
  body: string,
  timeoutMs = 10_000,
): Promise<PostResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text };
  } catch {
    return { status: 'error' };
  }
}
