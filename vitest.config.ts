import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests drive real Postgres, Redis and worker processes on a shared 2-core machine:
    // generous budgets, since speed is measured by `npm run bench`, never by tests.
    testTimeout: 90_000,
    hookTimeout: 120_000,
    // Integration files each create their own database and queue prefix; two at a time fits 2 cores.
    maxWorkers: 2,
  },
});
