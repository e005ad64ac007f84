import type { Command } from 'commander';
import { chainDigests, shellIdentifier } from '../core/digest';
import { printJson } from './output';

export function registerDigest(program: Command): void {
  program
    .command('digest')
    .description("print the layer digests of shell steps, chained as Morph's Python SDK chains them")
    .requiredOption('--parent <id-or-digest>', 'the base snapshot digest (or id, if it has no digest)')
    .argument('<step...>', 'shell commands, in order')
    .option('--json', 'print a JSON array')
    .action((steps: string[], opts: { parent: string; json?: boolean }) => {
      const digests = chainDigests(opts.parent, steps.map(shellIdentifier));
      if (opts.json) printJson(digests);
      else process.stdout.write(digests.join('\n') + '\n');
    });
}
