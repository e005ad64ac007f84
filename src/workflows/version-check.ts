/**
 * The version-check workflow (DESIGN.md "Version check"), started by a Temporal Schedule: resolve the release,
 * put its version into the recipe, and build only if that digest is new. Every run records its outcome in its
 * memo. Deterministic.
 */
import { ApplicationFailure, executeChild, proxyActivities, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { VersionCheckInput, VersionCheckResult } from '../core/types';
import { buildWorkflow } from './build';
import { failureMessage, INVALID_RELEASE, innermost, NOT_APPROVED } from './errors';
import { providerCall, releaseFetch } from './options';

const { resolveRelease } = proxyActivities<Activities>(releaseFetch);
const { plan, tagSnapshot } = proxyActivities<Activities>(providerCall);

export async function versionCheckWorkflow(input: VersionCheckInput): Promise<VersionCheckResult> {
  const record = (result: VersionCheckResult) => {
    upsertMemo({ outcome: result });
    return result;
  };
  let version: string | undefined;
  try {
    const { release, spec } = await resolveRelease({ source: input.source, spec: input.spec });
    version = release.version;
    const thePlan = await plan({ base: spec.base, identifiers: spec.steps.map((s) => s.identifier) });
    if (thePlan.deepestCached === spec.steps.length - 1) {
      return record({ outcome: 'unchanged', version, digest: thePlan.finalDigest, snapshotId: thePlan.steps[thePlan.steps.length - 1].snapshotId });
    }
    const built = await executeChild(buildWorkflow, {
      workflowId: `${workflowInfo().workflowId}/build`,
      args: [{ spec: { ...spec, tag: undefined }, recipeName: input.recipeName }],
    });
    for (const tag of [`${input.name}:${version}`, `${input.name}:latest`]) {
      await tagSnapshot({ snapshotId: built.snapshotId, tag, metadata: { version, 'snapbuild-schedule': input.name } });
    }
    return record({ outcome: 'built', version, digest: built.digest, snapshotId: built.snapshotId });
  } catch (err) {
    const inner = innermost(err);
    const type = inner instanceof ApplicationFailure ? inner.type : undefined;
    const message = failureMessage(err);
    if (type === NOT_APPROVED) {
      record({ outcome: 'not-approved', version, message });
      throw ApplicationFailure.create({ type: NOT_APPROVED, nonRetryable: true, message: `version ${version} is ${message}` });
    }
    record({ outcome: type === INVALID_RELEASE ? 'invalid-release' : 'failed', version, message });
    throw err;
  }
}

