/**
 * The Morph Cloud provider: the Provider interface over Morph's REST API (MORPH_API.md), through MorphHttp.
 * Choices made where the API is unconfirmed (MORPH_API.md §9) are marked "choice:".
 */
import { exportPrefix } from '../../core/shell';
import { ProviderTimeoutError, ServerError } from '../errors';
import type { ExecOptions, ExecResult, InstanceInfo, Provider, SnapshotInfo, SnapshotOptions, StartInstanceOptions } from '../provider';
import { MorphHttp, sleep, type MorphHttpOptions } from './http';
import { execSchema, instanceSchema, listOf, snapshotSchema, toInstanceInfo, toSnapshotInfo } from './schemas';

export interface MorphProviderOptions extends MorphHttpOptions {
  /** Concurrent digest lookups while planning (default 16). */
  lookupConcurrency?: number;
  /** How long to wait for an instance or snapshot to become ready. */
  readyTimeoutMs?: number;
  /** Polling interval bounds while waiting for readiness. */
  pollMinMs?: number;
  pollMaxMs?: number;
}

/** A digest that identifies the base snapshot snapbuild makes for an image id (e.g. morphvm-minimal). */
const imageDigest = (image: string) => `snapbuild-image:${image}`;

export class MorphProvider implements Provider {
  readonly name = 'morph';
  private readonly http: MorphHttp;

  constructor(private readonly options: MorphProviderOptions) {
    this.http = new MorphHttp(options);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  // ---- snapshots -------------------------------------------------------------------------------------------

  /**
   * A `snapshot_...` id is used as it is. Anything else names an image: its base snapshot is found by a
   * snapbuild digest, or created from the image (choice: POST /snapshot with that digest, then wait for READY).
   */
  async resolveBase(base: string, signal?: AbortSignal): Promise<SnapshotInfo> {
    if (base.startsWith('snapshot_')) return this.getSnapshot(base, signal);
    const found = (await this.findReadySnapshots([imageDigest(base)], signal)).get(imageDigest(base));
    if (found) return found;
    const created = await this.http.call('POST', '/snapshot', { body: { image_id: base, digest: imageDigest(base) }, schema: snapshotSchema, signal });
    return this.waitForSnapshot(created.id, signal);
  }

  async getSnapshot(id: string, signal?: AbortSignal): Promise<SnapshotInfo> {
    return toSnapshotInfo(await this.http.call('GET', `/snapshot/${encodeURIComponent(id)}`, { schema: snapshotSchema, signal }));
  }

  /**
   * One concurrent round of `GET /snapshot?digest=` (bounded). Only READY snapshots count (choice: the SDK
   * takes any status; a pending or failed layer is not a layer yet), the newest first.
   */
  async findReadySnapshots(digests: readonly string[], signal?: AbortSignal): Promise<Map<string, SnapshotInfo>> {
    const unique = [...new Set(digests)];
    const found = new Map<string, SnapshotInfo>();
    await mapLimit(unique, this.options.lookupConcurrency ?? 16, async (digest) => {
      const ready = (await this.listSnapshots({ digest }, signal)).find((s) => s.status === 'ready' && s.digest === digest);
      if (ready) found.set(digest, ready);
    });
    return found;
  }

  async listSnapshots(filter: { digest?: string; metadata?: Record<string, string> } = {}, signal?: AbortSignal): Promise<SnapshotInfo[]> {
    const res = await this.http.call('GET', '/snapshot', { query: { digest: filter.digest, ...metadataQuery(filter.metadata) }, schema: listOf(snapshotSchema), signal });
    return res.data.map(toSnapshotInfo).sort((a, b) => b.createdAt - a.createdAt); // stable: keeps the API's order on ties
  }

  /** The API replaces the whole dict, so read, merge, write (idempotent: writing the same dict twice is harmless). */
  async updateSnapshotMetadata(id: string, patch: Record<string, string>, signal?: AbortSignal): Promise<SnapshotInfo> {
    const current = await this.getSnapshot(id, signal);
    const body = { ...current.metadata, ...patch };
    return toSnapshotInfo(await this.http.call('POST', `/snapshot/${encodeURIComponent(id)}/metadata`, { body, schema: snapshotSchema, idempotent: true, signal }));
  }

  async deleteSnapshot(id: string, signal?: AbortSignal): Promise<void> {
    await this.http.call('DELETE', `/snapshot/${encodeURIComponent(id)}`, { signal });
  }

  async waitForSnapshot(id: string, signal?: AbortSignal): Promise<SnapshotInfo> {
    return this.poll(`snapshot ${id}`, signal, async () => {
      const s = await this.getSnapshot(id, signal);
      if (s.status === 'failed' || s.status === 'deleted' || s.status === 'deleting') throw new ServerError(`snapshot ${id} is ${s.status}`, false);
      return s.status === 'ready' ? s : undefined;
    });
  }

  // ---- instances -------------------------------------------------------------------------------------------

  /**
   * Starts an instance (never retried blindly: a lost response could mean a running machine) with a TTL and
   * `ttl_action: stop`, then waits for READY. If waiting fails, the instance is stopped before the error is
   * passed on, as the Python SDK does.
   */
  async startInstance(snapshotId: string, options: StartInstanceOptions): Promise<InstanceInfo> {
    const created = await this.http.call('POST', '/instance', {
      query: { snapshot_id: snapshotId },
      body: { metadata: options.metadata ?? {}, ttl_seconds: Math.ceil(options.ttlSeconds), ttl_action: 'stop' },
      schema: instanceSchema,
      signal: options.signal,
    });
    try {
      return await this.poll(`instance ${created.id}`, options.signal, async () => {
        const i = await this.getInstance(created.id, options.signal);
        if (i.status === 'error') throw new ServerError(`instance ${created.id} failed to start (status error)`, true);
        return i.status === 'ready' ? i : undefined;
      });
    } catch (err) {
      await this.stopInstance(created.id).catch(() => undefined);
      throw err;
    }
  }

  async getInstance(id: string, signal?: AbortSignal): Promise<InstanceInfo> {
    return toInstanceInfo(await this.http.call('GET', `/instance/${encodeURIComponent(id)}`, { schema: instanceSchema, signal }));
  }

  async listInstances(filter: { metadata?: Record<string, string> } = {}, signal?: AbortSignal): Promise<InstanceInfo[]> {
    const res = await this.http.call('GET', '/instance', { query: metadataQuery(filter.metadata), schema: listOf(instanceSchema), signal });
    return res.data.map(toInstanceInfo);
  }

  /**
   * Runs one shell string (MORPH_API.md §4: the server does not quote argv, so the command is sent as a single
   * element). Environment variables are exported in front, shell-quoted. The timeout is client-side: the
   * command may go on running remotely, which is why the workflow discards an instance after a timeout.
   */
  async exec(instanceId: string, command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 24 * 3600 * 1000;
    try {
      const res = await this.http.call('POST', `/instance/${encodeURIComponent(instanceId)}/exec`, {
        body: { command: [exportPrefix(options.env ?? {}) + command] },
        schema: execSchema,
        signal: options.signal,
        timeoutMs,
      });
      if (res.stdout) options.onOutput?.(res.stdout, 'stdout');
      if (res.stderr) options.onOutput?.(res.stderr, 'stderr');
      return { exitCode: res.exit_code, stdout: res.stdout, stderr: res.stderr };
    } catch (err) {
      if (err instanceof ProviderTimeoutError) throw new ProviderTimeoutError(`command timed out after ${timeoutMs} ms`);
      throw err;
    }
  }

  /**
   * Snapshots with the digest in the query string, then waits for READY (choice: the status right after the
   * call is unconfirmed, so snapbuild always polls).
   */
  async snapshot(instanceId: string, options: SnapshotOptions): Promise<SnapshotInfo> {
    const created = await this.http.call('POST', `/instance/${encodeURIComponent(instanceId)}/snapshot`, {
      query: { digest: options.digest },
      body: { metadata: options.metadata ?? {} },
      schema: snapshotSchema,
      signal: options.signal,
    });
    return this.waitForSnapshot(created.id, options.signal);
  }

  async setInstanceTtl(id: string, ttlSeconds: number, signal?: AbortSignal): Promise<InstanceInfo> {
    return toInstanceInfo(
      await this.http.call('POST', `/instance/${encodeURIComponent(id)}/ttl`, {
        body: { ttl_seconds: Math.ceil(ttlSeconds), ttl_action: 'stop' },
        schema: instanceSchema,
        idempotent: true,
        signal,
      }),
    );
  }

  /** DELETE is stop; an instance that is already gone (404) counts as stopped. */
  async stopInstance(id: string, signal?: AbortSignal): Promise<void> {
    await this.http.call('DELETE', `/instance/${encodeURIComponent(id)}`, { allowNotFound: true, signal });
  }

  // ---- internals -------------------------------------------------------------------------------------------

  /** Polls `check` with backoff until it returns a value, bounded by readyTimeoutMs and cancelled by `signal`. */
  private async poll<T>(what: string, signal: AbortSignal | undefined, check: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 15 * 60 * 1000);
    let delay = this.options.pollMinMs ?? 250;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() + delay > deadline) throw new ProviderTimeoutError(`${what} was not ready within ${this.options.readyTimeoutMs ?? 900_000} ms`);
      await sleep(delay, signal);
      delay = Math.min(this.options.pollMaxMs ?? 2000, Math.round(delay * 1.5));
    }
  }
}

function metadataQuery(metadata?: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [`metadata[${k}]`, v]));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

