/** Plan computation: pure, given what the provider found. */
import { chainDigests } from './digest';
import type { Plan } from './types';

/** The root of a digest chain: the base snapshot's own digest if it has one, else its id (as Morph's SDK does). */
export function chainRoot(base: { id: string; digest: string | null }): string {
  return base.digest || base.id;
}

/**
 * Builds the plan from the step digests and the READY snapshots found for them. The deepest hit wins, even
 * past gaps: a digest encodes its whole prefix, so step k's layer is valid when step k-1's has expired.
 */
export function assemblePlan(
  base: { id: string; digest: string | null },
  identifiers: readonly string[],
  found: ReadonlyMap<string, { id: string }>,
): Plan {
  const root = chainRoot(base);
  const digests = chainDigests(root, identifiers);
  const steps = digests.map((digest, index) => ({ index, digest, snapshotId: found.get(digest)?.id }));
  let deepestCached = -1;
  steps.forEach((s, i) => {
    if (s.snapshotId) deepestCached = i;
  });
  return { baseSnapshotId: base.id, root, steps, deepestCached, finalDigest: digests[digests.length - 1] ?? root };
}
