/**
 * The janitor: stops instances labelled with a build whose workflow is closed (or unknown), such as one left by
 * a worker that was killed while its workflow was terminated. Instances of running builds are left alone.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { BUILD_KEY } from './activities/labels';
import type { Provider } from './providers/provider';

export interface GcReport {
  stopped: { instanceId: string; buildId: string; why: string }[];
  kept: { instanceId: string; buildId: string }[];
}

export async function reapOrphanInstances(provider: Provider, client: Client, opts: { dryRun?: boolean } = {}): Promise<GcReport> {
  const report: GcReport = { stopped: [], kept: [] };
  for (const inst of await provider.listInstances()) {
    const buildId = inst.metadata[BUILD_KEY];
    if (!buildId) continue;
    let why: string | undefined;
    try {
      const status = (await client.workflow.getHandle(buildId).describe()).status.name;
      if (status !== 'RUNNING') why = `its build is ${status.toLowerCase()}`;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      why = 'its build is unknown to this Temporal server';
    }
    if (!why) {
      report.kept.push({ instanceId: inst.id, buildId });
      continue;
    }
    if (!opts.dryRun) await provider.stopInstance(inst.id);
    report.stopped.push({ instanceId: inst.id, buildId, why });
  }
  return report;
}
