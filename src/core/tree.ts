/**
 * The prefix tree of a fan-out. Every branch is the common steps plus its own; equal prefixes have equal
 * digests, so the branches form a tree keyed by digest in which every distinct digest appears once.
 *
 * `planTree` needs digests (node:crypto), so it runs in an activity or a client; cutting the tree into segments
 * is in segments.ts, which workflow code may import. Both are pure.
 */
import { chainDigests } from './digest';
import type { TreeNode, TreePlan } from './segments';
import type { BranchSpec, StepSpec } from './types';

export type { TreeNode, TreePlan } from './segments';

/** Builds the tree for `branches` (each on top of `common`), given the READY snapshots found by digest. */
export function planTree(
  base: { id: string; digest: string | null },
  common: StepSpec[],
  branches: BranchSpec[],
  found: ReadonlyMap<string, { id: string }> = new Map(),
): TreePlan {
  const root = base.digest || base.id;
  const nodes = new Map<string, TreeNode>();
  const leaves: Record<string, string> = {};
  for (const branch of branches) {
    const steps = [...common, ...branch.steps];
    const digests = chainDigests(root, steps.map((s) => s.identifier));
    digests.forEach((digest, i) => {
      const node = nodes.get(digest);
      if (node) node.branches.push(branch.name);
      else nodes.set(digest, { digest, parent: digests[i - 1], step: steps[i], branches: [branch.name], snapshotId: found.get(digest)?.id });
    });
    leaves[branch.name] = digests[digests.length - 1] ?? root;
  }
  return { baseSnapshotId: base.id, root, nodes: [...nodes.values()], leaves };
}

/** Every digest in a tree (for one batched lookup). */
export function treeDigests(base: { id: string; digest: string | null }, common: StepSpec[], branches: BranchSpec[]): string[] {
  return planTree(base, common, branches).nodes.map((n) => n.digest);
}

