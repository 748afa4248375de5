import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

export const API_VERSION = '0.1.0';

type Json = Record<string, unknown>;

/** Every `#/components/<kind>/<name>` that `value` refers to, at any depth. */
function collectRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) collectRefs(v, into);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/')) into.add(v);
      else collectRefs(v, into);
    }
  }
}

/**
 * Finishes the generated document: drops the schema components nothing refers to (the type provider
 * registers an `…Input` twin of every named schema, and named schemas used only inside others'
 * inputs), and marks a request body optional when its schema admits `null` (Fastify would otherwise
 * document every body as required).
 */
export function finishDocument<T extends Json>(doc: T): T {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const body = operation?.requestBody as { required?: boolean; content?: Record<string, { schema?: { anyOf?: Json[] } }> } | undefined;
      const admitsNull = Object.values(body?.content ?? {}).some((media) => media.schema?.anyOf?.some((s) => s.type === 'null'));
      if (body && admitsNull) body.required = false;
    }
  }
  const components = doc.components as { schemas?: Record<string, unknown> } | undefined;
  const schemas = components?.schemas;
  if (!schemas) return doc;
  const used = new Set<string>();
  collectRefs({ ...doc, components: { ...components, schemas: {} } }, used);
  // Follow references from the used schemas to the schemas they use, until nothing new is found.
  for (let grew = true; grew; ) {
    grew = false;
    for (const ref of [...used]) {
      const name = ref.slice('#/components/schemas/'.length);
      if (!ref.startsWith('#/components/schemas/') || !(name in schemas)) continue;
      const before = used.size;
      collectRefs(schemas[name], used);
      grew ||= used.size > before;
    }
  }
  components.schemas = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(`#/components/schemas/${name}`)));
  return doc;
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tierwise',
        version: API_VERSION,
        description:
          'Customer tiering: post order, refund and interaction events; read metrics, RFM scores, tiers, ' +
          'lifecycle stages and churn warnings. Errors are RFC 9457 application/problem+json; any operation ' +
          'may answer 503 with `Retry-After` while Postgres or Redis is unavailable; send it again after that delay. ' +
          'Amounts of money are decimal strings in the deployment\'s one currency (`CURRENCY`, ISO 4217) with at least ' +
          'that currency\'s minor-unit digits (`"129.90"` in USD, `"1300"` in JPY), and more only when the stored ' +
          'value has them (`"0.125"`).',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // Relative: the API is served from whatever origin the deployment gives it.
      servers: [{ url: '/', description: 'this deployment' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          // The Segment-compatible source: the write key as the user name, empty password.
          basic: { type: 'http', scheme: 'basic' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (input) => finishDocument(jsonSchemaTransformObject(input) as Json),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
}
