/**
 * Row 5: load. K concurrent 5-step builds (`true` steps, unique recipes) on one in-process worker: all must
 * complete. Throughput (steps/s) is compared with the same K x 5 steps run as K concurrent plain loops over the
 * same provider (no Temporal), measured side by side. The process's RSS is sampled every 100 ms.
 */
import { normalizeRecipe } from '../../src/core/recipe';
import { alternate, cpuPer, cpuText, marker, median, metered, ms, openStore, round, startWorker, summary, x, type Ctx, type Line, type RowResult } from '../lib';
import type { Provider } from '../../src/providers/provider';
import { loopBuild, workflowBuild, type BuildCtx } from './orchestration';

const STEPS = 5;

function sampleRss(): { stop(): { peak: number; samples: number; failures: number } } {
  let peak = 0;
  let samples = 0;
  let failures = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, process.memoryUsage.rss());
      samples++;
    } catch {
      failures++; // e.g. EMFILE while reading /proc/self/statm: skip the sample
    }
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peak, samples, failures };
    },
  };
}

const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MiB`;

export async function loadRow(ctx: Ctx): Promise<RowResult> {
  const builds = ctx.quick ? 10 : 50;
  const repeats = ctx.quick ? 1 : 2;
  // Every phase (workflows, loops, each repeat) starts on a fresh store, so both sides see the same store size:
  // the local provider's lookups read every record (see row 4c). The one worker reaches the current store
  // through a forwarding provider.
  let current = (await openStore(ctx.cleanup, 'load')).provider;
  const provider = new Proxy({} as Provider, {
    get(_, prop) {
      const value = Reflect.get(current, prop, current);
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
  const freshStore = async () => {
    current = (await openStore(ctx.cleanup, 'load')).provider;
  };
  const { taskQueue } = await startWorker(ctx.cleanup, ctx.temporal, provider, ctx.workflowBundle);
  const bctx: BuildCtx = { provider, client: ctx.temporal.client, taskQueue };
  const recipe = () => {
    const m = marker();
    return normalizeRecipe({ base: 'host', steps: Array.from({ length: STEPS }, (_, i) => (i === 0 ? `true # ${m}` : 'true')) });
  };
  await workflowBuild(bctx, recipe()); // warm-up
  const rssIdle = process.memoryUsage.rss();

  ctx.log(`  row 5: ${builds} concurrent ${STEPS}-step builds, ${repeats} repeats`);
  /** `builds` concurrent builds of one kind on a fresh store, with time, CPU and peak RSS. */
  const measure = async (build: () => Promise<unknown>) => {
    await freshStore();
    const rss = sampleRss();
    const r = await metered(ctx.temporal.serverPid, () => Promise.allSettled(Array.from({ length: builds }, build)));
    const mem = rss.stop();
    const failed = r.value.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    return { ms: r.ms, cpu: r.cpu, completed: builds - failed.length, errors: failed.slice(0, 3).map((f) => String(f.reason?.message ?? f.reason)), peakRss: mem.peak, rssSamples: mem.samples, rssSampleFailures: mem.failures };
  };
  const runs = await alternate(
    repeats,
    () => measure(() => workflowBuild(bctx, recipe())),
    () => measure(() => loopBuild(provider, recipe())),
  );
  const wfMs = median(runs.a.map((r) => r.ms));
  const loopMs = median(runs.b.map((r) => r.ms));
  const wfRate = (builds * STEPS) / (wfMs / 1000);
  const loopRate = (builds * STEPS) / (loopMs / 1000);
  const completed = Math.min(...runs.a.map((r) => r.completed));
  const wfCpu = cpuPer(runs.a, builds * STEPS);
  const loopCpu = cpuPer(runs.b, builds * STEPS);
  const peak = Math.max(...runs.a.map((r) => r.peakRss));
  const lines: Line[] = [
    {
      row: '5 load',
      measure: `${builds} concurrent ${STEPS}-step builds complete`,
      snapbuild: `${completed}/${builds}`,
      baseline: `${Math.min(...runs.b.map((r) => r.completed))}/${builds} (loops)`,
      result: completed === builds ? 'all' : `${builds - completed} failed`,
      target: 'all complete',
      met: completed === builds,
      wideMiss: completed !== builds,
      wideRule: 'a build failed under load',
    },
    {
      row: '5 load (info)',
      measure: `throughput, workflows vs ${builds} concurrent plain loops`,
      snapbuild: `${round(wfRate, 1)} steps/s (${ms(wfMs)})`,
      baseline: `${round(loopRate, 1)} steps/s (${ms(loopMs)})`,
      result: x(wfRate / loopRate),
    },
    {
      row: '5 load (info)',
      measure: 'CPU per step under load',
      snapbuild: cpuText(wfCpu),
      baseline: cpuText(loopCpu),
      result: x(wfCpu.total / loopCpu.total),
    },
    {
      row: '5 load (info)',
      measure: 'peak RSS of the process (worker in-process)',
      snapbuild: mb(peak),
      baseline: `${mb(rssIdle)} idle`,
      result: `+${mb(peak - rssIdle)}`,
    },
  ];
  return {
    id: '5',
    title: 'Load',
    lines,
    data: {
      builds,
      stepsPerBuild: STEPS,
      repeats,
      workflowMs: summary(runs.a.map((r) => r.ms)),
      loopMs: summary(runs.b.map((r) => r.ms)),
      workflowStepsPerSecond: round(wfRate),
      loopStepsPerSecond: round(loopRate),
      cpuPerStepMs: { workflow: wfCpu, loop: loopCpu },
      workflowRuns: runs.a,
      loopRuns: runs.b,
      rssIdleBytes: rssIdle,
      peakRssBytes: peak,
    },
  };
}
