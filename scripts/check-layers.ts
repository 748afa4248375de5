/**
 * The layer boundaries of docs/architecture.md, checked in CI (`npm run lint:layers`):
 * dependency-cruiser checks the imports (.dependency-cruiser.cjs); this adds what an import graph
 * cannot see, a query run through a database handle outside src/store.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SQL_CALL = /\b(db|tx|pool|client)\s*\.\s*(execute|query|select|selectDistinct|insert|update|delete)\s*[(<]|\bsql\s*`/;

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) yield path;
  }
}

const offences: string[] = [];
for (const file of sources(join(root, 'src'))) {
  const rel = relative(root, file);
  if (rel.startsWith('src/store/')) continue;
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (SQL_CALL.test(line)) offences.push(`${rel}:${i + 1}: ${line.trim()}`);
    });
}
if (offences.length > 0) {
  console.error(`SQL outside src/store (docs/architecture.md):\n  ${offences.join('\n  ')}`);
  process.exitCode = 1;
}

try {
  execFileSync('npx', ['depcruise', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: root, stdio: 'inherit' });
} catch {
  process.exitCode = 1;
}
