// Writes openapi/openapi.json from the route schemas; with --check, fails when the file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config.ts';
import { createDeps } from '../src/deps.ts';
import { buildApp } from '../src/http/app.ts';

const target = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));
const deps = createDeps(configSchema.parse({ LOG_LEVEL: 'silent' }));
const app = await buildApp(deps);
await app.ready();
const generated = `${JSON.stringify(app.swagger(), null, 2)}\n`;
await app.close();
await deps.close();

if (process.argv.includes('--check')) {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== generated) {
    console.error('openapi/openapi.json is stale: run `npm run openapi` and commit the result.');
    process.exit(1);
  }
  console.log('openapi/openapi.json is current.');
} else {
  await writeFile(target, generated);
  console.log(`wrote ${target}`);
}
// BullMQ may keep a reconnect timer alive after close; this is a one-shot script.
process.exit(0);
