import type pg from 'pg';
import QueryStream from 'pg-query-stream';

/** The columns of a segment export, in order. */
export const EXPORT_COLUMNS = [
  'customer_id', 'email', 'tier', 'lifecycle_stage', 'rfm_segment', 'abc_class', 'value_score',
  'net_revenue', 'order_count', 'last_order_at', 'at_risk', 'region',
] as const;

export type ExportRow = Record<(typeof EXPORT_COLUMNS)[number], unknown>;

/**
 * Every member of a segment with its tier and scores, as a stream of rows read through a
 * server-side cursor, so memory stays flat however large the segment. The stream holds a
 * connection of `pool` until `release` is called.
 */
export async function streamSegmentMembers(pool: pg.Pool, segmentKey: string): Promise<{ rows: NodeJS.ReadableStream; release: () => void }> {
  const client = await pool.connect();
  const rows = client.query(
    new QueryStream(
      `select c.id as customer_id, c.traits ->> 'email' as email, c.tier, c.lifecycle_stage, c.rfm_segment, c.abc_class,
              c.value_score, c.net_revenue::text as net_revenue, c.order_count, c.last_order_at, c.at_risk, c.region
       from segment_members m join customers c on c.id = m.customer_id
       where m.segment_key = $1 order by m.customer_id`,
      [segmentKey],
      { batchSize: 1000 },
    ),
  );
  return { rows, release: () => client.release() };
}
