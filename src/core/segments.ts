/**
 * A fan-out's prefix tree as plain data, and how it is cut into segments (chains built by one child build).
 * No imports with side effects or node builtins: workflow code uses this file.
 */
import type { StepSpec } from './types';

export interface TreeNode {
  digest: string;
  /** The parent node's digest; undefined under the base. */
  parent?: string;
  step: StepSpec;
  /** Branches whose chain passes through this node. */
  branches: string[];
  /** A READY snapshot already holding this layer. */
  snapshotId?: string;
}

export interface TreePlan {
  baseSnapshotId: string;
  root: string;
  /** Parents before children; each digest once. */
  nodes: TreeNode[];
  /** Branch name -> the digest of its last step. */
  leaves: Record<string, string>;
}

/**
 * A chain of nodes built by one build: it ends where the tree forks, where a branch ends, or at a leaf, and
 * starts from its parent segment's last snapshot (or the base).
 */
export interface Segment {
  /** The digest of its last node. */
  id: string;
  parent?: string;
  /** Node digests, in order. */
  nodes: string[];
  /** Branches that need this segment. */
  branches: string[];
}

export function segmentTree(tree: TreePlan): Segment[] {
  const children = new Map<string | undefined, string[]>();
  for (const n of tree.nodes) children.set(n.parent, [...(children.get(n.parent) ?? []), n.digest]);
  const byDigest = new Map(tree.nodes.map((n) => [n.digest, n]));
  const endsHere = new Set(Object.values(tree.leaves));
  const segments: Segment[] = [];
  const walk = (start: string, parent: string | undefined) => {
    const chain = [start];
    let at = start;
    while ((children.get(at)?.length ?? 0) === 1 && !endsHere.has(at)) {
      at = children.get(at)![0];
      chain.push(at);
    }
    segments.push({ id: at, parent, nodes: chain, branches: byDigest.get(start)!.branches });
    for (const child of children.get(at) ?? []) walk(child, at);
  };
  for (const top of children.get(undefined) ?? []) walk(top, undefined);
  return segments;
}
