/** Planning against a provider: resolve the base, chain the digests, look every layer up in one round. */
import { assemblePlan } from '../core/plan';
import { chainDigests } from '../core/digest';
import { baseFor } from '../core/recipe';
import { planTree, treeDigests, type TreePlan } from '../core/tree';
import type { BranchSpec, BuildSpec, Plan, StepSpec } from '../core/types';
import type { Provider } from './provider';

export async function lookupPlan(provider: Provider, baseRef: BuildSpec['base'], identifiers: readonly string[], signal?: AbortSignal): Promise<Plan> {
  const base = await provider.resolveBase(baseFor(baseRef, provider.name), signal);
  const digests = chainDigests(base.digest || base.id, identifiers);
  return assemblePlan(base, identifiers, await provider.findReadySnapshots(digests, signal));
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
