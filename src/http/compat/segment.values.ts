import type { z } from 'zod';

export type Props = Record<string, unknown>;

export const isRecord = (v: unknown): v is Props => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A non-blank string, trimmed. */
export const stringOf = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** A non-blank string, trimmed, or a finite number in its decimal form (ids, SKUs, names). */
export const textOf = (v: unknown): string | undefined => (typeof v === 'number' && Number.isFinite(v) ? String(v) : stringOf(v));

/**
 * `record` without the keys whose value `fields` refuses: a foreign message's optional field that
 * does not fit our event loses that field, not the event. Keys `fields` does not name are kept.
 */
export function keepFitting(record: Props, fields: Record<string, z.ZodType>): Props {
  return Object.fromEntries(
    Object.entries(record).filter(([key, value]) => value !== undefined && (!Object.hasOwn(fields, key) || fields[key]!.safeParse(value).success)),
  );
}
