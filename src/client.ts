/** Starting builds: business workflow ids and attach-to-existing semantics. */
import { WorkflowIdConflictPolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import type { BuildSpec, Plan } from './core/types';
import { buildWorkflow } from './workflows';

/** The business id of a build: identical requests get the same id. */
export function buildWorkflowId(plan: Plan): string {
  return `build-${plan.finalDigest}`;
}

/**
 * Starts the build workflow, or attaches to the running one with the same final digest (USE_EXISTING), so
 * concurrent identical requests share one run.
 */
export function startBuild(
  client: Client,
  opts: { spec: BuildSpec; plan: Plan; taskQueue: string; recipeName?: string },
): Promise<WorkflowHandle<typeof buildWorkflow>> {
  return client.workflow.start(buildWorkflow, {
    workflowId: buildWorkflowId(opts.plan),
    taskQueue: opts.taskQueue,
    args: [{ spec: opts.spec, recipeName: opts.recipeName }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}
