/**
 * Activity option presets, one per kind of call. Every activity heartbeats (a lost worker is noticed within
 * HEARTBEAT_TIMEOUT, whatever the call), so start-to-close limits can stay generous for slow providers.
 */
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import type { StepSpec } from '../core/types';

export const HEARTBEAT_TIMEOUT = '15s';

/** Lookups, snapshots (idempotent by digest), stops (idempotent), metadata: safe to retry. */
export const providerCall: ActivityOptions = {
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 6 },
};

/** Starting a machine is not idempotent: a few attempts only; strays are found by their build label. */
export const machineStart: ActivityOptions = {
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumAttempts: 3 },
};

/**
 * Running a command is never retried on the same machine: the workflow decides whether to re-run it on a
 * fresh instance. Cancellation waits until the command is killed.
 */
export function stepRun(step: StepSpec): ActivityOptions {
  return {
    startToCloseTimeout: `${step.timeoutSeconds + 60}s`,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { maximumAttempts: 1 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/** Fetching a release: network errors and 5xx retried with backoff; an invalid descriptor is not retryable. */
export const releaseFetch: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8 },
};
