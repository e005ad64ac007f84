/**
 * zod schemas for Morph Cloud responses (MORPH_API.md §2). Tolerant where the live API may differ: unknown
 * fields are ignored, optional fields are optional, an unknown status reads as "pending" (so polling goes on
 * until its deadline rather than failing on a new word).
 */
import { z } from 'zod';
import type { InstanceInfo, SnapshotInfo } from '../provider';

const metadata = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((m) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])));

export const snapshotSchema = z.object({
  id: z.string().min(1),
  created: z.number(),
  status: z.enum(['pending', 'ready', 'failed', 'deleting', 'deleted']).catch('pending'),
  digest: z.string().nullish(),
  metadata,
});

export const instanceSchema = z.object({
  id: z.string().min(1),
  created: z.number(),
  status: z.enum(['pending', 'ready', 'paused', 'saving', 'error']).catch('pending'),
  refs: z.object({ snapshot_id: z.string().nullish() }).partial().nullish(),
  metadata,
  ttl: z.object({ ttl_expire_at: z.number().nullish() }).partial().nullish(),
});

export const listOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item) });

export const execSchema = z.object({ exit_code: z.number().int(), stdout: z.string().default(''), stderr: z.string().default('') });

export type MorphSnapshot = z.output<typeof snapshotSchema>;
export type MorphInstance = z.output<typeof instanceSchema>;

export function toSnapshotInfo(s: MorphSnapshot): SnapshotInfo {
  return { id: s.id, digest: s.digest ?? null, status: s.status, createdAt: s.created * 1000, metadata: s.metadata };
}

export function toInstanceInfo(i: MorphInstance): InstanceInfo {
  const expire = i.ttl?.ttl_expire_at;
  return {
    id: i.id,
    snapshotId: i.refs?.snapshot_id ?? '',
    status: i.status,
    createdAt: i.created * 1000,
    ...(expire ? { ttlExpireAt: expire * 1000 } : {}),
    metadata: i.metadata,
  };
}
