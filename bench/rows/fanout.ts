/**
 * Row 3: fan-out. B branches of three `sleep S` steps over a 2-step prefix, `parallel B`, versus the critical
 * path measured in the same run: one build of the prefix plus one branch through the build workflow.
 */
import { startFanout } from '../../src/client';
import { normalizeRecipe } from '../../src/core/recipe';
import type { FanoutInput, FanoutResult } from '../../src/core/types';
import { lookupTree } from '../../src/providers/plan';
import { alternate, marker, median, ms, openStore, round, startWorker, summary, timed, x, type Ctx, type Line, type RowResult } from '../lib';
import { historyBreakdown, workflowBuild, type BuildCtx } from './orchestration';

export async function fanoutRow(ctx: Ctx): Promise<RowResult> {
  const branches = ctx.quick ? 6 : 16;
  const sleep = ctx.quick ? 0.3 : 0.5;
  const repeats = ctx.quick ? 2 : 3;
  const store = await openStore(ctx.cleanup, 'fanout');
  const { taskQueue } = await startWorker(ctx.cleanup, ctx.temporal, store.provider, ctx.workflowBundle);
  const bctx: BuildCtx = { provider: store.provider, client: ctx.temporal.client, taskQueue };
  const prefix = (m: string) => [`echo ${m} > /root/prefix`, 'true'];
  const branchSteps = [`sleep ${sleep} # {branch}`, `sleep ${sleep}`, `sleep ${sleep}`];

  const fanout = async (): Promise<{ result: FanoutResult; timeline: Record<string, number>; slowestBranch: Record<string, number> }> => {
    const m = marker();
    const spec = normalizeRecipe({
      name: `bench-${m}`,
      base: 'host',
      steps: prefix(m),
      branches: Object.fromEntries(Array.from({ length: branches }, (_, i) => [`b${String(i).padStart(2, '0')}`, { steps: branchSteps }])),
    });
    const input: FanoutInput = { spec: { ...spec, name: spec.name! }, parallel: branches };
    const t0 = Date.now();
    const tree = await lookupTree(store.provider, spec);
    const handle = await startFanout(ctx.temporal.client, { input, tree, taskQueue });
    const result = await handle.result();
    const bad = result.branches.filter((b) => b.state !== 'built');
    if (bad.length) throw new Error(`fan-out: branches not built: ${bad.map((b) => `${b.name} ${b.state} ${b.error ?? ''}`).join('; ')}`);
    // Where the time went: the prefix child, then the spread of the branch children's starts and their length.
    const children = await Promise.all(
      result.segments.filter((s) => s.workflowId).map(async (s) => {
        const d = await ctx.temporal.client.workflow.getHandle(s.workflowId!).describe();
        return { id: s.workflowId!, prefix: s.parent === undefined, start: d.startTime.getTime() - t0, end: (d.closeTime?.getTime() ?? NaN) - t0 };
      }),
    );
    const pre = children.filter((c) => c.prefix);
    const br = children.filter((c) => !c.prefix);
    const timeline = {
      prefixStartMs: median(pre.map((c) => c.start)),
      prefixEndMs: median(pre.map((c) => c.end)),
      firstBranchStartMs: Math.min(...br.map((c) => c.start)),
      lastBranchStartMs: Math.max(...br.map((c) => c.start)),
      branchDurationMedianMs: median(br.map((c) => c.end - c.start)),
      branchDurationMaxMs: Math.max(...br.map((c) => c.end - c.start)),
      lastBranchEndMs: Math.max(...br.map((c) => c.end)),
      fanoutDoneMs: Date.now() - t0,
    };
    const slowest = br.reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a));
    const slowestBranch = await historyBreakdown(ctx.temporal.client.workflow.getHandle(slowest.id));
    return { result, timeline, slowestBranch };
  };
  const critical = async () => {
    const m = marker();
    const spec = normalizeRecipe({ base: 'host', steps: [...prefix(m), ...branchSteps.map((s) => s.replace('{branch}', 'b00'))] });
    return workflowBuild(bctx, spec);
  };

  await critical(); // warm-up, not measured
  ctx.log(`  row 3: ${branches} branches x 3 x sleep ${sleep}, parallel ${branches}, ${repeats} repeats`);
  const runs = await alternate(
    repeats,
    async () => timed(fanout),
    async () => (await timed(critical)).ms,
  );
  const wall = runs.a.map((r) => r.ms);
  const ratios = wall.map((w, i) => w / runs.b[i]);
  const ratio = median(ratios);
  const lines: Line[] = [
    {
      row: '3 fan-out',
      measure: `${branches} branches x 3 x sleep ${sleep}: wall / critical path`,
      snapbuild: ms(median(wall)),
      baseline: ms(median(runs.b)),
      result: x(ratio),
      target: '<= 1.25',
      met: ratio <= 1.25,
      wideMiss: ratio > 2.0,
      wideRule: 'fan-out ratio > 2.0',
    },
  ];
  const timelines = runs.a.map((r) => ({ ...Object.fromEntries(Object.entries(r.value.timeline).map(([k, v]) => [k, round(v)])), slowestBranchHistory: r.value.slowestBranch }));
  return {
    id: '3',
    title: 'Fan-out',
    lines,
    data: { branches, sleepSeconds: sleep, parallel: branches, repeats, fanoutMs: summary(wall), criticalPathMs: summary(runs.b), ratio: summary(ratios), timelines },
  };
}
