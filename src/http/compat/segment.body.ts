import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../services/errors.ts';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

const tooLarge = (limit: number) =>
  new AppError(413, 'payload_too_large', `The body exceeds ${Math.round(limit / 1024)} KB once decompressed.`);

async function readAll(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += chunk.length;
    if (length > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

/**
 * preParsing: gzip (RudderStack's default) and deflate bodies are decompressed with zlib. The
 * route's body limit applies to the decompressed size, enforced by zlib's maxOutputLength, so a
 * small zip bomb is a 413 after at most `limit` bytes of output, never a process out of memory.
 */
async function decompress(request: FastifyRequest, _reply: unknown, payload: Readable): Promise<Readable> {
  const encoding = String(request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return payload;
  const unpack = encoding === 'gzip' || encoding === 'x-gzip' ? gunzip : encoding === 'deflate' ? inflate : undefined;
  if (!unpack) throw new AppError(415, 'unsupported_media_type', `Content-Encoding "${encoding}" is not supported; send gzip, deflate or none.`);
  const limit = request.routeOptions.bodyLimit ?? 0;
  const compressed = await readAll(payload, limit);
  let body: Buffer;
  try {
    body = await unpack(compressed, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit);
    throw new AppError(400, 'malformed_body', `The body is not valid ${encoding} data.`);
  }
  // Fastify compares Content-Length with the bytes received on the wire, not the decompressed ones.
  return Object.assign(Readable.from([body]), { receivedEncodedLength: compressed.length });
}

/**
 * Segment's HTTP API and the SDKs send JSON, but not always labelled as such (RudderStack's
 * gzipped body goes out as a bare buffer), so in this scope every content type is parsed as JSON.
 */
export function registerSegmentBody(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string' }, scope.getDefaultJsonParser('error', 'error'));
  scope.addHook('preParsing', decompress);
}
