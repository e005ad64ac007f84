import type { Command } from 'commander';
import type { Context } from './context';
import { withSession } from './session';

export function registerCancel(program: Command, ctx: Context): void {
  program
    .command('cancel')
    .description('cancel a running build; its builder instance is stopped')
    .argument('<id>', 'workflow id')
    .action(async (id: string) => {
      await withSession(ctx.config(), ctx.log, undefined, async ({ client }) => {
        await client.workflow.getHandle(id).cancel();
      });
      process.stdout.write(`cancel requested for ${id}\n`);
    });
}
