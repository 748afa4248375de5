import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, eventually } from './harness.ts';
import { missingServers, startPrivatePostgres, type PrivatePostgres } from './servers.ts';
import { expectRecovered, startFaultService, startLoad, storedCounts } from './fault-load.ts';

/** How long Postgres stays down while the clients keep sending. */
const OUTAGE_MS = 3_000;

// Only a machine without the Postgres binaries skips this; CI has them, so there it must run.
const missing = process.env.CI === 'true' ? undefined : missingServers();
if (missing) console.warn(`skipping the Postgres restart test: ${missing}`);

describe.skipIf(missing !== undefined)('Postgres restarted mid-ingest', () => {
  let pgServer: PrivatePostgres | undefined;
  let fault: Awaited<ReturnType<typeof startFaultService>> | undefined;

  beforeAll(async () => {
    pgServer = await startPrivatePostgres();
    fault = await startFaultService({ databaseUrl: pgServer.url });
  });

  afterAll(async () => {
    // Postgres first comes back (if a failed test left it down), so the database can be dropped.
    if (pgServer && !pgServer.running) await pgServer.start().catch(() => {});
    await fault?.svc.close().catch(() => {});
    await fault?.receiver.close();
    await pgServer?.destroy();
  });

  it('stores every accepted event exactly once and recovers by itself', async () => {
    const server = pgServer!;
    const { svc: s, receiver, baseUrl } = fault!;

    const load = startLoad({ baseUrl, tag: 'pg', clients: 4 });
    try {
      await load.acceptMore(300);

      const storedBefore = (await storedCounts(s)).rows;
      const stoppedAt = Date.now();
      await server.stop('immediate');
      const down = await fetch(`${baseUrl}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { failed: string[] }).failed).toContain('postgres');
      // A read needs Postgres: a 503 to retry, not a 500.
      const read = await fetch(`${baseUrl}/v1/customers/pg-c1`, { headers: auth() });
      expect(read.status).toBe(503);
      expect(read.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(read.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      // Redis holds what is accepted, so ingest goes on while Postgres is down.
      await load.acceptMore(100);
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
      const restartAt = Date.now();
      await server.start();
      const upAt = Date.now();

      await eventually(async () => ((await fetch(`${baseUrl}/readyz`)).status === 200 ? true : undefined), 30_000, '/readyz to answer 200');
      const readyAt = Date.now();
      // The workers store again without being restarted (their jobs retried with backoff).
      await eventually(async () => ((await storedCounts(s)).rows > storedBefore ? true : undefined), 30_000, 'the workers to store again');
      const storingAt = Date.now();
      await load.acceptMore(200);
      await load.stop();

      expect(load.unexpected).toEqual([]);
      const accepted = load.accepted;
      const counts = await expectRecovered(fault!, accepted, 'pg');

      const during = load.attempts.filter((a) => a.sentAt >= stoppedAt && a.answeredAt <= upAt);
      console.info(
        `postgres restart: ${load.requests} requests, ${accepted.length} events accepted, ${counts.rows} stored, ` +
          `${counts.duplicateOrders} duplicated; down ${restartAt - stoppedAt} ms (start took ${upAt - restartAt} ms), ` +
          `${during.filter((a) => a.status === 202).length} requests accepted while down, /readyz 200 ${readyAt - upAt} ms and storing again ${storingAt - upAt} ms after the start; ` +
          `${receiver.received.length} webhook deliveries`,
      );
    } finally {
      await load.stop();
    }
  }, 120_000);
});
