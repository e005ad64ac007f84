/** Starting builds: business workflow ids and attach-to-existing semantics. */
import { WorkflowIdConflictPolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { canonicalJson, chainDigest } from './core/digest';
import type { TreePlan } from './core/tree';
import type { BuildSpec, FanoutInput, Plan } from './core/types';
import { buildWorkflow, fanoutWorkflow } from './workflows';

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

/** The business id of a fan-out: the same branches with the same leaves and tags get the same id. */
export function fanoutWorkflowId(input: FanoutInput, tree: TreePlan): string {
  const key = input.spec.branches.map((b) => [b.name, tree.leaves[b.name], b.tag ?? `${input.spec.name}:${b.name}`]).sort();
  return `fanout-${input.spec.name}-${chainDigest(tree.root, canonicalJson(key)).slice(0, 32)}`;
}

/** Starts a fan-out, or attaches to the identical one already running. */
export function startFanout(client: Client, opts: { input: FanoutInput; tree: TreePlan; taskQueue: string }): Promise<WorkflowHandle<typeof fanoutWorkflow>> {
  return client.workflow.start(fanoutWorkflow, {
    workflowId: fanoutWorkflowId(opts.input, opts.tree),
    taskQueue: opts.taskQueue,
    args: [opts.input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}
