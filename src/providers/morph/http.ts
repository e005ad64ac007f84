/**
 * The Morph HTTP layer: undici, bearer auth, zod-validated responses, one error class per condition, and
 * retries with exponential backoff and jitter that honour Retry-After.
 *
 * What is retried: an idempotent call (GET, DELETE, and writes that set absolute state) on 408/429/5xx, a
 * timeout or a broken connection. A non-idempotent call (exec, start, snapshot) only when the request surely
 * did not run: a 429 (rejected before processing) or a connection that was never established. Everything
 * else is the workflow's decision (DESIGN.md's recovery rules).
 *
 * The API key is only ever put in the Authorization header: never in a message, a log line or an error.
 */
import { Agent, errors as undiciErrors, request } from 'undici';
import type { z } from 'zod';
import {
  AuthError,
  ConflictError,
  NetworkError,
  NotFoundError,
  ProviderError,
  ProviderTimeoutError,
  RateLimitedError,
  ServerError,
  ValidationError,
} from '../errors';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Longest Retry-After honoured; a longer one fails the call instead of stalling it. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, initialDelayMs: 250, maxDelayMs: 8000, maxRetryAfterMs: 60_000 };

export interface MorphHttpOptions {
  baseUrl: string;
  apiKey: string;
  retry?: Partial<RetryPolicy>;
  /** Per-request limit for everything but exec (which passes its own). */
  timeoutMs?: number;
  /** Source of randomness for jitter (tests pass a fixed one). */
  random?: () => number;
}

export interface CallOptions<T> {
  query?: Record<string, string | undefined>;
  body?: unknown;
  schema?: z.ZodType<T>;
  /** Whether repeating the call is harmless. Defaults to true for GET and DELETE, false otherwise. */
  idempotent?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** A 404 resolves to undefined instead of throwing. */
  allowNotFound?: boolean;
}

export class MorphHttp {
  private readonly agent: Agent;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly timeoutMs: number;
  private readonly baseUrl: string;

  constructor(private readonly options: MorphHttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 32 });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** One API call, with retries as the module comment says. Resolves with the parsed body. */
  async call<T = unknown>(method: string, path: string, opts: CallOptions<T> = {}): Promise<T> {
    const idempotent = opts.idempotent ?? (method === 'GET' || method === 'DELETE');
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(method, path, opts);
      } catch (err) {
        const delay = this.retryDelay(err, attempt, idempotent);
        if (delay === undefined || opts.signal?.aborted) throw err;
        await sleep(delay, opts.signal);
      }
    }
  }

  /** The wait before the next attempt, or undefined to give up (the chain of checks reads top to bottom). */
  private retryDelay(err: unknown, attempt: number, idempotent: boolean): number | undefined {
    if (attempt >= this.retry.maxAttempts) return undefined;
    if (!(err instanceof ProviderError) || !err.retryable) return undefined;
    const neverSent = err instanceof NetworkError && err.neverSent;
    if (!idempotent && !(err instanceof RateLimitedError) && !neverSent) return undefined;
    if (err instanceof RateLimitedError && err.retryAfterMs !== undefined) {
      return err.retryAfterMs <= this.retry.maxRetryAfterMs ? err.retryAfterMs : undefined;
    }
    const exp = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** (attempt - 1));
    return Math.round(exp * (0.5 + this.random())); // jitter in [0.5, 1.5)
  }

  private async once<T>(method: string, path: string, opts: CallOptions<T>): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.append(k, v);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const where = `${method} ${path}`;
    const signals = [AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])];
    let res;
    try {
      res = await request(url, {
        method: method as 'GET',
        dispatcher: this.agent,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        signal: AbortSignal.any(signals),
        headersTimeout: timeoutMs + 1000,
        bodyTimeout: timeoutMs + 1000,
      });
    } catch (err) {
      throw transportError(err, where, timeoutMs, opts.signal);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw transportError(err, where, timeoutMs, opts.signal);
    }
    if (res.statusCode === 404 && opts.allowNotFound) return undefined as T;
    if (res.statusCode >= 400) throw statusError(res.statusCode, where, text, res.headers['retry-after']);
    const json = text ? safeJson(text) : {};
    if (!opts.schema) return json as T;
    const parsed = opts.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ServerError(`${where}: unexpected response (${issue.path.join('.') || 'body'}: ${issue.message})`, false);
    }
    return parsed.data;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { unparsable: true };
  }
}

/** Maps an HTTP error status to its error class. The message carries the server's `detail`, never our request. */
export function statusError(status: number, where: string, text: string, retryAfter?: string | string[]): ProviderError {
  const body = safeJson(text) as { detail?: unknown };
  const detail = describeDetail(body?.detail) ?? (text.length < 200 ? text : '');
  const message = `${where}: ${status}${detail ? ` ${detail}` : ''}`;
  if (status === 401 || status === 403) return new AuthError(`${where}: ${status} the API key was refused (check MORPH_API_KEY)`);
  if (status === 404) return new NotFoundError(message);
  if (status === 409) return new ConflictError(message);
  if (status === 422 || status === 400) return new ValidationError(message, validationDetails(body?.detail));
  if (status === 429) return new RateLimitedError(message, parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter));
  if (status === 408 || status >= 500) return new ServerError(message, true);
  return new ServerError(message, false);
}

function describeDetail(detail: unknown): string | undefined {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return validationDetails(detail)
      .map((d) => `${d.loc.join('.')}: ${d.msg}`)
      .join('; ');
  }
  return undefined;
}

/** FastAPI's 422 details, without the `input` it echoes (which could hold a command and its secrets). */
function validationDetails(detail: unknown): { loc: (string | number)[]; msg: string; type?: string }[] {
  if (!Array.isArray(detail)) return [];
  return detail.map((d: { loc?: unknown; msg?: unknown; type?: unknown }) => ({
    loc: Array.isArray(d?.loc) ? (d.loc as (string | number)[]) : [],
    msg: typeof d?.msg === 'string' ? d.msg : 'invalid',
    ...(typeof d?.type === 'string' ? { type: d.type } : {}),
  }));
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

function transportError(err: unknown, where: string, timeoutMs: number, signal?: AbortSignal): Error {
  if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : abortError();
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || err instanceof undiciErrors.HeadersTimeoutError) {
    return new ProviderTimeoutError(`${where}: no answer within ${timeoutMs} ms`);
  }
  const code = e?.code ?? e?.cause?.code ?? 'network error';
  return new NetworkError(`${where}: ${code}`, NEVER_SENT_CODES.has(code));
}

function abortError(): Error {
  const err = new Error('aborted');
  err.name = 'AbortError';
  return err;
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
