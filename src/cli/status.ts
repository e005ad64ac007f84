import type { Command } from 'commander';
import type { BuildProgress, BuildResult } from '../core/types';
import { progressQuery } from '../workflows/messages';
import type { Context } from './context';
import { failureMessage } from './errors';
import { printJson, stepsTable } from './output';
import { withSession } from './session';

export function registerStatus(program: Command, ctx: Context): void {
  program
    .command('status')
    .description('show the state of a build (its workflow id, e.g. build-<digest>)')
    .argument('<id>', 'workflow id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const report = await withSession(ctx.config(), ctx.log, undefined, async ({ client }) => {
        const handle = client.workflow.getHandle(id);
        const desc = await handle.describe();
        const status = desc.status.name;
        let progress: BuildProgress | BuildResult | undefined;
        let error: string | undefined;
        if (status === 'COMPLETED') progress = await handle.result();
        else if (status === 'FAILED' || status === 'CANCELLED' || status === 'TERMINATED' || status === 'TIMED_OUT') {
          error = await handle.result().then(() => undefined, (e: { cause?: unknown }) => failureMessage(e.cause ?? e));
        } else progress = await handle.query(progressQuery).catch(() => undefined);
        return { id, runId: desc.runId, status, startTime: desc.startTime, closeTime: desc.closeTime, progress, error };
      });
      if (opts.json) return printJson(report);
      process.stdout.write(`${report.id}  ${report.status}\n`);
      if (report.error) process.stdout.write(`${report.error}\n`);
      if (report.progress) process.stdout.write(stepsTable(report.progress.steps));
    });
}
