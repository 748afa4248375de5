import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createDeps } from '../src/deps.ts';
import { migrateDb } from '../src/store/db.ts';
import { refreshAndRescore } from '../src/pipeline/maintenance.ts';
import { benchConfig, createDatabase, removeThrowaways } from './support.ts';
import { generateShop } from './scale.generate.ts';

const n = Number(process.env.P_CUSTOMERS ?? 5000);
await createDatabase();
const deps = createDeps(benchConfig({}));
try {
  await migrateDb(deps.db);
  const client = new pg.Client({ connectionString: deps.config.DATABASE_URL });
  await client.connect();
  await generateShop(client, { customers: n, orders: n * 10 }, new Date(), console.log);
  await client.end();
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await refreshAndRescore(deps, { rescore: true });
    console.log('rescore', ((performance.now() - t0) / 1000).toFixed(2), 's', (n / ((performance.now() - t0) / 1000)).toFixed(0), '/s');
  }
} finally {
  await deps.close();
  await removeThrowaways();
  process.exit(0);
}
