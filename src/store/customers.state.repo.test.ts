import { getTableConfig } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { STATE_COLUMNS } from '../domain/customer/customer-state.row.ts';
import { customers } from './schema.ts';

// The SQL types drizzle gives the customers table's columns, in the spelling STATE_COLUMNS uses.
const SQL_TYPES: Record<string, string> = {
  text: 'text',
  jsonb: 'jsonb',
  integer: 'integer',
  smallint: 'smallint',
  bigint: 'bigint',
  'double precision': 'double precision',
  boolean: 'boolean',
  'timestamp with time zone': 'timestamptz',
};
const sqlType = (t: string) => SQL_TYPES[t] ?? (t.startsWith('numeric') ? 'numeric' : t);

describe('STATE_COLUMNS', () => {
  const columns = new Map(getTableConfig(customers).columns.map((c) => [c.name, sqlType(c.getSQLType())]));

  it.each(Object.entries(STATE_COLUMNS))('%s is a column of customers of type %s', (name, type) => {
    expect(columns.get(name)).toBe(type);
  });
});
