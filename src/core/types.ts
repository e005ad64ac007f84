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
  /** A verification gate (comes last); its failure means "rejected". */
  verify: boolean;
  /** Exit codes that mean "not approved" (a check), with their meaning. */
  outcomes: Record<string, string>;
}

/** One branch of a fan-out: its own steps after the recipe's common ones. */
export interface BranchSpec {
  name: string;
  /** Indices continue after the common steps. */
  steps: StepSpec[];
  tag?: string;
  metadata: Record<string, string>;
}

/** A validated recipe: a build, plus branches when it fans out. */
export interface RecipeSpec extends BuildSpec {
  /** The application name for tags; the CLI defaults it to the recipe file's name. */
  name?: string;
  branches: BranchSpec[];
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

/** The input of the fan-out workflow. */
export interface FanoutInput {
  /** The recipe, with `name` set and `branches` already narrowed to the ones to build. */
  spec: RecipeSpec & { name: string };
  /** Child builds running at once. */
  parallel: number;
  recipeName?: string;
}

export type SegmentState = 'pending' | 'cached' | 'running' | 'built' | 'failed' | 'cancelled' | 'skipped';

/** One node of the fan-out's progress tree: a chain of steps built by one child build. */
export interface SegmentReport {
  /** The digest of its last step. */
  id: string;
  parent?: string;
  branches: string[];
  steps: { index: number; name?: string; run: string; digest: string }[];
  state: SegmentState;
  snapshotId?: string;
  workflowId?: string;
  error?: string;
}

export type BranchState = 'pending' | 'built' | 'cached' | 'failed' | 'rejected' | 'cancelled';

export interface BranchReport {
  name: string;
  state: BranchState;
  digest: string;
  tag: string;
  snapshotId?: string;
  error?: string;
}

export interface FanoutProgress {
  phase: 'planning' | 'building' | 'done' | 'cancelled';
  segments: SegmentReport[];
  branches: BranchReport[];
}

export interface FanoutResult extends FanoutProgress {
  durationMs: number;
}

/** The input of one version check (what a schedule starts). */
export interface VersionCheckInput {
  /** The schedule's name: tags are `<name>:latest` and `<name>:<version>`. */
  name: string;
  /** The recipe, templates unfilled. */
  spec: RecipeSpec;
  source: import('./release').ReleaseSource;
  recipeName?: string;
}

export type VersionCheckOutcome = 'built' | 'unchanged' | 'not-approved' | 'invalid-release' | 'failed';

/** What one version check did; also kept in the run's memo (`outcome`) for `snapbuild schedule describe`. */
export interface VersionCheckResult {
  outcome: VersionCheckOutcome;
  version?: string;
  digest?: string;
  snapshotId?: string;
  message?: string;
}
