/** A real worker on the shared test dev server, with its own task queue, over a given provider. */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Provider } from '../../src/providers/provider';
import { bundleWorkflows, createWorker } from '../../src/worker';

let installed = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

export interface TestTemporal {
  client: Client;
  taskQueue: string;
  worker: Worker;
  close(): Promise<void>;
}

/** Quiet SDK logs; once per process, before any worker or connection. */
export function installQuietRuntime(): void {
  if (installed) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  installed = true;
}

/**
 * A worker on the shared test server. `installRuntime` sets up the SDK runtime first (default: quiet); a suite
 * that must read the SDK's logs passes its own.
 */
export async function startTestWorker(provider: Provider, installRuntime: () => void = installQuietRuntime): Promise<TestTemporal> {
  installRuntime();
  const address = process.env.SNAPBUILD_TEST_TEMPORAL_ADDRESS!;
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection });
  const taskQueue = `test-${randomUUID()}`;
  bundle ??= bundleWorkflows();
  const worker = await createWorker({ connection: nativeConnection, namespace: 'default', taskQueue, provider, workflowBundle: await bundle });
  const running = worker.run();
  return {
    client,
    taskQueue,
    worker,
    async close() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}
