/** The `snapbuild` command line: one file per subcommand, one error sink. */
import { Command, CommanderError } from 'commander';
import { registerBuild } from './build';
import { registerCancel } from './cancel';
import { createContext } from './context';
import { registerDigest } from './digest';
import { registerFanout } from './fanout';
import { registerGc } from './gc';
import { registerTags } from './tags';
import { reportAndExit } from './errors';
import { registerMorphEmulator } from './morph-emulator';
import { registerPlan } from './plan';
import { registerSchedule } from './schedule';
import { registerStatus } from './status';
import { registerWorker } from './worker';

export async function main(argv: string[]): Promise<void> {
  const ctx = createContext();
  const program = new Command('snapbuild')
    .description('Layered, cached machine snapshot builds as durable Temporal workflows')
    .version(require('../../package.json').version)
    .showHelpAfterError('(run snapbuild --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  registerBuild(program, ctx);
  registerFanout(program, ctx);
  registerGc(program, ctx);
  registerPlan(program, ctx);
  registerTags(program, ctx);
  registerDigest(program);
  registerSchedule(program, ctx);
  registerStatus(program, ctx);
  registerCancel(program, ctx);
  registerWorker(program, ctx);
  registerMorphEmulator(program, ctx);
  const quiet = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeErr: () => undefined });
    cmd.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  try {
    await program.parseAsync(argv, { from: 'node' });
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)) {
      process.exit(0);
    }
    reportAndExit(err);
  } finally {
    await ctx.close();
  }
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}
