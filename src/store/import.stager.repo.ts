import { once } from 'node:events';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import type { ImportFormat } from '../domain/import/import.types.ts';
import { createCustomers, createStaging, openEventsCopy, openStagingCopy, storeStaged, type StoredImport } from './import.repo.ts';

/** COPY text of accepted rows (nativeCopyLine or retailCopyLine) and the customer of each row. */
export interface CopyChunk {
  text: string;
  customerIds: string[];
}

/**
 * Where the COPY text goes: batches of `batchBytes` (or the whole file when null), each in its own
 * transaction, in file order.
 *
 * Native batches go straight into `events` with COPY, as long as every row is a new order: then
 * the batch's missing customers are created and it commits. The first row that is not (an order
 * stored already, or repeated in the file) fails the COPY on a unique index; that batch and every
 * later one are then staged instead: COPYed into a staging table, and stored set-based, skipping
 * what is stored (storeStaged). A failed COPY leaves the rows it had written as dead tuples, at
 * most one batch's worth per import; re-importing a file whose first batches are stored fails on
 * its first row.
 *
 * Batches take turns on two connections, so one batch is stored (staged rows moved, or a direct
 * batch's customers created and committed) while the next is read and COPYed: Node parsing and
 * Postgres inserting run at the same time instead of one after the other. Stores run one at a time
 * in file order, so the first row of an order in the file is still the one kept; a direct COPY
 * that meets an order of the batch before it waits for that batch to commit, then fails.
 */
export interface StagingWriter {
  writable: Writable;
  /** Totals of every batch, once the writable has finished. */
  totals(): StoredImport;
  /** Closes the connections (always, also after a failure). */
  release(): void;
}

interface Slot {
  client: pg.PoolClient;
  /** the store of the last batch staged on this connection */
  storing: Promise<void>;
}

interface Batch {
  slot: Slot;
  copy: Writable & { rowCount?: number };
  /** the COPY's error once it has failed, undefined while it runs or once it has finished */
  failure: Promise<Error | undefined>;
  failed: boolean;
  bytes: number;
  /** direct batches only: the text written so far (to stage it after all) and the batch's customers */
  direct: { chunks: string[]; customerIds: Set<string> } | null;
}

const UNIQUE_VIOLATION = '23505';

export function createStagingWriter(pool: pg.Pool, format: ImportFormat, receivedAt: Date, batchBytes: number | null): StagingWriter {
  const slots: Slot[] = [];
  const totals: StoredImport = { orders: 0, inserted: 0, customersCreated: 0 };
  let turn = 0;
  let storeChain: Promise<void> = Promise.resolve();
  let current: Batch | undefined;
  /** Native batches go straight into `events` until one of them meets an order that is not new. */
  let direct = format === 'native' && batchBytes !== null;

  const watch = (slot: Slot, copy: Batch['copy'], directState: Batch['direct']): Batch => {
    const batch: Batch = { slot, copy, failure: Promise.resolve(undefined), failed: false, bytes: 0, direct: directState };
    batch.failure = finished(copy).then(
      () => undefined,
      (err: Error) => {
        batch.failed = true;
        return err;
      },
    );
    return batch;
  };

  const open = async () => {
    const index = turn % 2;
    slots[index] ??= { client: await pool.connect(), storing: Promise.resolve() };
    const slot = slots[index];
    await slot.storing;
    if (direct) {
      await slot.client.query('begin');
      current = watch(slot, openEventsCopy(slot.client), { chunks: [], customerIds: new Set() });
    } else {
      await createStaging(slot.client, format);
      current = watch(slot, openStagingCopy(slot.client, format), null);
    }
  };

  const send = async (batch: Batch, text: string) => {
    if (!batch.copy.write(text)) await Promise.race([once(batch.copy, 'drain').catch(() => {}), batch.failure]);
  };

  /** A direct batch met a row that is not new: it is rolled back and staged, and so is every later batch. */
  const stageInstead = async (batch: Batch) => {
    const err = await batch.failure;
    if ((err as { code?: string } | undefined)?.code !== UNIQUE_VIOLATION) throw err;
    const { client } = batch.slot;
    await client.query('rollback');
    direct = false;
    await createStaging(client, format);
    const staged = watch(batch.slot, openStagingCopy(client, format), null);
    for (const text of batch.direct!.chunks) {
      await send(staged, text);
      if (staged.failed) throw await staged.failure;
    }
    staged.bytes = batch.bytes;
    current = staged;
    return staged;
  };

  const write = async (chunk: CopyChunk) => {
    if (!current) await open();
    let batch = current!;
    if (batch.direct) {
      batch.direct.chunks.push(chunk.text);
      for (const id of chunk.customerIds) batch.direct.customerIds.add(id);
    }
    await send(batch, chunk.text);
    if (batch.failed) {
      if (!batch.direct) throw await batch.failure;
      batch = await stageInstead(batch);
    }
    batch.bytes += chunk.text.length;
    if (batchBytes !== null && batch.bytes >= batchBytes) await close();
  };

  const close = async () => {
    let batch = current!;
    batch.copy.end();
    const err = await batch.failure;
    if (err && batch.direct) {
      batch = await stageInstead(batch);
      batch.copy.end();
      const stagedErr = await batch.failure;
      if (stagedErr) throw stagedErr;
    } else if (err) {
      throw err;
    }
    current = undefined;
    turn++;
    const { slot } = batch;
    const copied = batch.direct && { rows: batch.copy.rowCount ?? 0, customerIds: [...batch.direct.customerIds] };
    storeChain = storeChain.then(async () => {
      let stored: StoredImport;
      if (copied) {
        stored = { orders: copied.rows, inserted: copied.rows, customersCreated: await createCustomers(slot.client, copied.customerIds) };
        await slot.client.query('commit');
      } else {
        stored = await storeStaged(slot.client, format, receivedAt);
      }
      totals.orders += stored.orders;
      totals.inserted += stored.inserted;
      totals.customersCreated += stored.customersCreated;
    });
    slot.storing = storeChain;
    // Awaited by the next open() on this connection or by final(); this only keeps Node from calling it unhandled meanwhile.
    storeChain.catch(() => {});
  };

  const writable = new Writable({
    objectMode: true,
    write(chunk: CopyChunk, _encoding, callback) {
      write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      (async () => {
        if (current) await close();
        await storeChain;
      })().then(() => callback(), callback);
    },
  });

  return {
    writable,
    totals: () => totals,
    release() {
      // Closed, not pooled: the staging tables, an open transaction or a COPY cut short go with the connections.
      for (const slot of slots) slot.client.release(true);
    },
  };
}
