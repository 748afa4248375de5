// A real `tierwise worker` process serves /metrics and /healthz on METRICS_PORT, with the backlog
// gauges read at scrape time; the shipped alert rules and Grafana dashboard are valid and name only
// metrics that a real scrape has.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { auth, eventually, freePort, spawnWorker, startService, type TestService } from './harness.ts';
import { insertMessages } from '../src/store/webhooks.repo.ts';
import { refreshPopulationStats } from '../src/store/stats.repo.ts';

const ALERTS = fileURLToPath(new URL('../deploy/prometheus-alerts.yml', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../deploy/grafana-dashboard.json', import.meta.url));

/** Prometheus sample lines → value, keyed by `name{labels}` exactly as exposed. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    const value = line.slice(at + 1);
    out.set(line.slice(0, at), value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value));
  }
  return out;
}

/** Metric families a scrape declares (`# TYPE name kind`). */
const families = (text: string) => new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

/** Whether `name`, as a query names it, is in the scrape: a family, or a histogram's _bucket/_sum/_count. */
function exposed(text: string, name: string): boolean {
  const types = families(text);
  if (types.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && types.get(base) === 'histogram';
}

const metricNames = (expr: string) => [...new Set(expr.match(/\btierwise_[a-z0-9_]+/g) ?? [])];

// The rule group format Prometheus loads (https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/).
const duration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))+$/, 'a Prometheus duration such as 15m');
const ruleFile = z.strictObject({
  groups: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        interval: duration.optional(),
        rules: z
          .array(
            z.strictObject({
              alert: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
              expr: z.string().min(1),
              for: duration.optional(),
              keep_firing_for: duration.optional(),
              labels: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
              annotations: z.record(z.string(), z.string()).optional(),
            }),
          )
          .min(1),
      }),
    )
    .min(1),
});

const dashboardSchema = z.object({
  title: z.string().min(1),
  uid: z.string().min(1),
  schemaVersion: z.number().int(),
  panels: z
    .array(
      z.object({
        id: z.number().int(),
        type: z.string(),
        title: z.string().min(1),
        gridPos: z.object({ h: z.number(), w: z.number(), x: z.number(), y: z.number() }),
        targets: z.array(z.object({ expr: z.string().min(1), refId: z.string().min(1), legendFormat: z.string().optional() })).min(1),
      }),
    )
    .min(1),
});

describe('a worker process you can watch', () => {
  let svc: TestService;
  let child: ChildProcess | undefined;
  let port: number;
  beforeAll(async () => {
    svc = await startService({ workers: false });
    port = await freePort();
    // Ingest only: stored customers then wait for a recompute, and nothing relays the outbox.
    child = spawnWorker(svc.config, { METRICS_PORT: String(port), HOST: '127.0.0.1' }, ['--queues', 'ingest']);
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await svc?.close();
  });

  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  };
  const ready = () => eventually(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200 || undefined, 30_000, 'the worker to serve /healthz');

  it('serves /healthz and /metrics with the backlog gauges, read at scrape time', async () => {
    await ready();
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`http://127.0.0.1:${port}/nothing`)).status).toBe(404);

    const first = samples(await scrape());
    expect(first.get('tierwise_webhook_messages_pending')).toBe(0);
    expect(first.get('tierwise_webhook_deliveries_pending')).toBe(0);
    expect(first.get('tierwise_review_lag_seconds')).toBe(0);
    expect(first.get('tierwise_population_stats_age_seconds')).toBe(Infinity);
    for (const queue of ['ingest', 'recompute', 'maintenance', 'relay', 'webhooks']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(first.has(`tierwise_queue_jobs{queue="${queue}",state="${state}"}`), `${queue} ${state}`).toBe(true);
    }

    // Three customers stored by this worker, waiting for a recompute nobody serves.
    const events = ['a', 'b', 'c'].map((c) => ({ id: `m-${c}`, type: 'order', customer_id: `m-${c}`, occurred_at: '2026-06-01T00:00:00Z', order_id: `o-${c}`, amount: '10.00' }));
    expect((await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() })).statusCode).toBe(202);
    await eventually(async () => (samples(await scrape()).get('tierwise_queue_jobs{queue="recompute",state="customers_waiting"}') === 3 ? true : undefined), 30_000, 'customers waiting');
    // An outbox message nothing relays (written as an endpoint subscribes), a review due an hour ago, and statistics computed now.
    const hook = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://hooks.example/metrics', events: ['*'] }, headers: auth() });
    expect(hook.statusCode, hook.body).toBe(201);
    await insertMessages(svc.deps.db, [{ id: 'evt_metrics', type: 'webhook.test', body: '{}', createdAt: new Date() }]);
    await svc.deps.db.execute(sql`update customers set next_review_at = now() - interval '1 hour' where id = 'm-a'`);
    await refreshPopulationStats(svc.deps.db, new Date());

    const after = samples(await scrape());
    expect(after.get('tierwise_webhook_messages_pending')).toBe(1);
    expect(after.get('tierwise_review_lag_seconds')).toBeGreaterThanOrEqual(3600);
    expect(after.get('tierwise_review_lag_seconds')).toBeLessThan(3600 + 120);
    expect(after.get('tierwise_population_stats_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(after.get('tierwise_population_stats_age_seconds')).toBeLessThan(120);
    expect(after.get('tierwise_queue_jobs{queue="recompute",state="waiting"}')).toBeGreaterThan(0);
    expect(after.get('tierwise_events_stored_total')).toBe(3);
  });

  it('ships alert rules that Prometheus loads, naming only metrics a worker exposes', async () => {
    const text = await readFile(ALERTS, 'utf8');
    const rules = ruleFile.parse(parseYaml(text));
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['TierwiseBacklogGrowing', 'TierwiseReviewsLate', 'TierwiseWebhookDeliveriesFailing', 'TierwiseStatisticsStale']),
    );
    for (const rule of alerts) expect(rule.annotations?.summary, rule.alert).toBeTruthy();
    if (spawnSync('promtool', ['--version']).status === 0) {
      const check = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
    }
    await ready();
    const scraped = await scrape();
    for (const rule of alerts) {
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(exposed(scraped, name), `${rule.alert}: ${name}`).toBe(true);
    }
  });

  it('ships a Grafana dashboard whose every query names metrics a worker exposes', async () => {
    const dashboard = dashboardSchema.parse(JSON.parse(await readFile(DASHBOARD, 'utf8')));
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    await ready();
    const scraped = await scrape();
    const named = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const names = metricNames(target.expr);
        expect(names.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          expect(exposed(scraped, name), `${panel.title}: ${name}`).toBe(true);
          named.add(name);
        }
      }
    }
    // The dashboard shows every gauge the alerts are built on.
    for (const gauge of ['tierwise_queue_jobs', 'tierwise_webhook_messages_pending', 'tierwise_webhook_deliveries_pending', 'tierwise_review_lag_seconds', 'tierwise_population_stats_age_seconds']) {
      expect(named, gauge).toContain(gauge);
    }
  });
});
