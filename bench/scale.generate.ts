/**
 * A synthetic shop written straight into Postgres with generate_series: customers, then order
 * events (and a few refunds) in customer order. Deterministic for a given size: every value comes
 * from hashes of the row numbers, not random().
 *
 * - 10% of customers are prospects (no order); the orders are spread so that the top ~9% of
 *   customers get ~40 orders each and the rest ~8 (a long tail);
 * - order instants spread over 3 years before `now`, skewed towards recent ones;
 * - amounts 5.00–404.99, one of 3 channels, one of 20 regions per customer; 2% of orders refunded in part.
 */
import type pg from 'pg';

export interface ShopSize {
  customers: number;
  orders: number;
}

const CHUNK = 1_000_000;

// A uniform value in [0, 1) from a row number and a salt.
const u = (expr: string, salt: number) => `(('x' || substr(md5(${expr}::text || '-${salt}'), 1, 8))::bit(32)::bigint / 4294967296.0)`;

export async function generateShop(client: pg.Client, size: ShopSize, now: Date, log: (line: string) => void): Promise<void> {
  const buyers = Math.max(1, Math.floor(size.customers * 0.9));
  const top = Math.max(1, Math.floor(buyers * 0.1));
  await client.query('set synchronous_commit = off');
  await client.query(`set maintenance_work_mem = '512MB'`);
  await client.query(
    `insert into customers (id, created_at)
     select 'cus-' || lpad(i::text, 8, '0'), $1::timestamptz - interval '3 years' from generate_series(1, $2::int) i`,
    [now, size.customers],
  );
  log(`customers: ${size.customers.toLocaleString('en-US')}`);
  for (let start = 1; start <= size.orders; start += CHUNK) {
    const end = Math.min(size.orders, start + CHUNK - 1);
    // 30% of orders go to the top 10% of buyers; instants: 3 years × u², so recent ones are denser.
    await client.query(
      `insert into events (id, customer_id, type, occurred_at, received_at, order_id, data)
       select 'ev-o-' || i, 'cus-' || lpad(c::text, 8, '0'), 'order', at, at, 'o-' || i,
         jsonb_build_object('order_id', 'o-' || i, 'amount', (5 + floor(${u('i', 3)} * 40000) / 100)::numeric(10, 2)::text,
           'channel', (array['online', 'store', 'app'])[1 + floor(${u('i', 4)} * 3)::int],
           'region', 'r' || (c % 20))
       from (
         select i,
           case when ${u('i', 1)} < 0.3 then 1 + floor(${u('i', 2)} * $1::int) else 1 + floor(${u('i', 2)} * $2::int) end::bigint as c,
           $3::timestamptz - (interval '1095 days') * power(${u('i', 5)}, 2) - interval '1 minute' as at
         from generate_series($4::bigint, $5::bigint) i
       ) o
       order by c, at`,
      [top, buyers, now, start, end],
    );
    log(`orders: ${end.toLocaleString('en-US')} / ${size.orders.toLocaleString('en-US')}`);
  }
  await client.query(
    `insert into events (id, customer_id, type, occurred_at, received_at, order_id, data)
     select 'ev-r-' || substr(e.id, 6), e.customer_id, 'refund', e.occurred_at + interval '1 day', e.occurred_at + interval '1 day', e.order_id,
       jsonb_build_object('order_id', e.order_id, 'amount', round((e.data ->> 'amount')::numeric / 3, 2)::text)
     from events e
     where e.type = 'order' and ${u('substr(e.id, 6)', 6)} < 0.02 and e.occurred_at + interval '1 day' < $1::timestamptz`,
    [now],
  );
  await client.query('vacuum (analyze) customers');
  await client.query('vacuum (analyze) events');
  log('refunds written, tables analyzed');
}
