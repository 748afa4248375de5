import { describe, expect, it } from 'vitest';
import { createLimiter } from './recompute.limiter.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('createLimiter', () => {
  it('lets at most n callers in at once, the others in arrival order, and frees a slot on failure', async () => {
    const limiter = createLimiter(2);
    const gates = Array.from({ length: 5 }, deferred);
    const entered: number[] = [];
    const runs = gates.map((gate, i) =>
      limiter.run(async () => {
        entered.push(i);
        await gate.promise;
        if (i === 0) throw new Error('batch failed');
        return i;
      }),
    );
    await turn();
    expect(entered).toEqual([0, 1]);
    gates[0]!.resolve();
    await expect(runs[0]).rejects.toThrow('batch failed');
    await turn();
    expect(entered).toEqual([0, 1, 2]);
    gates[2]!.resolve();
    gates[1]!.resolve();
    await turn();
    expect(entered).toEqual([0, 1, 2, 3, 4]);
    gates[3]!.resolve();
    gates[4]!.resolve();
    expect(await Promise.all(runs.slice(1))).toEqual([1, 2, 3, 4]);
  });
});
