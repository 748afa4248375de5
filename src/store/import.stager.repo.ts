import { once } from 'node:events';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import type { ImportFormat } from '../domain/import/import.types.ts';
import { createStaging, openStagingCopy, storeStaged, type StoredImport } from './import.repo.ts';

/**
 * Where the COPY text goes: batches of `batchBytes` (or the whole file when null), each COPYed
 * into a staging table and then stored in its own transaction. Two connections take turns, so
 * one batch is stored while the next is read and COPYed: Node parsing and Postgres inserting run
 * at the same time instead of one after the other. Stores run one at a time in file order, so the
 * first row of an order in the file is still the one kept.
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

export function createStagingWriter(pool: pg.Pool, format: ImportFormat, receivedAt: Date, batchBytes: number | null): StagingWriter {
  const slots: Slot[] = [];
  const totals: StoredImport = { orders: 0, inserted: 0, customersCreated: 0 };
  let turn = 0;
  let storeChain: Promise<void> = Promise.resolve();
  let current: { slot: Slot; copy: Writable; done: Promise<void>; bytes: number } | undefined;

  const open = async () => {
    const index = turn % 2;
    slots[index] ??= { client: await pool.connect(), storing: Promise.resolve() };
    const slot = slots[index];
    await slot.storing;
    await createStaging(slot.client, format);
    const copy = openStagingCopy(slot.client, format);
    current = { slot, copy, done: finished(copy), bytes: 0 };
  };

  const close = async () => {
    const batch = current!;
    current = undefined;
    batch.copy.end();
    await batch.done;
    storeChain = storeChain.then(async () => {
      const stored = await storeStaged(batch.slot.client, format, receivedAt);
      totals.orders += stored.orders;
      totals.inserted += stored.inserted;
      totals.customersCreated += stored.customersCreated;
    });
    batch.slot.storing = storeChain;
    // Awaited by the next open() on this connection or by final(); this only keeps Node from calling it unhandled meanwhile.
    storeChain.catch(() => {});
    turn++;
  };

  const writable = new Writable({
    objectMode: true,
    write(chunk: string, _encoding, callback) {
      (async () => {
        if (!current) await open();
        const batch = current!;
        if (!batch.copy.write(chunk)) await Promise.race([once(batch.copy, 'drain'), batch.done]);
        batch.bytes += chunk.length;
        if (batchBytes !== null && batch.bytes >= batchBytes) await close();
      })().then(() => callback(), callback);
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
      // Closed, not pooled: the staging tables (or a COPY cut short) go with the connections.
      for (const slot of slots) slot.client.release(true);
    },
  };
}
