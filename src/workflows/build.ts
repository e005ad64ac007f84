/**
 * The build workflow (DESIGN.md "The build workflow"). Deterministic: it imports only @temporalio/workflow,
 * its own folder, types and side-effect-free constants.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { BUILD_KEY } from '../activities/labels';
import type { BuildInput, BuildProgress, BuildResult, StepReport, StepSpec } from '../core/types';
import { failureMessage, FATAL_TYPES } from './errors';
import { progressQuery } from './messages';
import { machineStart, providerCall, stepRun } from './options';

const { plan, snapshot, stopInstance, keepInstance, tagSnapshot } = proxyActivities<Activities>(providerCall);
const { startInstance } = proxyActivities<Activities>(machineStart);

function execActivity(step: StepSpec) {
  return proxyActivities<Activities>(stepRun(step)).execStep;
}

/** Builds a recipe's layers, reusing the deepest cached one and running only the steps after it. */
export async function buildWorkflow(input: BuildInput): Promise<BuildResult> {
  const started = Date.now();
  const { spec } = input;
  const buildId = workflowInfo().workflowId;
  const steps: StepReport[] = spec.steps.map((s) => ({
    index: s.index,
    name: s.name,
    run: s.run,
    digest: '',
    state: 'pending',
    cached: false,
    durationMs: 0,
    attempts: 0,
  }));
  const progress: BuildProgress = { phase: 'planning', steps };
  setHandler(progressQuery, () => progress);

  const thePlan = await plan({ base: spec.base, identifiers: spec.steps.map((s) => s.identifier) });
  // Reports are by position in this build; StepReport.index is the step's index in its recipe.
  for (const p of thePlan.steps) {
    steps[p.index].digest = p.digest;
    if (p.index <= thePlan.deepestCached) Object.assign(steps[p.index], { state: 'cached', cached: true, snapshotId: p.snapshotId });
  }
  const result = (instanceId?: string): BuildResult => ({
    snapshotId: steps[steps.length - 1].snapshotId!,
    digest: thePlan.finalDigest,
    baseSnapshotId: thePlan.baseSnapshotId,
    steps,
    fullyCached: instanceId === undefined,
    instanceId,
    durationMs: Date.now() - started,
  });
  const finish = async (instanceId?: string) => {
    const done = result(instanceId);
    if (spec.tag) await tagSnapshot({ snapshotId: done.snapshotId, tag: spec.tag, metadata: { [BUILD_KEY]: buildId } });
    progress.phase = 'done';
    return done;
  };
  if (thePlan.deepestCached === steps.length - 1) return finish();

  const remaining = spec.steps.map((step, pos) => ({ step, report: steps[pos] })).slice(thePlan.deepestCached + 1);
  const metadata = { [BUILD_KEY]: buildId, ...(input.recipeName ? { 'snapbuild-recipe': input.recipeName } : {}) };
  // Leak insurance: the provider stops the builder by itself once every remaining step could have timed out.
  const ttlSeconds = Math.min(24 * 3600, remaining.reduce((t, r) => t + r.step.timeoutSeconds, 0) + 15 * 60);
  let lastGood = thePlan.deepestCached >= 0 ? thePlan.steps[thePlan.deepestCached].snapshotId! : thePlan.baseSnapshotId;
  let instanceId: string | undefined;
  let firstInstance: string | undefined;

  const discard = (id: string) => CancellationScope.nonCancellable(() => stopInstance({ instanceId: id, buildId }));

  try {
    for (const { step, report } of remaining) {
      for (let attempt = 1; ; attempt++) {
        report.attempts = attempt;
        const t0 = Date.now();
        try {
          if (!instanceId) {
            progress.phase = 'starting';
            instanceId = (await startInstance({ snapshotId: lastGood, ttlSeconds, metadata })).id;
            firstInstance ??= instanceId;
            progress.instanceId = instanceId;
          }
          progress.phase = 'building';
          report.state = 'running';
          await execActivity(step)({ instanceId, step });
          report.state = 'snapshotting';
          const snap = await snapshot({ instanceId, digest: report.digest, buildId, metadata: spec.metadata });
          Object.assign(report, { state: 'built', snapshotId: snap.id, durationMs: report.durationMs + Date.now() - t0 });
          lastGood = snap.id;
          break;
        } catch (err) {
          report.durationMs += Date.now() - t0;
          if (isCancellation(err) || isFatal(err) || attempt > step.retries) throw err;
          // An infrastructure failure leaves the machine in an unknown state: never re-run the command on it.
          // Discard it and re-run the step on a fresh instance from the last good snapshot.
          if (instanceId) await discard(instanceId);
          instanceId = undefined;
        }
      }
    }
  } catch (err) {
    const failedStep = steps.find((s) => s.state === 'running' || s.state === 'snapshotting');
    if (failedStep) failedStep.state = 'failed';
    for (const s of steps) if (s.state === 'pending') s.state = 'skipped';
    progress.phase = isCancellation(err) ? 'cancelled' : 'failed';
    if (instanceId && spec.keepFailedInstanceSeconds > 0 && !isCancellation(err)) {
      const kept = instanceId;
      await CancellationScope.nonCancellable(async () => {
        await keepInstance({ instanceId: kept, ttlSeconds: spec.keepFailedInstanceSeconds });
        await stopInstance({ buildId, keep: kept });
      });
      throw ApplicationFailure.create({
        type: 'BuildFailed',
        nonRetryable: true,
        message: `${describe(err)}; builder instance ${kept} kept for debugging for ${spec.keepFailedInstanceSeconds}s`,
        details: [{ keptInstanceId: kept, ttlSeconds: spec.keepFailedInstanceSeconds }],
        cause: err as Error,
      });
    }
    throw err;
  } finally {
    if (progress.phase !== 'failed' && progress.phase !== 'cancelled') progress.phase = 'stopping';
    // Compensation runs whatever happened, even when the workflow itself was cancelled.
    if (instanceId && !(progress.phase === 'failed' && spec.keepFailedInstanceSeconds > 0)) await discard(instanceId);
  }
  return finish(firstInstance);
}

/** A failure that re-running the step on a fresh instance cannot fix. Everything else counts as infrastructure. */
function isFatal(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && FATAL_TYPES.includes(cause.type ?? '');
}

function describe(err: unknown): string {
  return failureMessage(err).split('\n')[0];
}
