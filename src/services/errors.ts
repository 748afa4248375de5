import type { FieldProblem } from '../domain/events/field-problem.ts';

/**
 * An error a use case may show its caller as is: a status, a stable `code` and a message. The HTTP
 * layer turns it into problem+json (http/problem.ts); everything else becomes an opaque 500.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: FieldProblem[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const validationError = (errors: FieldProblem[], detail = 'The request is invalid; see errors.') =>
  new AppError(400, 'validation_failed', detail, errors);

export const notFound = (what: string) => new AppError(404, 'not_found', `${what} was not found.`);

export const conflict = (code: string, detail: string) => new AppError(409, code, detail);

/** 503 with Retry-After: a dependency is down or a backlog is full; nothing was accepted. */
export const unavailable = (detail: string, retryAfterSeconds: number) =>
  new AppError(503, 'unavailable', detail, undefined, { 'retry-after': String(retryAfterSeconds) });
