import type { JobPayloads, Queues } from './queues.ts';
import type { IngestEvent } from '../domain/events/events.types.ts';

/** Events per ingest job at most (the batch endpoint's own limit). */
export const MAX_JOB_EVENTS = 1_000;

interface Group {
  events: IngestEvent[];
  receivedAt: string;
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
}

/**
 * Requests handled in the same turn of the event loop share one ingest job: each request's events
 * keep their own receipt time, and every request still answers only after Redis holds the job
 * (all of them fail together if the add fails). Under load this turns one job and one Redis
 * round trip per single-event request into one per few hundred events; when idle, nothing waits
 * longer than the current turn.
 */
export function createIngestBatcher(queue: Queues['ingest'], onAdded: () => void = () => {}) {
  let group: Group | undefined;

  function flush(g: Group) {
    if (group === g) group = undefined;
    const payload: JobPayloads['ingest'] = { receivedAt: g.receivedAt, events: g.events };
    queue.add('ingest', payload).then(
      () => {
        onAdded();
        g.waiters.forEach((w) => w.resolve());
      },
      (err: unknown) => g.waiters.forEach((w) => w.reject(err)),
    );
  }

  return {
    add(receivedAt: Date, events: IngestEvent[]): Promise<void> {
      const at = receivedAt.toISOString();
      if (group && group.events.length + events.length > MAX_JOB_EVENTS) flush(group);
      if (!group) {
        const g: Group = { events: [], receivedAt: at, waiters: [] };
        group = g;
        setImmediate(() => group === g && flush(g));
      }
      const g = group;
      for (const e of events) g.events.push(at === g.receivedAt ? e : { ...e, received_at: at });
      return new Promise<void>((resolve, reject) => g.waiters.push({ resolve, reject }));
    },
  };
}

export type IngestBatcher = ReturnType<typeof createIngestBatcher>;
