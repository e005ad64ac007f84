import type { Command } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import { createWorker } from '../worker';
import type { Context } from './context';
import { remoteTemporal, serveEmbedded } from './session';

export function registerWorker(program: Command, ctx: Context): void {
  program
    .command('worker')
    .description('run a long-lived worker: for TEMPORAL_ADDRESS, or with no address the embedded server too (schedules fire while it runs)')
    .action(async () => {
      const config = ctx.config();
      const remote = remoteTemporal();
      const provider = await ctx.provider();
      if (!remote) return serveEmbedded(config, ctx.log, provider);
      const address = remote.connectionOptions.address ?? 'localhost:7233';
      const connection = await NativeConnection.connect(remote.connectionOptions).catch((err: Error) => {
        throw new Error(`cannot reach the Temporal server at ${address} (TEMPORAL_ADDRESS or profile): ${err.message}`);
      });
      const namespace = remote.namespace ?? 'default';
      const worker = await createWorker({ connection, namespace, taskQueue: config.taskQueue, provider });
      ctx.log(`snapbuild worker: provider ${provider.name}, task queue ${config.taskQueue}, namespace ${namespace}`);
      await worker.run(); // stops gracefully on SIGINT/SIGTERM
      await connection.close();
    });
}
