/**
 * Plain data shared by the client, the activities and the workflows. Types only: safe to import anywhere,
 * including workflow code.
 */

/** One normalised step of a recipe. */
export interface StepSpec {
  index: number;
  /** The shell command, run with `bash -c`. */
  run: string;
  /** Display name; never part of the digest. */
  name?: string;
  /** The text hashed into the digest (see core/digest.ts). */
  identifier: string;
  timeoutSeconds: number;
  env: Record<string, string>;
  /** Names of secrets resolved on the worker at run time; values never leave the worker. */
  secrets: string[];
  /** How many times an infrastructure failure may re-run this step on a fresh instance. */
  retries: number;
}

/** A validated recipe, ready to plan and build. */
export interface BuildSpec {
  /** A snapshot id or base image, or one per provider name. */
  base: string | Record<string, string>;
  steps: StepSpec[];
  tag?: string;
  metadata: Record<string, string>;
  /** When > 0, a failed build keeps its builder instance alive this many seconds for debugging. */
  keepFailedInstanceSeconds: number;
}

/** What the plan knows about one step. */
export interface PlannedStep {
  index: number;
  digest: string;
  /** The READY snapshot already holding this layer, if any. */
  snapshotId?: string;
}

/** The plan of a build: every digest, and which layers already exist. */
export interface Plan {
  /** The base snapshot the chain starts from. */
  baseSnapshotId: string;
  /** The root parent of the digest chain: the base snapshot's digest, or its id. */
  root: string;
  steps: PlannedStep[];
  /** Index of the deepest step with a READY snapshot, or -1. Steps after it will run. */
  deepestCached: number;
  finalDigest: string;
}

export type StepState = 'pending' | 'cached' | 'running' | 'snapshotting' | 'built' | 'failed' | 'skipped';

/** One row of a build's progress and result. */
export interface StepReport {
  index: number;
  name?: string;
  run: string;
  digest: string;
  state: StepState;
  cached: boolean;
  snapshotId?: string;
  /** Milliseconds spent running and snapshotting this step in this build (0 when cached). */
  durationMs: number;
  /** Attempts used (more than 1 after an infrastructure failure). */
  attempts: number;
}

export interface BuildProgress {
  phase: 'planning' | 'starting' | 'building' | 'stopping' | 'done' | 'failed' | 'cancelled';
  instanceId?: string;
  steps: StepReport[];
}

export interface BuildResult {
  snapshotId: string;
  digest: string;
  baseSnapshotId: string;
  steps: StepReport[];
  /** True when every layer was cached and no instance was started. */
  fullyCached: boolean;
  instanceId?: string;
  durationMs: number;
}

/** The input of the build workflow. Holds no secret values. */
export interface BuildInput {
  spec: BuildSpec;
  /** Label for metadata; the recipe file name, for example. */
  recipeName?: string;
}
