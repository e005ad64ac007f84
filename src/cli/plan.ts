import type { Command } from 'commander';
import { lookupPlan } from '../providers/plan';
import type { Context } from './context';
import { printJson, stepLabel, table } from './output';
import { loadRecipe } from './recipe-file';

export function registerPlan(program: Command, ctx: Context): void {
  program
    .command('plan')
    .description('show which steps are cached and which would run; runs nothing')
    .argument('<recipe>', 'recipe file (YAML or JSON)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { spec } = await loadRecipe(file, ctx.config().provider);
      const provider = await ctx.provider();
      const plan = await lookupPlan(provider, spec.base, spec.steps.map((s) => s.identifier));
      const rows = plan.steps.map((p) => ({
        index: p.index,
        digest: p.digest,
        cached: p.index <= plan.deepestCached,
        snapshotId: p.snapshotId,
        name: spec.steps[p.index].name,
        run: spec.steps[p.index].run,
      }));
      if (opts.json) return printJson({ ...plan, steps: rows });
      process.stdout.write(
        table(
          ['STEP', 'PLAN', 'SNAPSHOT', 'DIGEST', 'COMMAND'],
          rows.map((r) => [String(r.index + 1), r.cached ? 'cached' : 'run', r.snapshotId ?? '-', r.digest.slice(0, 12), stepLabel(r)]),
        ),
      );
      const toRun = rows.length - 1 - plan.deepestCached;
      process.stdout.write(toRun === 0 ? 'everything is cached: a build starts no instance\n' : `${toRun} of ${rows.length} steps would run\n`);
    });
}
