import type { Command } from 'commander';
import { listTags, moveTag, resolveTag } from '../providers/tags';
import type { Context } from './context';
import { printJson, table } from './output';

export function registerTags(program: Command, ctx: Context): void {
  program
    .command('tags')
    .description('list tags with the snapshot each points to')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const tags = await listTags(await ctx.provider());
      if (opts.json) return printJson(tags);
      process.stdout.write(
        table(
          ['TAG', 'SNAPSHOT', 'DIGEST', 'CREATED', 'TAGGED'],
          tags.map((t) => [t.tag, t.snapshotId, (t.digest ?? '-').slice(0, 12), new Date(t.createdAt).toISOString(), t.taggedAt ?? '-']),
        ),
      );
    });

  program
    .command('resolve')
    .description('print the snapshot id a tag points to')
    .argument('<tag>', 'e.g. myapp:main')
    .action(async (tag: string) => {
      const snap = await resolveTag(await ctx.provider(), tag);
      if (!snap) {
        process.stderr.write(`snapbuild: no snapshot is tagged ${tag}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${snap.id}\n`);
    });

  program
    .command('tag')
    .description('point a tag at a snapshot (a rollback is a pointer change)')
    .argument('<tag>', 'e.g. myapp:main')
    .argument('<snapshot>', 'snapshot id')
    .action(async (tag: string, snapshotId: string) => {
      const snap = await moveTag(await ctx.provider(), tag, snapshotId);
      process.stdout.write(`${tag} -> ${snap.id}\n`);
    });
}
