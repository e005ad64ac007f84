import type { Command } from 'commander';
import { startBuild } from '../client';
import { baseFor } from '../core/recipe';
import type { BuildProgress, BuildResult, StepReport } from '../core/types';
import { lookupPlan } from '../providers/plan';
import { progressQuery } from '../workflows/messages';
import type { Context } from './context';
import { UsageError } from './errors';
import { followWorkflow } from './follow';
import { printJson, seconds, stepLabel, stepsTable } from './output';
import { loadRecipe } from './recipe-file';
import { withSession } from './session';

export function registerBuild(program: Command, ctx: Context): void {
  program
    .command('build')
    .description('build a recipe: reuse the deepest cached layer, run the rest, snapshot after every step')
    .argument('<recipe>', 'recipe file (YAML or JSON)')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { spec, name } = await loadRecipe(file, ctx.config().provider);
      if (spec.branches.length) throw new UsageError(`${file} has branches: use snapbuild fanout (optionally with --branch)`);
      const provider = await ctx.provider();
      const plan = await lookupPlan(provider, spec.base, spec.steps.map((s) => s.identifier));
      const result = await withSession(ctx.config(), ctx.log, provider, async (session) => {
        const handle = await startBuild(session.client, { spec, plan, taskQueue: session.taskQueue, recipeName: name });
        ctx.log(`build ${handle.workflowId} (${spec.steps.length} steps, base ${baseFor(spec.base, provider.name)})`);
        return followWorkflow<BuildResult, BuildProgress>(handle, progressQuery, ctx, stepPrinter(ctx), (r) => ({ phase: 'done', steps: r.steps }));
      });
      if (opts.json) return printJson(result);
      process.stdout.write(stepsTable(result.steps));
      const built = result.steps.filter((s) => !s.cached).length;
      process.stdout.write(
        `snapshot ${result.snapshotId}  digest ${result.digest}\n` +
          (result.fullyCached ? 'all steps cached: no instance started\n' : `${built} step(s) built in ${seconds(result.durationMs)}\n`),
      );
    });
}

/** Prints each step's state changes. */
function stepPrinter(ctx: Context) {
  const seen = new Map<number, string>();
  return (p: BuildProgress) => {
    for (const s of p.steps) {
      if (seen.get(s.index) === s.state || s.state === 'pending') continue;
      seen.set(s.index, s.state);
      ctx.log(`  [${s.index + 1}/${p.steps.length}] ${describeState(s)}`);
    }
  };
}

function describeState(s: StepReport): string {
  const label = stepLabel(s);
  switch (s.state) {
    case 'cached':
      return `cached        ${label}`;
    case 'running':
      return `running       ${label}${s.attempts > 1 ? ` (attempt ${s.attempts})` : ''}`;
    case 'snapshotting':
      return `snapshotting  ${label}`;
    case 'built':
      return `built ${seconds(s.durationMs).padStart(7)} ${label} -> ${s.snapshotId}`;
    default:
      return `${s.state.padEnd(13)} ${label}`;
  }
}
