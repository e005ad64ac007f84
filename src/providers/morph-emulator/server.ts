/**
 * A loopback Morph Cloud API server (the subset layered builds use, MORPH_API.md §7) backed by a real
 * LocalProvider: exec really runs commands and snapshots really capture state. Every request passes through
 * fault injection first (see faults.ts), then routing, auth, body parsing and its handler.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import { ConflictError, NotFoundError, ProviderError, ValidationError } from '../errors';
import type { LocalProvider } from '../local';
import { EmulatorBackend } from './backend';
import { FaultInjector, sleep, type FaultConfig, type FaultDecision, type FaultStats } from './faults';
import { matchRoute, morphRoutes, type Route } from './routes';
import { HttpError, invalidJson, type Reply } from './wire';

export interface EmulatorOptions {
  /** Holds the filesystem state; the caller opens and closes it. */
  provider: LocalProvider;
  /** The only accepted `Authorization: Bearer` key. Never logged or echoed. */
  apiKey: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  faults?: Partial<FaultConfig>;
  /** How long a new instance reports `pending` (default 150 ms). */
  instanceReadyDelayMs?: number;
  /** How long a new snapshot reports `pending` (default 200 ms). */
  snapshotReadyDelayMs?: number;
  /** Where unexpected handler errors are reported (default: nowhere). */
  log?: (line: string) => void;
}

export interface MorphEmulator {
  /** The base URL to use as MORPH_BASE_URL: `http://127.0.0.1:PORT/api`. */
  readonly url: string;
  readonly port: number;
  /** Changes some fault settings at once; a given seed restarts the PRNG. Throws FaultConfigError if invalid. */
  setFaults(faults: Partial<FaultConfig>): void;
  /** The fault settings in force. */
  faults(): FaultConfig;
  /** Counters of the faults injected so far. */
  stats(): FaultStats;
  /** Closes the server (in-flight commands are aborted) and stops every instance the emulator started. */
  close(): Promise<void>;
}

const API_PREFIX = '/api';
const MAX_BODY_BYTES = 1024 * 1024;

/** Starts the emulator and resolves once it is listening. */
export async function startMorphEmulator(opts: EmulatorOptions): Promise<MorphEmulator> {
  if (!opts.apiKey) throw new Error('the Morph emulator needs a non-empty API key');
  const faults = new FaultInjector(opts.faults);
  const backend = new EmulatorBackend({
    provider: opts.provider,
    instanceReadyDelayMs: opts.instanceReadyDelayMs ?? 150,
    snapshotReadyDelayMs: opts.snapshotReadyDelayMs ?? 200,
    execDelayMs: () => faults.execDelayMs(),
  });
  await backend.adoptStoredSnapshots();
  const handler = new RequestHandler(morphRoutes(backend), faults, keyChecker(opts.apiKey), opts.log ?? (() => undefined));

  const inflight = new Set<Promise<void>>();
  const server = http.createServer((req, res) => {
    const done: Promise<void> = handler.serve(req, res).finally(() => inflight.delete(done));
    inflight.add(done);
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, opts.port ?? 0, host);

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}${API_PREFIX}`,
    port,
    setFaults: (f) => faults.update(f),
    faults: () => ({ ...faults.config }),
    stats: () => faults.stats(),
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections(); // aborts running commands: their clients are gone
        await closed;
        await Promise.allSettled([...inflight]);
        await backend.close();
      })()),
  };
}

class RequestHandler {
  constructor(
    private readonly routes: readonly Route[],
    private readonly faults: FaultInjector,
    private readonly isValidKey: (key: string) => boolean,
    private readonly log: (line: string) => void,
  ) {}

  /** Decides the request's fault as it arrives, answers (or injects), waits the latency, then sends or drops. */
  async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const decision: FaultDecision = this.faults.decide(req.method ?? '');
    const aborter = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort(new Error('the client disconnected'));
    });
    const reply = decision.reject ? injectedReply(decision.reject) : await this.answer(req, aborter.signal);
    await sleep(this.faults.config.latencyMs);
    if (aborter.signal.aborted) return;
    if (decision.drop) {
      req.socket.destroy(); // processed, but the response is lost
      return;
    }
    send(res, reply);
  }

  private async answer(req: http.IncomingMessage, signal: AbortSignal): Promise<Reply> {
    try {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const match = url.pathname.startsWith(`${API_PREFIX}/`) ? matchRoute(this.routes, req.method ?? '', url.pathname.slice(API_PREFIX.length)) : undefined;
      if (!match) throw new HttpError(404, 'Not Found');
      if ('methodNotAllowed' in match) throw new HttpError(405, 'Method Not Allowed', { allow: match.methodNotAllowed.join(', ') });
      this.authorize(req);
      const body = await readJsonBody(req);
      return await match.route.handle({ params: match.params, query: url.searchParams, body, signal });
    } catch (err) {
      if (!signal.aborted && !(err instanceof HttpError) && !(err instanceof ProviderError)) {
        this.log(`morph-emulator: ${req.method} ${req.url?.split('?')[0]}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
      return errorReply(err);
    }
  }

  private authorize(req: http.IncomingMessage): void {
    const header = req.headers.authorization;
    const key = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (!key) throw new HttpError(401, 'Not authenticated', { 'www-authenticate': 'Bearer' });
    if (!this.isValidKey(key)) throw new HttpError(401, 'Invalid API key', { 'www-authenticate': 'Bearer' });
  }
}

/** Compares keys in constant time (hashing first makes the lengths equal). */
function keyChecker(apiKey: string): (key: string) => boolean {
  const expected = sha256(apiKey);
  return (key) => timingSafeEqual(sha256(key), expected);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function injectedReply(status: 500 | 503 | 429): Reply {
  if (status === 429) return { status, body: { detail: 'injected rate limit' }, headers: { 'retry-after': '1' } };
  return { status, body: { detail: 'injected server error' } };
}

/** Maps a thrown error to `{"detail": ...}` with its status. */
function errorReply(err: unknown): Reply {
  if (err instanceof HttpError) return { status: err.status, body: { detail: err.detail }, headers: err.headers };
  if (err instanceof NotFoundError) return { status: 404, body: { detail: err.message } };
  if (err instanceof ConflictError) return { status: 409, body: { detail: err.message } };
  if (err instanceof ValidationError) return { status: 422, body: { detail: err.message } };
  if (err instanceof ProviderError) return { status: 500, body: { detail: err.message } };
  return { status: 500, body: { detail: 'Internal Server Error' } };
}

/** The request's JSON body, or undefined when it has none. */
async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'Request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidJson(err);
  }
}

function send(res: http.ServerResponse, reply: Reply): void {
  const headers: Record<string, string | number> = { ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  const payload = JSON.stringify(reply.body);
  headers['content-type'] = 'application/json';
  headers['content-length'] = Buffer.byteLength(payload);
  res.writeHead(reply.status, headers).end(payload);
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
