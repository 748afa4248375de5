import { z } from 'zod';
import { AppError } from '../services/errors.ts';
import { unstorableStrings } from '../domain/text.ts';

/** Opaque keyset cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // A forged cursor must not carry what Postgres cannot take (NUL, lone surrogates).
    if (unstorableStrings(value).length > 0) throw new Error('unstorable text');
    return schema.parse(value);
  } catch {
    throw new AppError(400, 'validation_failed', 'The cursor is not one this API returned.', [
      { path: 'cursor', message: 'is invalid' },
    ]);
  }
}
