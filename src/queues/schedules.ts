import type { QueueName, Queues } from './queues.ts';

export interface Schedules {
  /** the webhook relay's periodic pass */
  relayEveryMs: number;
  /** the due-review sweep */
  sweepEveryMs: number;
  /** cron (UTC): population statistics refresh and full rescore */
  rescoreCron: string;
  /** cron (UTC): prediction model fit, then a full rescore */
  modelFitCron: string;
}

/**
 * Declares the job schedulers of the queues a process serves. Upserts are idempotent, so every
 * worker process may declare them; the scheduler ids are stable across versions.
 */
export async function declareSchedules(queues: Pick<Queues, 'relay' | 'maintenance'>, served: readonly QueueName[], every: Schedules): Promise<void> {
  if (served.includes('relay')) {
    await queues.relay.upsertJobScheduler('relay', { every: every.relayEveryMs }, { name: 'relay', data: {} });
  }
  if (!served.includes('maintenance')) return;
  const queue = queues.maintenance;
  await queue.upsertJobScheduler('sweep', { every: every.sweepEveryMs }, { name: 'sweep', data: { kind: 'sweep' } });
  // Daily, off the hours of the statistics refresh and the model fit.
  await queue.upsertJobScheduler('purge-outbox', { pattern: '30 2 * * *', tz: 'UTC' }, { name: 'purge_outbox', data: { kind: 'purge_outbox' } });
  await queue.upsertJobScheduler(
    'refresh-stats',
    { pattern: every.rescoreCron, tz: 'UTC' },
    { name: 'rescore', data: { kind: 'rescore', reason: 'scheduled', changedOnly: true } },
  );
  await queue.upsertJobScheduler(
    'fit-model',
    { pattern: every.modelFitCron, tz: 'UTC' },
    { name: 'fit_model', data: { kind: 'fit_model', as_of: null, reason: 'scheduled' } },
  );
}
