import type { Command } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import { createWorker } from '../worker';
import type { Context } from './context';
import { UsageError } from './errors';
import { remoteTemporal } from './session';

export function registerWorker(program: Command, ctx: Context): void {
  program
    .command('worker')
    .description('run a long-lived worker for a shared Temporal server (TEMPORAL_ADDRESS)')
    .action(async () => {
      const remote = remoteTemporal();
      if (!remote) throw new UsageError('`snapbuild worker` needs a Temporal server: set TEMPORAL_ADDRESS (or a Temporal config profile)');
      const config = ctx.config();
      const provider = await ctx.provider();
      const connection = await NativeConnection.connect(remote.connectionOptions);
      const namespace = remote.namespace ?? 'default';
      const worker = await createWorker({ connection, namespace, taskQueue: config.taskQueue, provider });
      ctx.log(`snapbuild worker: provider ${provider.name}, task queue ${config.taskQueue}, namespace ${namespace}`);
      await worker.run(); // stops gracefully on SIGINT/SIGTERM
      await connection.close();
    });
}
