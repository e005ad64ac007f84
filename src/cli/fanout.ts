import * as path from 'node:path';
import type { Command } from 'commander';
import { startFanout } from '../client';
import type { FanoutInput, FanoutProgress, FanoutResult } from '../core/types';
import { lookupTree } from '../providers/plan';
import { fanoutProgressQuery } from '../workflows/messages';
import type { Context } from './context';
import { UsageError } from './errors';
import { oneLine, printJson, seconds, table } from './output';
import { printable } from '../core/recipe';
import { loadRecipe } from './recipe-file';
import { followWorkflow } from './follow';
import { withSession } from './session';

export const DEFAULT_PARALLEL = 4;

export function registerFanout(program: Command, ctx: Context): void {
  program
    .command('fanout')
    .description("build a recipe's branches from one shared, cached prefix, in parallel, and tag each <name>:<branch>")
    .argument('<recipe>', 'recipe file with branches (YAML or JSON)')
    .option('--branch <name...>', 'only these branches (default: all)')
    .option('--parallel <n>', `child builds at once (default ${DEFAULT_PARALLEL})`)
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { branch?: string[]; parallel?: string; json?: boolean }) => {
      const { spec } = await loadRecipe(file, ctx.config().provider);
      if (spec.branches.length === 0) throw new UsageError(`${file} has no branches: use snapbuild build`);
      const parallel = opts.parallel === undefined ? DEFAULT_PARALLEL : Number(opts.parallel);
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new UsageError('--parallel must be a whole number from 1 to 64');
      const unknown = (opts.branch ?? []).filter((b) => !spec.branches.some((s) => s.name === b));
      if (unknown.length) {
        throw new UsageError(`no such branch: ${unknown.map(printable).join(', ')} (the recipe has: ${spec.branches.map((b) => printable(b.name)).join(', ')})`);
      }
      const branches = opts.branch ? spec.branches.filter((b) => opts.branch!.includes(b.name)) : spec.branches;
      const name = spec.name ?? path.basename(file).replace(/\.(ya?ml|json)$/i, '');
      const input: FanoutInput = { spec: { ...spec, name, branches }, parallel, recipeName: path.basename(file) };
      const provider = await ctx.provider();
      const tree = await lookupTree(provider, input.spec);
      const result = await withSession(ctx.config(), ctx.log, provider, async (session) => {
        const handle = await startFanout(session.client, { input, tree, taskQueue: session.taskQueue });
        ctx.log(`fanout ${handle.workflowId} (${branches.length} branches, parallel ${parallel})`);
        return followWorkflow<FanoutResult, FanoutProgress>(handle, fanoutProgressQuery, ctx, fanoutPrinter(ctx));
      });
      if (opts.json) return printJson(result);
      process.stdout.write(
        table(
          ['BRANCH', 'STATE', 'SNAPSHOT', 'TAG', 'ERROR'],
          result.branches.map((b) => [b.name, b.state, b.snapshotId ?? '-', b.state === 'built' || b.state === 'cached' ? b.tag : '-', b.error ? oneLine(b.error, 80) : '']),
        ),
      );
      const failed = result.branches.filter((b) => b.state !== 'built' && b.state !== 'cached').length;
      process.stdout.write(`${result.branches.length - failed} of ${result.branches.length} branches ready in ${seconds(result.durationMs)}\n`);
      if (failed) process.exitCode = 1;
    });
}

/** Prints each segment's and branch's state changes. */
function fanoutPrinter(ctx: Context) {
  const seen = new Map<string, string>();
  return (p: FanoutProgress) => {
    for (const s of p.segments) {
      if (seen.get(s.id) === s.state || s.state === 'pending') continue;
      seen.set(s.id, s.state);
      const steps = s.steps.map((st) => st.name ?? oneLine(st.run, 30)).join(' > ');
      ctx.log(`  ${s.state.padEnd(9)} [${s.branches.join(', ')}] ${steps}${s.error ? `: ${oneLine(s.error, 80)}` : ''}`);
    }
    for (const b of p.branches) {
      const key = `branch:${b.name}`;
      if (seen.get(key) === b.state || b.state === 'pending') continue;
      seen.set(key, b.state);
      ctx.log(`  branch ${b.name}: ${b.state}${b.snapshotId ? ` -> ${b.snapshotId} (${b.tag})` : ''}`);
    }
  };
}
