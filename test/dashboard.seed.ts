/**
 * A small shop for the dashboard, seeded only through the public API of a listening service:
 * orders, refunds and cancellations (the deterministic population of the scoring tests), a few
 * prospects, complaints and poor ratings, a saved segment, a tier-policy change (so the migration
 * report has moves) and a webhook endpoint with deliveries. Used by the e2e test and the
 * screenshot script.
 */
import { planPopulation, toEvents } from './population.fixture.ts';
import { eventually } from './eventually.ts';

const REGIONS = ['Shanghai', 'Beijing', 'Guangdong', 'Zhejiang', 'Jiangsu', 'Sichuan'];
const NAMES = ['Li Wei', 'Wang Fang', 'Zhang Min', 'Liu Yang', 'Chen Jing', 'Yang Lei', 'Zhao Li', 'Huang Tao'];

export interface Shop {
  base: string;
  adminKey: string;
  readKey: string;
  /** Instant between the first scoring and the policy change: `from` of the migration report. */
  beforePolicyChange: string;
}

async function call(base: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}


export async function seedShop(base: string, adminKey: string, options: { customers?: number; webhookUrl?: string; now?: Date } = {}): Promise<Shop> {
  const admin = (method: string, path: string, body?: unknown) => call(base, adminKey, method, path, body);
  const waitJob = (jobId: string) =>
    eventually(async () => {
      const job = await admin('GET', `/v1/jobs/${jobId}`);
      if (job.status === 'failed') throw new Error(`job ${jobId} failed: ${job.error}`);
      return job.status === 'completed' ? job : undefined;
    }, 60_000, `job ${jobId}`);
  const now = options.now ?? new Date();
  const day = 86_400_000;

  if (options.webhookUrl) await admin('POST', '/v1/webhooks', { url: options.webhookUrl, events: ['customer.tier_changed', 'customer.at_risk'], description: 'CRM sync' });

  const plan = planPopulation(options.customers ?? 240, now, 23);
  const traits = plan.map((c, i) => ({
    id: `${c.id}-traits`, type: 'customer', customer_id: c.id, occurred_at: new Date(now.getTime() - 800 * day).toISOString(),
    traits: { name: NAMES[i % NAMES.length], email: `${c.id}@example.com`, region: REGIONS[i % REGIONS.length] },
  }));
  const prospects = Array.from({ length: 30 }, (_, i) => ({
    id: `prospect-${i}-traits`, type: 'customer', customer_id: `prospect-${String(i).padStart(3, '0')}`,
    occurred_at: new Date(now.getTime() - (i + 1) * day).toISOString(), traits: { email: `prospect-${i}@example.com`, region: REGIONS[i % REGIONS.length] },
  }));
  // Two recent complaints each for every 12th customer, a poor rating streak for every 17th: churn warnings beyond the overdue ones.
  const unhappy = plan.filter((_, i) => i % 12 === 5).flatMap((c, i) => [1, 2].map((k) => ({
    id: `${c.id}-complaint-${k}`, type: 'interaction', customer_id: c.id, kind: 'complaint', occurred_at: new Date(now.getTime() - (k * 3 + i % 20) * day).toISOString(),
  })));
  const ratings = plan.filter((_, i) => i % 17 === 3).map((c, i) => ({
    id: `${c.id}-survey`, type: 'interaction', customer_id: c.id, kind: 'survey', satisfaction: 1, occurred_at: new Date(now.getTime() - (2 + i % 9) * day).toISOString(),
  }));
  const events = [...traits, ...prospects, ...toEvents(plan), ...unhappy, ...ratings];
  for (let i = 0; i < events.length; i += 1000) await admin('POST', '/v1/events/batch', { events: events.slice(i, i + 1000) });
  await eventually(async () => {
    // The service's own Prometheus metrics (API and workers run in one process here).
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const value = (pattern: RegExp) => [...metrics.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);
    const stored = value(/^tierwise_events_(?:stored|duplicate)_total (\d+)/gm);
    const busy = value(/^tierwise_queue_jobs\{queue="(?:ingest|recompute)",state="(?:waiting|active|delayed|prioritized)"\} (\d+)/gm);
    return stored >= events.length && busy === 0 ? true : undefined;
  }, 60_000, 'events to be stored and every recompute to finish');
  // Breakpoints settle once every customer is in; one rescore makes every score final.
  await waitJob((await admin('POST', '/v1/rescore')).job_id);
  const segments = {
    vip: { name: 'VIP: high value, recent', rule: { all: [{ field: 'value_score', op: 'gte', value: 70 }, { field: 'recency_days', op: 'lte', value: 180 }] } },
    'win-back': { name: 'Win back: lapsed big spenders', rule: { all: [{ field: 'lifecycle_stage', op: 'eq', value: 'lapsed' }, { field: 'abc_class', op: 'in', value: ['A', 'B'] }] } },
  };
  for (const [key, body] of Object.entries(segments)) await waitJob((await admin('PUT', `/v1/segments/${key}`, body)).job_id);

  await new Promise((r) => setTimeout(r, 50));
  const beforePolicyChange = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 50));
  // Weighting spend more moves customers between tiers: the migration report has something to show.
  await waitJob((await admin('PUT', '/v1/tier-policy', { preset: 'rfm-value', weights: { r: 1, f: 1, m: 3 } })).job_id);

  const { key: readKey } = await admin('POST', '/v1/api-keys', { name: 'dashboard', scopes: ['customers:read'] });
  return { base, adminKey, readKey, beforePolicyChange };
}
