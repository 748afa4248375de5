export interface Limiter {
  run<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * At most `n` callers inside `run` at once, the others waiting in arrival order. The drains of
 * every shard run at once (so a customer never waits for another shard's time slice), but only
 * this many hold a batch's event histories in memory at a time.
 */
export function createLimiter(n: number): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(fn) {
      if (active < n) active++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await fn();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else active--;
      }
    },
  };
}
