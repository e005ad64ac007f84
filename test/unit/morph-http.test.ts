/** The Morph HTTP layer against a real loopback HTTP server: retry rules, error classes, secrecy. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { AuthError, NetworkError, ProviderTimeoutError, RateLimitedError, ServerError, ValidationError } from '../../src/providers/errors';
import { MorphHttp, parseRetryAfter } from '../../src/providers/morph/http';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
let server: Server;
let handler: Handler;
let hits: string[];
let http: MorphHttp;
const KEY = 'sk-very-secret-key';

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res, hits.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  http = new MorphHttp({ baseUrl: `http://127.0.0.1:${port}/api`, apiKey: KEY, retry: { initialDelayMs: 10, maxDelayMs: 50 }, random: () => 0.5 });
});
afterAll(async () => {
  await http.close();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  hits = [];
});

/** The error a call failed with (a call that succeeds fails the test). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const failure = (p: Promise<unknown>): Promise<any> => p.then(() => Promise.reject(new Error('expected the call to fail')), (e) => e);

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

test('sends the bearer key and parses the body with the schema', async () => {
  let auth: string | undefined;
  handler = (req, res) => {
    auth = req.headers.authorization;
    json(res, 200, { id: 'x', extra: 'ignored' });
  };
  await expect(http.call('GET', '/thing', { schema: z.object({ id: z.string() }), query: { 'metadata[a]': 'b c' } })).resolves.toEqual({ id: 'x' });
  expect(auth).toBe(`Bearer ${KEY}`);
  expect(hits).toEqual(['GET /api/thing?metadata%5Ba%5D=b+c']);
});

test('retries an idempotent call on 5xx until it succeeds', async () => {
  handler = (_req, res, n) => (n < 3 ? json(res, 503, { detail: 'busy' }) : json(res, 200, { ok: true }));
  await expect(http.call('GET', '/flaky')).resolves.toEqual({ ok: true });
  expect(hits.length).toBe(3);
});

test('never retries a non-idempotent call on 5xx: the request may have run', async () => {
  handler = (_req, res) => json(res, 500, { detail: 'boom' });
  const err = await failure(http.call('POST', '/instance/x/exec', { body: { command: ['true'] } }));
  expect(err).toBeInstanceOf(ServerError);
  expect(err.message).toBe('POST /instance/x/exec: 500 boom');
  expect(hits.length).toBe(1);
});

test('retries any call on 429, waiting as Retry-After says', async () => {
  handler = (_req, res, n) => (n === 1 ? json(res, 429, { detail: 'slow down' }, { 'retry-after': '0.3' }) : json(res, 200, { ok: 1 }));
  const t0 = Date.now();
  await expect(http.call('POST', '/instance', { body: {} })).resolves.toEqual({ ok: 1 });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  expect(hits.length).toBe(2);
});

test('gives up after the attempt limit with the last error', async () => {
  handler = (_req, res) => json(res, 429, { detail: 'no' }, { 'retry-after': '0' });
  await expect(http.call('GET', '/always-limited')).rejects.toBeInstanceOf(RateLimitedError);
  expect(hits.length).toBe(6);
});

test('a dropped connection is retried for GET but not for POST', async () => {
  handler = (req, res, n) => (n === 1 || req.method === 'POST' ? req.socket.destroy() : json(res, 200, { ok: true }));
  await expect(http.call('GET', '/drop')).resolves.toEqual({ ok: true });
  hits = [];
  await expect(http.call('POST', '/drop', { body: {} })).rejects.toBeInstanceOf(NetworkError);
  expect(hits.length).toBe(1);
});

test('a refused connection is marked never-sent, so that even a POST may be retried', async () => {
  const closed = new MorphHttp({ baseUrl: 'http://127.0.0.1:1/api', apiKey: KEY, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
  const err = await failure(closed.call('POST', '/instance', { body: {} }));
  await closed.close();
  expect(err).toBeInstanceOf(NetworkError);
  expect(err.neverSent).toBe(true);
  expect(err.message).toBe('POST /instance: ECONNREFUSED');
});

test('401 is an AuthError whose message never holds the key', async () => {
  handler = (_req, res) => json(res, 401, { detail: `invalid key ${KEY}` });
  const err = await failure(http.call('GET', '/user'));
  expect(err).toBeInstanceOf(AuthError);
  expect(err.retryable).toBe(false);
  expect(err.message).not.toContain(KEY);
  expect(hits.length).toBe(1);
});

test("422 keeps FastAPI's locations and messages but drops the echoed input", async () => {
  handler = (_req, res) => json(res, 422, { detail: [{ loc: ['body', 'command'], msg: 'Field required', type: 'missing', input: { secret: 'hunter2' } }] });
  const err = await failure(http.call('POST', '/instance/x/exec', { body: {} }));
  expect(err).toBeInstanceOf(ValidationError);
  expect(err.message).toBe('POST /instance/x/exec: 422 body.command: Field required');
  expect(err.details).toEqual([{ loc: ['body', 'command'], msg: 'Field required', type: 'missing' }]);
  expect(JSON.stringify(err.details)).not.toContain('hunter2');
});

test('a response that does not match the schema is a clear, non-retryable error', async () => {
  handler = (_req, res) => json(res, 200, { id: 42 });
  const err = await failure(http.call('GET', '/snapshot/x', { schema: z.object({ id: z.string() }) }));
  expect(err).toBeInstanceOf(ServerError);
  expect(err.message).toMatch(/^GET \/snapshot\/x: unexpected response \(id: /);
  expect(hits.length).toBe(1);
});

test('a slow answer is a ProviderTimeoutError; the caller can abort a call at once', async () => {
  handler = (_req, res) => setTimeout(() => json(res, 200, {}), 1000);
  await expect(http.call('POST', '/instance/x/exec', { body: {}, timeoutMs: 100 })).rejects.toBeInstanceOf(ProviderTimeoutError);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('cancelled by workflow')), 50);
  await expect(http.call('GET', '/slow', { signal: ac.signal })).rejects.toThrow('cancelled by workflow');
});

test('parseRetryAfter reads seconds and HTTP dates', () => {
  expect(parseRetryAfter('2')).toBe(2000);
  expect(parseRetryAfter('0.5')).toBe(500);
  expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('Thu, 01 Jan 2026 00:00:00 GMT'))).toBe(10_000);
  expect(parseRetryAfter('soon')).toBeUndefined();
  expect(parseRetryAfter(undefined)).toBeUndefined();
});
