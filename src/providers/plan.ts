/** Planning against a provider: resolve the base, chain the digests, look every layer up in one round. */
import { assemblePlan } from '../core/plan';
import { chainDigests } from '../core/digest';
import { baseFor } from '../core/recipe';
import type { BuildSpec, Plan } from '../core/types';
import type { Provider } from './provider';

export async function lookupPlan(provider: Provider, baseRef: BuildSpec['base'], identifiers: readonly string[], signal?: AbortSignal): Promise<Plan> {
  const base = await provider.resolveBase(baseFor(baseRef, provider.name), signal);
  const digests = chainDigests(base.digest || base.id, identifiers);
  return assemblePlan(base, identifiers, await provider.findReadySnapshots(digests, signal));
}
