/**
 * Composition root: provider -> activities -> Worker. Used by `snapbuild worker` and by the embedded default
 * (an in-process worker beside the CLI).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from './activities';
import type { Provider } from './providers/provider';

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  provider: Provider;
  /** A bundle made once and shared (tests); otherwise the worker bundles the workflows itself. */
  workflowBundle?: WorkflowBundleWithSourceMap;
  identity?: string;
  /** Signals that shut the worker down; the embedded worker passes [] and lets the CLI handle Ctrl-C. */
  shutdownSignals?: NodeJS.Signals[];
}

/** The path of the workflows module, in source (ts-jest, ts-node) or compiled form. */
export const workflowsPath = require.resolve('./workflows');

/** The bundle `npm run build` writes beside the compiled code; absent when running from source. */
const prebuiltBundle = path.join(__dirname, 'workflow-bundle.js');

export function createWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle
      ? { workflowBundle: deps.workflowBundle }
      : existsSync(prebuiltBundle)
        ? { workflowBundle: { codePath: prebuiltBundle } }
        : { workflowsPath }),
    activities: createActivities({ provider: deps.provider }),
    ...(deps.identity ? { identity: deps.identity } : {}),
    // Builds are I/O-bound; each running step holds one slot.
    maxConcurrentActivityTaskExecutions: 16,
    shutdownGraceTime: '10s',
    // Cancellation reaches a running step with its next heartbeat: keep that within ~2 s, not the default 30-60 s.
    maxHeartbeatThrottleInterval: '2s',
    ...(deps.shutdownSignals ? { shutdownSignals: deps.shutdownSignals } : {}),
  });
}

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
}

const noop = () => undefined;
/** Webpack's chatter is dropped; its errors (e.g. a workflow importing a Node builtin) are shown. */
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, log: noop, error: (message: string, meta?: unknown) => console.error(message, meta ?? '') };
