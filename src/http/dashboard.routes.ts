import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

const DASHBOARD_ROOT = fileURLToPath(new URL('../dashboard/', import.meta.url));
const ECHARTS_DIST = join(dirname(createRequire(import.meta.url).resolve('echarts/package.json')), 'dist');

/**
 * The browser may only talk to this service: scripts, styles, images and API calls all come from
 * 'self', so the dashboard works on a closed network and cannot leak data to a third party.
 * ECharts sets inline styles on its tooltips, hence 'unsafe-inline' for styles only.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The single-page dashboard: static files only; every figure it shows comes from the public /v1 API. */
export async function dashboardRoutes(app: FastifyInstance) {
  // Registered as its own plugin, so these headers go on the dashboard's responses only.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  await app.register(fastifyStatic, { root: DASHBOARD_ROOT, prefix: '/dashboard/', index: ['index.html'], schemaHide: true });
  app.get('/dashboard', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'));
  // Only the one ECharts build the app imports, straight from the installed package: no CDN.
  app.get('/dashboard/vendor/echarts.esm.min.mjs', { schema: { hide: true } }, (_request, reply) =>
    reply.sendFile('echarts.esm.min.mjs', ECHARTS_DIST, { maxAge: '1d' }),
  );
}
