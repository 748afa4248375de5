import { spawn } from 'node:child_process';
import { createDeps } from '../src/deps.ts';
import { migrateDb } from '../src/store/db.ts';
import { benchConfig, createDatabase, removeThrowaways, sleep } from './support.ts';
import { orderEvent, runLoad } from './scale.ingest.ts';
import { serviceEnv, spawnNoop, waitReady } from './scale.processes.ts';

await createDatabase();
const deps = createDeps(benchConfig({}));
await migrateDb(deps.db);
const env = serviceEnv(deps.config, { TIERWISE_ADMIN_KEY: 'bench-admin-key-0123456789', PORT: '39123', RATE_LIMIT_MAX: '100000000', INGEST_MAX_WAITING: '1000000' });
const api = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/apiprof', 'bin/tierwise.js', 'api'], { env, stdio: 'inherit' });
await waitReady('http://127.0.0.1:39123');
const noop = await spawnNoop(39124);
for (let i = 0; i < 2; i++) {
  const b = await runLoad({ url: `${noop.url}/noop`, seconds: 5, connections: 20, body: () => orderEvent(1000), eventsPerRequest: 1 });
  const s = await runLoad({ url: 'http://127.0.0.1:39123/v1/events', key: 'bench-admin-key-0123456789', seconds: 5, connections: 20, body: () => orderEvent(1000), eventsPerRequest: 1 });
  console.log('noop', b.reqPerSec.toFixed(0), 'single', s.reqPerSec.toFixed(0), 'p99', s.p99, 'bad', s.bad);
}
api.kill('SIGTERM');
await noop.child.stop();
await sleep(3000);
await deps.close();
await removeThrowaways();
process.exit(0);
