import { TemporalFailure } from '@temporalio/workflow';

/**
 * Failure types that cross the activity/workflow boundary. A type named here is part of the retry contract:
 * renaming one changes retry behaviour.
 */

/** A command exited non-zero. Never retried: the build fails at once with the exit code and output tail. */
export const STEP_FAILED = 'StepFailed';
/** A check step exited with one of its `outcomes` codes: the release or change is not approved (yet). */
export const NOT_APPROVED = 'NotApproved';
/** A release descriptor failed validation. */
export const INVALID_RELEASE = 'InvalidReleaseError';
/** A step names a secret the worker does not have. */
export const MISSING_SECRET = 'MissingSecret';

/** Failures that re-running the step on a fresh instance cannot fix. */
export const FATAL_TYPES = [STEP_FAILED, NOT_APPROVED, MISSING_SECRET, 'UnsupportedError', 'ValidationError', 'AuthError'];

/** Details attached to a StepFailed failure. */
export interface StepFailureDetails {
  stepIndex: number;
  /** The step was a verification gate. */
  verify: boolean;
  exitCode: number;
  outputTail: string;
}

/** The innermost failure of a chain (child workflow -> activity -> application failure). */
export function innermost(err: unknown): unknown {
  let at = err;
  while (at instanceof TemporalFailure && at.cause) at = at.cause;
  return at;
}

/** The message of the innermost failure of a chain. */
export function failureMessage(err: unknown): string {
  const inner = innermost(err);
  return inner instanceof Error ? inner.message : String(inner);
}
