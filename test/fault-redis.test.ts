import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './harness.ts';
import { missingServers, startPrivateRedis, type PrivateRedis } from './servers.ts';
import { expectRecovered, startFaultService, startLoad } from './fault-load.ts';

/** How long Redis stays down while the clients keep sending. */
const OUTAGE_MS = 3_000;

// Only a machine without redis-server skips this; CI has it, so there it must run.
const missing = process.env.CI === 'true' ? undefined : missingServers();
if (missing) console.warn(`skipping the Redis restart test: ${missing}`);

describe.skipIf(missing !== undefined)('Redis killed and restarted mid-ingest', () => {
  let redisServer: PrivateRedis | undefined;
  let fault: Awaited<ReturnType<typeof startFaultService>> | undefined;

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    fault = await startFaultService({ redisUrl: redisServer.url });
  });

  afterAll(async () => {
    // Redis first comes back (if a failed test left it down), so the queues can be closed and emptied.
    if (redisServer && !redisServer.running) await redisServer.start().catch(() => {});
    await fault?.svc.close().catch(() => {});
    await fault?.receiver.close();
    await redisServer?.destroy();
  });

  it('stores every event answered 202 exactly once, refuses with 503 while down, and recovers by itself', async () => {
    const server = redisServer!;
    const { svc: s, receiver, baseUrl } = fault!;

    const load = startLoad({ baseUrl, tag: 'redis', clients: 4 });
    try {
      await load.acceptMore(300);

      const atKill = await s.deps.queues.ingest.getJobCounts('waiting', 'active', 'delayed');
      const backlogAtKill = atKill.waiting! + atKill.active! + atKill.delayed!;
      const killedAt = Date.now();
      await server.kill();
      const deadAt = Date.now();
      const down = await fetch(`${baseUrl}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { failed: string[] }).failed).toContain('redis');
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - killedAt))));
      const restartAt = Date.now();
      await server.start();
      const upAt = Date.now();

      await eventually(async () => ((await fetch(`${baseUrl}/readyz`)).status === 200 ? true : undefined), 30_000, '/readyz to answer 200');
      const readyAt = Date.now();
      await load.acceptMore(200);
      const acceptingAt = Date.now();
      await load.stop();

      expect(load.unexpected).toEqual([]);
      // Sent after Redis died and answered before it was started again: nothing could be queued,
      // so each one is a 503 problem with Retry-After, never a 202.
      const whileDown = load.attempts.filter((a) => a.sentAt >= deadAt && a.answeredAt <= restartAt);
      expect(whileDown.length).toBeGreaterThan(0);
      for (const a of whileDown) {
        expect(a.status).toBe(503);
        expect(a.retryAfter).toMatch(/^\d+$/);
        expect(a.contentType).toMatch(/^application\/problem\+json/);
      }

      const accepted = load.accepted;
      const counts = await expectRecovered(fault!, accepted, 'redis');

      const refused = load.attempts.filter((a) => a.status !== 202).length;
      console.info(
        `redis restart: ${load.requests} requests, ${accepted.length} events accepted, ${counts.rows} stored, ` +
          `${counts.duplicateOrders} duplicated; ${backlogAtKill} ingest jobs not yet stored at the kill; down ${restartAt - killedAt} ms (start took ${upAt - restartAt} ms), ` +
          `${whileDown.length} requests answered while down (all 503), ${refused} refused attempts retried in all; ` +
          `/readyz 200 ${readyAt - upAt} ms and 200 more events accepted ${acceptingAt - upAt} ms after the start; ` +
          `${receiver.received.length} webhook deliveries`,
      );
    } finally {
      await load.stop();
    }
  }, 120_000);
});
