/**
 * Planning against a provider: resolve the base, chain the digests, then ask for the final layer; only when
 * it is missing, look every other layer up in one concurrent round. (Earlier cached layers of a fully cached
 * build are not looked up, so their snapshot ids are not reported.)
 */
import { assemblePlan } from '../core/plan';
import { chainDigests } from '../core/digest';
import { baseFor } from '../core/recipe';
import { planTree, treeDigests, type TreePlan } from '../core/tree';
import type { BranchSpec, BuildSpec, Plan, StepSpec } from '../core/types';
import type { Provider } from './provider';

export async function lookupPlan(provider: Provider, baseRef: BuildSpec['base'], identifiers: readonly string[], signal?: AbortSignal): Promise<Plan> {
  const base = await provider.resolveBase(baseFor(baseRef, provider.name), signal);
  const digests = chainDigests(base.digest || base.id, identifiers);
  // The common case, a rerun with nothing changed, is answered by the final layer alone: one lookup, not N.
  const final = digests[digests.length - 1];
  const finalHit = final ? await provider.findReadySnapshots([final], signal) : new Map();
  if (finalHit.size) return assemblePlan(base, identifiers, finalHit);
  return assemblePlan(base, identifiers, await provider.findReadySnapshots(digests.slice(0, -1), signal));
}

/** Plans a fan-out: resolve the base, build the prefix tree, look every distinct digest up in one round. */
export async function lookupTree(
  provider: Provider,
  spec: { base: BuildSpec['base']; steps: StepSpec[]; branches: BranchSpec[] },
  signal?: AbortSignal,
): Promise<TreePlan> {
  const base = await provider.resolveBase(baseFor(spec.base, provider.name), signal);
  const found = await provider.findReadySnapshots(treeDigests(base, spec.steps, spec.branches), signal);
  return planTree(base, spec.steps, spec.branches, found);
}
