/** The baseline for single-event ingest: a bare Fastify server whose one route parses the JSON body and answers 202. */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/noop', async (_req, reply) => reply.code(202).send({ accepted: 1 }));
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`${address}\n`);
