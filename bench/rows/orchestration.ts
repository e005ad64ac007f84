/**
 * Row 1: orchestration overhead. The same N-step recipe built through the build workflow (plan, start the
 * workflow, wait for its result) versus a plain loop over the same provider calls without Temporal (lookupPlan;
 * startInstance; exec + snapshot per step; stopInstance). Both sides run in this process against one store.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { startBuild } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import type { BuildResult, BuildSpec } from '../../src/core/types';
import { lookupPlan } from '../../src/providers/plan';
import type { Provider } from '../../src/providers/provider';
import type { buildWorkflow } from '../../src/workflows';
import { alternate, cpuPer, cpuText, marker, median, metered, ms, openStore, round, startWorker, summary, x, type Ctx, type Line, type RowResult } from '../lib';

export interface BuildCtx {
  provider: Provider;
  client: Ctx['temporal']['client'];
  taskQueue: string;
}

/** Plans on the client, starts the build workflow and waits for its result, as the CLI does. */
export async function workflowBuild(ctx: BuildCtx, spec: BuildSpec): Promise<{ result: BuildResult; handle: WorkflowHandle<typeof buildWorkflow> }> {
  const plan = await lookupPlan(ctx.provider, spec.base, spec.steps.map((s) => s.identifier));
  const handle = await startBuild(ctx.client, { spec, plan, taskQueue: ctx.taskQueue, recipeName: 'bench' });
  const result = await handle.result();
  if (result.steps.some((s) => s.state !== 'built')) throw new Error(`expected every step built, got ${result.steps.map((s) => s.state).join(',')}`);
  return { result, handle };
}

/** The same provider calls as the workflow makes on the happy path, in a plain loop, without Temporal. */
export async function loopBuild(provider: Provider, spec: BuildSpec): Promise<string> {
  const plan = await lookupPlan(provider, spec.base, spec.steps.map((s) => s.identifier));
  if (plan.deepestCached >= 0) throw new Error('the loop baseline expects an uncached recipe');
  const inst = await provider.startInstance(plan.baseSnapshotId, { ttlSeconds: 3600, metadata: { 'snapbuild-build': 'bench-loop' } });
  let last = '';
  try {
    for (const step of spec.steps) {
      const r = await provider.exec(inst.id, step.run, { env: step.env, timeoutMs: step.timeoutSeconds * 1000 });
      if (r.exitCode !== 0) throw new Error(`loop: step ${step.index} exited with ${r.exitCode}: ${r.stderr}`);
      last = (await provider.snapshot(inst.id, { digest: plan.steps[step.index].digest })).id;
    }
  } finally {
    await provider.stopInstance(inst.id);
  }
  return last;
}

/** N copies of `command`, the first made unique with a shell comment (same cost, different digest chain). */
function recipe(command: string, n: number): BuildSpec {
  const m = marker();
  return normalizeRecipe({ base: 'host', steps: Array.from({ length: n }, (_, i) => (i === 0 ? `${command} # ${m}` : command)) });
}

/**
 * Where a workflow's time went, from its event history: activity queue time (scheduled -> started), activity
 * execution (started -> completed) and the rest (workflow tasks between activities, start and end).
 */
export async function historyBreakdown(handle: WorkflowHandle): Promise<Record<string, number>> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const at = (e: (typeof events)[number]) => tsToMs(e.eventTime);
  const scheduled = new Map<string, { t: number; type: string }>();
  const started = new Map<string, number>();
  const per: Record<string, { queue: number[]; run: number[] }> = {};
  for (const e of events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, { t: at(e), type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?' });
    if (e.activityTaskStartedEventAttributes) started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), at(e));
    if (e.activityTaskCompletedEventAttributes) {
      const sid = String(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const s = scheduled.get(sid);
      const st = started.get(sid);
      if (!s || st === undefined) continue;
      (per[s.type] ??= { queue: [], run: [] }).queue.push(st - s.t);
      per[s.type].run.push(at(e) - st);
    }
  }
  const total = events.length ? at(events[events.length - 1]) - at(events[0]) : NaN;
  const out: Record<string, number> = { historyMs: round(total), events: events.length };
  let activityMs = 0;
  for (const [type, v] of Object.entries(per)) {
    out[`${type}.count`] = v.run.length;
    out[`${type}.queueMedianMs`] = round(median(v.queue));
    out[`${type}.runMedianMs`] = round(median(v.run));
    activityMs += v.queue.reduce((a, b) => a + b, 0) + v.run.reduce((a, b) => a + b, 0);
  }
  out.betweenActivitiesMs = round(total - activityMs);
  return out;
}

export async function orchestrationRow(ctx: Ctx): Promise<RowResult> {
  const n = ctx.quick ? 5 : 10;
  const repeats = ctx.quick ? 3 : 5;
  const store = await openStore(ctx.cleanup, 'orchestration');
  const { taskQueue } = await startWorker(ctx.cleanup, ctx.temporal, store.provider, ctx.workflowBundle);
  const bctx: BuildCtx = { provider: store.provider, client: ctx.temporal.client, taskQueue };

  // Warm-up (not measured): the first workflow pays for worker start-up, the first exec for page cache.
  await workflowBuild(bctx, recipe('true', 2));
  await loopBuild(store.provider, recipe('true', 2));

  const lines: Line[] = [];
  const data: Record<string, unknown> = { n, repeats };
  for (const [name, command] of [
    ['true', 'true'],
    ['sleep 0.2', 'sleep 0.2'],
  ] as const) {
    ctx.log(`  row 1: ${n} x \`${command}\`, ${repeats} repeats`);
    let lastHandle: WorkflowHandle | undefined;
    const pairs = await alternate(
      repeats,
      async () => {
        const spec = recipe(command, n);
        const r = await metered(ctx.temporal.serverPid, () => workflowBuild(bctx, spec));
        lastHandle = r.value.handle;
        return r;
      },
      async () => metered(ctx.temporal.serverPid, () => loopBuild(store.provider, recipe(command, n))),
    );
    const wf = pairs.a.map((r) => r.ms);
    const loop = pairs.b.map((r) => r.ms);
    const wfCpu = cpuPer(pairs.a, n);
    const loopCpu = cpuPer(pairs.b, n);
    const ratios = wf.map((w, i) => w / loop[i]);
    const perStep = wf.map((w, i) => (w - loop[i]) / n);
    const ratio = median(ratios);
    const overhead = median(perStep);
    const breakdown = lastHandle ? await historyBreakdown(lastHandle) : {};
    data[name] = {
      workflowMs: summary(wf),
      loopMs: summary(loop),
      ratio: summary(ratios),
      perStepOverheadMs: summary(perStep),
      cpuPerStepMs: { workflow: wfCpu, loop: loopCpu },
      lastWorkflowHistory: breakdown,
    };
    const base = { row: '1 orchestration', snapbuild: ms(median(wf)), baseline: ms(median(loop)) };
    if (name === 'sleep 0.2') {
      lines.push({ ...base, measure: `${n} x sleep 0.2: workflow / loop`, result: x(ratio), target: '<= 1.10', met: ratio <= 1.1, wideMiss: ratio > 2.2, wideRule: 'ratio > 2.2' });
    } else {
      lines.push({ ...base, measure: `${n} x true: workflow / loop`, result: x(ratio) });
    }
    lines.push({
      ...base,
      measure: `${n} x ${name}: overhead per step`,
      result: ms(overhead),
      target: '<= 40 ms',
      met: overhead <= 40,
      wideMiss: overhead > 120,
      wideRule: 'per-step overhead > 120 ms',
    });
    lines.push({ row: '1 orchestration (info)', measure: `${n} x ${name}: CPU per step`, snapbuild: cpuText(wfCpu), baseline: cpuText(loopCpu), result: x(wfCpu.total / loopCpu.total) });
  }
  return { id: '1', title: 'Orchestration overhead', lines, data };
}
