/**
 * Tags: the `tag` metadata key (as in Morph's SDK), one snapshot per tag. Moving a tag is a pointer change, so
 * a rollback is `snapbuild tag <tag> <older snapshot>`. Provider-agnostic.
 */
import type { Provider, SnapshotInfo } from './provider';

export const TAG_KEY = 'tag';
export const TAGGED_AT_KEY = 'tagged-at';

export interface TagInfo {
  tag: string;
  snapshotId: string;
  digest: string | null;
  createdAt: number;
  taggedAt?: string;
}

/** Points `tag` at `snapshotId` (adding `metadata`), then takes it off every other snapshot. */
export async function moveTag(provider: Provider, tag: string, snapshotId: string, metadata: Record<string, string> = {}, signal?: AbortSignal): Promise<SnapshotInfo> {
  const tagged = await provider.updateSnapshotMetadata(snapshotId, { ...metadata, [TAG_KEY]: tag, [TAGGED_AT_KEY]: new Date().toISOString() }, signal);
  for (const other of await provider.listSnapshots({ metadata: { [TAG_KEY]: tag } }, signal)) {
    if (other.id !== snapshotId) await provider.updateSnapshotMetadata(other.id, { [TAG_KEY]: '' }, signal);
  }
  return tagged;
}

/** Of several snapshots carrying a tag (an interrupted move), the most recently tagged wins, then the newest. */
function current(candidates: SnapshotInfo[]): SnapshotInfo | undefined {
  return [...candidates].sort((a, b) => (b.metadata[TAGGED_AT_KEY] ?? '').localeCompare(a.metadata[TAGGED_AT_KEY] ?? '') || b.createdAt - a.createdAt)[0];
}

export async function resolveTag(provider: Provider, tag: string, signal?: AbortSignal): Promise<SnapshotInfo | undefined> {
  return current(await provider.listSnapshots({ metadata: { [TAG_KEY]: tag } }, signal));
}

export async function listTags(provider: Provider, signal?: AbortSignal): Promise<TagInfo[]> {
  const byTag = new Map<string, SnapshotInfo[]>();
  for (const s of await provider.listSnapshots({}, signal)) {
    const tag = s.metadata[TAG_KEY];
    if (tag) byTag.set(tag, [...(byTag.get(tag) ?? []), s]);
  }
  return [...byTag.entries()]
    .map(([tag, snaps]) => {
      const s = current(snaps)!;
      return { tag, snapshotId: s.id, digest: s.digest, createdAt: s.createdAt, taggedAt: s.metadata[TAGGED_AT_KEY] };
    })
    .sort((a, b) => a.tag.localeCompare(b.tag));
}
