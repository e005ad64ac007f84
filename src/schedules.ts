/**
 * Version-check schedules: a Temporal Schedule per name that starts `versionCheckWorkflow`, and a readable
 * account of what its recent runs did (from each run's memo).
 */
import { ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import type { ReleaseSource } from './core/release';
import type { RecipeSpec, VersionCheckInput, VersionCheckResult } from './core/types';
import { versionCheckWorkflow } from './workflows';

export const scheduleId = (name: string) => `snapbuild-version-${name}`;

export interface ScheduleOptions {
  name: string;
  spec: RecipeSpec;
  source: ReleaseSource;
  taskQueue: string;
  /** An interval such as `1h` or `30m`, or a cron expression. */
  every?: string;
  cron?: string;
  overlap?: keyof typeof ScheduleOverlapPolicy;
  catchupWindow?: string;
  recipeName?: string;
}

export async function createVersionSchedule(client: Client, o: ScheduleOptions): Promise<void> {
  const input: VersionCheckInput = { name: o.name, spec: o.spec, source: o.source, recipeName: o.recipeName };
  await client.schedule.create({
    scheduleId: scheduleId(o.name),
    spec: o.cron ? { cronExpressions: [o.cron] } : { intervals: [{ every: o.every as `${number}h` }] },
    action: { type: 'startWorkflow', workflowType: versionCheckWorkflow, args: [input], taskQueue: o.taskQueue, workflowId: `version-check-${o.name}` },
    policies: { overlap: ScheduleOverlapPolicy[o.overlap ?? 'SKIP'], catchupWindow: (o.catchupWindow ?? '1 hour') as '1h' },
    memo: { recipe: o.recipeName ?? '', releaseUrl: o.source.url, when: o.cron ? `cron ${o.cron}` : `every ${o.every}` },
  });
}

export interface ScheduleRun {
  workflowId: string;
  runId: string;
  scheduledAt: Date;
  status: string;
  result?: VersionCheckResult;
}

export interface ScheduleReport {
  name: string;
  paused: boolean;
  note?: string;
  spec: string;
  nextRuns: Date[];
  runs: ScheduleRun[];
}

/** The schedule's state and, for each recent run, its outcome as the run recorded it. */
export async function describeVersionSchedule(client: Client, name: string): Promise<ScheduleReport> {
  const desc: ScheduleDescription = await client.schedule.getHandle(scheduleId(name)).describe();
  const actions = [...desc.info.recentActions, ...desc.info.runningActions.map((a) => ({ action: a, scheduledAt: undefined, takenAt: undefined }))];
  const runs = await Promise.all(
    actions.map(async (a) => {
      const { workflowId, firstExecutionRunId: runId } = a.action.workflow;
      const d = await client.workflow.getHandle(workflowId, runId).describe();
      return {
        workflowId,
        runId,
        scheduledAt: (a as { scheduledAt?: Date }).scheduledAt ?? d.startTime,
        status: d.status.name,
        result: d.memo?.outcome as VersionCheckResult | undefined,
      };
    }),
  );
  const uniqueRuns = [...new Map(runs.map((r) => [r.runId, r])).values()].sort((a, b) => a.scheduledAt.getTime() - b.scheduledAt.getTime());
  const spec = String(desc.memo?.when ?? '');
  return { name, paused: desc.state.paused, note: desc.state.note, spec, nextRuns: desc.info.nextActionTimes, runs: uniqueRuns };
}

export async function listVersionSchedules(client: Client): Promise<{ name: string; paused: boolean; next?: Date }[]> {
  const out: { name: string; paused: boolean; next?: Date }[] = [];
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith(scheduleId(''))) continue;
    out.push({ name: s.scheduleId.slice(scheduleId('').length), paused: s.state.paused, next: s.info.nextActionTimes[0] });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
