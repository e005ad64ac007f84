import type { Command } from 'commander';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { releaseSourceSchema } from '../core/release';
import { branchName, usedVariables } from '../core/recipe';
import type { VersionCheckResult } from '../core/types';
import { createVersionSchedule, describeVersionSchedule, listVersionSchedules, scheduleId } from '../schedules';
import type { Context } from './context';
import { UsageError } from './errors';
import { printJson, table } from './output';
import { loadRecipe } from './recipe-file';
import { withSession, type Session } from './session';

const INTERVAL = /^\d+(s|m|h|d)$/;
const OVERLAP = ['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all'] as const;

export function registerSchedule(program: Command, ctx: Context): void {
  const schedule = program.command('schedule').description('version checks on a Temporal Schedule: rebuild only when a release changes');
  const session = <T>(fn: (s: Session) => Promise<T>, withWorker = false) =>
    (withWorker ? ctx.provider() : Promise.resolve(undefined)).then((provider) => withSession(ctx.config(), ctx.log, provider, fn));

  schedule
    .command('create')
    .description('create a schedule that checks a release and builds the recipe with its version')
    .argument('<name>', 'the schedule name; tags are <name>:latest and <name>:<version>')
    .requiredOption('--recipe <file>', 'recipe whose steps use {{version}} (and {{tarball}})')
    .requiredOption('--release-url <url>', 'the release descriptor (JSON over https)')
    .option('--every <interval>', 'e.g. 30m, 1h, 1d')
    .option('--cron <expr>', "a cron expression, e.g. '0 * * * *'")
    .option('--version-field <path>', 'JSON pointer or dotted path of the version', 'version')
    .option('--tarball-field <path>', 'JSON pointer or dotted path of the tarball URL')
    .option('--allow-http', 'accept plain http release URLs (for loopback tests only)')
    .option('--overlap <policy>', `what to do when a check is still running: ${OVERLAP.join(', ')}`, 'skip')
    .option('--catchup <window>', 'how far back missed checks are made up after downtime', '1h')
    .action(async (name: string, o: { recipe: string; releaseUrl: string; every?: string; cron?: string; versionField: string; tarballField?: string; allowHttp?: boolean; overlap: string; catchup: string }) => {
      const bad = branchName.safeParse(name);
      if (!bad.success) throw new UsageError(`schedule name ${bad.error.issues[0].message}`);
      if (!o.every === !o.cron) throw new UsageError('give exactly one of --every and --cron');
      if (o.every && !INTERVAL.test(o.every)) throw new UsageError(`--every must be like 30m, 1h or 1d (got ${o.every})`);
      if (!INTERVAL.test(o.catchup)) throw new UsageError(`--catchup must be like 30m, 1h or 1d (got ${o.catchup})`);
      if (!(OVERLAP as readonly string[]).includes(o.overlap)) throw new UsageError(`--overlap must be one of ${OVERLAP.join(', ')}`);
      const parsed = releaseSourceSchema.safeParse({ url: o.releaseUrl, versionField: o.versionField, tarballField: o.tarballField, allowHttp: Boolean(o.allowHttp) });
      if (!parsed.success) throw new UsageError(`--release-url: ${parsed.error.issues[0].message}`);
      if (!parsed.data.allowHttp && !o.releaseUrl.startsWith('https://')) throw new UsageError('--release-url must be https (or pass --allow-http for a loopback test server)');
      const { spec, name: recipeName } = await loadRecipe(o.recipe);
      const used = usedVariables(spec);
      if (!used.includes('version')) throw new UsageError(`${o.recipe} uses no {{version}}: a version check would never rebuild`);
      if (used.includes('tarball') && !o.tarballField) throw new UsageError(`${o.recipe} uses {{tarball}}: give --tarball-field`);
      await session(async ({ client, taskQueue, embedded }) => {
        const overlap = o.overlap.toUpperCase().replace(/-/g, '_') as keyof typeof ScheduleOverlapPolicy;
        await createVersionSchedule(client, { name, spec, source: parsed.data, taskQueue, every: o.every, cron: o.cron, overlap, catchupWindow: o.catchup, recipeName });
        process.stdout.write(`created schedule ${name} (${o.cron ? `cron ${o.cron}` : `every ${o.every}`})\n`);
        if (embedded) ctx.log('note: on the embedded server, schedules fire while `snapbuild worker` runs');
      });
    });

  schedule
    .command('list')
    .description('list version-check schedules')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await session(({ client }) => listVersionSchedules(client));
      if (o.json) return printJson(list);
      process.stdout.write(table(['NAME', 'STATE', 'NEXT'], list.map((s) => [s.name, s.paused ? 'paused' : 'active', s.next?.toISOString() ?? '-'])));
    });

  schedule
    .command('describe')
    .description("a schedule's state and what each recent check did")
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const report = await session(({ client }) => describeVersionSchedule(client, name));
      if (o.json) return printJson(report);
      process.stdout.write(`${report.name}: ${report.paused ? `paused${report.note ? ` (${report.note})` : ''}` : 'active'}, ${report.spec}, next ${report.nextRuns[0]?.toISOString() ?? '-'}\n`);
      process.stdout.write(table(['WHEN', 'STATUS', 'VERSION', 'OUTCOME'], report.runs.map((r) => [r.scheduledAt.toISOString(), r.status, r.result?.version ?? '-', outcome(r.result)])));
    });

  schedule
    .command('trigger')
    .description('run a check now, wait for it, and print what it did')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const result = await session(async ({ client }) => {
        const handle = client.schedule.getHandle(scheduleId(name));
        const before = new Set((await handle.describe()).info.recentActions.map((a) => a.action.workflow.firstExecutionRunId));
        await handle.trigger();
        for (;;) {
          const info = (await handle.describe()).info;
          const started = [...info.runningActions, ...info.recentActions.map((a) => a.action)].find((a) => !before.has(a.workflow.firstExecutionRunId));
          if (started) {
            const run = client.workflow.getHandle(started.workflow.workflowId, started.workflow.firstExecutionRunId);
            await run.result().catch(() => undefined);
            return (await run.describe()).memo?.outcome as VersionCheckResult | undefined;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }, true);
      if (o.json) return printJson(result ?? null);
      process.stdout.write(`${name}: ${result?.version ?? '-'} ${outcome(result)}\n`);
      if (!result || result.outcome === 'failed' || result.outcome === 'invalid-release' || result.outcome === 'not-approved') process.exitCode = 1;
    });

  for (const [verb, what] of [
    ['pause', 'pause a schedule'],
    ['unpause', 'resume a paused schedule'],
    ['delete', 'delete a schedule (its snapshots and tags stay)'],
  ] as const) {
    schedule
      .command(verb)
      .description(what)
      .argument('<name>')
      .action(async (name: string) => {
        await session(async ({ client }) => {
          const handle = client.schedule.getHandle(scheduleId(name));
          if (verb === 'delete') await handle.delete();
          else await handle[verb](`${verb}d from the snapbuild CLI`);
        });
        process.stdout.write(`${verb === 'delete' ? 'deleted' : `${verb}d`} ${name}\n`);
      });
  }
}

function outcome(r?: VersionCheckResult): string {
  if (!r) return 'running or no outcome recorded';
  switch (r.outcome) {
    case 'built':
      return `built ${r.snapshotId}`;
    case 'unchanged':
      return `unchanged (cached ${r.snapshotId})`;
    default:
      return `${r.outcome}: ${(r.message ?? '').split('\n')[0]}`;
  }
}
