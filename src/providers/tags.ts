/**
 * Tags: named pointers to snapshots, kept in snapshot metadata so every provider has them. A snapshot may carry
 * several (`myapp:latest` and `myapp:1.4.0`): each is `tag:<name>` = "true", with the time it was applied in
 * `tagged-at:<name>`. The plain `tag` key holds the last tag applied, as Morph's SDK expects. Moving a tag is a
 * pointer change, so a rollback is `snapbuild tag <tag> <older snapshot>`. Provider-agnostic.
 */
import type { Provider, SnapshotInfo } from './provider';

export const TAG_KEY = 'tag';
const tagKey = (tag: string) => `tag:${tag}`;
const taggedAtKey = (tag: string) => `tagged-at:${tag}`;

export interface TagInfo {
  tag: string;
  snapshotId: string;
  digest: string | null;
  createdAt: number;
  taggedAt?: string;
}

/** Points `tag` at `snapshotId` (adding `metadata`), then takes it off every other snapshot. */
export async function moveTag(provider: Provider, tag: string, snapshotId: string, metadata: Record<string, string> = {}, signal?: AbortSignal): Promise<SnapshotInfo> {
  const tagged = await provider.updateSnapshotMetadata(
    snapshotId,
    { ...metadata, [TAG_KEY]: tag, [tagKey(tag)]: 'true', [taggedAtKey(tag)]: new Date().toISOString() },
    signal,
  );
  for (const other of await provider.listSnapshots({ metadata: { [tagKey(tag)]: 'true' } }, signal)) {
    if (other.id === snapshotId) continue;
    await provider.updateSnapshotMetadata(other.id, { [tagKey(tag)]: 'false', ...(other.metadata[TAG_KEY] === tag ? { [TAG_KEY]: '' } : {}) }, signal);
  }
  return tagged;
}

/** Of several snapshots carrying a tag (an interrupted move), the most recently tagged wins, then the newest. */
function current(tag: string, candidates: SnapshotInfo[]): SnapshotInfo | undefined {
  const at = (s: SnapshotInfo) => s.metadata[taggedAtKey(tag)] ?? '';
  return [...candidates].sort((a, b) => at(b).localeCompare(at(a)) || b.createdAt - a.createdAt)[0];
}

export async function resolveTag(provider: Provider, tag: string, signal?: AbortSignal): Promise<SnapshotInfo | undefined> {
  return current(tag, await provider.listSnapshots({ metadata: { [tagKey(tag)]: 'true' } }, signal));
}

export async function listTags(provider: Provider, signal?: AbortSignal): Promise<TagInfo[]> {
  const byTag = new Map<string, SnapshotInfo[]>();
  for (const s of await provider.listSnapshots({}, signal)) {
    for (const [key, value] of Object.entries(s.metadata)) {
      if (!key.startsWith('tag:') || value !== 'true') continue;
      const tag = key.slice('tag:'.length);
      byTag.set(tag, [...(byTag.get(tag) ?? []), s]);
    }
  }
  return [...byTag.entries()]
    .map(([tag, snaps]) => {
      const s = current(tag, snaps)!;
      return { tag, snapshotId: s.id, digest: s.digest, createdAt: s.createdAt, taggedAt: s.metadata[taggedAtKey(tag)] };
    })
    .sort((a, b) => a.tag.localeCompare(b.tag));
}
