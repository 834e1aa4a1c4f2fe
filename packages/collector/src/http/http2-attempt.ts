/**
 * An HTTP/2 connection on the OTLP/HTTP port — a gRPC exporter pointed at 4318, or `curl --http2-prior-knowledge`
 * — is told where it went wrong instead of being reset without a word. Node's HTTP/1 parser stops at the HTTP/2
 * preface (`HPE_PAUSED_H2_UPGRADE`); the connection, with the bytes read so far, goes to a minimal HTTP/2 server
 * that answers every stream — a gRPC call with UNIMPLEMENTED and a message naming the gRPC port, anything else
 * with 505 — then closes the connection. One warning is logged per connection.
 */
import { createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import type { Logger } from '@tallyhouse/model';

/** An answered connection is closed; one that says nothing for this long is dropped. */
const IDLE_MS = 10_000;
const GRPC_UNIMPLEMENTED = 12;

export interface Http2AttemptOptions {
  /** The OTLP/gRPC port, once listening; `undefined` when gRPC is off. */
  readonly grpcPort: () => number | undefined;
  readonly logger: Logger;
}

export class Http2Attempts {
  private readonly server: Http2Server;
  private readonly options: Http2AttemptOptions;

  constructor(options: Http2AttemptOptions) {
    this.options = options;
    this.server = createServer();
    this.server.on('stream', (stream, headers) => this.answer(stream, String(headers['content-type'] ?? '')));
    this.server.on('session', (session) => {
      session.setTimeout(IDLE_MS, () => session.destroy());
    });
    // A peer that breaks the connection mid-way is not the collector's problem.
    this.server.on('sessionError', () => {});
  }

  /** True for the HTTP/1 parser's error at an HTTP/2 preface. */
  static isHttp2Preface(error: Error & { code?: string }): boolean {
    return error.code === 'HPE_PAUSED_H2_UPGRADE';
  }

  /** Takes over a connection the HTTP/1 server gave up on at the preface; `rawPacket`: the bytes it had read. */
  take(socket: Socket, rawPacket: Buffer | undefined): void {
    const grpcPort = this.options.grpcPort();
    this.options.logger.warn(
      { remote: `${socket.remoteAddress}:${socket.remotePort}`, grpcPort: grpcPort ?? 'off' },
      grpcPort === undefined
        ? 'HTTP/2 connection on the OTLP/HTTP port, which speaks HTTP/1.1 (OTLP/gRPC is off)'
        : `HTTP/2 connection on the OTLP/HTTP port, which speaks HTTP/1.1: OTLP/gRPC listens on port ${grpcPort}`,
    );
    // The HTTP/1 server's listeners go; the bytes it read are replayed ahead of the rest of the connection.
    for (const event of ['data', 'end', 'error', 'timeout', 'drain', 'close'])
      socket.removeAllListeners(event);
    const incoming = new PassThrough();
    if (rawPacket !== undefined) incoming.write(rawPacket);
    socket.pipe(incoming);
    const connection = Duplex.from({ readable: incoming, writable: socket });
    socket.on('error', () => connection.destroy());
    socket.on('close', () => connection.destroy());
    connection.on('error', () => socket.destroy());
    this.server.emit('connection', connection);
  }

  close(): void {
    this.server.close();
  }

  private answer(stream: ServerHttp2Stream, contentType: string): void {
    const grpcPort = this.options.grpcPort();
    const where =
      grpcPort === undefined ? 'OTLP/gRPC is off on this collector' : `send OTLP/gRPC to port ${grpcPort}`;
    const message = `this is the OTLP/HTTP port, HTTP/1.1 only; ${where}`;
    const session = stream.session;
    stream.on('close', () => session?.close());
    if (contentType.startsWith('application/grpc')) {
      // Trailers-only: the status travels in the headers of the one frame.
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(GRPC_UNIMPLEMENTED),
          'grpc-message': message,
        },
        { endStream: true },
      );
      return;
    }
    stream.respond({ ':status': 505, 'content-type': 'text/plain; charset=utf-8' });
    stream.end(`${message}\n`);
  }
}

/**
 * What Node answers to a malformed HTTP/1 request when no `clientError` listener is set (one is, for the
 * preface above), so every other client error is answered exactly as before: 431, 413, 408 or 400, then closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (socket.writable && socket.bytesWritten === 0) {
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? '413 Payload Too Large'
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
    socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy(error);
}
