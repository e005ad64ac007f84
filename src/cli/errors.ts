/**
 * The CLI's one error sink: every failure becomes one clear line (plus details where they help) and an exit
 * code: 2 for usage, recipe and configuration errors, 1 for a failed build or operation, 130 for an interrupt.
 * Stack traces only with SNAPBUILD_DEBUG=1.
 */
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import { CommanderError } from 'commander';
import { ConfigError } from '../config';
import { RecipeError } from '../core/recipe';
import { ProviderError } from '../providers/errors';

/** Bad command-line usage or input: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The user interrupted the command (Ctrl-C) and its cleanup finished: exit code 130. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
export const EXIT_FAILURE = 1;

export interface Reported {
  code: number;
  message: string;
}

/** Turns any error into the message and exit code the user sees. */
export function describeError(err: unknown): Reported {
  if (err instanceof RecipeError) return { code: EXIT_USAGE, message: err.message };
  if (err instanceof UsageError || err instanceof ConfigError) return { code: EXIT_USAGE, message: err.message };
  if (err instanceof InterruptedError) return { code: EXIT_INTERRUPTED, message: err.message };
  if (err instanceof CommanderError) return { code: EXIT_USAGE, message: err.message.replace(/^error: /, '') };
  if (err instanceof WorkflowNotFoundError) return { code: EXIT_FAILURE, message: `no such build: ${err.workflowId}` };
  if (err instanceof WorkflowFailedError) return { code: EXIT_FAILURE, message: `build failed: ${failureMessage(err.cause)}` };
  if (err instanceof ProviderError) return { code: EXIT_FAILURE, message: `${err.name}: ${err.message}` };
  if (err instanceof Error) return { code: EXIT_FAILURE, message: err.message };
  return { code: EXIT_FAILURE, message: String(err) };
}

/** The innermost useful message of a Temporal failure chain. */
export function failureMessage(failure: unknown): string {
  if (failure instanceof CancelledFailure) return 'cancelled';
  if (failure instanceof ActivityFailure && failure.cause) return failureMessage(failure.cause);
  if (failure instanceof ApplicationFailure) return failure.message;
  if (failure instanceof TemporalFailure && failure.cause) return failureMessage(failure.cause);
  return failure instanceof Error ? failure.message : String(failure);
}

export function reportAndExit(err: unknown): never {
  const { code, message } = describeError(err);
  process.stderr.write(`snapbuild: ${message}\n`);
  if (process.env.SNAPBUILD_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(code);
}
