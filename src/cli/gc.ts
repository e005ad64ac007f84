import type { Command } from 'commander';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { reapOrphanInstances } from '../janitor';
import { janitorWorkflow } from '../workflows';
import type { Context } from './context';
import { UsageError } from './errors';
import { printJson, table } from './output';
import { withSession } from './session';

export const GC_SCHEDULE_ID = 'snapbuild-gc-instances';

export function registerGc(program: Command, ctx: Context): void {
  program
    .command('gc')
    .description('stop instances left by builds that are no longer running (for example after a killed worker)')
    .option('--instances', 'reap instances labelled with a closed or unknown build (the only kind of gc so far)')
    .option('--dry-run', 'only say what would be stopped')
    .option('--every <interval>', 'instead, create a schedule that does it every interval (e.g. 10m)')
    .option('--json', 'print JSON')
    .action(async (o: { instances?: boolean; dryRun?: boolean; every?: string; json?: boolean }) => {
      if (!o.instances) throw new UsageError('say what to collect: snapbuild gc --instances');
      if (o.every !== undefined && !/^\d+(s|m|h|d)$/.test(o.every)) throw new UsageError(`--every must be like 10m or 1h (got ${o.every})`);
      if (o.every) {
        await withSession(ctx.config(), ctx.log, undefined, async ({ client, taskQueue }) => {
          await client.schedule.create({
            scheduleId: GC_SCHEDULE_ID,
            spec: { intervals: [{ every: o.every as '10m' }] },
            action: { type: 'startWorkflow', workflowType: janitorWorkflow, args: [], taskQueue, workflowId: 'snapbuild-gc' },
            policies: { overlap: ScheduleOverlapPolicy.SKIP },
          });
        });
        process.stdout.write(`created schedule ${GC_SCHEDULE_ID} (every ${o.every})\n`);
        return;
      }
      const provider = await ctx.provider();
      const report = await withSession(ctx.config(), ctx.log, undefined, ({ client }) => reapOrphanInstances(provider, client, { dryRun: o.dryRun }));
      if (o.json) return printJson(report);
      if (report.stopped.length) {
        process.stdout.write(table(['INSTANCE', 'BUILD', 'WHY'], report.stopped.map((s) => [s.instanceId, s.buildId, s.why])));
      }
      process.stdout.write(`${o.dryRun ? 'would stop' : 'stopped'} ${report.stopped.length} instance(s); ${report.kept.length} belong to running builds\n`);
    });
}
