/** The janitor workflow, for `snapbuild gc --instances --every ...`: one activity that reaps orphan instances. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { GcReport } from '../janitor';
import { providerCall } from './options';

const { reapOrphans } = proxyActivities<Activities>(providerCall);

export async function janitorWorkflow(): Promise<GcReport> {
  return reapOrphans();
}
