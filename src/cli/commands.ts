import { parseArgs } from 'node:util';
import { queueList, type Config } from '../config.ts';
import type { Deps } from '../deps.ts';
import type { QueueName } from '../queues/queues.ts';
import { createKeyStore, SCOPES, type Scope } from '../services/api-keys.service.ts';
import { refreshAndRescore } from '../services/rescore.service.ts';

/** `tierwise keys create --name NAME --scopes events:write,customers:read` */
export async function keysCommand(deps: Deps, args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { name: { type: 'string', default: 'cli' }, scopes: { type: 'string', default: 'events:write' } },
  });
  if (positionals[0] !== 'create') throw new UsageError('usage: tierwise keys create --name NAME --scopes SCOPE[,SCOPE]');
  const scopes = values.scopes.split(',').map((s) => s.trim()) as Scope[];
  const unknown = scopes.filter((s) => !SCOPES.includes(s));
  if (unknown.length > 0) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}; choose from ${SCOPES.join(', ')}`);
  const { row, secret } = await createKeyStore(deps.db, undefined).create(values.name, scopes);
  console.log(JSON.stringify({ id: row.id, name: row.name, scopes, key: secret }, null, 2));
  console.error('Store the key now: it is not shown again.');
}

/** `tierwise rescore`: refresh population statistics and rescore every customer, in this process. */
export async function rescoreCommand(deps: Deps): Promise<void> {
  const started = Date.now();
  const result = await refreshAndRescore(deps, {
    onProgress: async (p) => {
      if (process.stderr.isTTY) process.stderr.write(`\rrescoring… ${(p * 100).toFixed(0)}%`);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.log(JSON.stringify({ ...result, seconds: (Date.now() - started) / 1000 }));
}

/** `tierwise worker [--queues ingest,recompute]`: the queues to serve, the flag before WORKER_QUEUES. */
export function workerQueues(config: Pick<Config, 'WORKER_QUEUES'>, args: string[]): QueueName[] {
  let queues: string | undefined;
  try {
    ({ values: { queues } } = parseArgs({ args, options: { queues: { type: 'string' } } }));
  } catch (err) {
    throw new UsageError(`usage: tierwise worker [--queues QUEUE[,QUEUE]] (${(err as Error).message})`);
  }
  if (queues === undefined) return config.WORKER_QUEUES;
  const parsed = queueList.safeParse(queues);
  if (!parsed.success) throw new UsageError(`--queues ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

export class UsageError extends Error {}
