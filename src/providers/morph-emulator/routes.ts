/**
 * The emulated routes (MORPH_API.md §3 and §7), relative to the `/api` prefix. Each handler validates its query
 * and body, calls the backend, and returns a Reply.
 */
import { IMAGE_ID, type EmulatorBackend, type MetadataFilter } from './backend';
import {
  createSnapshotBody,
  execBody,
  instanceSnapshotBody,
  instanceSnapshotQuery,
  metadataBody,
  parseInput,
  snapshotListQuery,
  startInstanceBody,
  startInstanceQuery,
  ttlBody,
  type ListJson,
  type Reply,
} from './wire';

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RouteRequest {
  /** Path parameters, in order. */
  params: string[];
  query: URLSearchParams;
  /** Parsed JSON body; undefined when there was none. */
  body: unknown;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
}

export interface Route {
  method: Method;
  pattern: RegExp;
  handle(req: RouteRequest): Promise<Reply> | Reply;
}

export type RouteMatch = { route: Route; params: string[] } | { methodNotAllowed: Method[] } | undefined;

/** The route table, in the order of MORPH_API.md §3. */
export function morphRoutes(backend: EmulatorBackend): Route[] {
  return [
    route('GET', '/image', () => ok(list(backend.images()))),

    route('POST', '/snapshot', async ({ body }) => {
      const b = parseInput(createSnapshotBody, body ?? {}, 'body');
      const spec = { vcpus: b.vcpus ?? 1, memory: b.memory ?? 128, disk_size: b.disk_size ?? 700 };
      return ok(await backend.createBaseSnapshot({ imageId: b.image_id ?? IMAGE_ID, spec, digest: b.digest ?? null, metadata: b.metadata ?? {} }));
    }),
    route('GET', '/snapshot', ({ query }) => {
      const q = parseInput(snapshotListQuery, queryObject(query), 'query');
      return ok(list(backend.listSnapshots({ digest: q.digest, metadata: metadataFilter(query) })));
    }),
    route('GET', '/snapshot/:id', ({ params: [id] }) => ok(backend.getSnapshot(id))),
    route('DELETE', '/snapshot/:id', async ({ params: [id] }) => {
      await backend.deleteSnapshot(id);
      return noContent();
    }),
    route('POST', '/snapshot/:id/metadata', async ({ params: [id], body }) =>
      ok(await backend.replaceSnapshotMetadata(id, parseInput(metadataBody, body, 'body'))),
    ),

    route('POST', '/instance', async ({ query, body }) => {
      const q = parseInput(startInstanceQuery, queryObject(query), 'query');
      const b = parseInput(startInstanceBody, body ?? {}, 'body');
      return ok(await backend.startInstance(q.snapshot_id, { metadata: b.metadata ?? {}, ttlSeconds: b.ttl_seconds ?? null, ttlAction: b.ttl_action ?? 'stop' }));
    }),
    route('GET', '/instance', async ({ query }) => ok(list(await backend.listInstances({ metadata: metadataFilter(query) })))),
    route('GET', '/instance/:id', async ({ params: [id] }) => ok(await backend.getInstance(id))),
    route('DELETE', '/instance/:id', async ({ params: [id] }) => {
      await backend.stopInstance(id);
      return noContent();
    }),
    route('POST', '/instance/:id/exec', async ({ params: [id], body, signal }) =>
      ok(await backend.exec(id, parseInput(execBody, body, 'body').command, signal)),
    ),
    route('POST', '/instance/:id/snapshot', async ({ params: [id], query, body }) => {
      const q = parseInput(instanceSnapshotQuery, queryObject(query), 'query');
      const b = parseInput(instanceSnapshotBody, body ?? {}, 'body');
      return ok(await backend.snapshotInstance(id, { digest: q.digest ?? null, metadata: b.metadata ?? {} }));
    }),
    route('POST', '/instance/:id/metadata', async ({ params: [id], body }) =>
      ok(await backend.replaceInstanceMetadata(id, parseInput(metadataBody, body, 'body'))),
    ),
    route('POST', '/instance/:id/ttl', async ({ params: [id], body }) => {
      const b = parseInput(ttlBody, body, 'body');
      return ok(await backend.setInstanceTtl(id, b.ttl_seconds ?? null, b.ttl_action ?? undefined));
    }),
  ];
}

/** Finds the route for a path below `/api`; tells a wrong method (405) from an unknown path (undefined: 404). */
export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  const allowed: Method[] = [];
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    if (r.method !== method) {
      allowed.push(r.method);
      continue;
    }
    const params = m.slice(1).map(decodeParam);
    if (params.some((p) => p === undefined)) return undefined;
    return { route: r, params: params as string[] };
  }
  return allowed.length ? { methodNotAllowed: allowed } : undefined;
}

function route(method: Method, path: string, handle: Route['handle']): Route {
  const pattern = new RegExp(`^${path.replace(/:[a-z]+/g, '([^/]+)')}$`);
  return { method, pattern, handle };
}

function decodeParam(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Plain query parameters (the last value wins, as FastAPI does for scalars), without the metadata filters. */
function queryObject(query: URLSearchParams): Record<string, string> {
  return Object.fromEntries([...query].filter(([k]) => !METADATA_KEY.test(k)));
}

const METADATA_KEY = /^metadata\[(.*)\]$/;

/** The `metadata[k]=v` filters, every one of which must match. */
function metadataFilter(query: URLSearchParams): MetadataFilter {
  return [...query].flatMap(([k, v]) => {
    const m = METADATA_KEY.exec(k);
    return m ? [[m[1], v] as const] : [];
  });
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}

function noContent(): Reply {
  return { status: 204 };
}

function list<T>(data: T[]): ListJson<T> {
  return { object: 'list', data };
}
