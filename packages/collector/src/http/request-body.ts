import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, inflate as inflateCallback } from 'node:zlib';
import { IngestRefusal } from '../ingest/refusal.ts';

const gunzip = promisify(gunzipCallback);
const inflate = promisify(inflateCallback);

/** Reads the body, decompressing gzip/deflate; the size limit applies to the raw and to the decompressed bytes. */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new IngestRefusal('too_large', `request body exceeds ${maxBytes} bytes (after decompression)`);
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const { chunks, size } = await collect(request, maxBytes, tooLarge);
  const raw = Buffer.concat(chunks, size);
  const contentEncoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (contentEncoding === 'identity' || contentEncoding === '') return raw;
  if (contentEncoding !== 'gzip' && contentEncoding !== 'deflate') {
    throw new IngestRefusal(
      'content_encoding',
      `unsupported content encoding ${JSON.stringify(contentEncoding)}: use gzip or none`,
    );
  }
  try {
    return await (contentEncoding === 'gzip' ? gunzip : inflate)(raw, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new IngestRefusal(
      'bad_compression',
      `body is not valid ${contentEncoding}: ${(error as Error).message}`,
    );
  }
}

/**
 * Collects the body with events rather than async iteration: stopping an iterator destroys the socket,
 * and the client would then never read the 413 we send.
 */
function collect(
  request: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<{ chunks: Buffer[]; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      request.off('data', onData);
      request.pause();
      reject(tooLarge());
    };
    request.on('data', onData);
    request.once('end', () => resolve({ chunks, size }));
    request.once('error', reject);
  });
}
