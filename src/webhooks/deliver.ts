import { StringDecoder } from 'node:string_decoder';
import { request, type Dispatcher } from 'undici';
import { parseRetryAfter } from './schedule.ts';
import { validateWebhookUrl } from './ssrf.ts';

// One HTTP attempt of one webhook delivery. It never throws: whatever happens becomes an
// AttemptResult, because every attempt is recorded and the caller decides what comes next.

export const DEFAULT_TIMEOUT_MS = 15_000;
export const RESPONSE_EXCERPT_BYTES = 4096;

export type AttemptOutcome = 'success' | 'failure' | 'gone';

export interface AttemptResult {
  // 'gone' (HTTP 410) means the receiver asked us to stop: the caller disables the endpoint.
  outcome: AttemptOutcome;
  // Null when no response arrived (network error, timeout, SSRF refusal).
  status: number | null;
  durationMs: number;
  // At most the first 4096 bytes, decoded as UTF-8 without a split trailing character.
  responseBody: string;
  // Why the attempt failed; may also be set next to a status when reading the body failed.
  error: string | null;
  // From the receiver's Retry-After, in ms; feed it to nextAttemptDelay.
  retryAfterMs: number | null;
}

export interface DeliverOnceInput {
  url: string | URL;
  // Sent byte for byte as UTF-8: it must be the exact string that was signed.
  body: string;
  headers: Record<string, string>;
  // Normally createGuardedDispatcher(): the SSRF check lives in its connector.
  dispatcher: Dispatcher;
  timeoutMs?: number;
  now: () => number;
}

export async function deliverOnce(input: DeliverOnceInput): Promise<AttemptResult> {
  const timeoutMs = input.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = input.now();
  // One deadline for the whole attempt (connect, headers and the body excerpt); undici's own
  // headers/body timeouts default to 300 s, so they are lowered too as a backstop.
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number | null = null;
  let retryAfterMs: number | null = null;
  let responseBody = '';

  const finish = (error: string | null): AttemptResult => ({
    outcome: outcomeFor(status),
    status,
    durationMs: Math.max(0, input.now() - started),
    responseBody,
    error,
    retryAfterMs,
  });

  try {
    // The address itself is judged by the dispatcher; this only re-checks the URL's shape in
    // case a stored URL predates the registration rules.
    const check = validateWebhookUrl(String(input.url), { allowPrivate: true });
    if (!check.ok) return finish(check.message);

    // undici 7's request() never follows redirects (that needs the redirect interceptor, which
    // this dispatcher does not compose), so a 3xx comes back as-is and counts as a failure.
    const res = await request(check.url, {
      method: 'POST',
      body: Buffer.from(input.body, 'utf8'),
      headers: input.headers,
      dispatcher: input.dispatcher,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = res.statusCode;
    retryAfterMs = parseRetryAfter(firstValue(res.headers['retry-after']), new Date(input.now()));
    try {
      responseBody = await readExcerpt(res.body, RESPONSE_EXCERPT_BYTES);
    } catch (err) {
      // The status already tells whether the receiver accepted the message; a body that stalls or
      // breaks afterwards is only worth noting.
      return finish(`reading response body: ${describeError(err, signal, timeoutMs)}`);
    }
    return finish(null);
  } catch (err) {
    return finish(describeError(err, signal, timeoutMs));
  }
}

function outcomeFor(status: number | null): AttemptOutcome {
  if (status !== null && status >= 200 && status < 300) return 'success';
  if (status === 410) return 'gone';
  return 'failure';
}

function firstValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

// Reads until `limit` bytes or the end, then destroys the stream: a receiver answering with a huge
// (or endless) body must not hold the worker or its memory. Destroying an unfinished undici body
// closes that connection instead of returning it to the pool, which is what we want here.
async function readExcerpt(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  limit: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } finally {
    body.destroy();
  }
  // StringDecoder.write holds back an incomplete trailing UTF-8 sequence instead of emitting U+FFFD.
  return new StringDecoder('utf8').write(Buffer.concat(chunks).subarray(0, limit));
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function describeError(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  const code = errorCode(err);
  if (signal.aborted || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return `timeout: no complete response within ${timeoutMs} ms`;
  }
  if (!(err instanceof Error)) return String(err);
  // AggregateError (several addresses failed) has an empty message of its own.
  const nested =
    err instanceof AggregateError ? err.errors.map((inner) => describeError(inner, signal, timeoutMs)) : [];
  const message = err.message || nested.join('; ') || err.name;
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}
