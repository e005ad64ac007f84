import type { WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import type { Context } from './context';
import { InterruptedError } from './errors';

/**
 * Waits for a workflow's result, showing its progress (polled with `query`) as it changes. Ctrl-C cancels the
 * workflow and waits for its cleanup (builder instances are stopped); a second Ctrl-C leaves at once.
 */
export async function followWorkflow<R, P>(handle: WorkflowHandle, query: QueryDefinition<P>, ctx: Context, show: (progress: P) => void, final?: (result: R) => P): Promise<R> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    ctx.log('interrupted: cancelling and stopping its instances (Ctrl-C again to leave now)');
    void handle.cancel().catch(() => undefined);
  };
  process.on('SIGINT', onSigint);
  let polling = true;
  const poller = (async () => {
    while (polling) {
      await handle.query(query).then(show, () => undefined);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const result = (await handle.result()) as R;
    show(final ? final(result) : (result as unknown as P));
    return result;
  } catch (err) {
    if (interrupted) throw new InterruptedError('cancelled; its instances were stopped');
    throw err;
  } finally {
    polling = false;
    await poller;
    process.off('SIGINT', onSigint);
  }
}
