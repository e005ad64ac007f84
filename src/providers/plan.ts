/** Planning against a provider: resolve the base, chain the digests, look every layer up in one round. */
import { assemblePlan } from '../core/plan';
import { chainDigests } from '../core/digest';
import type { Plan } from '../core/types';
import type { Provider } from './provider';

export async function lookupPlan(provider: Provider, baseRef: string, identifiers: readonly string[], signal?: AbortSignal): Promise<Plan> {
  const base = await provider.resolveBase(baseRef, signal);
  const digests = chainDigests(base.digest || base.id, identifiers);
  return assemblePlan(base, identifiers, await provider.findReadySnapshots(digests, signal));
}
