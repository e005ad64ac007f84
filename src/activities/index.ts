/**
 * Activities: the only code of a build that touches a provider. `createActivities(deps)` closes over the
 * provider and the worker's secrets; the workflow sees only the type. This file is the one place where
 * provider errors become Temporal failures.
 */
import { ApplicationFailure, Context, getClient, heartbeat } from '@temporalio/activity';
import { reapOrphanInstances, type GcReport } from '../janitor';
import { BUILD_KEY } from './labels';
import { InvalidReleaseError, type Release, type ReleaseSource } from '../core/release';
import { RecipeError, renderSpec } from '../core/recipe';
import { fetchRelease } from '../release/fetch';
import { stepLabel } from '../core/text';
import type { TreePlan } from '../core/tree';
import type { BranchSpec, BuildSpec, Plan, RecipeSpec, StepSpec } from '../core/types';
import { ProviderError, RateLimitedError } from '../providers/errors';
import { lookupPlan, lookupTree } from '../providers/plan';
import { moveTag } from '../providers/tags';
import type { InstanceInfo, Provider, SnapshotInfo } from '../providers/provider';
import { INVALID_RELEASE, MISSING_SECRET, NOT_APPROVED, STEP_FAILED, type StepFailureDetails } from '../workflows/errors';

export interface ActivityDeps {
  provider: Provider;
  /** Resolves a secret by name on the worker; defaults to the worker's environment. */
  secret?: (name: string) => string | undefined;
}

/** Lines of output kept in a failure and in heartbeats. */
const TAIL_LINES = 20;
const TAIL_CHARS = 4000;

export { BUILD_KEY };

export function createActivities(deps: ActivityDeps) {
  const { provider } = deps;
  const secret = deps.secret ?? ((name: string) => process.env[name]);

  return {
    /** Computes every digest and looks all of them up in one round. */
    async plan(input: { base: BuildSpec['base']; identifiers: string[] }): Promise<Plan> {
      return translate(() => lookupPlan(provider, input.base, input.identifiers, Context.current().cancellationSignal));
    },

    async startInstance(input: { snapshotId: string; ttlSeconds: number; metadata: Record<string, string> }): Promise<InstanceInfo> {
      return translate(() =>
        provider.startInstance(input.snapshotId, { ttlSeconds: input.ttlSeconds, metadata: input.metadata, signal: Context.current().cancellationSignal }),
      );
    },

    /**
     * Runs one step. Heartbeats carry the output tail; cancellation kills the command. A non-zero exit is a
     * non-retryable StepFailed failure with the exit code and the last lines of output.
     */
    async execStep(input: { instanceId: string; step: StepSpec }): Promise<{ durationMs: number; outputTail: string }> {
      const { step } = input;
      const env: Record<string, string> = { ...step.env };
      const secretValues: string[] = [];
      for (const name of step.secrets) {
        const value = secret(name);
        if (value === undefined) {
          throw ApplicationFailure.create({ type: MISSING_SECRET, nonRetryable: true, message: `step ${step.index}: secret ${name} is not set on the worker` });
        }
        env[name] = value;
        if (value) secretValues.push(value);
      }
      const redact = (text: string) => secretValues.reduce((t, v) => t.split(v).join('***'), text);
      const ctx = Context.current();
      let recent = '';
      const beat = setInterval(() => heartbeat({ outputTail: tail(redact(recent)) }), 1000);
      const started = Date.now();
      try {
        const result = await translate(() =>
          provider.exec(input.instanceId, step.run, {
            env,
            timeoutMs: step.timeoutSeconds * 1000,
            signal: ctx.cancellationSignal,
            onOutput: (chunk) => {
              recent = (recent + chunk).slice(-TAIL_CHARS * 2);
            },
          }),
          { heartbeat: false }, // this activity heartbeats with the output tail itself
        );
        // Redact before cutting: a cut inside a secret would leave part of it.
        const outputTail = tail(redact(interleave(result.stdout, result.stderr)));
        const outcome = step.outcomes[String(result.exitCode)];
        if (outcome !== undefined) {
          throw ApplicationFailure.create({
            type: NOT_APPROVED,
            nonRetryable: true,
            message: `not approved: ${outcome} (step ${step.index}, ${stepLabel(step)}, exited with code ${result.exitCode})`,
            details: [{ stepIndex: step.index, exitCode: result.exitCode, outcome, outputTail }],
          });
        }
        if (result.exitCode !== 0) {
          const details: StepFailureDetails = { stepIndex: step.index, verify: step.verify, exitCode: result.exitCode, outputTail };
          throw ApplicationFailure.create({
            type: STEP_FAILED,
            nonRetryable: true,
            message:
              `${step.verify ? 'verification failed: ' : ''}step ${step.index} (${stepLabel(step)}) exited with code ${result.exitCode}` +
              (outputTail ? `\n${outputTail}` : ''),
            details: [details],
          });
        }
        return { durationMs: Date.now() - started, outputTail };
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * Snapshots the instance under `digest`. Idempotent: a READY snapshot with that digest is reused, and a
     * pending one made by this build (a retry after a lost response) is waited for rather than duplicated.
     */
    async snapshot(input: { instanceId: string; digest: string; buildId: string; metadata: Record<string, string> }): Promise<SnapshotInfo> {
      return translate(async () => {
        const signal = Context.current().cancellationSignal;
        const existing = await provider.listSnapshots({ digest: input.digest }, signal);
        const ready = existing.find((s) => s.status === 'ready');
        if (ready) return ready;
        const ours = existing.find((s) => s.status === 'pending' && s.metadata[BUILD_KEY] === input.buildId);
        if (ours) return provider.waitForSnapshot(ours.id, signal);
        return provider.snapshot(input.instanceId, { digest: input.digest, metadata: { ...input.metadata, [BUILD_KEY]: input.buildId }, signal });
      });
    },

    /**
     * Stops the builder instance (idempotent), then any other instance labelled with this build, so a start
     * that was retried after a lost response cannot leak a machine.
     */
    async stopInstance(input: { instanceId?: string; buildId: string; keep?: string }): Promise<string[]> {
      return translate(async () => {
        const stopped: string[] = [];
        if (input.instanceId && input.instanceId !== input.keep) {
          await provider.stopInstance(input.instanceId);
          stopped.push(input.instanceId);
        }
        for (const inst of await provider.listInstances({ metadata: { [BUILD_KEY]: input.buildId } })) {
          if (inst.id === input.keep || stopped.includes(inst.id)) continue;
          await provider.stopInstance(inst.id);
          stopped.push(inst.id);
        }
        return stopped;
      });
    },

    /** Points a tag at a snapshot (and takes it off the others), adding metadata such as branch and build id. */
    async tagSnapshot(input: { snapshotId: string; tag: string; metadata: Record<string, string> }): Promise<SnapshotInfo> {
      return translate(() => moveTag(provider, input.tag, input.snapshotId, input.metadata, Context.current().cancellationSignal));
    },

    /** Computes a fan-out's prefix tree and looks every distinct digest up in one round. */
    async planTree(input: { base: BuildSpec['base']; common: StepSpec[]; branches: BranchSpec[] }): Promise<TreePlan> {
      return translate(() => lookupTree(provider, { base: input.base, steps: input.common, branches: input.branches }, Context.current().cancellationSignal));
    },

    /**
     * Fetches and validates a release, then fills the recipe's `{{version}}`/`{{tarball}}` templates with the
     * shell-quoted values. An invalid descriptor is a non-retryable InvalidReleaseError naming the field.
     */
    async resolveRelease(input: { source: ReleaseSource; spec: RecipeSpec }): Promise<{ release: Release; spec: RecipeSpec }> {
      return translate(async () => {
        const release = await fetchRelease(input.source, Context.current().cancellationSignal);
        return { release, spec: renderSpec(input.spec, { version: release.version, ...(release.tarball ? { tarball: release.tarball } : {}) }) };
      });
    },

    /** The janitor, for a schedule: stops instances whose build is closed. */
    async reapOrphans(): Promise<GcReport> {
      return translate(() => reapOrphanInstances(provider, getClient()));
    },

    /** Keeps a failed builder alive for debugging, for `ttlSeconds` from now. */
    async keepInstance(input: { instanceId: string; ttlSeconds: number }): Promise<InstanceInfo> {
      return translate(() => provider.setInstanceTtl(input.instanceId, input.ttlSeconds));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Runs `fn`, turning a ProviderError into an ApplicationFailure whose type is the error's class name. */
async function translate<T>(fn: () => Promise<T>, opts: { heartbeat?: boolean } = {}): Promise<T> {
  // Heartbeats let the workflow notice a lost worker within the heartbeat timeout, whatever the call.
  const beat = opts.heartbeat === false ? undefined : setInterval(() => heartbeat(), 2000);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ProviderError) {
      throw ApplicationFailure.create({
        type: err.name,
        message: err.message,
        nonRetryable: !err.retryable,
        nextRetryDelay: err instanceof RateLimitedError && err.retryAfterMs ? err.retryAfterMs : undefined,
      });
    }
    if (err instanceof InvalidReleaseError) throw ApplicationFailure.create({ type: INVALID_RELEASE, message: err.message, nonRetryable: true, details: [{ field: err.field }] });
    if (err instanceof RecipeError) throw ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true });
    throw err;
  } finally {
    if (beat) clearInterval(beat);
  }
}

function tail(text: string): string {
  return text.split('\n').slice(-TAIL_LINES - 1).join('\n').slice(-TAIL_CHARS).trimEnd();
}

function interleave(stdout: string, stderr: string): string {
  return [stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join('\n');
}
