/**
 * Bundles the service into one plain JavaScript file, `dist/tierwise.js` (`npm run build`), which
 * `npm start`, `npm run api`, `npm run worker` and the Docker image run instead of
 * `bin/tierwise.js`. Both run the same code; the bundle needs no TypeScript loader at run time, and
 * on Node 20 that loader is a thread of its own with its own V8 heap, ~40 MiB of every process's
 * resident memory (README, "Memory"). Packages stay imports from node_modules; only src/ is bundled.
 *
 *   npm run build
 */
import { relative } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST_ENTRY = fileURLToPath(new URL('../dist/tierwise.js', import.meta.url));

/**
 * Modules that find files next to themselves (the migrations, the dashboard) do so from
 * `import.meta.url`; in the bundle that is the bundle's own URL, so each module's is rewritten to
 * its source file's, relative to the bundle (the image ships src/ and dist/ side by side).
 */
const sourceUrls: Plugin = {
  name: 'source-urls',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async ({ path }) => {
      const contents = await readFile(path, 'utf8');
      if (!contents.includes('import.meta.url')) return { contents, loader: 'ts' };
      const fromDist = relative(fileURLToPath(new URL('../dist/', import.meta.url)), path).split('\\').join('/');
      return { contents: contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

/** Writes dist/tierwise.js (with its source map) from src/main.ts. */
export async function buildDist(): Promise<string> {
  await build({
    stdin: { contents: "import { main } from './src/main.ts';\nawait main(process.argv.slice(2));\n", resolveDir: ROOT, sourcefile: 'bin/tierwise.js', loader: 'ts' },
    outfile: DIST_ENTRY,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Function and class names stay as written (errors, logs and Fastify plugin names show them).
    keepNames: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [sourceUrls],
  });
  return DIST_ENTRY;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`wrote ${relative(ROOT, await buildDist())}`);
}
