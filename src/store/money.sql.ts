import { sql, type SQL } from 'drizzle-orm';

/**
 * A numeric as text in the API's money format, written by Postgres: formatMoney (domain/money.ts)
 * in SQL, for JSON and reports that Postgres writes itself. At least `minorDigits` decimals, more
 * only where the value has non-zero ones (trim_scale drops the column's padding), never rounded.
 */
export function moneyText(value: SQL, minorDigits: number): SQL<string> {
  const trimmed = sql`trim_scale((${value})::numeric)`;
  return sql<string>`round(${trimmed}, greatest(scale(${trimmed}), ${sql.raw(String(Math.trunc(minorDigits)))}))::text`;
}
