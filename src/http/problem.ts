import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatPath, type FieldProblem } from '../domain/events/field-problem.ts';
import { AppError } from '../services/errors.ts';
import { dbFailureOf, isDatabaseUnavailable } from '../store/db.ts';


export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export type Problem = z.infer<typeof problemSchema>;

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};


/** Fastify validation errors carry JSON pointers (`/events/3/amount`); we report `events[3].amount`. */
export function validationProblems(
  validation: ReadonlyArray<{ instancePath: string; message?: string | undefined }>,
  prefix = '',
): FieldProblem[] {
  return validation.map((v) => {
    const parts = v.instancePath.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    return { path: formatPath(parts, prefix), message: v.message ?? 'is invalid' };
  });
}

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, errors?: FieldProblem[]) {
  const body: Problem = {
    type: `https://tierwise.dev/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    instance: reply.request.url,
    ...(errors ? { errors } : {}),
  };
  return reply.code(status).type('application/problem+json').send(body);
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_BAD_URL: 'bad_url',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
};

/**
 * Fastify's `frameworkErrors`: errors of the router (a path that is not valid percent-encoding,
 * a path parameter over maxParamLength) as problems instead of Fastify's own JSON.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const status = error.statusCode ?? 400;
  const detail = error.code === 'FST_ERR_BAD_URL' ? 'The path is not valid percent-encoded UTF-8.' : 'A path segment is too long.';
  return sendProblem(reply, status, FASTIFY_CODES[error.code] ?? 'bad_request', detail);
}

/**
 * Node's `clientError`, before any route: headers over maxHeaderSize (431), a request not
 * complete within its header or request timeout (408), a request that is not HTTP (400). The
 * answer is a problem, written on the socket, which is then closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'The request was not sent in time.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'The request line and headers are too large.']
        : [400, 'bad_request', 'The request is not valid HTTP.'];
  const body = JSON.stringify({ type: `https://tierwise.dev/problems/${code}`, title: TITLES[status], status, detail });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${TITLES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** One error handler: AppError, request validation, fastify's own 4xx, and opaque 5xx. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      if (error.headers) reply.headers(error.headers);
      return sendProblem(reply, error.status, error.code, error.message, error.errors);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const prefix = error.validationContext === 'body' ? '' : (error.validationContext ?? '');
      const errors = validationProblems(error.validation, prefix);
      return sendProblem(reply, 400, 'validation_failed', 'The request is invalid; see errors.', errors);
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return sendProblem(reply, 400, 'malformed_json', 'The body is not valid JSON.');
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, status, FASTIFY_CODES[error.code] ?? 'bad_request', error.message);
    }
    if (isDatabaseUnavailable(error)) {
      // Postgres is restarting or unreachable: the request was fine and may be sent again.
      request.log.warn({ err: dbFailureOf(error) }, 'request failed: Postgres unavailable');
      reply.header('retry-after', '5');
      return sendProblem(reply, 503, 'unavailable', 'The database is unavailable; retry shortly.');
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, 500, 'internal_error', 'Something went wrong on our side; it has been logged.');
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`),
  );
}
