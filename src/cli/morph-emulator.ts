import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { LocalProvider } from '../providers/local';
import { FaultConfigError, faultsFromEnv, parseFaultSettings, resolveFaults, startMorphEmulator, type FaultConfig } from '../providers/morph-emulator';
import type { Context } from './context';
import { UsageError } from './errors';

interface EmulatorFlags {
  port: string;
  latency?: string;
  errorRate?: string;
  rateLimitRate?: string;
  dropRate?: string;
  slowExec?: string;
  seed?: string;
}

const FLAG_OF: Record<keyof FaultConfig, string> = {
  latencyMs: '--latency',
  errorRate: '--error-rate',
  rateLimitRate: '--rate-limit-rate',
  dropRate: '--drop-rate',
  slowExecMs: '--slow-exec',
  seed: '--seed',
};

export function registerMorphEmulator(program: Command, ctx: Context): void {
  program
    .command('morph-emulator')
    .description('serve the Morph Cloud API subset snapbuild uses on 127.0.0.1, backed by the local provider')
    .option('--port <n>', 'port to listen on (0: any free port)', '0')
    .option('--latency <ms>', 'delay added to every response')
    .option('--error-rate <r>', 'fraction of requests answered 500/503 before processing')
    .option('--rate-limit-rate <r>', 'fraction of requests answered 429 (Retry-After: 1) before processing')
    .option('--drop-rate <r>', 'fraction of non-GET requests processed whose response is then lost')
    .option('--slow-exec <ms>', 'delay added before every exec command')
    .option('--seed <n>', 'seed of the fault PRNG (same seed, same faults)')
    .addHelpText('after', '\nThe API key is MORPH_API_KEY (one is generated if unset). Faults can also be set with MORPH_EMULATOR_* variables; flags win.')
    .action(async (flags: EmulatorFlags) => {
      const port = parsePort(flags.port);
      const faults = faultSettings(flags);
      const envKey = process.env.MORPH_API_KEY;
      const apiKey = envKey || `morph_emulator_${randomBytes(16).toString('hex')}`;
      const config = ctx.config();
      const provider = await LocalProvider.open({ storeDir: config.localStoreDir, imageSize: config.localImageSize, reapIntervalMs: 5000 });
      try {
        const emulator = await startMorphEmulator({ provider, apiKey, port, faults, log: ctx.log });
        ctx.log(`snapbuild morph-emulator: listening on ${emulator.url} (store ${config.localStoreDir})`);
        if (hasFaults(faults)) ctx.log(`faults: ${describeFaults(emulator.faults())}`);
        // The key is printed only when we made it up: the user has no other way to learn it.
        ctx.log(envKey ? `export MORPH_BASE_URL=${emulator.url}` : `export MORPH_BASE_URL=${emulator.url} MORPH_API_KEY=${apiKey}`);
        await untilSignalled();
        ctx.log('snapbuild morph-emulator: stopping its instances');
        await emulator.close();
      } finally {
        await provider.close();
      }
    });
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port > 65535) throw new UsageError(`--port: must be a port number between 0 and 65535 (got ${JSON.stringify(text)})`);
  return port;
}

/** The MORPH_EMULATOR_* environment, overridden by flags; any bad value is a usage error naming it. */
function faultSettings(flags: EmulatorFlags): Partial<FaultConfig> {
  try {
    const fromFlags = parseFaultSettings(
      {
        latencyMs: flags.latency,
        errorRate: flags.errorRate,
        rateLimitRate: flags.rateLimitRate,
        dropRate: flags.dropRate,
        slowExecMs: flags.slowExec,
        seed: flags.seed,
      },
      (key) => FLAG_OF[key],
    );
    const merged = { ...faultsFromEnv(), ...fromFlags };
    resolveFaults(merged);
    return merged;
  } catch (err) {
    if (err instanceof FaultConfigError) throw new UsageError(err.message);
    throw err;
  }
}

function hasFaults(f: Partial<FaultConfig>): boolean {
  return Boolean(f.latencyMs || f.errorRate || f.rateLimitRate || f.dropRate || f.slowExecMs);
}

function describeFaults(f: FaultConfig): string {
  return `latency ${f.latencyMs}ms, error rate ${f.errorRate}, rate-limit rate ${f.rateLimitRate}, drop rate ${f.dropRate}, slow exec ${f.slowExecMs}ms, seed ${f.seed}`;
}

/** Resolves on the first SIGINT or SIGTERM; a second one leaves at once. */
function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(130));
      resolve();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  });
}
