/**
 * The Morph API's wire format as the emulator speaks it: JSON object shapes (MORPH_API.md §2), request schemas,
 * and FastAPI-shaped errors (`{"detail": ...}`; 422 with `[{loc, msg, type}]` for validation).
 */
import { z } from 'zod';

export interface Spec {
  vcpus: number;
  /** MB */
  memory: number;
  /** MB */
  disk_size: number;
}

export type TtlAction = 'stop' | 'pause';

export interface SnapshotJson {
  id: string;
  object: 'snapshot';
  created: number;
  status: 'pending' | 'ready' | 'failed' | 'deleting' | 'deleted';
  spec: Spec;
  refs: { image_id: string };
  digest: string | null;
  metadata: Record<string, string>;
  ttl: { ttl_seconds: null; ttl_expire_at: null };
}

export interface InstanceJson {
  id: string;
  object: 'instance';
  created: number;
  status: 'pending' | 'ready' | 'paused' | 'saving' | 'error';
  spec: Spec;
  refs: { snapshot_id: string; image_id: string };
  networking: { internal_ip: string | null; http_services: never[] };
  metadata: Record<string, string>;
  ttl: { ttl_seconds: number | null; ttl_expire_at: number | null; ttl_action: TtlAction };
  wake_on: { wake_on_ssh: boolean; wake_on_http: boolean };
}

export interface ImageJson {
  id: string;
  object: 'image';
  name: string;
  description: string | null;
  /** bytes */
  disk_size: number;
  created: number;
}

export interface ExecJson {
  exit_code: number;
  stdout: string;
  stderr: string;
}

export interface ListJson<T> {
  object: 'list';
  data: T[];
}

// ---- request schemas (unknown fields are ignored, as FastAPI does; PY sends nulls for unset fields) ----------

const metadata = z.record(z.string(), z.string());
const positiveInt = z.number().int().positive();
const ttlSeconds = positiveInt.nullish();
const ttlAction = z.enum(['stop', 'pause']).nullish();

export const createSnapshotBody = z.object({
  image_id: z.string().nullish(),
  vcpus: positiveInt.nullish(),
  memory: positiveInt.nullish(),
  disk_size: positiveInt.nullish(),
  digest: z.string().nullish(),
  metadata: metadata.nullish(),
});

export const startInstanceQuery = z.object({ snapshot_id: z.string() });
export const startInstanceBody = z.object({ metadata: metadata.nullish(), ttl_seconds: ttlSeconds, ttl_action: ttlAction });
export const snapshotListQuery = z.object({ digest: z.string().optional() });
export const instanceSnapshotQuery = z.object({ digest: z.string().optional() });
export const instanceSnapshotBody = z.object({ metadata: metadata.nullish() });
export const execBody = z.object({ command: z.array(z.string()).min(1) });
export const metadataBody = metadata;
export const ttlBody = z.object({ ttl_seconds: ttlSeconds, ttl_action: ttlAction });

// ---- errors and replies ----------------------------------------------------------------------------------------

/** What a handler answers; the server adds latency, drops, and the JSON encoding. */
export interface Reply {
  status: number;
  /** Sent as JSON; no body when undefined (204). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** An error answer: becomes `{"detail": detail}` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === 'string' ? detail : `HTTP ${status}`);
  }
}

export type InputSource = 'body' | 'query';

/** Validates `input` with `schema`, or throws a 422 in FastAPI's shape, locating each problem under `source`. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, source: InputSource): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new HttpError(422, result.error.issues.map((issue) => fastApiIssue(issue, input, source)));
}

/** A 422 for a body that is not JSON. */
export function invalidJson(error: unknown): HttpError {
  return new HttpError(422, [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid', ctx: { error: error instanceof Error ? error.message : String(error) } }]);
}

type Issue = z.ZodError['issues'][number];

function fastApiIssue(issue: Issue, input: unknown, source: InputSource): { loc: (string | number)[]; msg: string; type: string } {
  const loc = [source, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
  if (missing) return { loc, msg: 'Field required', type: 'missing' };
  return { loc, msg: issue.message, type: fastApiType(issue) };
}

function fastApiType(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `${issue.expected}_type`;
    case 'too_small':
      return issue.origin === 'array' ? 'too_short' : 'greater_than_equal';
    case 'too_big':
      return issue.origin === 'array' ? 'too_long' : 'less_than_equal';
    case 'invalid_value':
      return 'literal_error';
    default:
      return 'value_error';
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
