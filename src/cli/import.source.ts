import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface ImportSource {
  /** the file's text, decompressed; a read or gzip error destroys it with that error */
  stream: Readable;
  /** size of the file on disk (compressed, when it is) */
  size: number;
  gzip: boolean;
  /** bytes of the file read so far, for progress */
  bytesRead(): number;
  /** whether the text read so far ends with a newline (then the parser's last line is an empty one) */
  endsWithNewline(): boolean;
}

const READ_CHUNK = 256 * 1024;

/** Opens a CSV file, gunzipping it when it starts with the gzip magic bytes (whatever its name). */
export async function openImportSource(file: string): Promise<ImportSource> {
  const handle = await open(file, 'r');
  let size: number;
  let gzip: boolean;
  try {
    size = (await handle.stat()).size;
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    gzip = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
  if (!gzip && /\.gz$/i.test(file)) throw new Error(`${file} is named .gz but is not gzip-compressed`);
  let read = 0;
  let lastByte = -1;
  const counted = tap((chunk) => (read += chunk.length));
  const text = tap((chunk) => {
    if (chunk.length > 0) lastByte = chunk[chunk.length - 1]!;
  });
  const input = createReadStream(file, { highWaterMark: READ_CHUNK });
  // The error is the consumer's to handle: pipeline destroys `text` with it.
  const ignore = () => {};
  if (gzip) pipeline(input, counted, createGunzip({ chunkSize: READ_CHUNK }), text, ignore);
  else pipeline(input, counted, text, ignore);
  return { stream: text, size, gzip, bytesRead: () => read, endsWithNewline: () => lastByte === 0x0a };
}

function tap(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onChunk(chunk);
      callback(null, chunk);
    },
  });
}
