// The layers and what each may import: docs/architecture.md. `npm run lint:deps` checks them in CI.
const layer = (name) => `^src/${name}/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'src/domain is pure logic: it imports nothing from the other layers of src/.',
      severity: 'error',
      from: { path: layer('domain') },
      to: { path: '^src/', pathNot: layer('domain') },
    },
    {
      name: 'domain-has-no-io',
      comment: 'src/domain does no I/O: no database, queue, HTTP, file or network modules.',
      severity: 'error',
      from: { path: layer('domain') },
      to: { path: '(^|/)node_modules/(pg|pg-[a-z-]+|drizzle-orm|bullmq|ioredis|fastify|@fastify/[^/]+|undici|pino)/|^(node:)?(fs|net|http|https|dns|child_process|worker_threads)$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'sql-only-in-store',
      comment: 'Only src/store speaks SQL: no other layer imports drizzle-orm or a pg driver.',
      severity: 'error',
      from: { path: '^src/', pathNot: [layer('store')] },
      to: { path: '(^|/)node_modules/(drizzle-orm|pg|pg-query-stream|pg-copy-streams)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'tables-only-in-store',
      comment: 'The drizzle tables are the store\'s own: a query built on them anywhere else is SQL outside the store.',
      severity: 'error',
      from: { path: '^src/', pathNot: [layer('store')] },
      to: { path: '^src/store/schema\\.ts$' },
    },
    {
      name: 'store-imports-only-domain',
      severity: 'error',
      from: { path: layer('store') },
      to: { path: '^src/', pathNot: [layer('store'), layer('domain')] },
    },
    {
      name: 'queues-import-only-domain',
      severity: 'error',
      from: { path: layer('queues') },
      to: { path: '^src/', pathNot: [layer('queues'), layer('domain')] },
    },
    {
      name: 'webhooks-is-a-leaf-library',
      comment: 'src/webhooks (signing, SSRF guard, one delivery attempt, message shapes) needs only the domain.',
      severity: 'error',
      from: { path: layer('webhooks') },
      to: { path: '^src/', pathNot: [layer('webhooks'), layer('domain')] },
    },
    {
      name: 'services-serve-the-edges',
      comment: 'Use cases are called by HTTP, the CLI and workers, never the other way round.',
      severity: 'error',
      from: { path: layer('services') },
      to: { path: `${layer('http')}|${layer('cli')}|${layer('workers')}|^src/(main|app)\\.ts$` },
    },
    {
      name: 'workers-are-thin',
      comment: 'A worker hands its job to a use case: no repositories, no webhook library, no HTTP.',
      severity: 'error',
      from: { path: layer('workers') },
      to: { path: `${layer('store')}|${layer('webhooks')}|${layer('http')}|${layer('cli')}` },
    },
    {
      name: 'cli-parses-and-prints',
      comment: 'src/cli parses arguments and prints results; the work is a use case.',
      severity: 'error',
      from: { path: layer('cli') },
      to: { path: `${layer('store')}|${layer('workers')}|${layer('http')}|${layer('webhooks')}` },
    },
    {
      name: 'nothing-below-http-imports-it',
      comment: 'The HTTP layer is an edge: nothing but the entry point imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: [layer('http'), '^src/main\\.ts$'] },
      to: { path: layer('http') },
    },
    {
      name: 'observability-imports-only-below',
      severity: 'error',
      from: { path: layer('observability') },
      to: { path: '^src/', pathNot: [layer('observability'), layer('queues'), layer('store'), layer('domain')] },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycles (type-only imports included) between folders or files.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['\\.test\\.ts$', '^src/dashboard/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
